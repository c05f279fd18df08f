// Package fl is fedgo's core: the types that travel through a federated
// round, the round engine ([Server]) and its one round path ([Exchange],
// [Round]), the client runtime ([NewHandler] and [Middleware]),
// aggregation ([FedAvg]), server optimizers ([SGD], [FedAvgM], [Adaptive]
// for FedAdam, FedYogi and FedAdagrad), client sampling ([Uniform],
// [Poisson]), the [History] of a run and checkpoints.
//
// The host brings the model, the data and the process layout: it writes a
// [Trainer] (and optionally an [Evaluator]) for its clients, and chooses a
// [Pool] through which the server reaches them — transport.Memory for a
// simulation of thousands of clients in one process, the network transport
// for a deployment. A simulation and a deployment run the same server code.
//
// # One round
//
// [Server.RunRound] reads as the round it runs:
//
//  1. Budget: with a [Privacy], Privacy.Check may refuse the round before
//     any client is contacted (Run then stops with the error).
//  2. Sample: the [Sampler] draws indices into the pool's population
//     (sorted ids) from a ChaCha8 source keyed by the sampling key and the
//     round; the server looks up only the sampled clients, so a round costs
//     O(sampled), whatever the population. A sampled client that is
//     registered but unreachable counts as failed ([FailUnreachable]).
//  3. Exchange: the [Exchange] runs on a [Round] value, which owns sending
//     (fan-out, the step deadline), failure accounting by reason and step
//     (each failure a [*ClientError], logged at warn), and metric averaging.
//     The default [TrainExchange] sends one [TypeTrain] message, checks each
//     [TypeUpdate] reply (type, round, length, weight, NaN/Inf) and
//     aggregates the accepted updates in sampling order; secure aggregation
//     (package secagg/fedround) is another Exchange on the same Round.
//  4. Quorum and finiteness: fewer than MinClients contributions, an
//     exchange error or a non-finite aggregate abort the round; the
//     parameters stay as they were.
//  5. Step: the [ServerOptimizer] moves the parameters along the aggregate.
//  6. Record: Privacy.Record writes ε and δ into the round's stats; with a
//     Privacy and a checkpoint directory, the checkpoint is written now,
//     before the new parameters reach anyone (write-ahead accounting).
//  7. Evaluate: every EvalEvery rounds and after the last, the centralized
//     Evaluate function and federated evaluation ([TypeEvaluate]).
//  8. History, [Observer] and checkpoint.
//
// # Extension points
//
// Everything a guarantee depends on is an explicit field of [ServerConfig],
// never an optional method found on the aggregator (a wrapper would hide
// it): the Exchange, the Privacy (sampler, DP aggregation and budget from
// one value, so they cannot disagree), the Optimizer. Compression is a pair
// of symmetric pool and client wrappers (package transport), not a decoder
// in the engine. Every part with state (optimizer, exchange and its
// aggregator, privacy) is checkpointed when it implements
// encoding.BinaryMarshaler and encoding.BinaryUnmarshaler; a marshal error
// fails the checkpoint, and a restore refuses a checkpoint that lacks a
// stateful part's state. [ServerConfig.Validate] and [NewServer] refuse a
// composition that cannot work before round 1, naming the field.
//
// # The host's duties
//
//  1. Implement [Trainer]: start from the global parameters it is given
//     (never modify or keep them), train locally, return the change as
//     Update.Delta with the number of local examples as its Weight, and
//     return promptly when ctx is done.
//  2. Make local randomness a function of a client seed and [KeyRound]
//     when runs must be reproducible.
//  3. Provide a [Pool] whose Conn.Send honours its context (the server
//     waits for every send of a step to return), whose population is
//     sorted and stable, and which passes fltest.TestPool.
//  4. Pick the quorum, deadline and failure tolerance (MinClients,
//     RoundTimeout, MaxAborted) for its population.
//  5. Keep the checkpoint directory on durable storage and resume with
//     [ReadCheckpoint] and [Server.Restore] under the same config; with a
//     SamplingKey or Seed the same key, which a checkpoint does not store.
//
// # Concurrency
//
// A [Server] is driven from one goroutine; during a round it calls
// Conn.Send from one goroutine per sampled client and waits for all of them
// before the step returns, so no goroutine outlives the call. The
// aggregators and optimizers here are not safe for concurrent use; [FedAvg]
// may split one call across GOMAXPROCS goroutines and joins them before it
// returns.
//
// # Invariants
//
//   - Deterministic: the same sampling key gives bit-identical parameters
//     whatever GOMAXPROCS or the schedule (replies are handled in sampling
//     order, never arrival order), and a resumed run equals an
//     uninterrupted one.
//   - Nothing silently wrong: a NaN, a wrong length, a bad weight, a stale
//     answer or an encoded update nobody decoded never reaches the
//     aggregate; an aggregator refuses a dst that shares memory with an
//     update ([CheckDst]).
//   - Errors surface: Run's error wraps the dominant client failure of the
//     aborted rounds (errors.As finds the [*ClientError]), and Run fails
//     when no round succeeded.
//   - Memory: the server holds the global parameters, one scratch vector,
//     and the updates of the current round; an idle client costs the pool
//     its id only (transport.Memory).
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
