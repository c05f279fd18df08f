// Package exact holds the machinery shared by fedgo's exact integer noise
// samplers (privacy.DiscreteGaussian's table path and privacy/ddp's
// Poisson table): rigorous bounds of exp(−n/d) at any precision, an exact
// lazy comparison of a uniform real against C·exp(−n/d), exact Bernoulli
// trials of rational probability, and an integer alias table with a rest
// column (Walker 1977, Vose 1991; Devroye 1986, Non-Uniform Random Variate
// Generation, §II.3–4).
//
// Nothing here uses floating point in a decision: floats only guide table
// sizes. Every function is deterministic in the [Source] it draws from.
//
// # Concurrency
//
// A [Table] and a [Ratio] are read-only once built and safe for concurrent
// use; the Source passed to them is not.
package exact

// Source is the uniform randomness the samplers draw from
// (privacy.Source implements it).
type Source interface {
	// Uint64 returns 64 uniform bits.
	Uint64() uint64
	// Uint64N returns a uniform integer in [0, n), n > 0.
	Uint64N(n uint64) uint64
}
