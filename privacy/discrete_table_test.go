package privacy

import (
	"fmt"
	"math"
	"math/big"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/internal/exact"
)

const dgRefPrec = 400

// dgRefWeight returns w(y) = exp(−y²/(2σ²)) for σ² = num/den at 400 bits
// by a method independent of the table's: E = exp(−den/(2num)) as the
// reciprocal of the positive series Σ a^i/i!, then E^(y²) by binary
// powering (relative error below 2^−350 for y² < 2^40).
type dgRef struct{ e *big.Float }

func newDGRef(num, den *big.Int) dgRef {
	f := func() *big.Float { return new(big.Float).SetPrec(dgRefPrec) }
	a := f().Quo(f().SetInt(den), f().SetInt(new(big.Int).Lsh(num, 1)))
	sum, term := f().SetInt64(1), f().SetInt64(1)
	for i := int64(1); ; i++ {
		term.Mul(term, a)
		term.Quo(term, f().SetInt64(i))
		sum.Add(sum, term)
		if term.Sign() == 0 || (term.Cmp(a) < 0 && term.MantExp(nil) < sum.MantExp(nil)-dgRefPrec-32) {
			break
		}
	}
	return dgRef{e: f().Quo(f().SetInt64(1), sum)}
}

func (r dgRef) w(y uint64) *big.Float {
	res := new(big.Float).SetPrec(dgRefPrec).SetInt64(1)
	b := new(big.Float).SetPrec(dgRefPrec).Set(r.e)
	for n := y * y; n > 0; n >>= 1 {
		if n&1 == 1 {
			res.Mul(res, b)
		}
		b.Mul(b, b)
	}
	return res
}

// covers reports lo ≤ x·m ≤ hi (m an integer scale) with a relative slack
// of 2^−300 on x.
func covers(lo, hi uint64, x *big.Float, m *big.Int) bool {
	v := new(big.Float).SetPrec(dgRefPrec).Mul(x, new(big.Float).SetPrec(dgRefPrec).SetInt(m))
	eps := new(big.Float).SetPrec(dgRefPrec).SetMantExp(v, -300)
	up := new(big.Float).SetPrec(dgRefPrec).Add(v, eps)
	dn := new(big.Float).SetPrec(dgRefPrec).Sub(v, eps)
	return new(big.Float).SetUint64(lo).Cmp(up) <= 0 && new(big.Float).SetUint64(hi).Cmp(dn) >= 0
}

type s2case struct {
	name     string
	num, den int64
}

var dgTableCases = []s2case{{"1/4", 1, 4}, {"1", 1, 1}, {"5/2", 5, 2}, {"100", 100, 1}, {"10^4", 10_000, 1}, {"10^6", 1_000_000, 1}, {"10^6+1/3", 3_000_001, 3}}

