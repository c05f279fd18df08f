package accountant

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

var methodGridQ = []float64{0.001, 0.01, 0.1, 0.5}
var methodGridSigma = []float64{0.5, 1, 2, 5}

// naiveLogErfc computes log erfc(x) independently of logErfc: math.Erfc
// where it does not underflow, else the continued fraction
// erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
func naiveLogErfc(x float64) float64 {
	if x < 20 {
		return math.Log(math.Erfc(x))
	}
	f := x
	for k := 80; k >= 1; k-- {
		f = x + float64(k)/2/f
	}
	return -x*x - math.Log(f) - 0.5*math.Log(math.Pi)
}

// naivePublishedLogA re-derives the Opacus / TF Privacy series (abs false)
// or dp_accounting's sum of magnitudes (abs true) from Mironov, Talwar,
// Zhang (2019, Sec. 3.3) in another way: binomial coefficients by the
// recurrence C(α,i+1) = C(α,i)(α-i)/(i+1), each term exponentiated to a
// float64 and summed exactly (math/big, 2000 bits), with the published
// stopping rule (stop after the first i whose two terms are below e^-30).
func naivePublishedLogA(q, sigma, alpha float64, abs bool) float64 {
	z0 := sigma*sigma*math.Log(1/q-1) + 0.5
	sum := new(big.Float).SetPrec(2000)
	c := 1.0
	for i := 0; i < 1<<21; i++ {
		fi := float64(i)
		j := alpha - fi
		lc := math.Log(math.Abs(c))
		l0 := lc + fi*math.Log(q) + j*math.Log1p(-q) + (fi*fi-fi)/(2*sigma*sigma) + naiveLogErfc((fi-z0)/(math.Sqrt2*sigma)) - math.Ln2
		l1 := lc + j*math.Log(q) + fi*math.Log1p(-q) + (j*j-j)/(2*sigma*sigma) + naiveLogErfc((z0-j)/(math.Sqrt2*sigma)) - math.Ln2
		s := 1.0
		if c < 0 && !abs {
			s = -1
		}
		sum.Add(sum, new(big.Float).SetFloat64(s*math.Exp(l0)))
		sum.Add(sum, new(big.Float).SetFloat64(s*math.Exp(l1)))
		if math.Max(l0, l1) < -30 {
			break
		}
		c *= (alpha - fi) / (fi + 1)
	}
	// log A with A near 1: log1p of the exactly summed A - 1.
	am1, _ := new(big.Float).Sub(sum, big.NewFloat(1)).Float64()
	return math.Log1p(am1)
}

// TestRDPMethodsIntegerOrders: at integer orders (and at q = 1, and for
// fixed-size sampling) every method is the same exact formula.
func TestRDPMethodsIntegerOrders(t *testing.T) {
	var ints []float64
	for _, a := range DefaultOrders() {
		if a == math.Trunc(a) {
			ints = append(ints, a)
		}
	}
	ints = append(ints, 2, 3, 4, 5, 10, 128, 1024)
	for _, q := range append(methodGridQ, 1) {
		for _, sigma := range methodGridSigma {
			st := Step{NoiseMultiplier: sigma, SampleRate: q}
			ref, err := RDPWith(st, ints, RDPExact)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []RDPMethod{RDPOpacus, RDPDPAccounting} {
				got, err := RDPWith(st, ints, m)
				if err != nil {
					t.Fatal(err)
				}
				for i := range ints {
					if relErr(got[i], ref[i]) > 1e-12 {
						t.Errorf("%v q=%v σ=%v α=%v: %v, exact %v", m, q, sigma, ints[i], got[i], ref[i])
					}
				}
			}
		}
	}
	// Fixed-size sampling keeps Theorem 9 whatever the method, fractional orders included.
	fs := Step{NoiseMultiplier: 1.3, SampleRate: 0.01, Sampling: FixedSize, Population: 10000}
	ref, _ := RDPWith(fs, DefaultOrders(), RDPExact)
	for _, m := range []RDPMethod{RDPOpacus, RDPDPAccounting} {
		got, err := RDPWith(fs, DefaultOrders(), m)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != ref[i] {
				t.Errorf("%v fixed-size α=%v: %v, Theorem 9 %v", m, DefaultOrders()[i], got[i], ref[i])
			}
		}
	}
}

