// Package detmath holds the elementary functions and the normal sampler
// that fedgo's data generators, model initialisations, attacks and
// trainers use where their bits must be the same on every machine: [Exp],
// [Log], [Pow], [Erfinv] and [Normal].
//
// math.Exp runs assembly on amd64 that takes a fused multiply-add path when
// the CPU has FMA (a runtime check), and other assembly on arm64; math.Log
// runs assembly on amd64 and portable Go elsewhere, which the compiler may
// fuse (arm64 always, amd64 with GOAMD64=v3). Their last bit therefore
// depends on the machine, and so do math.Pow, math.Erfinv and
// math/rand/v2's NormFloat64, which call them (math.Pow's squarings and
// math.Erfinv's polynomials are fused as well). A seeded dataset, a model's initial
// weights or an attack drawn with them can differ between two amd64
// machines, or between amd64 and arm64, and a simulation resumed elsewhere
// then diverges. The functions here are the same algorithms in portable Go
// with every product rounded before it is added, so their result is a
// function of their input alone; [Normal] consumes its source exactly as
// NormFloat64 does, so replacing one by the other keeps a seeded stream's
// values except in rare draws (see Normal).
//
// When not to use it: where the last bit does not matter (a latency model,
// a plot), math is faster on amd64 and as accurate.
//
// # Concurrency
//
// The functions are pure; [Normal] uses only the source it is given, which
// the caller must not share between goroutines without its own locking.
//
// # Invariants
//
//   - Exp and Log are within one ulp of the exact value
//     (TestExpLogAgainstBig, against a big.Float evaluation).
//   - Normal's bits are pinned by a digest of 10^5 draws that an
//     independent slow reference (the ziggurat with big.Float exp and log,
//     correctly rounded) reproduces (TestNormalDigest).
//   - No fused multiply-add: compiled for arm64 and for amd64 v3, the
//     package has no fused instruction (TestNoFusedMultiplyAdd, CI=true).
//   - fl/dataset, fl/model, fl/fltest and robust/attack call neither
//     NormFloat64 nor math's exponential, logarithm, power, erf or
//     trigonometric functions outside their tests
//     (TestNoMachineDependentCalls reads their source).
package detmath
