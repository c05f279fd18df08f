package ddp

import (
	"math"
	"math/big"
	"testing"

	"github.com/fedgo/fedgo/internal/exact"
)

// TestPoissonTableBounds checks lo(y) ≤ w(y)·2^63 ≤ hi(y) and ℓ(y) ≤
// k·w(y) ≤ h(y) for every entry against the exact rational w(y) computed
// independently as λ^y·λ!/(λ+y)! (y ≥ 0) or λ!/((λ−k)!·λ^k) (y = −k).
func TestPoissonTableBounds(t *testing.T) {
	fact := func(n uint64) *big.Int { return new(big.Int).MulRange(1, int64(max(n, 1))) }
	for _, lambda := range []uint64{1, 2, 7, 30, 400} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		tab := p.tab
		lo, hi := weightBounds(lambda, tab.yMax, tab.kMax)
		l := new(big.Int).SetUint64(lambda)
		in := func(num, den *big.Int, a, b uint64) bool {
			return new(big.Int).Mul(den, new(big.Int).SetUint64(a)).Cmp(num) <= 0 &&
				new(big.Int).Mul(den, new(big.Int).SetUint64(b)).Cmp(num) >= 0
		}
		prev := uint64(0)
		for i := range tab.Rest() {
			y := int64(i) + tab.y0
			var num, den *big.Int
			if y >= 0 {
				num = new(big.Int).Exp(l, big.NewInt(y), nil)
				num.Mul(num, fact(lambda))
				den = fact(lambda + uint64(y))
			} else {
				k := uint64(-y)
				num = fact(lambda)
				den = new(big.Int).Exp(l, new(big.Int).SetUint64(k), nil)
				if k < lambda {
					den.Mul(den, fact(lambda-k))
				}
			}
			if !in(new(big.Int).Lsh(num, 63), den, lo[i], hi[i]) {
				t.Fatalf("λ = %d, y = %d: w·2^63 not in [%d, %d]", lambda, y, lo[i], hi[i])
			}
			h := tab.Lo[i] + tab.Cum[i] - prev
			prev = tab.Cum[i]
			if kw := new(big.Int).Mul(num, new(big.Int).SetUint64(tab.K)); !in(kw, den, tab.Lo[i], h) {
				t.Fatalf("λ = %d, y = %d: k·w not in [ℓ, h] = [%d, %d]", lambda, y, tab.Lo[i], h)
			}
			wn, wd := tab.weight(y)
			if new(big.Int).Mul(wn, den).Cmp(new(big.Int).Mul(num, wd)) != 0 {
				t.Fatalf("λ = %d, y = %d: weight() differs from the factorial form", lambda, y)
			}
		}
	}
}

// TestPoissonTableAlias reconstructs each column's probability from the
// alias table in exact integers: entry i must receive ℓ(i) of the
// cols·2^q units and the rest column the rest, Σ(h−ℓ) + T of it at least.
func TestPoissonTableAlias(t *testing.T) {
	for _, lambda := range []uint64{1, 30, 171926} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		tab := p.tab
		cols := len(tab.Ent)
		capc := uint64(1) << tab.Q
		got := make([]uint64, cols)
		for c, e := range tab.Ent {
			prob, alias := e&(1<<exact.AliasShift-1), e>>exact.AliasShift
			if prob > capc || alias >= uint64(cols) {
				t.Fatalf("λ = %d: column %d holds prob %d, alias %d", lambda, c, prob, alias)
			}
			got[c] += prob
			got[alias] += capc - prob
		}
		var sum uint64
		for i := range tab.Rest() {
			if got[i] != tab.Lo[i] {
				t.Fatalf("λ = %d: entry %d gets %d units, want ℓ = %d", lambda, i, got[i], tab.Lo[i])
			}
			sum += got[i]
		}
		if got[tab.Rest()] != uint64(cols)<<tab.Q-sum || got[tab.Rest()] != tab.RestW {
			t.Fatalf("λ = %d: rest column gets %d units, want %d", lambda, got[tab.Rest()], uint64(cols)<<tab.Q-sum)
		}
		if need := tab.Cum[len(tab.Cum)-1] + tab.TW; tab.RestW < need {
			t.Fatalf("λ = %d: rest weight %d < residual + tail %d", lambda, tab.RestW, need)
		}
		// The rest column is rare: the table is nearly tight.
		if f := float64(tab.RestW) / float64(uint64(cols)<<tab.Q); f > 1e-4 {
			t.Errorf("λ = %d: the rest column has probability %.3g", lambda, f)
		}
	}
}