// TestRDPMethodsBoundExact: over the grid and every default order, the
// sum of magnitudes (RDPDPAccounting) is >= the exact signed value (up to
// the truncation of the published series at terms below e^-30), and
// Opacus's signed series differs from the exact value only by its
// truncation (terms < e^-30) and rounding.
func TestRDPMethodsBoundExact(t *testing.T) {
	orders := DefaultOrders()
	var maxOpacus, maxDPA float64
	for _, q := range methodGridQ {
		for _, sigma := range methodGridSigma {
			st := Step{NoiseMultiplier: sigma, SampleRate: q}
			ex, _ := RDPWith(st, orders, RDPExact)
			op, _ := RDPWith(st, orders, RDPOpacus)
			da, _ := RDPWith(st, orders, RDPDPAccounting)
			for i, a := range orders {
				if math.IsInf(ex[i], 0) || math.IsInf(op[i], 0) || math.IsInf(da[i], 0) {
					t.Errorf("q=%v σ=%v α=%v: infinite (%v %v %v)", q, sigma, a, ex[i], op[i], da[i])
					continue
				}
				// Up to its truncation (terms < e^-30 ≈ 1e-13 in A) and rounding.
				if (a-1)*(da[i]-ex[i]) < -1e-12 {
					t.Errorf("q=%v σ=%v α=%v: dp_accounting %v below exact %v", q, sigma, a, da[i], ex[i])
				}
				// |Δ log A| = (α-1)|Δ D_α|: truncation below ~e^-30 ≈ 1e-13 plus rounding.
				if d := (a - 1) * math.Abs(op[i]-ex[i]); d > 1e-12 {
					t.Errorf("q=%v σ=%v α=%v: opacus %v exact %v (Δ log A %v)", q, sigma, a, op[i], ex[i], d)
				}
				maxOpacus = math.Max(maxOpacus, relErr(op[i], ex[i]))
				maxDPA = math.Max(maxDPA, relErr(da[i], ex[i]))
			}
		}
	}
	t.Logf("max relative difference to RDPExact on the grid: RDPOpacus %.3g, RDPDPAccounting %.3g", maxOpacus, maxDPA)
	if maxDPA < 0.01 {
		t.Errorf("the sum of magnitudes should over-estimate somewhere on the grid (max rel %v)", maxDPA)
	}
}

// TestRDPMethodsNaiveSeries compares the published series with the
// independent re-derivation naivePublishedLogA.
func TestRDPMethodsNaiveSeries(t *testing.T) {
	orders := []float64{1.1, 1.25, 1.5, 2.5, 3.7, 7.3, 10.9}
	for _, q := range methodGridQ {
		for _, sigma := range methodGridSigma {
			st := Step{NoiseMultiplier: sigma, SampleRate: q}
			for _, m := range []RDPMethod{RDPOpacus, RDPDPAccounting} {
				got, _ := RDPWith(st, orders, m)
				for i, a := range orders {
					la := got[i] * (a - 1)
					want := naivePublishedLogA(q, sigma, a, m == RDPDPAccounting)
					// 1e-10 relative; the absolute part covers log A near 0,
					// where both sides carry ~1e-16 rounding per term.
					if math.Abs(la-want) > 1e-10*math.Abs(want)+1e-13 {
						t.Errorf("%v q=%v σ=%v α=%v: log A %v, naive %v", m, q, sigma, a, la, want)
					}
				}
			}
		}
	}
}

