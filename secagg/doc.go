// Package secagg implements secure aggregation: SecAgg (Bonawitz et al.,
// "Practical Secure Aggregation for Privacy-Preserving Machine Learning",
// CCS 2017) and SecAgg+ (Bell et al., "Secure Single-Server Aggregation with
// (Poly)Logarithmic Overhead", CCS 2020), as pure state machines.
//
// n clients hold vectors x_u in Z_{2^b}^d; the server learns Σ x_u over the
// clients that survive the round, and nothing else, even when clients drop
// out at any step, as long as at least t remain.
//
// Use it when the server must not see individual updates. Do not use it
// when the server must inspect them (robust aggregation, per-client
// clipping on the server), and remember that it hides inputs, not the sum:
// pair it with differential privacy when the sum itself is sensitive.
//
// # Protocol and message flow
//
//	step                     server → clients (opens it)   client → server            set
//	0 AdvertiseKeys          —                             AdvertiseMsg (c_pk, s_pk,  U1
//	                                                       commit*)
//	0b RevealSeed*           KeysBroadcast (all keys)      RevealMsg (r_u)            U1
//	1 ShareKeys              KeysBroadcast, or*            SharesMsg (boxes, C)       U2
//	                         RevealsBroadcast (all r_u)
//	2 MaskedInputCollection  SharesBroadcast (per client)  MaskedMsg (y_u)            U3
//	3 ConsistencyCheck*      SurvivorsMsg (U3)             SignatureMsg               U4
//	4 Unmasking              UnmaskRequest (U3, U2∖U3,     UnmaskMsg (shares)         U5
//	                         U4's signatures*)
//	(* malicious-server mode only)
//
// On the [Client]: AdvertiseKeys, ShareKeys (semi-honest) or RevealSeed
// then ShareKeysRevealed (malicious), MaskedInput, ConsistencyCheck
// (malicious), Unmask. On the [Server]: HandleAdvertise… then Keys,
// (HandleReveal… then Reveals,) HandleShares… then Shares, HandleMasked…
// then (Survivors, HandleSignature…) UnmaskRequest, HandleUnmask… then
// Result.
//
// Each client u has two X25519 key pairs: c_u (to encrypt the shares it
// sends) and s_u (to agree pairwise mask seeds), and a fresh self-mask
// secret b_u. It Shamir-shares b_u and s_u (threshold t, over the scalar
// field of edwards25519, with Feldman commitments C_j = a_j·G) among its k
// neighbours and itself (its own share of b_u is revealed when it
// survives, as in Bonawitz et al., so that in the complete graph any t
// answering clients suffice), encrypting each pair of shares with
// AES-256-GCM under a key derived from X25519(c_u, c_v). It sends
//
//	y_u = x_u + PRG(b_u) + Σ_{v ∈ N(u) ∩ U2} sign(u,v)·PRG(s_{u,v})   (mod 2^b),
//
// sign(u,v) = +1 if u < v else -1, so pairwise masks cancel between
// survivors. The server then asks the remaining clients, for each
// neighbour, for the share of b_v if v survived or of s_v if v dropped,
// never both, reconstructs those secrets, and removes the self masks of
// the survivors and the pairwise masks between survivors and dropped
// clients.
//
// # Derivations
//
//   - Round id: SHA-256 of the canonical encoding of [Params]
//     ([Params.RoundID]); session id: SHA-256 of the round id and all
//     advertised public keys in ascending id order ([SessionID]).
//   - Keys: HKDF-SHA256 with salt = session id and an info string naming the
//     purpose and the client ids ([ShareKey], [PairwiseSeed], [SelfSeed]).
//     GCM nonces are zero because each key encrypts one message; the AAD
//     binds the session id, sender, recipient and the hash of the dealer's
//     commitments.
//   - Mask PRG: AES-256-CTR keyed by the seed, zero IV; word i is the
//     little-endian uint32 (b ≤ 32) or uint64 (b > 32) at keystream offset
//     4i or 8i, reduced mod 2^b. For b ≤ 32 accumulators hold two
//     coordinates per 64-bit word and add them with SWAR arithmetic, so a
//     keystream word is added to two coordinates in one step.
//   - Wire sizes: keys are raw 32 bytes; an encrypted share pair costs 84
//     bytes per neighbour (recipient id + 64-byte plaintext + GCM tag); a
//     dealer's 2t Feldman commitments are affine points of 64 bytes each
//     ([Commitment]), sent once and relayed to each neighbour; masked
//     inputs are bit-packed at b bits ([Pack]).
//   - Secrets are uniformly random scalars; their canonical 32-byte
//     encodings are the self-mask secret and the X25519 private key, so
//     Shamir reconstruction gives back the exact bytes (see [Deal]).
//   - SecAgg+ graph: the Harary graph H(k, N) (position i joined to i±1 …
//     i±k/2 mod N) with client ids placed on positions by a Fisher–Yates
//     permutation driven by AES-256-CTR keyed by
//     HKDF(seed, salt = round id, info = "fedgo/secagg/v1 graph")
//     ([HararyPermutation]). In semi-honest mode the seed is Params.Seed;
//     in malicious mode it is [GraphSeed], SHA-256 over the session id and
//     every client's commitment and share r_u, where each client commits
//     to r_u ([SeedCommit], in its signed AdvertiseMsg) before any share is
//     revealed. Ids are bound to PKI identities by the advertise
//     signatures, so positions are too. k = N-1 is the complete graph
//     (SecAgg). [ChooseParams] (semi-honest) and [ChooseMaliciousParams]
//     pick k and t for a target security and correctness.
//
// # Security model
//
// The adversary is the server and the clients colluding with it (corrupt
// clients, chosen before the round). Both modes hide each honest
// survivor's input x_u in the sum; they differ in what the server may do.
//
// Semi-honest mode (the server follows the protocol): the server and the
// corrupt clients learn nothing about the honest clients' inputs beyond
// the sum of the survivors' inputs, provided every honest client has at
// most t-1 corrupt neighbours ([Params.Tolerance]) and the honest
// survivors stay connected in the graph; for SecAgg+ [ChooseParams]
// bounds the probability that either fails at 2^-secBits for a corrupt
// fraction γ and random dropouts δ, given that Params.Seed is drawn after
// the corrupt clients are fixed (fedround draws it with crypto/rand).
// Every client answers one unmasking request, and refuses one that lists
// a client as both survivor and dropped, lists fewer than t survivors, or
// omits itself, so even a buggy server never gets both shares of b_u and
// s_u from an honest client.
//
// Malicious mode (Params.Malicious; the server may deviate arbitrarily,
// drop any client, lie about who survived): assumptions (1) a PKI of
// ed25519 keys the host gives every party (ClientConfig.PeerKeys), (2) at
// most a fraction γ of the round's N clients collude with the server —
// the server samples the clients, so bound the colluders in absolute
// number and make N large (fedround's ClientConfig.MinClients), (3) the
// parameters come from [ChooseMaliciousParams] for that γ, or satisfy
// Params.Tolerance ≥ the corrupt neighbours of every honest client. Then
// the server learns, about the honest inputs, at most the sum over one
// set of honest clients of its choice that is connected in the graph, and
// nothing about an honest client it declares dropped; with SecAgg+ the
// bound holds except with probability 2^-secBits over the graph. The
// mechanisms, each tested by a test that mounts the attack:
//
//   - Signed keys: AdvertiseMsg is signed, so the server cannot substitute
//     keys of an honest client (TestMaliciousForgedAdvertise).
//   - Split survivor lists: every survivor signs the survivor list it is
//     shown; before revealing a share of client v (itself included) a
//     client requires t valid signatures of the list it signed from the
//     holders of v's shares (v and its neighbours). Honest holders sign
//     one list, so two lists that disagree on v both pass only if
//     (k+1-c) + 2c ≥ 2t for c corrupt neighbours of v; Validate requires
//     2t > N (complete graph, c ≤ 2t-N-1, the form of Bonawitz et al.
//     2017, Sec. 6) and t ≥ k/2 + 2 (SecAgg+), and ChooseMaliciousParams
//     bounds n·P[c ≥ 2t-k-1] (TestSplitSurvivorListComplete, which shows
//     the rule is tight, TestSplitSurvivorListSparse,
//     TestUnmaskCountsOnlyHolders).
//   - Cutting the SecAgg+ cycle: the server may declare two runs of k/2
//     clients dropped to isolate a component; the first client after the
//     cut has at most 1 + k/2 + c' holders able to reveal its self mask,
//     so t ≥ k/2 + 2 + c' keeps the component's sum masked;
//     ChooseMaliciousParams bounds 2n·P[c' ≥ t-k/2-1] ([Params.Tolerance];
//     TestCutCycle: with t = k/2 + 1 the server learns a component's sum).
//   - An unbiased graph: the seed is drawn by commit–reveal among all
//     clients of the keys broadcast; a share that does not open its
//     commitment is refused, and more than Params.MaxUnrevealed missing
//     shares stop the round ([ErrIncomplete]), so the server's levers are
//     to abort and start a new round, which costs it a round of the
//     clients per try (each aborted round adds at most the 2^-secBits
//     failure probability again; TestGraphSeedCannotBeGround), and to leave
//     out up to MaxUnrevealed reveals, a choice among Σ_{j≤m} C(N, j)
//     seeds that [Params.Log2Risk] charges ([Log2SeedChoices]; a client
//     whose share is missing leaves the round like a dropout;
//     TestMaxUnrevealed). When shares are left out the session is bound to
//     the graph seed ([BoundSession]), so clients shown different reveals
//     (different graphs) cannot take part in one round together
//     (TestSplitRevealsSplitSessions).
//   - Downgrades (semi-honest mode, tiny N, parameters whose
//     [Params.Log2Risk] for the client's assumed corrupt fraction exceeds
//     its bound, names outside the PKI, an evaluation oracle, reopened
//     rounds) are refused by the client's own policy in package fedround.
//
// Both modes: Feldman commitments let clients (unless
// ClientConfig.TrustDealers) and the server detect bad shares; a client
// names the dealer, the server names the holder that revealed a share
// failing the check when most shares pass and the dealer otherwise, and
// reconstructs from the good shares. Feldman commitments are
// computationally (not perfectly) hiding: C_0 = secret·G is public.
// Low-order X25519 keys are refused by the server and count as "not
// advertised" for clients (TestLowOrderKeys). Not covered: clients that
// send malformed inputs within Z_{2^b} (secure aggregation does not
// validate inputs), corrupt clients beyond the tolerance, the sum itself
// (pair it with differential privacy), and liveness: a malicious server
// can always make a round fail, and in malicious mode more than
// Params.MaxUnrevealed clients that advertise and do not reveal their
// graph-seed share abort the round.
//
// # Performance
//
// Per client and round: 2 X25519 key generations, 2k X25519 agreements,
// 2t base-point multiplications (commitments), k+1 PRG expansions of d
// words; with the Feldman check also 2k base-point multiplications and
// about 2k·t·log2(N) point doublings (with the dedicated formula of Hisil
// et al.) plus 2k·t·(weight(id)+1) additions. ShareKeys and MaskedInput
// spread this over ClientConfig.Workers goroutines (GOMAXPROCS by
// default): the agreements, commitments, seals and Feldman checks as
// independent jobs, the PRG expansion by ranges of the accumulator (each
// range expands its own part of every keystream, from the matching
// AES-CTR counter block), so a round with k = 40, t = 23, d = 100,000
// takes about 15 ms of CPU and, on two cores, about 8 ms of wall time.
// Server: one reconstruction per survivor (t scalar multiply-adds, one
// base-point multiplication), and for each dropped client one X25519
// agreement and one PRG expansion per surviving neighbour, spread over
// Workers goroutines; it also checks each advertised key for low order
// (two X25519 operations per client). Malicious mode adds, per client,
// the ed25519 checks of its neighbours' advertised keys and of the
// survivor-list signatures of the holders of its neighbours' shares (at
// most 2k+1 clients in SecAgg+, N in the complete graph), and above all
// larger k and t: for n = 1000 and 10% dropout ChooseParams gives k = 36,
// t = 19 (5% corrupt) and k = 102, t = 72 (1/3), ChooseMaliciousParams
// k = 108, t = 77 and k = 318, t = 259. The server's unmasking is linear
// in n·k (about 0.85 s of CPU at k = 36, 2.4 s at k = 102 or 108, 11.5 s
// at k = 318, for d = 100,000; a client round 19 ms, 0.1 s, 0.12 s and
// 0.7 s of CPU). See BenchmarkModes, BenchmarkClientRound and
// BenchmarkServerUnmask.
//
// # Host duties
//
//  1. Agree on the [Params] for the round (same on every party), with a
//     fresh unpredictable Seed and distinct Round values; choose k and t
//     with [ChooseParams] or [DefaultParams] (semi-honest) or
//     [ChooseMaliciousParams] (malicious).
//  2. Authenticate clients and carry messages; in malicious mode provide
//     each party with the clients' ed25519 verification keys (a PKI), and
//     let clients refuse rounds below their own minimum N and threshold.
//  3. Drive the steps: deliver every client message to the matching
//     Server.Handle… method, close each step with its transition when the
//     deadline passes, and send the returned broadcasts (each
//     SharesBroadcast to its To client only). In malicious mode the
//     KeysBroadcast goes to RevealSeed and the RevealsBroadcast to
//     ShareKeysRevealed.
//  4. Treat a *ClientError as "that client drops out of this step": log it
//     and go on; stop the round on [ErrBelowThreshold].
//  5. Encode real vectors with [Quantize] (n = the number of clients) and
//     decode the sum with [Dequantize] (count = number of survivors).
//  6. Create fresh Client and Server values for every round; never reuse
//     keys or state across rounds.
//
// # Concurrency
//
// Client and Server are not safe for concurrent use; the host serialises
// calls on each. No method starts a goroutine that outlives it:
// [Client.ShareKeys], [Client.MaskedInput] and [Server.Result] run up to
// Workers goroutines (GOMAXPROCS by default; none when Workers or
// GOMAXPROCS is 1 or the work is small) and wait for them before
// returning. Their results do not depend on the number of goroutines:
// messages are bit-identical, and an error names the same client (for
// bad shares, the lowest dealer id that fails). Distinct Clients and
// Servers are independent.
//
// # Invariants
//
//   - A client reveals at most one share per neighbour, of b or of s, and
//     answers at most one unmasking request.
//   - All arithmetic on inputs is mod 2^b; Result is the exact sum mod 2^b.
//   - Every length read from the wire is bounded by the bytes left before
//     allocation; decoders never panic.
//   - Randomness comes from ClientConfig.Rand (crypto/rand by default).
//   - Allocation: MaskedInput allocates its accumulator (⌈d/2⌉ words when
//     b ≤ 32, else d), 8 KiB of keystream per worker, and the packed
//     output; the server holds one such
//     accumulator for the running sum plus one per worker in Result, and no
//     per-client vector.
//
// # References
//
//   - K. Bonawitz, V. Ivanov, B. Kreuter, A. Marcedone, H. B. McMahan,
//     S. Patel, D. Ramage, A. Segal, K. Seth. Practical Secure Aggregation
//     for Privacy-Preserving Machine Learning. CCS 2017 (Fig. 4, the
//     protocol; Sec. 4.2, the consistency check; Sec. 6, the thresholds
//     against active adversaries).
//   - J. H. Bell, K. A. Bonawitz, A. Gascón, T. Lepoint, M. Raykova. Secure
//     Single-Server Aggregation with (Poly)Logarithmic Overhead. CCS 2020
//     (sparse masking graphs, the choice of k and t, and their analysis
//     against a malicious server).
//   - P. Feldman. A Practical Scheme for Non-interactive Verifiable Secret
//     Sharing. FOCS 1987.
//   - H. Hisil, K. K.-H. Wong, G. Carter, E. Dawson. Twisted Edwards
//     Curves Revisited. ASIACRYPT 2008 (the doubling and addition formulas
//     of the Feldman check; "dbl-2008-hwcd" and "add-2008-hwcd-3" in the
//     Explicit-Formulas Database).
//   - F. Harary. The Maximum Connectivity of a Graph. PNAS 1962.
package secagg
