// Package privacy makes federated training differentially private at the
// level of users (clients): the mechanisms — L2 clipping, Gaussian and
// exact discrete Gaussian noise — and the three places fedgo applies them:
//
//   - [CentralDP]: DP-FedAvg with central DP (McMahan, Ramage, Talwar,
//     Zhang 2018, "Learning Differentially Private Recurrent Language
//     Models", Algorithm 1). The server clips each client's update to C,
//     sums them (unweighted, or with the paper's bounded weights
//     w_k = min(n_k/ŵ, 1)), adds N(0, z²S²) to the sum and divides by the
//     fixed denominator qW (qN unweighted) — the expected, not the actual,
//     number of clients. It is an [fl.Privacy], given to the server as
//     fl.ServerConfig.Privacy: the server takes its sampler (and refuses
//     any other), aggregates with it (and refuses another aggregator in
//     front of it), checks its budget before each round — CentralDP checks
//     it again at every release — records ε and δ in each round's stats,
//     and checkpoints its state before the new model leaves the server.
//     Under secure aggregation (package secagg/fedround) the clients clip
//     to its norm and the unmasked sum goes to [CentralDP.NoiseSum].
//   - Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021,
//     "Differentially Private Learning with Adaptive Clipping"): the clip
//     norm follows the γ-quantile of update norms by the geometric rule
//     C ← C·exp(−η_C(b̃ − γ)), b̃ the noised fraction of unclipped updates.
//     The count's privacy cost is paid inside the configured z: the
//     updates get z_Δ = (z^−2 − (2σ_b)^−2)^−1/2 (their Theorem 1, see
//     [UpdateNoiseMultiplier]).
//   - [Local]: local DP. Each client clips and noises its own update before
//     it leaves, accounts its own participations and refuses to send once
//     its budget is spent.
//
// Privacy accounting is package [github.com/fedgo/fedgo/privacy/accountant]'s: every ε reported is an
// upper bound for the sampled Gaussian mechanism as configured.
//
// # Threat model
//
// Neighbouring data sets differ in all the data of one client (user-level
// DP): add/remove one client with Poisson sampling, replace one with
// fixed-size sampling (whose sum then has sensitivity 2C, and the noise is
// scaled accordingly). Central DP trusts the server: it sees the clipped
// updates and the noise-free sum; what it releases — every global model,
// and the recorded b̃ — is DP. Local DP trusts nobody but the client and
// costs far more noise. The accountant's ε is an upper bound, never an
// estimate; it holds only if the host keeps the duties below.
//
// # Noise and its floating-point caveat
//
// Gaussian noise comes from [Source]: ChaCha8 (math/rand/v2, a CSPRNG)
// keyed with 32 bytes from crypto/rand, unless the caller injects a reader
// (tests, reproducible simulations — then there is no privacy against
// whoever knows the seed). Normal values come from the ziggurat method
// (Marsaglia and Tsang 2000) over 53-bit uniforms, with Marsaglia's tail
// algorithm beyond 3.65. Like every floating-point sampler (Box–Muller
// included), it is not an exact Gaussian: its outputs are a finite,
// irregular set of doubles (no tail beyond about 13.7σ, and gaps whose
// pattern depends on the value drawn), so the low-order bits of a noised
// value can leak more than the DP analysis admits (Mironov 2012, "On
// Significance of the Least Significant Bits for Differential Privacy").
// The effect is tiny for model updates of many coordinates, but it is not
// covered by the accountant. When outputs are integers (secure aggregation
// over Z_m, counts), use [DiscreteGaussian], an exact sampler (Canonne,
// Kamath, Steinke 2020, "The Discrete Gaussian for Differential Privacy",
// Algorithms 1–3), which draws only uniform integers and decides in exact
// rational arithmetic.
//
// # Host duties
//
//  1. Give the CentralDP to the server as fl.ServerConfig.Privacy (the
//     server then samples as accounted and refuses any other sampler; with
//     fixed-size sampling it refuses a round over fewer registered clients
//     than Population, and counts unreachable sampled clients as
//     dropouts), and let each registered client be one user.
//  2. Keep the sampling secret: amplification by sampling assumes nobody
//     but the server learns who took part in a round, so in deployment
//     leave ServerConfig.SamplingKey and Seed unset (a 256-bit key from
//     crypto/rand, never written to a checkpoint) and do not publish
//     participation.
//  3. Keep ε's δ below 1/N (the default is 1/N^1.1).
//  4. Do not release anything computed from the un-noised updates: client
//     metrics such as the training loss in [fl.RoundStats] are not private;
//     keep them out of what you publish, or privatize them yourself.
//  5. Keep the quorum (ServerConfig.MinClients) low: an aborted round
//     reveals that few clients answered, which the accounting does not
//     cover.
//  6. Under secure aggregation, use package secagg/fedround, whose clients
//     clip to the server's clip norm themselves (a client that does not
//     run its middleware is not clipped: the server sees only the sum).
//  7. Keep one [Local] per client for the client's whole life; a fresh one
//     forgets the budget already spent.
//  8. Protect checkpoints of a seeded simulation: they hold the noise
//     generator's state. Sources keyed from crypto/rand are never saved.
//
// # Concurrency
//
// [CentralDP] and [Source] are not safe for concurrent use: the server
// drives the aggregator from one goroutine. [Local] is safe for concurrent
// use (it locks). [DiscreteGaussian] is immutable and safe to share, with
// one Source per goroutine. Nothing here starts a goroutine.
//
// # Invariants
//
//   - Every noised release is accounted, before it can be seen; rounds that
//     fail before the noise is added are not.
//   - With a budget, no release happens whose ε would exceed it: Check
//     refuses the round with [ErrBudgetExhausted] and the server keeps the
//     model of the last allowed round; Aggregate and NoiseSum refuse too,
//     so a wrapper that hides the CentralDP from the server cannot
//     overspend.
//   - Bad input (NaN, wrong lengths, hostile state bytes) returns an error
//     wrapping a sentinel of this package or of fl, never a panic. Panics
//     are for programmer errors (mismatched lengths in [ClipL2], a negative
//     σ in [Source.AddGaussian]) and documented.
package privacy