// TestRDPMethodsKnownAnswers reproduces published values of Opacus, TF
// Privacy and dp_accounting with the method each used.
func TestRDPMethodsKnownAnswers(t *testing.T) {
	// dp_accounting rdp/rdp_privacy_accountant_test.py,
	// test_compute_rdp_poisson_sampled_gaussian (σ = 2.5, q = 0.01, 50
	// steps, rtol 1e-4): up to 0.4.3 (signed series, as Opacus) the
	// expected values at α = 1.5, 2.5 were 6.5007e-04, 1.0854e-03; from 0.4.4
	// (sum of magnitudes) 6.70579741e-04, 1.08548710e-03.
	orders := []float64{1.5, 2.5}
	for _, tc := range []struct {
		m    RDPMethod
		want []float64
	}{
		{RDPOpacus, []float64{6.5007e-04, 1.0854e-03}},
		{RDPDPAccounting, []float64{6.70579741e-04, 1.08548710e-03}},
	} {
		a, err := NewRDPWith(orders, tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Compose(Step{NoiseMultiplier: 2.5, SampleRate: 0.01}, 50); err != nil {
			t.Fatal(err)
		}
		for i, r := range a.RDP() {
			if relErr(r, tc.want[i]) > 1e-4 {
				t.Errorf("%v α=%v: %v, want %v", tc.m, orders[i], r, tc.want[i])
			}
		}
	}
	// The two published values at α = 1.5 are 3% apart: RDPOpacus must not
	// match the magnitudes' value.
	op, _ := RDPWith(Step{NoiseMultiplier: 2.5, SampleRate: 0.01}, []float64{1.5}, RDPOpacus)
	if relErr(50*op[0], 6.70579741e-04) < 0.02 {
		t.Errorf("RDPOpacus at α=1.5 is %v, too close to dp_accounting 0.4.4's", 50*op[0])
	}

	// TF Privacy tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py,
	// test_compute_dp_sgd_privacy (assertAlmostEqual: 7 decimal places),
	// with compute_dp_sgd_privacy_lib's orders [1.25, 1.5, 1.75, 2, 2.25,
	// 2.5, 3, 3.5, 4, 4.5] + 5..63 + [128, 256, 512], q = batch/n and
	// steps = ceil(epochs·n/batch). Test2's optimal order is fractional.
	tfOrders := []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5}
	for o := 5; o < 64; o++ {
		tfOrders = append(tfOrders, float64(o))
	}
	tfOrders = append(tfOrders, 128, 256, 512)
	for _, tc := range []struct {
		n, batch, sigma, epochs, delta float64
		eps, order                     float64
	}{
		{60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19},
		{100000, 100, 1.0, 30, 1e-7, 1.4154988495444845, 13},
		{100000000, 1024, 0.1, 10, 1e-7, 5907982.31138195, 1.25},
	} {
		a, _ := NewRDPWith(tfOrders, RDPOpacus)
		steps := int(math.Ceil(tc.epochs * tc.n / tc.batch))
		if err := a.Compose(Step{NoiseMultiplier: tc.sigma, SampleRate: tc.batch / tc.n}, steps); err != nil {
			t.Fatal(err)
		}
		eps, order, err := a.Epsilon(tc.delta)
		if err != nil || math.Abs(eps-tc.eps) >= 5e-8 || order != tc.order {
			t.Errorf("TF Privacy n=%v σ=%v: got (%.10f, %v, %v), want (%.10f, %v)", tc.n, tc.sigma, eps, order, err, tc.eps, tc.order)
		}
	}

	// Opacus opacus/accountants/analysis/rdp.py docstring (0.336, 23) and
	// the compute_dp_sgd_privacy documentation (2.39 at α = 5), with RDPOpacus.
	var o32 []float64
	for o := 2; o <= 32; o++ {
		o32 = append(o32, float64(o))
	}
	b, _ := NewRDPWith(o32, RDPOpacus)
	_ = b.Compose(Step{NoiseMultiplier: 1, SampleRate: 1e-5}, 10)
	_ = b.Compose(Step{NoiseMultiplier: 3, SampleRate: 1e-4}, 4)
	if eps, order, err := b.Epsilon(1e-5); err != nil || math.Round(eps*1000)/1000 != 0.336 || order != 23 {
		t.Errorf("Opacus docstring: got (%v, %v, %v), want (0.336, 23)", eps, order, err)
	}
	c, _ := NewRDPWith([]float64{2, 5, 10, 20, 100}, RDPOpacus)
	_ = c.Compose(Step{NoiseMultiplier: 1, SampleRate: 0.01}, 300)
	if eps, order, err := c.Epsilon(1e-5); err != nil || math.Round(eps*100)/100 != 2.39 || order != 5 {
		t.Errorf("Opacus docs: got (%v, %v, %v), want (2.39, 5)", eps, order, err)
	}
}

