// Package ddp is distributed differential privacy for federated learning:
// each client adds its share of integer noise to its quantized update
// before secure aggregation, so that the sum the server unmasks already
// carries the whole noise and no server ever sees an un-noised sum. It
// implements the distributed discrete Gaussian mechanism (Kairouz, Liu,
// Steinke 2021, "The Distributed Discrete Gaussian Mechanism for Federated
// Learning with Secure Aggregation", ICML, arXiv 2102.06387, Algorithms 1
// and 2) and the distributed Skellam mechanism (Agarwal, Kairouz, Liu
// 2021, "The Skellam Mechanism for Differentially Private Federated
// Learning", NeurIPS, arXiv 2110.04995).
//
// One [Config] gives, through [New], the three parts that must agree: the
// clients' encoders and middleware ([DDP.Encoder], [DDP.ClientMiddleware]),
// the server's secure-aggregation exchange ([DDP.Exchange], a
// secagg/fedround exchange over Z_{2^b} whose quantizer is replaced by
// this package's encoding through fedround.Encoding) and the fl.Privacy of
// the server (the DDP itself: sampler, budget, accounting).
//
// Use it when the server must not be trusted with an un-noised aggregate.
// When it is trusted, central DP (privacy.CentralDP, with or without
// secure aggregation) needs less noise for the same ε: the rounding and
// the modular arithmetic here cost accuracy, the more so the fewer bits.
//
// # The client pipeline ([Encoder.Encode])
//
//  1. Clip the delta to L2 norm C; pad it with zeros to D = 2^⌈log2 d⌉.
//  2. Rotate it by H·S/√D: H the Walsh–Hadamard matrix, S a diagonal of
//     random signs derived from the round's secagg id (SHA-256 of a domain
//     string and secagg.Params.RoundID), the same for every client and the
//     server, fresh every round. The rotation spreads the vector over the
//     coordinates so that few of them are large (less modular clipping).
//  3. Scale by 1/γ and round each coordinate randomly to a neighbouring
//     integer, retrying until the integer vector's squared norm is at most
//     ⌊Δ̃₂²⌋, where Δ̃₂ = min{√(c² + D/4 + √(2 ln(1/β))·(c + √D/2)), c +
//     √D}, c = C/γ (conditional randomized rounding, §4.1 of Kairouz et
//     al.). The check is exact (integer arithmetic) and at most MaxRetries
//     attempts are made, then [ErrRounding]: nothing leaves the client.
//  4. Add one noise share per coordinate from an exact sampler: N_Z(0,
//     σ²/Shares) (privacy.DiscreteGaussian: its exact alias table for
//     σ²/Shares < 2^28, built when the Encoder is made, else Canonne,
//     Kamath, Steinke 2020) or Sk(σ²/(2·Shares)) as the difference of two
//     Poisson variables drawn exactly from uniform integers (an exact
//     alias table for λ ≤ 2^27, else a rejection sampler; see poisson.go
//     and poisson_table.go). Both tables share package internal/exact.
//     The per-share parameter is rounded up to an integer and the
//     accounted σ² is the rounded one. Timing: a table draw reads a table
//     entry that depends on the value drawn (a cache side channel to a
//     process sharing the CPU), and its rare rest path takes longer.
//  5. Reduce modulo 2^b. Secure aggregation sums the clients' vectors in
//     Z_{2^b}; the server maps the sum to centred integers, multiplies by
//     γ, inverts the rotation and drops the padding, then divides by the
//     expected number of clients qN (a fixed denominator).
//
// The scale γ follows the sub-Gaussian heuristic of Kairouz et al. §4 (as
// TFF's distributed DP chose it): k standard deviations of each coordinate
// of the noised sum of n clients fit in 2^b, with k = √2·erfc⁻¹(β) for the
// modular-clipping probability β (Config.ModClipProb). A config whose b
// cannot hold the sum (2^b < n, or 2^2b ≤ n·k²), whose noise exceeds the
// samplers' integer range, or whose calibration fails is refused by [New]
// with an error wrapping [ErrConfig] (and fl.ErrConfig). Modular clipping
// is post-processing: it costs accuracy, never privacy.
//
// # Dropouts
//
// The noise of a client that drops out after masking is missing from the
// sum. Policy: the noise is provisioned for the fewest clients whose sum
// the server can unmask, the secure-aggregation threshold t, less the
// clients assumed to collude with the server (who can subtract their own
// shares): Shares = Threshold − Colluders, each client adding σ²/Shares.
// Every sum the server can learn has at least Shares honest shares, so
// the accounted ε is an upper bound whatever drops (more survivors only
// add noise). Secure aggregation runs on the complete graph with the
// fixed threshold t, and every client's policy refuses a round whose
// threshold is below t (fedround.ErrPolicy), so a server cannot unmask a
// sum of fewer shares by lowering it.
//
// # What each party sees, and under which assumptions
//
//   - A client sees the global parameters and, during secure aggregation,
//     public keys and encrypted shares: nothing about another client's
//     update (secagg's guarantee).
//   - The server (honest-but-curious; or malicious with Secagg.Malicious
//     and the PKI of package secagg/fedround) sees each client's masked
//     input, which is uniform in Z_{2^b}^D given the others, the metrics
//     the client's policy allows, WHO took part in each round, and the
//     unmasked sum of at least t clients' encoded vectors: Σ rounded
//     updates + noise with at least Shares honest shares. Because it
//     knows the participants, sampling amplifies nothing against it: a
//     client that took part in k rounds has, against the server together
//     with up to Colluders clients, the guarantee of k UNSAMPLED releases
//     (SampleRate 1, replace-one among the round's participants):
//     [DDP.ServerEpsilonAfter](k); [DDP.ServerEpsilon] and the stats key
//     [KeyServerEpsilon] report the worst case, a client in every round so
//     far. This holds provided the clients' randomness is secret
//     (crypto/rand, the default) and secagg's assumptions hold (at most the
//     stated fraction of corrupt clients; in semi-honest mode, a server
//     that follows the protocol).
//   - Everyone who sees only the released models (post-processing of the
//     sums) and not who was sampled — other clients, the model's users —
//     gets the amplified guarantee: fixed-size sampling of m = qN of N
//     clients a round, [DDP.Epsilon] (privacy.KeyEpsilon in the stats).
//     The budget (TargetEpsilon) is this ε; the server's ε is reported,
//     not budgeted, and is several times larger at small q (n = 100 of
//     N = 1000 a round, 20 rounds, δ = 5·10⁻⁴: ε = 4 for the models is
//     22.6 against the server; see examples/ddp).
//
// The accounting is user-level (one client's whole update) under
// replace-one adjacency with fixed-size sampling: [Config].Sampling must
// be accountant.FixedSize. Poisson sampling is refused: its add/remove
// neighbours differ by a client who adds its own noise share, so the two
// sums carry different numbers of shares — not a shift of one another —
// and no bound of package privacy/accountant applies (it returns
// accountant.ErrUnsupported). The accountant is given ONE client's
// integer norms (L2 = Δ̃₂, L1 = min(Δ̃₂², √D·Δ̃₂)), the padded dimension D
// and Shares, and doubles the norms itself for replace-one ([Params]);
// ε after k releases is [accountant.RDPAccountant.Compose] of k steps,
// converted at δ. The budget is checked before each round and again at the
// release ([DDP.NoiseSum]), which refuses a sum that this mechanism's
// decoder did not produce ([ErrNotDDP]): a fedround exchange without the
// ddp encoding would hand it an un-noised sum.
//
// # The host's duties
//
//  1. Build everything from one [New]: the server's Exchange and Privacy
//     from the DDP, each client's middleware from [DDP.ClientMiddleware]
//     with its own [DDP.Encoder] (nil random: crypto/rand) and its own
//     fedround.ClientState kept for the client's lifetime.
//  2. Set Threshold to the secure-aggregation threshold you accept and
//     Colluders to the clients you assume may collude with the server.
//  3. Put no handler between the trainer and the middleware that changes
//     the delta after clipping matters (the encoder clips itself).
//  4. Sample with the DDP's own sampler (fixed-size, Config.Sampling =
//     accountant.FixedSize, Population N registered) and publish both
//     guarantees: [DDP.Epsilon] for the released models and
//     [DDP.ServerEpsilon] (or [DDP.ServerEpsilonAfter] of the rounds a
//     client joined) against the aggregation server.
//
// # Cost
//
// Client per round at d = 10^6, b = 16 (BenchmarkClientRound, medians of
// 7 runs, 2 cores shared with other busy processes, load average 10–12):
// at n = 10 (complete graph) plain secure aggregation's client step
// 109 ms, DDG 151 ms (1.4×), Skellam 181 ms (1.7×); at n = 100
// (fedround's default SecAgg+ degree k = 42, whose masking costs more)
// plain 208 ms, DDG 260 ms (1.25×), Skellam 302 ms (1.45×). (Before the
// discrete Gaussian's table, at load ≈ 10: DDG ≈ 7× at n = 10, 3.4× at
// n = 100.) Both exact samplers take one uniform draw and one table read
// per value almost always (a privacy.DiscreteGaussian table, a
// poissonTable; built in milliseconds when the Encoder is made); Skellam
// draws two Poisson values per coordinate. What remains of the encoding
// is mostly the randomized rounding (about half its CPU time) and the
// rotation. The noise, the rotation (in cache-sized blocks, the same bits
// as the sequential transform) and the rounding (in chunks, one exact
// norm check over the whole vector) run on GOMAXPROCS goroutines.
//
// # Concurrency
//
// A DDP is used by one fl.Server (its methods from the goroutine that runs
// the rounds); an Encoder is safe for concurrent use.
package ddp