// TestDGTableBounds checks every entry: lo(y) ≤ u(y)·2^63 ≤ hi(y) against
// the independent 400-bit reference, hi − lo ≤ 2 (the bounds are tight),
// ℓ(y) ≤ k·u(y) ≤ h(y) for the table's scale, the table's range Y ≥ 10σ,
// and the tail envelope g(Y+m) = hi(Y)/2^63·ρ'^m ≥ w(Y+m) for m ≤ 300.
func TestDGTableBounds(t *testing.T) {
	two63 := new(big.Int).Lsh(big.NewInt(1), 63)
	for _, c := range dgTableCases {
		t.Run(c.name, func(t *testing.T) {
			num, den := big.NewInt(c.num), big.NewInt(c.den)
			g, err := NewDiscreteGaussian(big.NewRat(c.num, c.den))
			if err != nil {
				t.Fatal(err)
			}
			if !g.UseTable() {
				t.Fatal("no table")
			}
			tab := g.tab.Load()
			if s := math.Sqrt(float64(c.num) / float64(c.den)); float64(tab.ymax) < 10*s {
				t.Fatalf("Y = %d < 10σ = %v", tab.ymax, 10*s)
			}
			lo, hi := dgBounds(num, den, tab.ymax)
			if lo[0] != 1<<62 || hi[0] != 1<<62 {
				t.Fatalf("u(0) bounds [%d, %d], want 2^62", lo[0], hi[0])
			}
			ref := newDGRef(num, den)
			k := new(big.Int).SetUint64(tab.K)
			half := new(big.Float).SetFloat64(0.5)
			for y := uint64(0); y <= tab.ymax; y++ {
				u := half
				if y > 0 {
					u = ref.w(y)
				}
				if !covers(lo[y], hi[y], u, two63) {
					t.Fatalf("y = %d: u·2^63 = %s not in [%d, %d]", y, new(big.Float).Mul(u, new(big.Float).SetInt(two63)).Text('g', 25), lo[y], hi[y])
				}
				if hi[y]-lo[y] > 2 {
					t.Errorf("y = %d: bounds %d units apart", y, hi[y]-lo[y])
				}
				if !covers(tab.Lo[y], tab.Lo[y]+tab.Width(int(y)), u, k) {
					t.Fatalf("y = %d: k·u not in [ℓ, h] = [%d, %d]", y, tab.Lo[y], tab.Lo[y]+tab.Width(int(y)))
				}
			}
			// The envelope: hi(Y)·ρ'^m ≥ w(Y+m)·2^63, ρ' = 2num/(2num + (2Y+1)den).
			rho := new(big.Float).SetPrec(dgRefPrec).Quo(new(big.Float).SetInt(tab.twoNum), new(big.Float).SetInt(tab.rhoDen))
			env := new(big.Float).SetPrec(dgRefPrec).SetUint64(hi[tab.ymax])
			for m := uint64(1); m <= 300; m++ {
				env.Mul(env, rho)
				w := new(big.Float).SetPrec(dgRefPrec).Mul(ref.w(tab.ymax+m), new(big.Float).SetInt(two63))
				if env.Cmp(w) < 0 {
					t.Fatalf("m = %d: envelope %s below w·2^63 = %s", m, env.Text('g', 10), w.Text('g', 10))
				}
			}
		})
	}
}

// TestDGTableResidual: the residual acceptance of entry y is
// (k·u(y) − ℓ(y))/(h(y) − ℓ(y)), compared in frequency with that ratio
// from the reference; and y = 0 with an odd k accepts with probability
// exactly 1/2 (k/2 − ⌊k/2⌋ over a width of 1).
func TestDGTableResidual(t *testing.T) {
	g, err := NewDiscreteGaussian(big.NewRat(5, 2))
	if err != nil {
		t.Fatal(err)
	}
	g.UseTable()
	tab := g.tab.Load()
	ref := newDGRef(big.NewInt(5), big.NewInt(2))
	s := newSeeded(t, 4)
	const n = 4000
	check := func(y int, want float64, tb *dgTable) {
		t.Helper()
		acc := 0
		for range n {
			if tb.acceptResidual(y, s) {
				acc++
			}
		}
		if se := math.Sqrt(want * (1 - want) / n); math.Abs(float64(acc)/n-want) > 5*se+1e-9 {
			t.Errorf("y = %d: accepted %d/%d, want %.4f", y, acc, n, want)
		}
	}
	tested := 0
	for y := 1; y <= int(tab.ymax) && tested < 6; y++ {
		width := tab.Width(y)
		if width == 0 {
			continue
		}
		kw := new(big.Float).SetPrec(dgRefPrec).Mul(ref.w(uint64(y)), new(big.Float).SetUint64(tab.K))
		kw.Sub(kw, new(big.Float).SetUint64(tab.Lo[y]))
		kw.Quo(kw, new(big.Float).SetUint64(width))
		want, _ := kw.Float64()
		check(y, want, tab)
		tested++
	}
	if tested < 3 {
		t.Fatalf("only %d entries with a residual", tested)
	}
	// y = 0: a copy of the table with an odd k, ℓ(0) = ⌊k/2⌋, width 1.
	odd := *tab
	tb := *tab.Table
	odd.Table = &tb
	tb.K |= 1
	tb.Lo = append([]uint64{tb.K / 2}, tb.Lo[1:]...)
	tb.Cum = append([]uint64{1}, tb.Cum[1:]...)
	check(0, 0.5, &odd)
}

