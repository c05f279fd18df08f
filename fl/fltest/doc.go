// Package fltest is a conformance suite for implementations of
// [fl.Aggregator].
//
// [TestAggregator] runs the checks every aggregator must pass: errors (never
// panics) for no updates, wrong lengths, NaN and Inf; inputs left
// unmodified; dst fully overwritten; determinism; and, unless the options
// give a reason why not, permutation invariance, returning x when every
// update is x, and equality with the mean where the rule reduces to it.
//
// Inputs are drawn from a seeded source: coordinates are standard normal,
// weights uniform in [0.5, 2), and clients are named "c0", "c1", ….
//
// # Concurrency
//
// TestAggregator calls newAgg for a fresh aggregator in most checks and
// never uses one aggregator from two goroutines.
//
// # Invariants
//
// Every check can fail for its own reason: a disabled check logs the
// reason given in [Options] instead of passing silently.
package fltest