func TestRDPMethodAPI(t *testing.T) {
	for _, m := range []RDPMethod{-1, 3} {
		if _, err := NewRDPWith(nil, m); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewRDPWith(%v): %v", m, err)
		}
		if _, err := RDPWith(Step{NoiseMultiplier: 1, SampleRate: 0.1}, []float64{2}, m); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("RDPWith(%v): %v", m, err)
		}
	}
	if _, err := RDPWith(Step{NoiseMultiplier: math.NaN(), SampleRate: 0.1}, []float64{1.5}, RDPOpacus); !errors.Is(err, ErrInvalidNoise) {
		t.Errorf("NaN σ: %v", err)
	}
	a, _ := NewRDP(nil)
	if a.Method() != RDPExact {
		t.Errorf("NewRDP method %v", a.Method())
	}
	b, _ := NewRDPWith(nil, RDPOpacus)
	if b.Method() != RDPOpacus || len(b.Orders()) != len(DefaultOrders()) {
		t.Errorf("NewRDPWith: %v %d orders", b.Method(), len(b.Orders()))
	}
	for m, want := range map[RDPMethod]string{RDPExact: "exact", RDPOpacus: "opacus", RDPDPAccounting: "dp_accounting", 7: "RDPMethod(7)"} {
		if m.String() != want {
			t.Errorf("%d.String() = %q", int(m), m.String())
		}
	}
	for _, m := range []RDPMethod{RDPExact, RDPOpacus, RDPDPAccounting} {
		if got, err := ParseRDPMethod(m.String()); err != nil || got != m {
			t.Errorf("ParseRDPMethod(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, name := range []string{"", "Opacus", "tfp", "RDPMethod(7)"} {
		if _, err := ParseRDPMethod(name); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseRDPMethod(%q): %v", name, err)
		}
	}
	// RDP is RDPWith(…, RDPExact).
	st := Step{NoiseMultiplier: 1.1, SampleRate: 0.02}
	r1, _ := RDP(st, DefaultOrders())
	r2, _ := RDPWith(st, DefaultOrders(), RDPExact)
	for i := range r1 {
		if r1[i] != r2[i] {
			t.Fatalf("RDP and RDPWith(RDPExact) differ at %v", DefaultOrders()[i])
		}
	}
}

// TestRDPOpacusExtremes: tiny σ, tiny and large q stay finite or +Inf,
// never NaN, and ε stays an upper bound no smaller than the exact one by
// more than rounding.
func TestRDPOpacusExtremes(t *testing.T) {
	for _, st := range []Step{
		{NoiseMultiplier: 0.05, SampleRate: 0.3},
		{NoiseMultiplier: 20, SampleRate: 0.9},
		{NoiseMultiplier: 1, SampleRate: 1e-9},
		{NoiseMultiplier: 0.3, SampleRate: 0.999},
	} {
		for _, m := range []RDPMethod{RDPOpacus, RDPDPAccounting} {
			r, err := RDPWith(st, []float64{1.1, 1.5, 2.5, 10.9}, m)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range r {
				if math.IsNaN(v) || v < 0 {
					t.Errorf("%v %+v order %d: %v", m, st, i, v)
				}
			}
		}
	}
}
