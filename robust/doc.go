// Package robust provides Byzantine-robust aggregators, each an
// [fl.Aggregator] that a server uses in place of FedAvg when some clients
// may send arbitrary updates, and the pre-aggregation steps that strengthen
// them.
//
// The rules: [Mean] (the non-robust baseline), [Median] and [TrimmedMean]
// (coordinate-wise), [Krum] and [MultiKrum], [GeoMed] (RFA), [Bulyan],
// [CenteredClipping], [NormBound], [FLTrust] and [MDA]. The steps: [NNM] and
// [Bucketing], put in front of any rule with [Pre]. [New] builds any of
// them by name ("krum", "nnm+trimmedmean", "bucketing+cc", …).
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
// machine continues bit for bit. Only the order statistics of [Median] and
// [TrimmedMean] have a processor-specific path, in
// robust/internal/orderstat: on amd64 with AVX2 (detected with
// golang.org/x/sys/cpu; the purego build tag turns it off), for
// 9 ≤ n ≤ 128 updates, four adjacent coordinates at a time go through a
// generated bitonic sorting network of VMINPD/VMAXPD on ymm registers and
// the ranks are read off its two sorted halves; the trimmed mean's sum runs
// over the updates in input order, four coordinates a vector. Elsewhere the
// coordinates are gathered into a transposed buffer and selected by a
// scalar quickselect, and the same sums run in the same order in Go. Both
// paths compute one definition (exact order statistics, sums in input
// order, −0 turned into +0), and a test runs both on the same inputs over
// many shapes and compares the bits. Every other sum in the package runs in
// a fixed order in portable Go.
//
// # Invariants
//
// Aggregate never modifies the updates and overwrites every coordinate of
// dst on success (dst is unspecified after an error, except for
// [GeoMed]'s [ErrNotConverged]). Results are deterministic for a given
// input order (and, for [Bucketing], seed) and independent of GOMAXPROCS,
// since every sum runs in a fixed order. Pairwise distances are computed once
// per call as ‖a‖² + ‖b‖² − 2a·b from the Gram matrix of the updates
// centered on their coordinate-wise median (robust/internal/gram, summed in
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
//
// The package robust/attack crafts the attacks these rules are evaluated
// against.
package robust
