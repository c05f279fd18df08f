// Package privacy makes federated training differentially private at the
// level of users (clients): the mechanisms — L2 clipping, the exact
// discrete Gaussian added in fixed point, floating-point Gaussian noise —
// and the three places fedgo applies them:
//
//   - [CentralDP]: DP-FedAvg with central DP (McMahan, Ramage, Talwar,
//     Zhang 2018, "Learning Differentially Private Recurrent Language
//     Models", Algorithm 1). The server clips each client's update to C,
//     sums them (unweighted, or with the paper's bounded weights
//     w_k = min(n_k/ŵ, 1)), adds noise of standard deviation z·S to the sum
//     and divides by the fixed denominator qW (qN unweighted) — the expected, not the actual,
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
//   - [Local]: local DP. Nothing leaves the client but privatized,
//     accounted releases.
//
// Privacy accounting is package [github.com/fedgo/fedgo/privacy/accountant]'s.
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
// # What is guaranteed
//
// Local DP ([Local], its [Local.Middleware]):
//
//  1. A train reply is rebuilt from scratch: the update clipped to C and
//     noised (standard deviation 2zC), the round, and the constant
//     LocalConfig.Weight — or, with LocalConfig.WeightBound B, the example
//     count clamped to [0, B] and noised in the same release, which then
//     splits the release's privacy loss (ρ to the count, 1−ρ to the
//     update, so its ε is unchanged; see [Local]). No loss, no raw example
//     count, no training time, no payload or config from the handler it
//     wraps.
//  2. Evaluation requests are refused ([ErrRefused]) unless
//     EvaluationPrivatized is configured; then only the configured metrics,
//     clamped to [0, B] and noised with the updates' multiplier, leave,
//     and each evaluation is accounted as a release. Every other message
//     type is refused.
//  3. Every release is checked against the budget and the new count is
//     saved to LocalConfig.Store before anything is released; a failed
//     save releases nothing. A client restarted with the same store keeps
//     its spent budget ([FileStore] writes atomically and syncs).
//
// The tests mount the attacks: two evaluations at server-chosen parameters
// that return a client's secret exactly without Local, raw metrics and
// example counts in train replies, a server telling a 1-example client from
// a B-example one by its weight (raw: always; noised: no better than the
// accounted Gaussian allows, TestLocalNoisedWeightHidesCount), a restart
// that forgets the budget.
//
// Central DP ([CentralDP]):
//
//  1. Every release is accounted, and checked against the budget at the
//     release itself (Aggregate and NoiseSum return [ErrBudgetExhausted]
//     past it, whatever the engine did with Check).
//  2. With the default [MechanismDiscreteGaussian], updates are clipped to
//     C minus [RoundingMargin], rounded to the grid γ (c/2^k by default,
//     see [GridStep]) and summed exactly as integers, so the rounded sum
//     has exactly the accounted sensitivity; exact discrete Gaussian noise
//     N_Z(0, ⌈(z·S/γ)²⌉) is added ([DiscreteGaussian], Canonne, Kamath,
//     Steinke 2020, "The Discrete Gaussian for Differential Privacy",
//     Algorithms 1–3, drawing only uniform integers and deciding in exact
//     integer arithmetic); the integer result is scaled by γ/(qW). Every
//     output is a deterministic function of that integer vector, so its
//     low-order bits carry nothing more: the low-bit distinguisher of
//     Mironov 2012 (issue 13: 4.6% of outputs under sum 0 are odd multiples
//     of 2^-54 in a binade that sum 1 never produces) finds such events
//     against [MechanismGaussian] and none against the discrete mechanism.
//     NoiseSum rounds a sum it did not clip, which can move it by √d/2
//     grid steps: its noise is raised to z·(S/γ + √d) grid steps. Every
//     release is accounted with the discrete Gaussian's proven bound (see
//     "Accounting" below), never with the continuous Gaussian's.
//  3. Checkpointed state is validated whole: a state from a mechanism with
//     any other accounting-relevant setting, with more rounds than the
//     budget, or with impossible values is refused with [ErrState].
//
// # Accounting: which bound for which mechanism
//
// [MechanismDiscreteGaussian] (the default) is accounted with the discrete
// Gaussian's own, proven bound ([CentralDP.AccountingStep]: an
// accountant.DiscreteNoise with one share, composed by the RDP
// accountant; calibration by accountant.CalibrateDiscrete):
//
//   - The base release. For an integer shift μ the multivariate discrete
//     Gaussian has D_α(N_Z(μ, σ²)‖N_Z(0, σ²)) ≤ α‖μ‖²/(2σ²) at every
//     α > 1, in both orders of the pair (Canonne, Kamath, Steinke 2020: it
//     is ½(‖μ‖/σ)²-concentrated DP). The shift is one client's rounded
//     contribution: Aggregate clips each update to C less [RoundingMargin]
//     and rounds it, so ‖μ‖₂ ≤ L = C/γ and ‖μ‖₁ ≤ √d·L; NoiseSum rounds a
//     sum it did not clip, which moves a difference by less than one grid
//     step per coordinate, so L = C/γ + √d. The noise is N_Z(0, σ²) with
//     σ = z·(S/C)·L grid steps, S/C = 1 (Poisson) or 2 (fixed size,
//     replace-one), σ² rounded up to an integer: never less than
//     accounted. The tests mount the worst rounding against L and measure
//     the noise's variance against σ².
//   - Sampling, by bounds that need only the base release's RDP at
//     integer orders: Zhu and Wang (2019, "Poisson Subsampled Rényi
//     Differential Privacy"), Theorem 6, for Poisson sampling (add/remove,
//     both directions), and Wang, Balle, Kasiviswanathan (2019), Theorem
//     9, for fixed-size sampling (replace-one); fractional orders by the
//     chord of the cumulant (their Corollary 10).
//   - For one share the bound depends on L and σ only through σ/L, so the
//     step is kept in units of L (L2 = 1, Variance = (z·S/C)²) and ε does
//     not depend on d, γ or an adaptive C; the tests compose the step on
//     the grid each release ran on and find the same ε.
//   - Adaptive clipping releases the updates and the doubled count with
//     independent discrete Gaussians (σ_Δ = z_Δ·(S/C)·L and 2σ_b); the
//     Rényi divergences of independent releases add, α/2·(1/z_Δ² +
//     (countSens/σ_b)²) = α/(2z²), so the joint release is accounted at
//     z, as Andrew et al.'s Theorem 1 does for the Gaussian.
//
// Why not the continuous Gaussian's tighter sampled analyses (Mironov,
// Talwar, Zhang 2019 for Poisson; Wang et al.'s Theorem 27 for fixed size;
// the PLD), which this mechanism used to be accounted with: they evaluate
// the sampled mixture with the Gaussian density itself. For the discrete
// Gaussian the remove direction, D_α((1−q)P + qP_μ ‖ P), expands at
// integer α into moments E_P[(P_μ/P)^i] = e^{(i−1)D_i}, each at most the
// continuous one, so it is bounded; the add direction, D_α(P ‖ (1−q)P +
// qP_μ), has the mixture in the denominator, does not expand, and its
// bound is proven for the continuous Gaussian only. The proven bound costs
// ε at the same noise. On the grid q ∈ {0.01, 0.1, 0.5}, z ∈ {0.8, 1, 2,
// 5}, k ∈ {10, 100, 1000} rounds, δ = 10^−5 it is 1.0–3.0× the
// continuous ε under Poisson sampling (largest at large z, where Theorem
// 6's generic third-order terms dominate) and 0.75–2.6× under fixed size
// (below 1 where Theorem 9 is tighter than the Theorem 27 the Gaussian is
// accounted with up to order 256). examples/dp's defaults (N = 1000, q = 0.1, 100 rounds,
// ε = 5 at δ = N^−1.1) calibrate z = 1.2467 where they calibrated 1.1019,
// whose run cost ε = 6.18 under the proven bound, not the 5.00 reported.
//
// The PLD accountant has no bound for the discrete Gaussian: CentralConfig
// with the discrete mechanism and Accountant = accountant.KindPLD is
// refused ([ErrConfig]). [MechanismGaussian] keeps the Gaussian's
// accounting (RDP or PLD): its noise is the continuous Gaussian up to
// floating point, whose low-order bits leak (below).
//
// Checkpoints: the state format is version 3. A version-2 state (written
// when the discrete mechanism was accounted with the continuous bounds)
// restored into the discrete mechanism is refused with [ErrState], whose
// message gives what its releases cost under the proven bound; its budget
// does not carry over. A version-2 state of [MechanismGaussian], whose
// accounting did not change, restores as before.
//
// # Noise and its side channels
//
// Noise comes from [Source]: ChaCha8 (math/rand/v2, a CSPRNG) keyed with
// 32 bytes from crypto/rand, unless the caller injects a reader (tests,
// reproducible simulations — then there is no privacy against whoever
// knows the seed). [MechanismGaussian] draws normal values by the ziggurat
// method (Marsaglia and Tsang 2000): like every floating-point sampler its
// outputs are an irregular finite set of doubles and their low-order bits
// leak (Mironov 2012); it is kept for comparison. The discrete Gaussian
// has two exact samplers. Canonne–Kamath–Steinke's (any σ²) has a running
// time that depends on its output (rejections and the geometric loop of
// the discrete Laplace proposal grow with |x|), so the time a release
// takes says something about the noise drawn; it takes about 300 ns a
// value. For σ² < 2^28 in grid units (a coarse Resolution, or the ddp
// shares; the default grid puts σ near z·2^10·√d, above it) a release of
// at least 5σ values draws from an exact alias table instead (about 25 ns a
// value, [DiscreteGaussian.UseTable]): its common path takes the same
// steps whatever the output, but the table entry it reads depends on the
// output, so a process sharing the CPU cache could learn something of the
// noise, and its rare rest path (probability about 2^−20) takes longer.
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
//  4. Central DP: do not release anything computed from the un-noised
//     updates: client metrics such as the training loss in [fl.RoundStats]
//     are not private.
//  5. Keep the quorum (ServerConfig.MinClients) low: an aborted round
//     reveals that few clients answered, which the accounting does not
//     cover.
//  6. Under secure aggregation, use package secagg/fedround, whose clients
//     clip to the server's clip norm themselves, less the stochastic
//     rounding's reach ([QuantizedClipNorm]), so that the quantized vector
//     stays within it (a client that does not run its middleware is not
//     clipped: the server sees only the sum).
//  7. Give the server a checkpoint directory (ServerConfig.CheckpointDir)
//     if it may crash: it saves CentralDP's state after each release and
//     before the model leaves, so a resume cannot release a round twice
//     unaccounted.
//  8. Give each [Local] a durable [LocalStore] ([FileStore]) for the
//     client's whole life; the default [MemoryStore] forgets the budget
//     with the process. Answer train requests at times that do not depend
//     on the training time, if that time is private.
//  9. Protect checkpoints of a seeded simulation: they hold the noise
//     generator's state. Sources keyed from crypto/rand are never saved.
//  10. Do not expose the server's release timing, nor share its CPU
//     caches with untrusted processes, if the discrete samplers'
//     output-dependent running time or table reads matter to you.
//
// # Concurrency
//
// [CentralDP] and [Source] are not safe for concurrent use: the server
// drives the aggregator from one goroutine. [Local], [MemoryStore] and
// [FileStore] are safe for concurrent use (they lock). [DiscreteGaussian]
// is safe to share, with one Source per goroutine (its table is built once
// under a sync.Once). Nothing
// here starts a goroutine.
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
