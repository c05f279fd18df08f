// Package hier is hierarchical federated averaging: edge aggregators
// between the clients and the root, any depth, as in HierFAVG (Liu, Zhang,
// Song and Letaief, "Client-Edge-Cloud Hierarchical Federated Learning",
// ICC 2020) and NVFlare's hierarchical deployments, with one aggregation
// per global round (an edge does not run rounds of its own between the
// root's).
//
// An [Edge] is an [fl.Handler] to its parent and a server to its own
// [fl.Pool]: it answers the parent's train message by running a sub-round
// on the engine's [fl.Round] (sending, deadlines, failure accounting) and
// returns one update: the partial sum of its clients' weighted updates and
// their total weight, with their failures and metrics summarized under the
// Key... constants. The root runs [Exchange] as its server's exchange (or,
// for a flat federation, [ExactFedAvg] as its aggregator), which adds the
// partial sums and divides once.
//
// # Bit-identity with the flat federation
//
// Every node sums in 128-bit fixed point: each term wᵢ·Δᵢⱼ (a float64
// product, computed the same way wherever it is computed) and each weight
// wᵢ is rounded to a multiple of 2⁻⁶⁴ (ties to even), and the integers are
// added exactly. Integer addition is associative and commutative, so the
// sum, and the mean Σq(wᵢΔᵢ)/Σq(wᵢ) computed from it (numerator and
// denominator each correctly rounded to float64, then one division), have
// the same bits for any tree over the same clients, any grouping and any
// order: a two-level or deeper tree, with dropouts and failed edges, ends
// with the parameters of the flat run of Exchange or ExactFedAvg over the
// clients whose updates arrived. This is reproducible summation in its
// simplest form (compare Demmel and Nguyen, "Parallel Reproducible
// Summation", IEEE Trans. Computers 2015).
//
// Against fl.FedAvg (Σ (wᵢ/W)·Δᵢ in float64, in sampling order) the
// result differs by rounding only: within 4n·2⁻⁵²·maxᵢ|Δᵢⱼ| + n·2⁻⁶⁴ per
// coordinate for n updates (tested on random updates; in practice a few
// ulps). The
// price of exactness is range: |wᵢ·Δᵢⱼ| and wᵢ must be below 2³⁶
// ([MaxTerm]; a larger update is rejected with [ErrRange] and its client
// counted as failed), an aggregate holds at most [MaxTerms] updates, and
// edges send 16 bytes per coordinate upstream instead of 8.
//
// # Failures and quorum
//
// A member (an edge or a client) that fails is counted by the engine in
// RoundStats.Failures of its parent's round, once; hier also counts the
// leaf clients behind it: [Exchange.Size] and [EdgeConfig.Size] give an
// edge's population, so a crashed edge counts all its clients as failed in
// RoundStats.Extra[KeyFailed]. Exchange.Run returns the number of leaf
// updates in the aggregate, so the root server's MinClients is a quorum of
// clients, not of edges; an edge has a quorum of its own
// ([EdgeConfig.MinClients]) and fails rather than send a smaller sum. The
// engine's RoundStats.Sampled and Failed count the root's members (edges).
//
// # Composition with secure aggregation and differential privacy
//
// Sound, by construction:
//   - Local DP on the clients (privacy.Local middleware on each client):
//     the noise is added before anything leaves a client, whatever sums it.
//   - Checks of the clients' updates at the edge: each edge applies
//     fl.CheckUpdate and the range check to each of its clients' updates,
//     and a parent refuses a partial sum whose count, weight or values no
//     sum of that many valid updates can reach (a lying edge cannot make
//     the root's sum overflow).
//   - Compression below the edges (a codec on an edge's pool, which
//     decodes each leaf update before the edge sums it).
//
// Refused (Exchange.Check returns an error wrapping fl.ErrConfig):
//   - A Privacy at the root. Its sampler would sample edges while its
//     accountant assumes it samples users, and its aggregator would clip
//     and noise edges' sums, not users' updates, so the ε it reports would
//     not bound the mechanism that ran.
//   - An uplink codec on the root's pool: it would decode (or mangle) the
//     edges' exact partial sums.
//
// Sound but not provided by this package (the host's to wire, or future
// work): secure aggregation within each edge (the edge then learns only its
// clients' sum, the root only the edges' sums; it needs an exchange that
// yields the fixed-point sum rather than a mean), and central DP at the
// root with every client clipped at its edge and noise added once to the
// root's sum, accounted with the clients' (not the edges') sampling.
//
// # Host duties
//
//  1. Give each edge its own pool (in memory for a simulation, a network
//     pool in a deployment) and serve the edge to its parent as any client
//     is served (for example transport/natspool.Serve).
//  2. Give the root's Exchange a Size function (and each EdgeConfig one for
//     edges of edges), so that a crashed edge's clients are counted.
//  3. Set the deadlines top-down: an edge's RoundTimeout (default 80% of
//     its parent's fl.KeyDeadline) must leave it time to answer.
//
// # Concurrency
//
// An Edge is safe for concurrent use; it keeps no state across rounds, so
// an edge that restarts answers the next round as the old one would have,
// and the root's checkpoint is the whole state of the federation. Exchange
// and ExactFedAvg are driven by one server and are not safe for concurrent
// use.
package hier