// tableSamples draws n values from g's table (built first).
func tableSamples(t *testing.T, g *DiscreteGaussian, seed uint64, n int) []int64 {
	t.Helper()
	if !g.UseTable() {
		t.Fatal("no table")
	}
	return g.AddTo(make([]int64, n), newSeeded(t, seed))
}

// cksSamples draws n values by Canonne et al.'s sampler.
func cksSamples(t *testing.T, g *DiscreteGaussian, seed uint64, n int) []int64 {
	t.Helper()
	s := newSeeded(t, seed)
	x := make([]int64, n)
	for i := range x {
		x[i] = g.sampleCKS(s)
	}
	return x
}

// chiSquareBinned tests samples against N_Z(0, σ²) in bins of width w
// (centred intervals of the integers, expected counts ≥ 20, the rest
// merged into two tails), at the 0.9999 level; for large σ where single
// integers have too few expected samples.
func chiSquareBinned(samples []int64, sigma2 float64, w int) error {
	n := float64(len(samples))
	lim := int(12*math.Sqrt(sigma2)) + 10
	pmf := dgPMF(sigma2, lim)
	bin := func(x int) int { return int(math.Floor((float64(x) + float64(w)/2) / float64(w))) }
	exp := map[int]float64{}
	for x := -lim; x <= lim; x++ {
		exp[bin(x)] += pmf[x]
	}
	// Bins kept: expected ≥ 20; the others go to two tails by sign.
	keep := map[int]bool{}
	for b, p := range exp {
		if n*p >= 20 {
			keep[b] = true
		}
	}
	obs := map[int]float64{}
	tailOf := func(b int) int {
		if b < 0 {
			return math.MinInt
		}
		return math.MaxInt
	}
	for _, s := range samples {
		b := bin(int(s))
		if !keep[b] {
			b = tailOf(b)
		}
		obs[b]++
	}
	e2 := map[int]float64{}
	var inside float64
	for b, p := range exp {
		if keep[b] {
			e2[b] = n * p
			inside += p
		}
	}
	var lower float64
	for x := -lim; x <= lim; x++ {
		if b := bin(x); !keep[b] && b < 0 {
			lower += pmf[x]
		}
	}
	e2[math.MinInt] = n * lower
	e2[math.MaxInt] = n * (1 - inside - lower)
	var chi float64
	df := -1
	for b, e := range e2 {
		if e <= 0 {
			continue
		}
		o := obs[b]
		chi += (o - e) * (o - e) / e
		df++
	}
	f := float64(df)
	crit := f * math.Pow(1-2/(9*f)+3.719*math.Sqrt(2/(9*f)), 3)
	if chi > crit {
		return fmt.Errorf("binned chi-square %.1f on %d degrees of freedom exceeds %.1f", chi, df, crit)
	}
	return nil
}

// TestDGTablePMF: the table sampler against the exact pmf at small σ (0.5,
// 1, √(7/3)), the scales of the ddp shares (σ² = 10^4, ≈ 4.5·10^6), and
// the moments; the same samples must fail against a σ 5% off.
func TestDGTablePMF(t *testing.T) {
	for i, c := range []s2case{{"1/4", 1, 4}, {"1", 1, 1}, {"7/3", 7, 3}, {"10^2", 100, 1}} {
		g, err := NewDiscreteGaussian(big.NewRat(c.num, c.den))
		if err != nil {
			t.Fatal(err)
		}
		s2 := float64(c.num) / float64(c.den)
		x := tableSamples(t, g, uint64(60+i), 40_000)
		if _, _, err := chiSquareDG(x, s2); err != nil {
			t.Errorf("σ² = %s: %v", c.name, err)
		}
		if err := dgMoments(x, s2); err != nil {
			t.Errorf("σ² = %s: %v", c.name, err)
		}
	}
	for i, s2 := range []int64{10_000, 4_473_714} {
		g, err := NewDiscreteGaussian(big.NewRat(s2, 1))
		if err != nil {
			t.Fatal(err)
		}
		x := tableSamples(t, g, uint64(70+i), 40_000)
		w := int(math.Sqrt(float64(s2)) / 8)
		if err := chiSquareBinned(x, float64(s2), w); err != nil {
			t.Errorf("σ² = %d: %v", s2, err)
		}
		if err := dgMoments(x, float64(s2)); err != nil {
			t.Errorf("σ² = %d: %v", s2, err)
		}
		// The same samples against σ·1.05 must fail.
		if err := chiSquareBinned(x, float64(s2)*1.05*1.05, w); err == nil {
			t.Errorf("σ² = %d: samples pass for σ·1.05", s2)
		}
	}
}

