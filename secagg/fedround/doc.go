// Package fedround plugs secure aggregation into fedgo's round engine: an
// [Exchange] (an fl.Exchange) that runs a SecAgg / SecAgg+ round (package
// secagg) in place of fl.Server's plain train exchange, on the same
// fl.Round (fan-out, step deadlines, failure accounting), and the client
// [Middleware] that answers it. The server learns the mean of the survivors' clipped deltas and
// nothing about any one of them.
//
// Use it when the server must not see individual updates, typically with
// differential privacy on the sum (fl.ServerConfig.Privacy, see below). It
// cannot be combined with server-side per-client logic or with compression
// of updates or parameters (secure aggregation needs the dense, quantized
// delta): [Exchange.Check] and fl.ServerConfig.Validate refuse an
// Aggregator, a pool that encodes, and capped weights under DP, before
// round 1. Weighted means
// are available with capped weights (see below).
//
// # Message flow
//
// One round, for the n sampled clients, which get secagg ids 1..n in
// sampling order (server → client, client → server; a failure is counted
// in fl.RoundStats.Failures by reason and in FailedAt under the first
// type):
//
//	secagg/train        params, Config, Setup   →  secagg/advertise  AdvertiseMsg, Metrics
//	secagg/share-keys   KeysBroadcast           →  secagg/shares     SharesMsg (semi-honest)
//	                                            →  secagg/reveal*    RevealMsg (malicious)
//	secagg/seed*        RevealsBroadcast        →  secagg/shares     SharesMsg
//	secagg/masked-input SharesBroadcast (own)   →  secagg/masked     MaskedMsg
//	secagg/consistency* SurvivorsMsg            →  secagg/signature  SignatureMsg
//	secagg/unmask       UnmaskRequest           →  secagg/unmasked   UnmaskMsg
//	(* malicious mode only: the graph seed is drawn by commit–reveal among
//	the clients, see package secagg)
//
// On secagg/train the client trains through the wrapped handler (a plain
// fl.TypeTrain message: fl.NewHandler answers with the delta), clamps each
// coordinate of the delta to [-c, c] and quantizes it with secagg.Quantize
// (b bits, n summands, stochastic rounding seeded from the client's
// secret randomness), then creates its secagg.Client and advertises its
// keys. Client → server messages never carry Params: only secagg
// messages in Payload and the training Metrics the client's policy
// allows (ClientConfig.Metrics: loss and train time by default, never
// the example count in a weighted round).
//
// The server decodes the sum of the survivors' inputs with
// secagg.Dequantize (count = survivors, the clients whose masked inputs
// are in the sum) and writes sum/survivors to dst (or the capped-weight
// mean, see Weights below). Each coordinate of the
// sum is off by less than survivors·step from the sum of the clamped
// deltas, step = secagg.QuantStep(c, b, n), so the mean is off by less
// than one step (about 2c·n/2^b: 4.7e-9 for c = 1, b = 32, n = 10),
// with zero mean error.
//
// # The client's policy
//
// The server cannot downgrade a client: before it trains, the client
// checks the round's Setup against its [ClientConfig] and refuses, with
// [ErrPolicy], a round of fewer than MinClients clients (3 by default) or
// a threshold below MinThreshold (2), a semi-honest round when it has an
// Identity (a client with an identity only takes part in malicious mode),
// and in malicious mode parameters whose secagg.Params.Log2Risk for the
// client's assumed corrupt fraction (ClientConfig.Corrupt, 1/3 by
// default) exceeds 2^-40, and a participant list with a repeated name or
// a name outside its PKI (so the server can play only the clients whose
// keys it holds). With the defaults on both sides a malicious round needs
// n large enough for secagg.ChooseMaliciousParams to meet 2^-40 at 1/3
// corrupt (n ≥ 8 with the default 10% dropout); smaller rounds are
// refused.
//
// Round numbers strictly increase: an older round, a replay, or the same
// round reopened with other parameters (which would let the server
// difference two masked inputs of one update) is refused with [ErrRound].
// Evaluation requests are refused by default: evaluating at parameters of
// the server's choice is an oracle on the client's data (a handful of
// evaluations recover a training step); [EvaluateRoundParams] answers only
// at the global parameters of the client's last round, so each evaluation
// point costs the server a round it opens. Plain fl.TypeTrain requests are
// refused unless AllowPlainTrain. Each refusal is tested by a test that
// mounts the attack (policy_test.go).
//
// # Weights
//
// fl.FedAvg weights each delta by its client's example count. Under
// secure aggregation a weighted mean needs the client to mask w·Δ and w
// together, which needs a public bound on w for the fixed-point range (a
// client could otherwise inflate its influence at will, unseen) and
// reveals Σw; DP-FedAvg with secure aggregation (McMahan et al. 2018)
// uses unweighted or capped weights for the same reason. By default this
// package takes the unweighted mean of the survivors. With
// [Config.WeightCap] = ŵ > 0 it takes the capped-weight mean: each client
// sends w·clamp(Δ) and w·c in one masked vector of len(params)+1
// coordinates, w = min(Update.Weight/ŵ, 1), and the server divides the
// sum by Σw (recorded in fl.RoundStats.Extra under [KeyWeight]). Every w
// is at most 1, so a client counts for at most ŵ examples, and the
// server learns Σw of the survivors, not any one weight. The numerator is
// off by less than survivors·step per coordinate and Σw by less than
// survivors·step/c, so the mean is off by less than 2·survivors·step/Σw.
//
// # Parameters
//
// [Config.RoundParams] fixes each round's secagg.Params: Bits (32), Dim =
// len(params) (plus one with WeightCap), Round = the round number, a fresh Seed from Config.Rand,
// and k, t either as configured or from secagg.ChooseParams(n, Corrupt,
// Dropout, 40, 20) (secagg.ChooseMaliciousParams in malicious mode). For
// small n, where the search fails (n < 5 for the defaults), it falls back
// to the complete graph with t = ⌊n/2⌋+1: a majority, so that 2t > n
// holds as malicious mode requires (tolerating ⌈n/2⌉ - ⌊n/2⌋ corrupt
// clients, see secagg.Params.Tolerance), and so that at most ⌊(n-1)/2⌋
// clients can drop out. In malicious mode a client that fails between
// secagg/advertise and secagg/reveal leaves the round like a dropout if
// no more than Config.MaxUnrevealed do (the search then asks
// secagg.Log2SeedChoices more bits of security, the server's choice among
// graph seeds); otherwise the round stops (the graph seed needs the
// committed shares).
//
// # Shared grids
//
// Under [KeySummands] in the round's Config the quantizer's n is that
// value (at least the round's clients, at most 2^Bits − 1) instead of the
// round's n, on the server and on every client (a client refuses a value
// out of range), so rounds that carry the same value and the same Clip,
// Bits and WeightCap quantize on one grid. [Exchange.RunSum] runs a round
// and returns the survivors' integer sum instead of their mean: package
// hier adds the sums of its secure edges exactly and dequantizes once, with
// the bits of one flat round of that n. RunSum refuses a round with a
// Privacy (the sum would leave un-noised).
//
// # Differential privacy
//
// With a server Privacy (fl.ServerConfig.Privacy, e.g. a
// privacy.CentralDP with ClientClipped), the train message carries its
// clip norm C under [KeyClipNorm]; every client's middleware clips its
// delta to L2 norm C itself, whatever the handlers it wraps did, so no
// middleware order can skip clipping (privacy.ClipMiddleware put outside
// this package's middleware refuses the protocol's messages instead of
// passing them on unclipped). The unmasked sum goes to Privacy.NoiseSum,
// which checks the budget again, adds the noise, divides by its fixed
// denominator and accounts the release; the server engine checks the
// budget before the round and records ε after it. The server sees the
// un-noised sum: this is central DP with secure aggregation against other
// parties, not distributed DP. Config.Clip must be at least C, so that the
// quantization clamps nothing.
//
// # Pluggable encoding
//
// [Encoding] replaces the quantizer on both sides: with Config.Encoding
// the server runs its rounds with Encoding.Bits() bits and Dim =
// Encoding.Len(len(params)), and decodes the survivors' sum with
// Encoding.Decode instead of secagg.Dequantize; with
// ClientConfig.Encoding the client encodes its delta with Encoding.Encode
// (ignoring the server's clip norm) and refuses, with [ErrPolicy], a round
// whose ring has another width or that asks for weights. Both calls get
// the round's secagg.Params.RoundID. Package privacy/ddp uses it for
// distributed DP: the clients' inputs carry their noise shares, so the
// unmasked sum is already noised.
//
// # Host duties
//
//  1. Keep one [ClientState] per client for the client's lifetime and
//     pass it to [Middleware] each time the client's handler is built
//     (transport.Memory builds it for every message).
//  2. Put the Middleware outermost, around fl.NewHandler and any
//     per-update client middleware (local noise); never around
//     compression.
//  3. Leave Config.Rand and ClientConfig.Rand nil in deployment
//     (crypto/rand); seeded readers are for tests and simulations.
//  4. In malicious mode, give the server the PKI (Config.PeerKeys, by
//     fl.Conn ID) and each client its identity and the PKI; set each
//     client's MinClients so that the colluding clients are at most the
//     assumed fraction Config.Corrupt of any round the client accepts.
//  5. Set a deadline (Config.StepTimeout, or fl.ServerConfig.RoundTimeout,
//     which applies to each step) so that a vanished client cannot stall
//     the round.
//  6. Choose Clip to bound the deltas (the same on every client); a
//     clamped coordinate biases the mean.
//
// # Concurrency
//
// An [Exchange] runs one round at a time, from the goroutine of
// fl.Server.Run; within a step the fl.Round sends to all clients at once
// and the replies are fed to the secagg server one at a time, in sampling
// order. Every goroutine it starts has returned when
// Run returns. A [ClientState] is safe for concurrent use and handles one
// message at a time; the Middleware holds its lock while training.
//
// # Invariants
//
//   - No client → server message carries a plain vector (Params is empty);
//     a reply that does is rejected.
//   - Each client failure (error, timeout, rejected reply) is counted once
//     in the round's stats, under the step it happened in, and logged with
//     the client's id; the round goes on while at least t clients remain
//     and fails with an error wrapping secagg.ErrBelowThreshold otherwise,
//     so that fl.Server aborts it and keeps the parameters. A client that
//     fails at secagg/unmask is counted although its masked input is in
//     the sum (Accepted + Failed may then exceed Sampled).
//   - A client refuses a message for another round, a replay of its
//     round's opening or a reopening with other parameters, a step out of
//     order, and a malformed payload, without changing its state. It draws fresh secrets every round and
//     forgets them when the round ends or the next one opens.
//   - Same seeds (Config.Rand, each ClientConfig.Rand, the trainers'),
//     same bits, whatever the goroutine schedule.
//   - Every length read from the wire is bounded before allocation
//     ([Setup.UnmarshalBinary] and the secagg decoders).
//
// # References
//
//   - K. Bonawitz et al. Practical Secure Aggregation for
//     Privacy-Preserving Machine Learning. CCS 2017.
//   - J. H. Bell et al. Secure Single-Server Aggregation with
//     (Poly)Logarithmic Overhead. CCS 2020.
//   - H. B. McMahan, D. Ramage, K. Talwar, L. Zhang. Learning
//     Differentially Private Recurrent Language Models. ICLR 2018
//     (unweighted and capped-weight estimators).
//   - P. Kairouz et al. The Distributed Discrete Gaussian Mechanism for
//     Federated Learning with Secure Aggregation. ICML 2021.
package fedround