// TestPoissonTableResidual drives the exact acceptance of the residual:
// entry i accepts with probability (k·w − ℓ)/(h − ℓ), here compared in
// frequency with that ratio computed independently in big.Rat.
func TestPoissonTableResidual(t *testing.T) {
	p, err := newPoisson(30)
	if err != nil {
		t.Fatal(err)
	}
	tab := p.tab
	s := seeded(t, 4)
	tested := 0
	for i := range tab.Rest() {
		width := tab.Cum[i]
		if i > 0 {
			width -= tab.Cum[i-1]
		}
		if width == 0 || i%7 != 0 {
			continue
		}
		num, den := tab.weight(int64(i) + tab.y0)
		want := new(big.Rat).SetFrac(num, den)
		want.Mul(want, new(big.Rat).SetInt64(int64(tab.K)))
		want.Sub(want, new(big.Rat).SetInt64(int64(tab.Lo[i])))
		want.Quo(want, new(big.Rat).SetInt64(int64(width)))
		wf, _ := want.Float64()
		const n = 4000
		acc := 0
		for range n {
			if tab.acceptResidual(i, s) {
				acc++
			}
		}
		if se := math.Sqrt(wf * (1 - wf) / n); math.Abs(float64(acc)/n-wf) > 5*se+1e-9 {
			t.Errorf("entry %d: accepted %d/%d, want %.4f", i, acc, n, wf)
		}
		tested++
	}
	if tested < 3 {
		t.Fatalf("only %d entries with a residual", tested)
	}
}

// TestPoissonTableTail takes tables that stop a few values from the mode,
// so that most draws go through the tail column, the geometric envelope
// and the exact chain: the pmf must still be Poisson(λ).
func TestPoissonTableTail(t *testing.T) {
	for _, c := range []struct{ lambda, ymax uint64 }{{30, 2}, {30, 40}, {1000, 10}, {5, 1}, {300, 3}} {
		p, err := newPoisson(c.lambda)
		if err != nil {
			t.Fatal(err)
		}
		tab := newPoissonTableY(p, c.ymax)
		if tab == nil {
			t.Fatalf("λ = %d, Y = %d: no table", c.lambda, c.ymax)
		}
		s := seeded(t, byte(c.ymax))
		n := 40000
		counts := map[int64]int{}
		for range n {
			counts[tab.sample(p, s)]++
		}
		poissonChi2(t, counts, n, c.lambda)
	}
}

// poissonChi2 fails t if counts do not fit Poisson(λ) at the 0.999 level.
func poissonChi2(t *testing.T, counts map[int64]int, n int, lambda uint64) {
	t.Helper()
	l := float64(lambda)
	sd := math.Sqrt(l)
	lo, hi := int64(max(0, l-5*sd)), int64(l+5*sd)
	stat, dof := chiSquare(counts, n, func(k int64) float64 {
		if k < 0 {
			return 0
		}
		return poissonPMF(l, int(k))
	}, lo, hi)
	if crit := chiCritical(dof); stat > crit {
		t.Errorf("λ = %d: χ² = %.1f with %d dof, 0.999 critical value %.1f", lambda, stat, dof, crit)
	}
}

// TestPoissonTableEdgeTrial: edgeTrial(y, hi) is true with probability
// w(y)·2^63/hi; with hi = 3·⌈w(y)·2^63⌉ that is just below 1/3.
func TestPoissonTableEdgeTrial(t *testing.T) {
	p, err := newPoisson(30)
	if err != nil {
		t.Fatal(err)
	}
	s := seeded(t, 6)
	for _, y := range []int64{-20, 5, 33} {
		num, den := p.tab.weight(y)
		num.Lsh(num, 63)
		c, r := new(big.Int).QuoRem(num, den, new(big.Int))
		if r.Sign() != 0 {
			c.Add(c, big.NewInt(1))
		}
		hi := 3 * c.Uint64()
		want, _ := new(big.Rat).SetFrac(num, new(big.Int).Mul(den, new(big.Int).SetUint64(hi))).Float64()
		const n = 20000
		acc := 0
		for range n {
			if p.tab.edgeTrial(y, hi, s) {
				acc++
			}
		}
		if se := math.Sqrt(want * (1 - want) / n); math.Abs(float64(acc)/n-want) > 5*se {
			t.Errorf("y = %d: %d/%d, want %.4f", y, acc, n, want)
		}
	}
}

// addSkellam draws exactly what skellam draws, value for value, from one
// seeded stream, including the rest column (a tiny-Y table sends most
// draws there).
func TestAddSkellamMatchesSkellam(t *testing.T) {
	for _, c := range []struct{ lambda, ymax uint64 }{{1000, 0}, {2236857, 0}, {30, 2}} {
		p, err := newPoisson(c.lambda)
		if err != nil {
			t.Fatal(err)
		}
		if c.ymax > 0 {
			p.tab = newPoissonTableY(p, c.ymax)
		}
		const mask = 1<<20 - 1
		got := make([]uint64, 3000)
		for i := range got {
			got[i] = uint64(i) * 7919 & mask
		}
		p.tab.addSkellam(got, mask, p, seeded(t, 5))
		s := seeded(t, 5)
		for i, v := range got {
			if want := (uint64(i)*7919 + uint64(p.skellam(s))) & mask; v != want {
				t.Fatalf("λ = %d, Y = %d, value %d: addSkellam %d, skellam %d", c.lambda, c.ymax, i, v, want)
			}
		}
	}
}
