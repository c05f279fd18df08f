// Package fl is fedgo's core: the types that travel through a federated
// round, the round engine ([Server]), the client runtime ([NewClient] and
// [Middleware]), aggregation ([FedAvg]), server optimizers ([SGD],
// [FedAvgM], [Adaptive] for FedAdam, FedYogi and FedAdagrad), client
// sampling ([Uniform], [Poisson]), the [History] of a run and checkpoints.
//
// The host brings the model, the data and the process layout: it writes a
// [Trainer] (and optionally an [Evaluator]) for its clients, and chooses a
// [Pool] through which the server reaches them — transport.Memory for a
// simulation of thousands of clients in one process, the network transport
// for a deployment. A simulation and a deployment run the same server code.
//
// # One round
//
//  1. The [Sampler] picks clients from the pool's population (sorted ids),
//     drawing from a source seeded by (ServerConfig.Seed, round).
//  2. The server sends each a [TypeTrain] [Message] with the global
//     parameters and the round's [Config] (ServerConfig.ClientConfig, the
//     per-round ConfigFunc, [KeyRound], and [KeyDeadline] when the round
//     has a deadline), all at once, and waits for every answer or the
//     deadline.
//  3. Each answer is checked: the right type and round, a finite positive
//     weight, the model's length, no NaN or Inf ([CheckUpdate]). A failed
//     call or a rejected answer is counted in [RoundStats.Failures] by
//     reason and logged with the client's id; the round goes on.
//  4. With at least MinClients accepted updates, the [Aggregator] combines
//     them in sampling order (never arrival order, so a run's bits do not
//     depend on the goroutine schedule) and the [ServerOptimizer] steps the
//     global parameters. Without quorum the round is aborted and the
//     parameters stay as they were.
//  5. Every EvalEvery rounds and after the last, the centralized Evaluate
//     function and federated evaluation ([TypeEvaluate]) run.
//  6. The round's [RoundStats] go to the [History] and the [Observer]; a
//     checkpoint is written atomically when configured.
//
// # The host's duties
//
//  1. Implement [Trainer]: start from the global parameters it is given
//     (never modify or keep them), train locally, return the change as
//     Update.Delta with the number of local examples as its Weight, and
//     return promptly when ctx is done.
//  2. Make local randomness a function of a client seed and [KeyRound]
//     when runs must be reproducible.
//  3. Provide a [Pool] whose Conn.Send honours its context: the server
//     waits for every send of a round to return.
//  4. Pick the quorum, deadline and failure tolerance (MinClients,
//     RoundTimeout, MaxAborted) for its population.
//  5. Keep the checkpoint directory on durable storage and resume with
//     [ReadCheckpoint] and [Server.Restore] under the same config and seed.
//
// # Concurrency
//
// A [Server] is driven from one goroutine; during a round it calls
// Conn.Send from one goroutine per sampled client and waits for all of them
// before Run or RunRound returns, so no goroutine outlives the call. The
// aggregators and optimizers here are not safe for concurrent use; [FedAvg]
// may split one call across GOMAXPROCS goroutines and joins them before it
// returns.
//
// # Invariants
//
//   - Deterministic: the same seed gives bit-identical parameters whatever
//     GOMAXPROCS or the schedule, and a resumed run equals an uninterrupted
//     one.
//   - Nothing silently wrong: a NaN, a wrong length, a bad weight, a
//     duplicate or a stale answer never reaches the aggregate.
//   - Memory: the server holds the global parameters, one scratch vector,
//     and the updates of the current round.
//
// # References
//
//   - McMahan, Moore, Ramage, Hampson, Agüera y Arcas (2017).
//     Communication-Efficient Learning of Deep Networks from Decentralized
//     Data. AISTATS. (FedAvg, Algorithm 1.)
//   - Hsu, Qi, Brown (2019). Measuring the Effects of Non-Identical Data
//     Distribution for Federated Visual Classification. (FedAvgM.)
//   - Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar, McMahan
//     (2021). Adaptive Federated Optimization. ICLR. (FedAdagrad, FedAdam,
//     FedYogi: Algorithm 2.)
//   - Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith (2020). Federated
//     Optimization in Heterogeneous Networks. MLSys. (FedProx: the proximal
//     term μ is a client hyperparameter, [KeyMu].)
package fl