// TestDGTableMatchesCKS: the table and Canonne et al.'s sampler are equal
// in distribution — a two-sample chi-square over bins with at least 20
// draws in all, at the 0.9999 level.
func TestDGTableMatchesCKS(t *testing.T) {
	for i, c := range []s2case{{"7/3", 7, 3}, {"10^4", 10_000, 1}} {
		g, err := NewDiscreteGaussian(big.NewRat(c.num, c.den))
		if err != nil {
			t.Fatal(err)
		}
		a := tableSamples(t, g, uint64(80+i), 30_000)
		b := cksSamples(t, g, uint64(90+i), 30_000)
		w := max(1, int(math.Sqrt(float64(c.num)/float64(c.den))/8))
		if chi, df, crit := twoSample(a, b, w); chi > crit {
			t.Errorf("σ² = %s: two-sample chi-square %.1f on %d df exceeds %.1f", c.name, chi, df, crit)
		}
	}
	// The test can fail: the table at σ² = 10^4 against CKS at 1.08²·10^4.
	g1, _ := NewDiscreteGaussian(big.NewRat(10_000, 1))
	g2, _ := NewDiscreteGaussian(big.NewRat(11_664, 1))
	if chi, _, crit := twoSample(tableSamples(t, g1, 5, 30_000), cksSamples(t, g2, 6, 30_000), 12); chi <= crit {
		t.Error("σ and 1.08σ pass the two-sample test")
	}
}

// twoSample returns the two-sample chi-square of equal-size samples over
// bins of width w with at least 20 draws in both together (the rest in one
// bin), its degrees of freedom and the 0.9999 critical value.
func twoSample(a, b []int64, w int) (chi float64, df int, crit float64) {
	bin := func(x int64) int64 { return int64(math.Floor(float64(x) / float64(w))) }
	ca, cb := map[int64]float64{}, map[int64]float64{}
	for _, x := range a {
		ca[bin(x)]++
	}
	for _, x := range b {
		cb[bin(x)]++
	}
	var restA, restB float64
	for k := range mergeKeys(ca, cb) {
		if ca[k]+cb[k] < 20 {
			restA += ca[k]
			restB += cb[k]
			continue
		}
		chi += (ca[k] - cb[k]) * (ca[k] - cb[k]) / (ca[k] + cb[k])
		df++
	}
	if restA+restB > 0 {
		chi += (restA - restB) * (restA - restB) / (restA + restB)
		df++
	}
	df--
	f := float64(df)
	return chi, df, f * math.Pow(1-2/(9*f)+3.719*math.Sqrt(2/(9*f)), 3)
}

func mergeKeys(a, b map[int64]float64) map[int64]bool {
	k := map[int64]bool{}
	for x := range a {
		k[x] = true
	}
	for x := range b {
		k[x] = true
	}
	return k
}

