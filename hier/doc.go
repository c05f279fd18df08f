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
// RoundStats.Failures of its parent's round as the leaf clients it stands
// for: [Exchange.Size] and [EdgeConfig.Size] give an edge's population,
// which the exchange passes to fl.Round.SetSize, so a crashed edge counts
// all its clients as failed; an edge that answers says how many clients it
// sampled and lost, by reason (fl.Round.FailWithin). RoundStats.Sampled,
// Failed, Failures and FailedAt of every node's round are therefore leaf
// counts, at every level below it (a leaf that would have timed out inside
// a crashed edge counts under the edge's reason). Exchange.Run returns the
// number of leaf updates in the aggregate, so the root server's MinClients
// is a quorum of clients, not of edges; an edge has a quorum of its own
// ([EdgeConfig.MinClients]) and fails rather than send a smaller sum.
// RoundStats.Extra keeps the tree's shape under the Key... constants
// (edges, depth, failed members).
//
// # Secure aggregation within the edges
//
// With [Exchange.Secure] at the root and [EdgeConfig.Secure] (a
// fedround.Config) on the edges whose members are leaf clients (running
// fedround.Middleware), each such edge runs its sub-round as a round of
// secure aggregation (SecAgg / SecAgg+, package secagg/fedround): the edge
// learns only the sum of its surviving clients' quantized deltas, edges of
// edges and the root only sums of such sums. Dropouts inside an edge are
// recovered by the protocol; an edge that falls below its secagg threshold
// (or its MinClients) fails, and its parent counts its clients as failed.
//
// Exactness: the root fixes one quantization grid per round, (Clip, Bits,
// WeightCap) of [Secure] and n = Σ Size(member) over the round's members,
// and sends it down (fedround.KeySummands and the KeySecure... keys).
// Every client quantizes on that grid (secagg.Quantize with that n), so
// every edge's integer sum (fedround.Exchange.RunSum) is on it, the sums
// add exactly (no wrap: at most n inputs of at most L levels, n·L < 2^Bits),
// and the root dequantizes the total once, exactly as fedround.Exchange.Run
// does for one flat round. A tree of secure edges therefore gives the
// same bits as one flat secure round over the same clients whenever that
// round has the same n (it samples the n = Σ Size clients) and the clients
// draw the same stochastic rounding (tested, with dropouts, a failed edge,
// capped weights, three levels and the malicious-server variant). Against
// the plain mean of the clamped deltas the error is fedround's: below one
// step 2·Clip/L per coordinate (unweighted); the grid is that of n
// clients, so a large population needs more Bits for the same step.
//
// Weights: fedround's capped weights. With Secure.WeightCap = ŵ each client
// masks w·clamp(Δ) and w·Clip, w = min(weight/ŵ, 1), in one vector; the
// root divides the total by Σw. No client weighs more than ŵ examples; an
// edge learns its survivors' Σw and the root the total, no node any one
// client's weight. Unweighted (ŵ = 0) is the default and the only choice under DP.
//
// # Composition with secure aggregation and differential privacy
//
// Sound, by construction and tested:
//   - Secure aggregation within each edge (above).
//   - Central DP at the root of secure edges, sampling users: the root's
//     fl.ServerConfig.Privacy is a [UserSampled] wrapping a
//     privacy.CentralDP (ClientClipped, Poisson sampling at rate q, over
//     the Population of leaf clients). The root asks every edge; each
//     secure edge samples each of its clients with probability q, by a
//     draw keyed by the edge's key, the round and the client's id (so
//     every user takes part with probability q, independently of every
//     other, in its edge or another: the Poisson sampling the accountant
//     assumes); every
//     client clips its delta to the clip norm itself before masking
//     (fedround.KeyClipNorm, sent down); the root adds the sums,
//     dequantizes once and calls NoiseSum once: noise added once, to the
//     sum over the sampled users, accounted before it leaves. As in any
//     central DP, the noise is added by a trusted party: each edge sees
//     its clients' un-noised sum and the root the total; the guarantee
//     holds for what leaves the root, against whoever sees only that, and
//     needs honest edges (an edge that samples at another rate cannot be
//     detected by the root).
//   - Local DP on the clients (privacy.Local middleware on each client):
//     the noise is added before anything leaves a client, whatever sums it.
//   - Checks of the clients' updates at the edge: each edge applies
//     fl.CheckUpdate and the range check to each of its clients' updates,
//     and a parent refuses a partial sum whose count, weight or values no
//     sum of that many valid updates can reach (a lying edge cannot make
//     the root's sum overflow or wrap); a secure partial sum on another
//     grid is refused ([ErrGrid]).
//   - Compression below the edges (a codec on an edge's pool, which
//     decodes each leaf update before the edge sums it) — not with secure
//     edges, which mask dense quantized vectors.
//
// Refused (Exchange.Check returns an error wrapping fl.ErrConfig, or the
// edge refuses the round):
//   - Any other Privacy at the root: a plain one samples edges while its
//     accountant assumes users, and clips and noises edges' sums, not
//     users' updates, so its ε would not bound the mechanism that ran;
//     UserSampled without secure edges, over fixed-size sampling (m users
//     cannot be drawn by independent edges), with capped weights (the DP
//     sum is unweighted), or with a Secure.Clip below the clip norm.
//   - An edge that subsamples its members (ClientsPerRound) under
//     UserSampled: the rate would not be q.
//   - An uplink codec on the root's pool: it would decode (or mangle) the
//     edges' exact partial sums.
//   - A plain update or plain partial sum in a secure round, and a secure
//     edge under a root without Secure.
//
// # Host duties
//
//  1. Give each edge its own pool (in memory for a simulation, a network
//     pool in a deployment) and serve the edge to its parent as any client
//     is served (for example transport/natspool.Serve).
//  2. Give the root's Exchange a Size function (and each EdgeConfig one for
//     edges of edges), so that a crashed edge's clients are counted and,
//     with Secure, so that the grid holds every client of the round (an
//     edge with more clients than the grid's n refuses the round).
//  3. Set the deadlines top-down: an edge's RoundTimeout (default 80% of
//     its parent's fl.KeyDeadline) must leave it time to answer; a secure
//     edge splits it among the protocol's steps unless its
//     fedround.Config.StepTimeout is set.
//  4. With Secure: give every secure edge the root's Clip, Bits and
//     WeightCap, and each client its fedround.ClientState and Middleware;
//     leave fedround.Config.Rand and ClientConfig.Rand nil in deployment.
//  5. With UserSampled: leave each secure edge's Seed 0 in deployment (its
//     users' sampling is then keyed from crypto/rand: the sampling the
//     accountant assumes must be unpredictable; a Seed is for simulations),
//     and set Population to the number of leaf clients.
//
// # Concurrency
//
// An Edge is safe for concurrent use (a secure edge runs one round at a
// time); it keeps no state across rounds, so
// an edge that restarts answers the next round as the old one would have,
// and the root's checkpoint is the whole state of the federation. Exchange
// and ExactFedAvg are driven by one server and are not safe for concurrent
// use.
package hier
