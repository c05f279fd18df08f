package ddp

import (
	"math"
	"math/big"
	"testing"
)

// TestPoissonTableBounds checks lo(y) ≤ w(y)·2^63 ≤ hi(y) for every entry
// against the exact rational w(y)·2^63 computed independently as
// λ^y·λ!/(λ+y)! (y ≥ 0) or λ!/((λ−k)!·λ^k) (y = −k), and that h(y)
// dominates hi(y).
func TestPoissonTableBounds(t *testing.T) {
	fact := func(n uint64) *big.Int { return new(big.Int).MulRange(1, int64(max(n, 1))) }
	for _, lambda := range []uint64{1, 2, 7, 30, 400} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		tab := p.tab
		l := new(big.Int).SetUint64(lambda)
		for i := range tab.tail {
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
			num.Lsh(num, 63)
			e := tab.ent[i]
			lo := new(big.Int).Mul(den, new(big.Int).SetUint64(e.lo))
			hi := new(big.Int).Mul(den, new(big.Int).SetUint64(e.hi))
			if lo.Cmp(num) > 0 || hi.Cmp(num) < 0 {
				t.Fatalf("λ = %d, y = %d: w·2^63 = %v not in [%d, %d]", lambda, y, new(big.Rat).SetFrac(num, den).FloatString(2), e.lo, e.hi)
			}
			if h := ceilShift(e.hi, 63-tab.prec) << (63 - tab.prec); h < e.hi {
				t.Fatalf("λ = %d, y = %d: H = %d < hi = %d", lambda, y, h, e.hi)
			}
			wn, wd := tab.weight(y)
			if new(big.Int).Mul(wn, den).Cmp(new(big.Int).Mul(num, wd)) != 0 {
				t.Fatalf("λ = %d, y = %d: weight() differs from the factorial form", lambda, y)
			}
		}
	}
}

// TestPoissonTableAlias reconstructs each column's probability from the
// alias table in exact integers: column i must receive cols·h(i) of the
// cols·W units.
func TestPoissonTableAlias(t *testing.T) {
	for _, lambda := range []uint64{1, 30, 171926} {
		p, err := newPoisson(lambda)
		if err != nil {
			t.Fatal(err)
		}
		tab := p.tab
		cols := len(tab.ent)
		got := make([]*big.Int, cols)
		for i := range got {
			got[i] = new(big.Int)
		}
		for c, e := range tab.ent {
			if e.prob > tab.total {
				t.Fatalf("λ = %d: column %d prob %d > W %d", lambda, c, e.prob, tab.total)
			}
			got[c].Add(got[c], new(big.Int).SetUint64(e.prob))
			got[e.alias].Add(got[e.alias], new(big.Int).SetUint64(tab.total-e.prob))
		}
		var sum uint64
		for i := range cols {
			var h uint64
			if i == tab.tail {
				h = tab.total - sum
			} else {
				h = ceilShift(tab.ent[i].hi, 63-tab.prec)
				sum += h
			}
			want := new(big.Int).Mul(new(big.Int).SetUint64(h), big.NewInt(int64(cols)))
			if got[i].Cmp(want) != 0 {
				t.Fatalf("λ = %d: column %d gets %v units, want %v", lambda, i, got[i], want)
			}
		}
	}
}

// TestPoissonTableExact drives the exact fallback of the acceptance: for
// u with (u+1)·D ≤ N it must accept, for u·D ≥ N reject, and for
// u = ⌊N/D⌋ accept with probability N/D − u.
func TestPoissonTableExact(t *testing.T) {
	p, err := newPoisson(30)
	if err != nil {
		t.Fatal(err)
	}
	s := seeded(t, 4)
	for _, y := range []int64{-12, -1, 0, 3, 17, 40} {
		num, den := p.tab.weight(y)
		q, r := new(big.Int).QuoRem(num, den, new(big.Int))
		u := q.Uint64()
		if u > 0 && !p.tab.acceptExact(y, u-1, s) {
			t.Errorf("y = %d: u = %d below N/D rejected", y, u-1)
		}
		if p.tab.acceptExact(y, u+1, s) {
			t.Errorf("y = %d: u = %d above N/D accepted", y, u+1)
		}
		frac, _ := new(big.Rat).SetFrac(r, den).Float64()
		const n = 20000
		acc := 0
		for range n {
			if p.tab.acceptExact(y, u, s) {
				acc++
			}
		}
		if se := math.Sqrt(frac * (1 - frac) / n); math.Abs(float64(acc)/n-frac) > 5*se+1e-9 {
			t.Errorf("y = %d: accepted %d/%d at the straddling u, want %.4f", y, acc, n, frac)
		}
	}
}

// TestPoissonTableTail takes tables that stop a few values from the mode,
// so that most draws go through the tail column, the geometric envelope
// and the exact chain: the pmf must still be Poisson(λ).
func TestPoissonTableTail(t *testing.T) {
	for _, c := range []struct{ lambda, ymax uint64 }{{30, 2}, {30, 40}, {1000, 10}, {5, 1}} {
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
