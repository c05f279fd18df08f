package fedround

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
)

// Shared grids: adding the sums of several secure rounds.
//
// A round quantizes on the grid of secagg.Quantize for its own n clients,
// so the sums of two rounds (two edges of a hierarchy) are on different
// grids and cannot be added exactly. Under [KeySummands] the round's
// Config fixes the n of the quantizer instead: every round that carries the
// same value (and the same Clip, Bits and WeightCap) quantizes on the same
// grid, and the integer sums of such rounds add exactly, with no wrap as
// long as their clients number at most that n. [Exchange.RunSum] returns
// such an integer sum instead of its mean; package hier adds them at the
// root and dequantizes once, with the bits of one flat round over all the
// clients whose n is the same.

// KeySummands is the key of the round's fl.Config that fixes the n of the
// quantizer (see secagg.Quantize): an integer at least the round's number
// of clients and at most 2^Bits − 1. Absent, the round's n is used. The
// server's exchange and every client read it from the train message; a
// client refuses a value out of range with [ErrMalformed].
const KeySummands = "secagg_summands"

// maxSummands bounds KeySummands (beyond it a float64 is not exact).
const maxSummands = 1 << 53

// summands returns the n of the quantizer for a round of n clients of the
// given bits: cfg[KeySummands] if present, else n.
func summands(cfg fl.Config, n, bits int) (int, error) {
	v, ok := cfg[KeySummands]
	if !ok {
		return n, nil
	}
	if !(v >= float64(n)) || v > maxSummands || v != math.Trunc(v) || secagg.QuantLevels(bits, int(v)) == 0 {
		return 0, fmt.Errorf("%w: %s = %v, want an integer in [%d, 2^%d − 1]", ErrMalformed, KeySummands, v, n, bits)
	}
	return int(v), nil
}

// Sum is the unmasked integer sum of the survivors' quantized inputs of
// one round, on the grid (Clip, Bits, Summands): Vec[j] = Σ qᵢⱼ exactly
// (no wrap: Count ≤ Summands and each qᵢⱼ ≤ secagg.QuantLevels(Bits,
// Summands)). With WeightCap > 0, Vec has one more entry, the sum of the
// capped weights times Clip, quantized like the rest. secagg.Dequantize
// with the same clip, bits and n decodes it.
type Sum struct {
	Vec       []uint64
	Count     int // the survivors, whose inputs are in Vec
	Clip      float64
	Bits      int
	Summands  int
	WeightCap float64
}

// ErrSumPrivacy is returned by [Exchange.RunSum] for a round with a
// Privacy: the raw sum would leave the exchange without its noise.
var ErrSumPrivacy = errors.New("fedround: RunSum with a Privacy: the sum would escape un-noised; release it through Run")

// RunSum runs the round as [Exchange.Run] does (same messages, same
// failure accounting), on the grid r.Config[KeySummands] when present,
// and returns the integer sum of the survivors' inputs instead of their
// mean, for a caller that adds the sums of several rounds on one grid
// (package hier). It returns a nil Sum, with the number of survivors and
// a nil error, when fewer than r.Quorum clients sent masked inputs; it
// refuses a round with a Privacy ([ErrSumPrivacy]). Whoever receives the
// Sum learns the sum of the round's survivors, as Run's caller does.
func (w *Exchange) RunSum(ctx context.Context, r *fl.Round) (*Sum, int, error) {
	if r.Privacy != nil {
		return nil, 0, ErrSumPrivacy
	}
	var out *Sum
	x := &Exchange{cfg: w.cfg, rand: w.rand, sink: func(rd *round, vec []uint64, survivors int) error {
		out = &Sum{Vec: vec, Count: survivors, Clip: w.cfg.Clip, Bits: rd.params.Bits, Summands: rd.grid, WeightCap: w.cfg.WeightCap}
		return nil
	}}
	n, err := x.Run(ctx, r, make([]float64, len(r.Params)))
	if err != nil || out == nil {
		return nil, n, err
	}
	return out, n, nil
}
