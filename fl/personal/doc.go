// Package personal provides personalized federated learning: each client
// ends with a model of its own, fitted to its own data, beside (or
// instead of) the one global model. Two methods from the literature:
//
//   - Ditto (T. Li, S. Hu, A. Beirami and V. Smith, "Ditto: Fair and
//     Robust Federated Learning Through Personalization", ICML 2021,
//     Algorithm 1): the global model w is trained by the engine's plain
//     path (fl.TrainExchange: FedAvg, or any aggregator, privacy and
//     compression the server is configured with), and each sampled
//     client k also updates a personal model v_k by local steps on
//     h_k(v; w^t) = F_k(v) + λ/2‖v − w^t‖² (objective (2)), w^t the
//     global model it received this round. [DittoClient] is the whole of
//     it: a client handler around the plain one, and λ ([KeyLambda]) in
//     the server's client config.
//   - FedPer (M. G. Arivazhagan, V. Aggarwal, A. K. Singh and S.
//     Choudhary, "Federated Learning with Personalization Layers",
//     arXiv:1912.00818, 2019, Algorithm 1): the last layers of the model
//     are personal. A [Mask] names the personal coordinates of the flat
//     parameter vector, for any trainer ([LayerMask] and [HeadMask] for a
//     model.Sequential, by layer, [MLPHeadMask] for a model.MLP); the [FedPer] exchange averages the base
//     coordinates only, and [FedPerClient] trains base and head together,
//     keeps its head, and sends the base's change alone.
//
// Personal state (Ditto's v_k, FedPer's head) lives in a drift.Store:
// one drift.MemoryStore for a simulation, listed in fl.ServerConfig.State
// so that checkpoints carry it and a resumed run equals an uninterrupted
// one bit for bit; a drift.DirStore on each deployed client. The store
// holds state only for the clients that have trained, one vector each
// (Ditto: the model's size, FedPer: the head's).
//
// [Evaluation] asks each client to evaluate its personal model on its own
// held-out split and reports the distribution of the answers: mean,
// example-weighted mean, p10, p50, p90, min and max of every metric
// ([Report.Summary]). Its Evaluate method plugs into
// fl.ServerConfig.Evaluate, so it runs on the engine's evaluation
// schedule. Ditto's clients report the global model's accuracy on the
// same split too ([KeyGlobalAccuracy]), so that one evaluation shows what
// personalization gains.
//
// When not to use it: with IID clients a personal model gains nothing
// over the global one; Ditto doubles each client's training work; FedPer
// does not compose with compression (its Check refuses a pool that
// encodes), Ditto does (its uplink is the plain update). Both compose
// with a server Privacy: Ditto's global model is the plain path's, and
// FedPer aggregates the base updates with the Privacy's aggregator.
//
// The host's duties:
//
//  1. Ditto: wrap each client's plain handler (fl.NewHandler) in a
//     [DittoClient] with a [ProxTrainer] (model.Trainer is one) and an
//     fl.Evaluator on the client's held-out data, and set [KeyLambda] in
//     fl.ServerConfig.ClientConfig (or DittoClient.Lambda).
//  2. FedPer: set fl.ServerConfig.Exchange to a [FedPer] and run a
//     [FedPerClient] with the same [Mask] on every client.
//  3. Give each client a drift.Store that survives its restarts; in a
//     simulation, one drift.MemoryStore in fl.ServerConfig.State.
//  4. For the per-client report, set fl.ServerConfig.Evaluate to an
//     [Evaluation]'s Evaluate over the same pool.
//
// # Concurrency
//
// [DittoClient] and [FedPerClient] are as safe for concurrent use as
// their trainer, evaluator and store (one client answers one message at a
// time). [FedPer] is used by one server, one round at a time.
// [Evaluation.Run] sends to its clients concurrently and waits for every
// send before it returns.
//
// # Invariants
//
//   - Personal state never leaves the client: Ditto's reply is the plain
//     update, FedPer's holds the base coordinates only (tests spy on the
//     messages). What does leave is what evaluation answers carry: the
//     personal model's metrics on held-out data, as the engine's
//     federated evaluation reports the global model's (a local-DP
//     middleware outside the client handler decides whether to answer).
//   - Ditto's global model is the plain path's: under DP and compression
//     it equals, bit for bit, the model plain clients reach.
//   - A client's personal state is saved before its reply leaves; a
//     personal update that fails, diverges or has the wrong length fails
//     the client's answer and leaves the stored state unchanged.
//   - Deterministic: the personal updates are functions of the trainer's
//     seed, the round and the stored state, so a resumed simulation equals
//     an uninterrupted one bit for bit.
package personal
