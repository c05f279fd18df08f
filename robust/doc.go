// Package robust provides Byzantine-robust aggregators, each an
// [fl.Aggregator] that a server uses in place of FedAvg when some clients
// may send arbitrary updates, and the pre-aggregation steps that strengthen
// them.
//
// The rules: [Mean] (the non-robust baseline), [Median], [TrimmedMean] and
// [Meamed] (coordinate-wise), [Krum] and [MultiKrum], [GeoMed] (RFA),
// [Bulyan], [CenteredClipping], [NormBound], [FLTrust], [MDA], [MoNNA],
// [SMEA] and [CAF]. The steps: [NNM], [Bucketing], [Clip] and [ARC], put in
// front of any rule with [Pre], several at once with a [Chain]. [New]
// builds any of them by name ("krum", "nnm+trimmedmean", "arc+nnm+cc", …).
//
// Rules and steps that select updates ([Krum], [MultiKrum], [Bulyan],
// [MDA], [MoNNA], [SMEA], [CAF], [NNM]) are [Explainer]s: Explain reports
// what the last call chose (indices, scores, neighbour sets).
//
// Zero values mean "the default" except where zero is itself a useful
// setting, which a second field makes explicit: [CenteredClipping].ItersSet
// (no iteration), and in robust/attack ALIE.ZSet (z = 0). Krum's neighbour
// count is separate from F ([Krum].Neighbours, [NeighboursNF1]).
//
// Every rule has a Validate(n) method ([Validator]) that states its
// precondition for n updates (Krum: n > 2f + 2; Bulyan: n ≥ 4f + 3;
// trimmed mean, MDA and NNM: n > 2f); Aggregate returns the same error when
// it does not hold. Aggregate also returns an error, naming the update's
// index and client, for no updates, a length that differs from len(dst),
// and NaN or Inf. The robust rules ignore Update.Weight, as their papers
// do, except [GeoMed], whose paper (RFA) weights clients by their data.
//
// When not to use it: with no Byzantine clients, FedAvg is both cheaper
// and statistically better; robust rules trade accuracy under heterogeneous
// data for resilience.
//
// # Host duties
//
//  1. Choose f, the number of Byzantine updates per round the rule must
//     tolerate, and sample enough clients that Validate(n) holds for the
//     updates that actually arrive.
//  2. Pass the updates in a fixed order (the sampling order) so that runs
//     are reproducible; order-dependent parts (tie-breaking, [Bucketing])
//     are documented on each type.
//  3. For [FLTrust], set Root to a function returning the server's update
//     on its root data set for the current round.
//  4. For [CenteredClipping], call Reset when the model is re-initialized,
//     or set Center to the momentum the paper uses.
//  5. Keep one aggregator per server: each holds scratch buffers (and
//     [CenteredClipping] and [Bucketing] hold state across rounds).
//
// # Concurrency
//
// An aggregator is not safe for concurrent use: it reuses its scratch
// buffers across calls and does not allocate per coordinate once they are
// warm. Inside one Aggregate call the work is split among GOMAXPROCS
// goroutines (across coordinates for the coordinate-wise and averaging
// steps, across updates for norms, and across 8 fixed slices of the
// coordinates for the pairwise-distance Gram matrix); they are joined
// before Aggregate returns, and no goroutine outlives the call.
//
// # Paths and determinism
//
// Every rule gives the same bits on every processor and GOARCH, for a given
// input order (and seed), whatever GOMAXPROCS: a run resumed on another
// machine continues bit for bit. Two kernels have a processor-specific
// path, each in its own internal package with one documented definition
// that both of its paths compute:
//
//   - robust/internal/orderstat, the order statistics of [Median],
//     [TrimmedMean], and the coordinate-wise steps of [Meamed] and [Bulyan]
//     (and the median that centers the Gram matrix): on amd64
//     with AVX2, for 9 ≤ n ≤ 128 updates, four adjacent coordinates at a
//     time go through generated sorting networks of VMINPD/VMAXPD on ymm
//     registers (a run of the first 2^k updates and one of the rest,
//     without the comparators of the +Inf padding), and the ranks are read
//     off the two sorted runs;
//     the trimmed mean's sum runs over the updates in input order, four
//     coordinates a vector; the mean around the median sorts the distances
//     to the medians by the same networks. Elsewhere the coordinates are gathered into a
//     transposed buffer and selected by a scalar quickselect, and the same
//     sums run in the same order in Go. The definition: exact order
//     statistics, sums in input order, −0 turned into +0.
//   - robust/internal/gram, the Gram matrix behind every pairwise distance
//     ([Krum], [MultiKrum], [Bulyan], [MDA], [NNM], [SMEA], [CAF]): on amd64
//     with AVX2 and FMA a 3×4 tile of dot products at a time, four lanes
//     of coordinates each, every lane a chain of fused multiply-adds
//     (VFMADD231PD); elsewhere a Go loop with the same four lane sums in
//     the same order through math.FMA. A fused multiply-add is exactly
//     defined (IEEE 754: the exact a·b + c rounded once), so every correct
//     implementation, hardware or math.FMA's software fallback, gives the
//     same bits; the centered copy of each block (gram.Center) is plain
//     subtraction on both paths.
//
// AVX2 (and FMA for the Gram kernel) is detected with golang.org/x/sys/cpu; the purego build tag turns
// both fast paths off. A processor with AVX-512 runs the AVX2 path: an
// earlier AVX-512 selection did not compute the definition above (its
// trimmed sums could differ from the portable path's in the last bits), and
// a second vector path could only be tested where AVX-512 exists, which
// the machines this package is built and tested on lack; one path per
// kernel keeps one bit-exact definition that every test here checks. Tests run each fast path and its portable twin on
// the same inputs over many shapes and compare the bits. Every other sum
// in the package is portable Go in a fixed order, with every product that
// is added converted by float64(…): the Go spec lets a compiler fuse x*y+z
// into one FMA (the arm64 compiler does), which would round differently
// from amd64; the conversion forbids it. Where a sum wants the fused
// rounding (the Gram kernel) it calls math.FMA explicitly.
//
// # Invariants
//
// Aggregate never modifies the updates and overwrites every coordinate of
// dst on success (dst is unspecified after an error, except for
// [GeoMed]'s [ErrNotConverged]). Results are deterministic for a given
// input order (and, for [Bucketing], seed) and independent of GOMAXPROCS,
// since every sum runs in a fixed order. Pairwise distances are computed once
// per call as ‖a‖² + ‖b‖² − 2a·b from the Gram matrix of the updates
// centered on their coordinate-wise median (over all n updates, or over the
// first 2F + 1 for [Krum] and [MultiKrum]; robust/internal/gram, summed in
// a fixed order on every path), clamped at zero; the rules depend on them
// only through comparisons.
// Ties between equal scores or distances go to the lower input index.
//
// # References
//
//   - Yin, Chen, Ramchandran and Bartlett (2018), "Byzantine-Robust
//     Distributed Learning: Towards Optimal Statistical Rates", ICML:
//     [Median], [TrimmedMean].
//   - Blanchard, El Mhamdi, Guerraoui and Stainer (2017), "Machine Learning
//     with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS:
//     [Krum], [MultiKrum].
//   - Pillutla, Kakade and Harchaoui (2022), "Robust Aggregation for
//     Federated Learning", IEEE TSP: [GeoMed].
//   - El Mhamdi, Guerraoui and Rouault (2018), "The Hidden Vulnerability of
//     Distributed Learning in Byzantium", ICML: [Bulyan].
//   - Karimireddy, He and Jaggi (2021), "Learning from History for
//     Byzantine Robust Optimization", ICML: [CenteredClipping].
//   - Sun, Kairouz, Suresh and McMahan (2019), "Can You Really Backdoor
//     Federated Learning?": [NormBound].
//   - Cao, Fang, Liu and Gong (2021), "FLTrust: Byzantine-robust Federated
//     Learning via Trust Bootstrapping", NDSS: [FLTrust].
//   - El Mhamdi, Guerraoui and Rouault (2021), "Distributed Momentum for
//     Byzantine-resilient Stochastic Gradient Descent", ICLR: [MDA].
//   - Allouah, Farhadkhani, Guerraoui, Gupta, Pinot and Stephan (2023),
//     "Fixing by Mixing: A Recipe for Optimal Byzantine ML under
//     Heterogeneity", AISTATS: [NNM].
//   - Karimireddy, He and Jaggi (2022), "Byzantine-Robust Learning on
//     Heterogeneous Datasets via Bucketing", ICLR: [Bucketing].
//   - Xie, Koyejo and Gupta (2018), "Generalized Byzantine-tolerant SGD",
//     arXiv:1802.10116: [Meamed].
//   - Farhadkhani, Guerraoui, Gupta, Hoang, Pinot and Stephan (2023),
//     "Robust Collaborative Learning with Linear Gradient Overhead", ICML:
//     [MoNNA].
//   - Allouah, Guerraoui, Gupta, Pinot and Stephan (2023), "On the
//     Privacy-Robustness-Utility Trilemma in Distributed Learning", ICML:
//     [SMEA].
//   - Allouah, Guerraoui and Stephan (2025), "Towards Trustworthy Federated
//     Learning with Untrusted Participants", ICML: [CAF].
//   - Allouah, Guerraoui, Gupta, Jellouli, Rizk and Stephan (2024),
//     "Boosting Robustness by Clipping Gradients in Distributed Learning",
//     arXiv:2405.14432: [ARC].
//
// The package robust/attack crafts the attacks these rules are evaluated
// against.
package robust
