package exact

import (
	"math/big"
	"math/bits"
	"sort"
)

// Packing of an alias column: prob in the low AliasShift bits, the alias
// above, so a table has at most 2^(64−AliasShift) = 2^19 columns.
const (
	AliasShift = 45
	maxQ       = 44 // column capacity 2^q ≤ 2^44, so prob ≤ 2^44 fits
	MaxColumns = 1 << (64 - AliasShift)
	rangeBits  = 54
)

// Table is the exact table method for a target with weights w(i) ≥ 0 on
// entries i = 0 … n−1 and a tail beyond them of mass at most A (rational),
// given integer bounds lo(i) ≤ w(i)·2^63 ≤ hi(i) (Devroye 1986, §II.3 "the
// alias method" after Walker 1977 and Vose 1991, and §II.4 "the
// composition method"):
//
//   - With an integer scale k, ℓ(i) = ⌊lo(i)·k/2^63⌋ ≤ k·w(i) ≤
//     h(i) = ⌈hi(i)·k/2^63⌉, and k·w splits as a composition: ℓ(i) (a
//     sure part), k·w(i) − ℓ(i) (a residual below h(i) − ℓ(i), a unit or
//     two) and the tail (below k·A).
//   - An alias table of n + 1 columns of capacity 2^Q holds the integers
//     ℓ(i) and one rest column of weight R = (n+1)·2^Q − Σℓ, with
//     R ≥ Σ(h−ℓ) + T, T = ⌈k·A⌉. One uniform draw r in [0, (n+1)·2^Q)
//     picks a column ([Table.Pick]): a table column is the sample.
//   - The rest column ([Table.DrawRest]) draws v uniform in [0, R): below
//     Σ(h−ℓ) it picks i ∝ h(i) − ℓ(i), which the caller accepts with
//     probability (k·w(i) − ℓ(i))/(h(i) − ℓ(i)); in the next T it
//     confirms the tail with probability k·A/T, and the caller draws from
//     its envelope of mass A with exact acceptance; else it starts over.
//
// Each entry i is output with probability proportional to ℓ(i) +
// (h(i) − ℓ(i))·(k·w(i) − ℓ(i))/(h(i) − ℓ(i)) = k·w(i), and the tail with
// k·A·(target tail mass)/A: the output follows w exactly, provided the
// caller's acceptances are exact. Every decision here compares uniform
// integers with exact integers.
type Table struct {
	Q      uint     // column capacity 2^Q
	K      uint64   // the scale k
	Ent    []uint64 // the alias columns (n + 1, the last the rest column)
	Lo     []uint64 // ℓ(i)
	Cum    []uint64 // Cum[i] = Σ_{j≤i} h(j) − ℓ(j)
	RestW  uint64   // R
	TW     uint64   // T
	TailOK Ratio    // k·A/T
}

// Kinds of outcome of [Table.Rest].
const (
	RestNone  = iota // start over
	RestEntry        // entry i, to accept with its residual probability
	RestTail         // the tail, to draw from its envelope
)

