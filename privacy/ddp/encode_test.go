package ddp

import (
	"bytes"
	"errors"
	"math"
	mrand "math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
)

// testConfig is 10 clients a round of 1000 (fixed-size), noise of
// standard deviation one client's rounded norm (multiplier 0.5 of the
// replace-one sensitivity).
func testConfig(m Mechanism, bits, dim int) Config {
	return Config{
		Mechanism: m, Bits: bits, ClipNorm: 1, Dim: dim, Clients: 10, Threshold: 6,
		NoiseMultiplier: 0.5, Population: 1000, SampleRate: 0.01, Sampling: accountant.FixedSize,
	}
}

func mustNew(t testing.TB, c Config) *DDP {
	t.Helper()
	d, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func seedReader(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 32)) }

func randVec(r *mrand.Rand, n int, norm float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	f := norm / privacy.L2Norm(v)
	for i := range v {
		v[i] *= f
	}
	return v
}

func TestRotationOrthogonal(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 8, 64, 1024, 4096} {
		x := randVec(r, n, 3)
		y := append([]float64(nil), x...)
		var id [32]byte
		id[0] = byte(n)
		rotate(y, id)
		if got := privacy.L2Norm(y); math.Abs(got-3) > 1e-12*3 {
			t.Errorf("n = %d: ‖Rx‖ = %.17g, want 3", n, got)
		}
		unrotate(y, id)
		for i := range x {
			if math.Abs(y[i]-x[i]) > 1e-12 {
				t.Fatalf("n = %d: R⁻¹Rx differs at %d: %v vs %v", n, i, y[i], x[i])
			}
		}
	}
}

// TestHadamardExact: on integers the unnormalized transform satisfies
// H·H = D·I exactly, so ‖Hx‖² = D‖x‖² in exact arithmetic: the rotation
// H/√D is orthogonal.
func TestHadamardExact(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	const D = 256
	x := make([]float64, D)
	for i := range x {
		x[i] = float64(r.IntN(2001) - 1000)
	}
	y := append([]float64(nil), x...)
	fwht(y)
	fwht(y) // normalized twice: H·H/D = I; D = 2^8 makes 1/√D = 2^-4 exact
	var nx, ny float64
	for i := range x {
		if y[i] != x[i] {
			t.Fatalf("H·H/D x differs at %d: %v vs %v", i, y[i], x[i])
		}
		nx += x[i] * x[i]
	}
	z := append([]float64(nil), x...)
	fwht(z)
	for _, v := range z {
		ny += v * v
	}
	if nx != ny {
		t.Errorf("‖Hx/√D‖² = %v, ‖x‖² = %v", ny, nx)
	}
}

// quiet strips the noise from an encoder (tests of the deterministic part).
func quiet(e *Encoder) *Encoder { e.dg, e.pois = nil, nil; return e }

