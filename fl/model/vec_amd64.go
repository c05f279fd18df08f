//go:build !noasm && !gccgo && !safe && !purego

package model

import "gonum.org/v1/gonum/floats"

// axpy is axpyGo on gonum's SSE2 kernel (a MULPD then an ADDPD per pair:
// the same roundings).
func axpy(alpha float64, x, y []float64) { floats.AddScaled(y[:len(x)], alpha, x) }

// dot is dotGo on gonum's SSE2 kernel, whose two 2-lane accumulators are
// dotGo's four partial sums.
func dot(x, y []float64) float64 { return floats.Dot(x, y[:len(x)]) }