// TestDGTableTail takes tables that stop within a few σ (or below σ), so
// that many draws go through the tail: the rest column, the geometric
// envelope and the exact acceptance. The pmf must still be N_Z(0, σ²), and
// the fraction of draws beyond Y must match its exact probability.
func TestDGTableTail(t *testing.T) {
	for i, c := range []struct {
		num, den int64
		ymax     uint64
	}{{1, 1, 1}, {1, 4, 1}, {5, 2, 2}, {100, 1, 5}, {100, 1, 25}} {
		tab := newDGTableY(big.NewInt(c.num), big.NewInt(c.den), c.ymax)
		if tab == nil {
			t.Fatalf("σ² = %d/%d, Y = %d: no table", c.num, c.den, c.ymax)
		}
		s := newSeeded(t, uint64(100+i))
		const n = 30_000
		x := make([]int64, n)
		beyond := 0
		for j := range x {
			x[j] = tab.sample(s)
			if uint64(max(x[j], -x[j])) > c.ymax {
				beyond++
			}
		}
		s2 := float64(c.num) / float64(c.den)
		if _, _, err := chiSquareDG(x, s2); err != nil {
			t.Errorf("σ² = %v, Y = %d: %v", s2, c.ymax, err)
		}
		pmf := dgPMF(s2, int(c.ymax))
		p := 1.0
		for y := -int(c.ymax); y <= int(c.ymax); y++ {
			p -= pmf[y]
		}
		if se := math.Sqrt(p * (1 - p) / n); math.Abs(float64(beyond)/n-p) > 5*se || beyond == 0 {
			t.Errorf("σ² = %v, Y = %d: %d draws beyond Y, want %.1f", s2, c.ymax, beyond, p*n)
		}
	}
}

// TestDGTableConcurrent: goroutines build and use one sampler at once
// (run with -race); the table is built once and each goroutine's draws
// from its own seeded Source equal a serial replay.
func TestDGTableConcurrent(t *testing.T) {
	g, err := NewDiscreteGaussian(big.NewRat(10_000, 1))
	if err != nil {
		t.Fatal(err)
	}
	const workers, n = 4, 2000
	got := make([][]int64, workers)
	tabs := make([]*dgTable, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			g.UseTable()
			tabs[w] = g.tab.Load()
			s := newSeeded(t, uint64(200+w))
			got[w] = make([]int64, n)
			for i := range got[w] {
				got[w][i] = g.Sample(s)
			}
		})
	}
	wg.Wait()
	for w := range workers {
		if tabs[w] == nil || tabs[w] != tabs[0] {
			t.Fatal("the table was built more than once, or not at all")
		}
		s := newSeeded(t, uint64(200+w))
		for i, v := range got[w] {
			if want := g.Sample(s); v != want {
				t.Fatalf("worker %d, draw %d: %d, serial replay %d", w, i, v, want)
			}
		}
	}
}

// A σ² at the bound gets no table; AddTo of few values builds none.
func TestDGTablePolicy(t *testing.T) {
	g, _ := NewDiscreteGaussian(big.NewRat(maxTableSigma2, 1))
	if g.UseTable() {
		t.Error("σ² = 2^28 got a table")
	}
	g, _ = NewDiscreteGaussian(big.NewRat(maxTableSigma2-1, 1))
	g.AddTo(make([]int64, 10), newSeeded(t, 1))
	if g.tab.Load() != nil {
		t.Error("an AddTo of 10 values built a table of 163 000 entries")
	}
	if !g.UseTable() {
		t.Error("σ² = 2^28 − 1 got no table")
	}
	if g.tab.Load().ymax+2 > exact.MaxColumns {
		t.Error("table beyond the alias packing")
	}
}

// The table path draws without allocating.
func TestDGTableNoAlloc(t *testing.T) {
	g, _ := NewDiscreteGaussian(big.NewRat(4_473_714, 1))
	g.UseTable()
	s := newSeeded(t, 1)
	if a := testing.AllocsPerRun(1000, func() { g.Sample(s) }); a != 0 {
		t.Errorf("%v allocations per table draw", a)
	}
}

// AddTo's loop draws exactly what Sample draws, value for value, from
// one seeded stream (σ² with a power-of-two range or not).
func TestDGTableAddToMatchesSample(t *testing.T) {
	for _, s2 := range []int64{1, 100, 4_473_714} {
		g, _ := NewDiscreteGaussian(big.NewRat(s2, 1))
		g.UseTable()
		got := g.AddTo(make([]int64, 5000), newSeeded(t, 8))
		s := newSeeded(t, 8)
		for i, v := range got {
			if want := g.Sample(s); v != want {
				t.Fatalf("σ² = %d, value %d: AddTo %d, Sample %d", s2, i, v, want)
			}
		}
	}
}