// TestRoundTripNoNoise: without noise the decoded sum of n clients equals
// the sum of their clipped deltas within the rounding bound γ·n·√D (each
// coordinate of each client moves by less than one grid step), and every
// rounded vector meets the conditional rounding bound.
func TestRoundTripNoNoise(t *testing.T) {
	for _, bits := range []int{12, 16, 20} {
		c := testConfig(DiscreteGaussian, bits, 300)
		d := mustNew(t, c)
		p := d.Params()
		r := mrand.New(mrand.NewPCG(5, uint64(bits)))
		var id [32]byte
		id[3] = byte(bits)
		sum := make([]uint64, p.Padded)
		want := make([]float64, c.Dim)
		const n = 10
		for k := range n {
			delta := randVec(r, c.Dim, 0.3+0.2*float64(k)) // some above C = 1: clipped
			e, err := d.Encoder(seedReader(byte(k)))
			if err != nil {
				t.Fatal(err)
			}
			in := make([]uint64, p.Padded)
			if err := quiet(e).Encode(in, delta, id); err != nil {
				t.Fatal(err)
			}
			var norm2 float64
			for i := range in {
				v := in[i] & (1<<bits - 1)
				z := int64(v)
				if v >= 1<<(bits-1) {
					z -= 1 << bits
				}
				norm2 += float64(z * z)
				sum[i] += in[i]
			}
			if norm2 > float64(p.NormSquaredMax) {
				t.Errorf("bits %d client %d: ‖z‖² = %v > %d", bits, k, norm2, p.NormSquaredMax)
			}
			f := privacy.ClipFactor(privacy.L2Norm(delta), c.ClipNorm)
			for i, v := range delta {
				want[i] += f * v
			}
		}
		got := make([]float64, c.Dim)
		if err := d.exchange.Config().Encoding.Decode(got, sum, id); err != nil {
			t.Fatal(err)
		}
		var e2 float64
		for i := range got {
			e2 += (got[i] - want[i]) * (got[i] - want[i])
		}
		bound := p.Gamma * n * math.Sqrt(float64(p.Padded))
		if math.Sqrt(e2) > bound {
			t.Errorf("bits %d: ‖decoded − Σclip‖ = %v > γ·n·√D = %v", bits, math.Sqrt(e2), bound)
		}
		if bits == 20 && math.Sqrt(e2) > 0.05 {
			t.Errorf("bits 20: error %v is not small", math.Sqrt(e2))
		}
	}
}

// TestNoiseShares checks the variance of one client's noise share (the
// encoding of a zero delta is its rounding, 0, plus the share).
func TestNoiseShares(t *testing.T) {
	for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
		bits := 20
		if m == Skellam {
			bits = 12 // the exact Poisson sampler costs O(√λ)
		}
		shares, p := zeroShares(t, m, bits, 1<<14, 7, 1)
		var m1, m2 float64
		for _, z := range shares {
			m1 += float64(z)
			m2 += float64(z) * float64(z)
		}
		n := float64(len(shares))
		m1 /= n
		m2 /= n
		v := float64(p.ShareVariance)
		if se := math.Sqrt(v / n); math.Abs(m1) > 5*se {
			t.Errorf("%v: mean %v, want 0 ± %v", m, m1, 5*se)
		}
		if se := v * math.Sqrt(2/n); math.Abs(m2-v) > 5*se {
			t.Errorf("%v: variance %v, want %v ± %v", m, m2, v, 5*se)
		}
	}
}

func TestRoundingRetriesBounded(t *testing.T) {
	d := mustNew(t, testConfig(DiscreteGaussian, 16, 64))
	e, err := d.Encoder(seedReader(1))
	if err != nil {
		t.Fatal(err)
	}
	boundRounding(e, 0, 5) // no rounding of a non-zero vector can meet the bound 0
	err = e.Encode(make([]uint64, e.p.Padded), randVec(mrand.New(mrand.NewPCG(1, 1)), 64, 1), [32]byte{})
	if !errors.Is(err, ErrRounding) {
		t.Fatalf("err = %v, want ErrRounding", err)
	}
}

func TestEncodeRefusesBadInput(t *testing.T) {
	d := mustNew(t, testConfig(Skellam, 16, 8))
	e, _ := d.Encoder(seedReader(1))
	dst := make([]uint64, 8)
	for _, v := range [][]float64{make([]float64, 7), {0, 0, math.NaN(), 0, 0, 0, 0, 0}, {math.Inf(1), 0, 0, 0, 0, 0, 0, 0}} {
		if err := e.Encode(dst, v, [32]byte{}); !errors.Is(err, ErrInput) {
			t.Errorf("%v: err = %v, want ErrInput", v, err)
		}
	}
}

