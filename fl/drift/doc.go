// Package drift provides the client-drift corrections of federated
// optimization as [fl.Exchange]s that follow their papers' equations:
// [Scaffold] (Karimireddy et al. 2020) with its client handler
// [ScaffoldClient], [FedNova] (Wang et al. 2020), and [FedDyn] (Acar et
// al. 2021) with its client handler [FedDynClient].
//
// Each exchange aggregates by its own equations, unweighted or weighted as
// its paper says, with the federation's size N from the configuration
// (Clients), never from the clients that happen to be connected. The
// global learning rate η_g is the server optimizer, fl.SGD{LR: η_g}
// (FedDyn: LR 1, it sets θ^t itself); the exchanges refuse any other
// optimizer, a Privacy and an Aggregator.
//
// Client state (SCAFFOLD's c_i, FedDyn's ∇L_k(θ_k)) lives in a [Store]: a [MemoryStore] holds
// state only for the clients that have trained, and is an [fl.Stateful],
// so a simulation that lists it in fl.ServerConfig.State resumes from a
// checkpoint exactly where it stopped; a deployed client keeps its own in
// a [DirStore] (one checksummed file per key, replaced atomically).
//
// The host's duties:
//
//  1. Set Clients to N, the number of clients in the federation.
//  2. Run the client side on every client: [ScaffoldClient] for SCAFFOLD
//     around a [CorrectedTrainer] (model.Trainer is one), [FedDynClient]
//     for FedDyn around one too, the plain
//     fl.NewHandler for FedNova, whose trainer reports its local step
//     count τ in the update's Metrics (model.KeySteps) and its learning
//     rate (model.KeyStepLR), and which trains with the round's momentum
//     and μ (set them in fl.ServerConfig.ClientConfig).
//  3. Give each client a [Store] that survives its restarts; in a
//     simulation, one [MemoryStore] in fl.ServerConfig.State.
//  4. Do not put a compressing pool in front of SCAFFOLD or FedDyn: their
//     messages carry exact vectors (Check refuses a pool that reports an
//     encoding).
//
// SCAFFOLD's one-message variant (Scaffold.OneMessage, in the manner of
// FLamby) is an option, exact only under full participation with η_g = 1
// and the same K·η_l everywhere, which its Check enforces.
//
// # Concurrency
//
// An exchange is used by one server, one round at a time. [MemoryStore] and
// [ScaffoldClient] are safe for concurrent use when their trainer is (one
// client's handler runs one round at a time).
//
// # Invariants
//
//   - A round that does not reach the quorum, or whose reply is rejected,
//     leaves the server state (SCAFFOLD's c, FedDyn's h) unchanged.
//   - Every length read from a payload or a checkpoint is checked against
//     the model and the bytes that remain before anything is allocated;
//     NaN and Inf are refused.
package drift