// Build returns the table for the bounds lo(i) ≤ w(i)·2^63 ≤ hi(i)
// (each ≤ 2^63) and the tail mass A = tailNum/tailDen > 0, or nil if it
// cannot fit its integers (too many entries or too heavy a tail).
func Build(lo, hi []uint64, tailNum, tailDen *big.Int) *Table {
	n := len(lo)
	cols := n + 1
	if len(hi) != n || cols > MaxColumns || n == 0 {
		return nil
	}
	// Range = cols·2^Q < 2^rangeBits keeps the rejection of an unbiased
	// uniform draw in [0, Range) (Lemire's method: probability below
	// Range/2^64) under 2^−10, and the residuals (a unit or two per
	// entry) below 2^−(Q−1) of the mass.
	t := &Table{Q: uint(min(rangeBits-bits.Len(uint(cols)), maxQ))}
	capTotal := uint64(cols) << t.Q
	// Choose the scale so that Σh + T fills all but about 2^−20 of the
	// columns (floating point only guides the choice; the fit is checked
	// exactly below).
	af, _ := new(big.Rat).SetFrac(tailNum, tailDen).Float64()
	sum := af
	for _, x := range hi {
		sum += float64(x) * 0x1p-63
	}
	kf := float64(capTotal) * (1 - 0x1p-20) / (sum + float64(cols)*0x1p-40)
	if !(kf >= 1) || kf >= 0x1p63 {
		return nil
	}
	t.K = uint64(kf)
	t.Lo = make([]uint64, n)
	t.Cum = make([]uint64, n)
	for ; ; t.K -= t.K>>10 + 1 {
		if t.K == 0 {
			return nil
		}
		var sumLo, sumRes uint64
		for i := range n {
			t.Lo[i] = mulShift63(lo[i], t.K, false)
			sumLo += t.Lo[i]
			sumRes += mulShift63(hi[i], t.K, true) - t.Lo[i]
			t.Cum[i] = sumRes
		}
		ak := new(big.Int).Mul(tailNum, new(big.Int).SetUint64(t.K))
		tw, r := new(big.Int).QuoRem(ak, tailDen, new(big.Int))
		if r.Sign() != 0 || tw.Sign() == 0 {
			tw.Add(tw, big.NewInt(1))
		}
		// Each of the n values is ≤ k ≤ capTotal < 2^63 and their sum is
		// about capTotal, so the uint64 sums cannot wrap while this holds.
		if tw.IsUint64() && tw.Uint64() < capTotal && sumLo+sumRes <= capTotal-tw.Uint64() {
			t.TW = tw.Uint64()
			t.RestW = capTotal - sumLo
			t.TailOK = NewRatio(ak, new(big.Int).Mul(tw, tailDen))
			break
		}
	}
	t.Ent = alias(t.Lo, t.RestW, t.Q)
	return t
}

// alias returns Vose's alias table over the integer weights w and a last
// column of weight rest, column capacity 2^q, in exact integers (Σ weights
// = cols·2^q).
func alias(lo []uint64, rest uint64, q uint) []uint64 {
	cols := len(lo) + 1
	w := make([]uint64, cols)
	copy(w, lo)
	w[cols-1] = rest
	capc := uint64(1) << q
	var small, large []int
	for i, x := range w {
		if x < capc {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	ent := make([]uint64, cols)
	for len(small) > 0 && len(large) > 0 {
		sm := small[len(small)-1]
		small = small[:len(small)-1]
		lg := large[len(large)-1]
		ent[sm] = w[sm] | uint64(lg)<<AliasShift
		w[lg] -= capc - w[sm]
		if w[lg] < capc {
			large = large[:len(large)-1]
			small = append(small, lg)
		}
	}
	// What remains holds exactly 2^q each (the total is conserved).
	for _, i := range append(small, large...) {
		ent[i] = capc | uint64(i)<<AliasShift
	}
	return ent
}

// mulShift63 returns ⌊x·k/2^63⌋, or ⌈x·k/2^63⌉ if up, for x ≤ 2^63.
func mulShift63(x, k uint64, up bool) uint64 {
	hi, lo := bits.Mul64(x, k)
	q := hi<<1 | lo>>63
	if up && lo&(1<<63-1) != 0 {
		q++
	}
	return q
}

// Range returns the number of column slots, (n+1)·2^Q < 2^54: draw r
// uniform in [0, Range()) for [Table.Pick].
func (t *Table) Range() uint64 { return uint64(len(t.Ent)) << t.Q }

// Rest is the index of the rest column.
func (t *Table) Rest() int { return len(t.Lo) }

// Pick returns the column of slot r < Range(): an entry, or [Table.Rest].
func (t *Table) Pick(r uint64) int {
	c := r >> t.Q
	if e := t.Ent[c]; r&(1<<t.Q-1) >= e&(1<<AliasShift-1) {
		c = e >> AliasShift
	}
	return int(c)
}

// Width returns h(i) − ℓ(i).
func (t *Table) Width(i int) uint64 {
	w := t.Cum[i]
	if i > 0 {
		w -= t.Cum[i-1]
	}
	return w
}

// DrawRest draws from the rest column: an entry i (RestEntry) drawn with
// probability ∝ h(i) − ℓ(i), the tail (RestTail), or nothing (RestNone),
// with probabilities Σ(h−ℓ)/R, k·A/R and the rest.
func (t *Table) DrawRest(s Source) (kind, i int) {
	v := s.Uint64N(t.RestW)
	res := t.Cum[len(t.Cum)-1]
	switch {
	case v < res:
		return RestEntry, sort.Search(len(t.Cum), func(i int) bool { return t.Cum[i] > v })
	case v-res < t.TW:
		if t.TailOK.Bernoulli(s) {
			return RestTail, 0
		}
	}
	return RestNone, 0
}