func TestConfigRefusals(t *testing.T) {
	base := testConfig(DiscreteGaussian, 16, 100)
	for name, mod := range map[string]func(*Config){
		"bits below log2 n":  func(c *Config) { c.Bits, c.Clients, c.Threshold = 4, 20, 10 },
		"bits too few for k": func(c *Config) { c.Bits, c.Clients, c.Threshold, c.ModClipProb = 5, 31, 10, 1e-12 },
		"no mechanism":       func(c *Config) { c.Mechanism = 0 },
		"threshold above n":  func(c *Config) { c.Threshold = 11 },
		// Secure aggregation refuses a threshold above the graph's degree
		// only when the round runs: every round would abort.
		"threshold n":          func(c *Config) { c.Threshold = 10 },
		"threshold above k":    func(c *Config) { c.Clients, c.Threshold, c.Secagg.Neighbors = 20, 9, 8 },
		"colluders":            func(c *Config) { c.Colluders = 6 },
		"no noise, no target":  func(c *Config) { c.NoiseMultiplier = 0 },
		"bits 63":              func(c *Config) { c.Bits = 63 },
		"clip":                 func(c *Config) { c.ClipNorm = math.Inf(1) },
		"noise too large":      func(c *Config) { c.NoiseMultiplier = 1e12; c.Bits = 40 },
		"fixed size not whole": func(c *Config) { c.SampleRate = 0.0105 },
	} {
		c := base
		mod(&c)
		if _, err := New(c); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: err = %v, want fl.ErrConfig", name, err)
		}
	}
}

// TestDDGSharesPMF: a DDG encoder's shares (the encoding of a zero delta)
// fit N_Z(0, ShareVariance) by chi-square at 16 bits, where the encoder
// draws from privacy.DiscreteGaussian's table; the same draws must fail
// against a σ 5% larger.
func TestDDGSharesPMF(t *testing.T) {
	shares, p := zeroShares(t, DiscreteGaussian, 16, 1<<16, 9, 4)
	v := float64(p.ShareVariance)
	// Bins of w integers, w = σ/8: bin k holds [k·w, (k+1)·w).
	w := int64(math.Sqrt(v) / 8)
	counts := map[int64]int{}
	for _, z := range shares {
		counts[floorDiv(z, w)]++
	}
	fit := func(s2 float64) (float64, int) {
		z := math.Sqrt(2 * math.Pi * s2) // Σ exp(−x²/2σ²) = √(2πσ²) to double precision for σ ≫ 1
		pmf := func(k int64) float64 {
			var p float64
			for x := k * w; x < (k+1)*w; x++ {
				p += math.Exp(-float64(x)*float64(x)/(2*s2)) / z
			}
			return p
		}
		lim := int64(5 * math.Sqrt(s2) / float64(w))
		return chiSquare(counts, len(shares), pmf, -lim, lim)
	}
	if v < 100 || v >= 1<<28 {
		t.Fatalf("share variance %v: not the table's range this test is for", v)
	}
	if stat, dof := fit(v); stat > chiCritical(dof) {
		t.Errorf("χ² = %.1f with %d dof, 0.999 critical value %.1f", stat, dof, chiCritical(dof))
	}
	if stat, dof := fit(v * 1.05 * 1.05); stat <= chiCritical(dof) {
		t.Errorf("the shares fit a σ 5%% larger: χ² = %.1f with %d dof", stat, dof)
	}
}

// floorDiv returns ⌊a/b⌋ for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// zeroShares returns one seeded client's noise shares, centred in
// [−2^(b−1), 2^(b−1)): the encoding of a zero delta (its rounding is 0).
func zeroShares(t *testing.T, m Mechanism, bits, dim int, seed, round byte) ([]int64, Params) {
	t.Helper()
	c := testConfig(m, bits, dim)
	d := mustNew(t, c)
	p := d.Params()
	e, err := d.Encoder(seedReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	in := make([]uint64, p.Padded)
	if err := e.Encode(in, make([]float64, c.Dim), [32]byte{round}); err != nil {
		t.Fatal(err)
	}
	shares := make([]int64, len(in))
	for i, x := range in {
		shares[i] = int64(x)
		if x >= 1<<(bits-1) {
			shares[i] -= 1 << bits
		}
	}
	return shares, p
}
