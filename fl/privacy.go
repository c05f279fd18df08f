package fl

// Privacy is a differential-privacy mechanism together with its budget. The
// server takes it as one explicit field ([ServerConfig.Privacy]), never by
// looking for optional methods on the aggregator, so that no wrapper can
// hide it and the sampling, the aggregation and the accounting cannot
// disagree. Package privacy implements it (privacy.CentralDP).
//
// The server uses a Privacy as follows:
//  1. Before round 1 it takes Sampler as the round's sampler and refuses a
//     config that sets another sampler, a client count, or an aggregator of
//     its own (a robust rule or an attack wrapper between the clients and
//     the DP sum changes the sum's sensitivity, which the accounting would
//     not cover).
//  2. Before each round samples anyone it calls Check; an error stops Run
//     with the error wrapped, before any client is contacted.
//  3. The plain train exchange aggregates with Aggregator; secure
//     aggregation hands NoiseSum the unmasked sum of the clients'
//     contributions, each clipped by the client to ClipNorm. Either call
//     checks the budget again and accounts the release before it returns.
//  4. After the optimizer step, and before the new parameters reach an
//     evaluator, an observer or the history, the server writes a
//     checkpoint when checkpointing is configured (write-ahead: no
//     resume can release a round that was not accounted), then calls
//     Record.
//
// Its state (the releases accounted) is saved in checkpoints when it
// implements encoding.BinaryMarshaler and encoding.BinaryUnmarshaler.
type Privacy interface {
	// Sampler returns the sampling that the accounting assumes.
	Sampler() Sampler
	// Check reports whether round may run over a registered population of
	// the given size; it wraps [ErrBudget] when the round would exceed
	// the budget.
	Check(round, population int) error
	// Aggregator returns the aggregator of the plain train exchange: it
	// clips, sums, noises and accounts.
	Aggregator() Aggregator
	// ClipNorm returns the L2 bound each client's contribution must meet
	// in the next round.
	ClipNorm() float64
	// NoiseSum privatizes in place the sum of the clients' contributions,
	// each clipped to ClipNorm by its client, and accounts the release.
	NoiseSum(sum []float64) error
	// Record writes what the last release cost (ε, δ, ...) into
	// stats.Extra.
	Record(stats *RoundStats)
}
