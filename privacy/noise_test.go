package privacy

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// seeded returns a deterministic reader for NewSource.
func seeded(a uint64) *rand.ChaCha8 {
	var k [32]byte
	for i := range k {
		k[i] = byte(a >> (8 * (i % 8)))
	}
	k[31] ^= 0x5a
	return rand.NewChaCha8(k)
}

func newSeeded(t testing.TB, a uint64) *Source {
	t.Helper()
	s, err := NewSource(seeded(a))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// normCDF is Φ from the definition via erfc.
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// checkNormal tests whether samples look like N(0, sigma²): mean,
// variance and the mass beyond 2σ and 3σ each within 5 standard errors of
// their exact values, and a chi-square test on 40 equiprobable bins. It
// returns an error describing the first failure.
func checkNormal(x []float64, sigma float64) error {
	n := float64(len(x))
	var sum, sq float64
	var beyond2, beyond3 int
	bins := make([]int, 40)
	for _, v := range x {
		sum += v
		sq += v * v
		z := math.Abs(v / sigma)
		if z > 2 {
			beyond2++
		}
		if z > 3 {
			beyond3++
		}
		b := int(normCDF(v/sigma) * float64(len(bins)))
		bins[min(b, len(bins)-1)]++
	}
	mean := sum / n
	if math.Abs(mean) > 5*sigma/math.Sqrt(n) {
		return fmt.Errorf("mean %v, want 0 ± %v", mean, 5*sigma/math.Sqrt(n))
	}
	v := sq / n
	if rel := v/(sigma*sigma) - 1; math.Abs(rel) > 5*math.Sqrt(2/n) {
		return fmt.Errorf("variance %v, want %v (relative error %.4f, bound %.4f)", v, sigma*sigma, rel, 5*math.Sqrt(2/n))
	}
	for _, c := range []struct {
		k   float64
		got int
	}{{2, beyond2}, {3, beyond3}} {
		p := 2 * normCDF(-c.k)
		se := math.Sqrt(p * (1 - p) / n)
		if got := float64(c.got) / n; math.Abs(got-p) > 5*se {
			return fmt.Errorf("P(|X| > %vσ) = %v, want %v ± %v", c.k, got, p, 5*se)
		}
	}
	var chi float64
	e := n / float64(len(bins))
	for _, o := range bins {
		chi += (float64(o) - e) * (float64(o) - e) / e
	}
	// 39 degrees of freedom: the 0.9999 quantile is about 81.
	if chi > 81 {
		return fmt.Errorf("chi-square %v on 39 degrees of freedom, above the 0.9999 quantile 81", chi)
	}
	return nil
}

func TestGaussianStatistics(t *testing.T) {
	const n = 200_000
	for _, sigma := range []float64{1, 0.01, 37} {
		s := newSeeded(t, 1)
		x := s.AddGaussian(make([]float64, n), sigma)
		if err := checkNormal(x, sigma); err != nil {
			t.Errorf("σ = %v: %v", sigma, err)
		}
	}
	s := newSeeded(t, 2)
	x := make([]float64, n/4)
	for i := range x {
		x[i] = s.Normal()
	}
	if err := checkNormal(x, 1); err != nil {
		t.Errorf("Normal: %v", err)
	}
}

// The checks must reject samplers that are slightly wrong.
func TestGaussianCheckRejectsWrongSamplers(t *testing.T) {
	const n = 200_000
	s := newSeeded(t, 3)
	x := s.AddGaussian(make([]float64, n), 1.05)
	if err := checkNormal(x, 1); err == nil {
		t.Error("a sampler with σ 5% too large passed")
	}
	x = s.AddGaussian(make([]float64, n), 0.95)
	if err := checkNormal(x, 1); err == nil {
		t.Error("a sampler with σ 5% too small passed")
	}
	// Same variance, wrong shape: a scaled uniform (variance 1).
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = (2*r.Float64() - 1) * math.Sqrt(3)
	}
	if err := checkNormal(x, 1); err == nil {
		t.Error("a uniform sampler of variance 1 passed")
	}
	// Same variance, heavier tails: a Laplace of variance 1.
	for i := range x {
		x[i] = r.ExpFloat64() / math.Sqrt2
		if r.IntN(2) == 0 {
			x[i] = -x[i]
		}
	}
	if err := checkNormal(x, 1); err == nil {
		t.Error("a Laplace sampler of variance 1 passed")
	}
}

// Box–Muller's pairs must be independent: the correlation of consecutive
// outputs (which come from one pair) is 0.
func TestGaussianPairsUncorrelated(t *testing.T) {
	const n = 100_000
	x := newSeeded(t, 4).AddGaussian(make([]float64, 2*n), 1)
	var c float64
	for i := 0; i < 2*n; i += 2 {
		c += x[i] * x[i+1]
	}
	if c /= n; math.Abs(c) > 5/math.Sqrt(n) {
		t.Errorf("correlation of paired outputs %v, want 0 ± %v", c, 5/math.Sqrt(n))
	}
}

func TestAddGaussianAddsAndIsDeterministic(t *testing.T) {
	for _, d := range []int{0, 1, 2, 7} {
		base := make([]float64, d)
		for i := range base {
			base[i] = float64(i) * 100
		}
		a := newSeeded(t, 9).AddGaussian(append([]float64(nil), base...), 1)
		b := newSeeded(t, 9).AddGaussian(append([]float64(nil), base...), 1)
		c := newSeeded(t, 10).AddGaussian(append([]float64(nil), base...), 1)
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				t.Fatalf("d=%d: same seed gave different noise", d)
			}
			if a[i] == c[i] {
				t.Fatalf("d=%d: different seeds gave the same noise at %d", d, i)
			}
			if math.Abs(a[i]-base[i]) > 9 || a[i] == base[i] {
				t.Fatalf("d=%d: coordinate %d = %v from %v: not base plus unit noise", d, i, a[i], base[i])
			}
		}
	}
	s := newSeeded(t, 5)
	before, _ := s.MarshalBinary()
	v := []float64{1, 2}
	s.AddGaussian(v, 0)
	after, _ := s.MarshalBinary()
	if v[0] != 1 || v[1] != 2 || !bytes.Equal(before, after) {
		t.Error("σ = 0 changed dst or drew randomness")
	}
}

func TestAddGaussianPanicsOnBadSigma(t *testing.T) {
	for _, sigma := range []float64{-1, math.NaN(), math.Inf(1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("σ = %v did not panic", sigma)
				}
			}()
			newSeeded(t, 1).AddGaussian(make([]float64, 3), sigma)
		}()
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestSourceKeyingAndState(t *testing.T) {
	if _, err := NewSource(failingReader{}); err == nil {
		t.Error("NewSource with a failing reader: nil error")
	}
	if _, err := NewSource(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("NewSource with 31 bytes of key: nil error")
	}
	secure, err := NewSource(nil)
	if err != nil {
		t.Fatal(err)
	}
	if secure.Seeded() {
		t.Error("a crypto/rand source says it is seeded")
	}
	if _, err := secure.MarshalBinary(); !errors.Is(err, ErrSecretState) {
		t.Errorf("MarshalBinary of a secret source: %v, want ErrSecretState", err)
	}
	other, _ := NewSource(nil)
	if a, b := [2]uint64{secure.Uint64(), secure.Uint64()}, [2]uint64{other.Uint64(), other.Uint64()}; a == b {
		t.Error("two crypto/rand sources agree")
	}

	s := newSeeded(t, 7)
	s.Normal()
	st, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Source
	if err := r.UnmarshalBinary(st); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if a, b := s.Uint64(), r.Uint64(); a != b {
			t.Fatalf("restored source diverges at %d", i)
		}
	}
	if err := r.UnmarshalBinary(st[:5]); err == nil {
		t.Error("truncated state accepted")
	}
}

func TestUint64NUniform(t *testing.T) {
	s := newSeeded(t, 8)
	const n, k = 60_000, 6
	var counts [k]int
	for i := 0; i < n; i++ {
		counts[s.Uint64N(k)]++
	}
	var chi float64
	for _, c := range counts {
		e := float64(n) / k
		chi += (float64(c) - e) * (float64(c) - e) / e
	}
	if chi > 25.7 { // 5 degrees of freedom, 0.9999 quantile
		t.Errorf("chi-square %v, counts %v", chi, counts)
	}
}

// The ziggurat tables must describe 256 layers of equal area zigV that end
// at 0: a wrong constant leaves the top layer too big or too small.
func TestZigguratTables(t *testing.T) {
	pdf := func(x float64) float64 { return math.Exp(-x * x / 2) }
	tail := math.Sqrt(math.Pi/2) * math.Erfc(zigR/math.Sqrt2) // ∫_r^∞ f
	if base := zigR*pdf(zigR) + tail; math.Abs(base-zigV) > 1e-9*zigV {
		t.Errorf("base strip area %v, want %v", base, zigV)
	}
	for i := 1; i < 256; i++ {
		if a := zigX[i] * (zigF[i+1] - zigF[i]); math.Abs(a-zigV) > 1e-8*zigV {
			t.Fatalf("layer %d has area %v, want %v", i, a, zigV)
		}
		if !(zigX[i+1] < zigX[i]) {
			t.Fatalf("edges not decreasing at %d", i)
		}
	}
}

// The tail beyond the ziggurat's base (|z| > r ≈ 3.65) comes from a
// separate algorithm; its mass must be 2Φ(−r), and beyond 4.5 2Φ(−4.5).
func TestGaussianTail(t *testing.T) {
	const n = 2_000_000
	s := newSeeded(t, 12)
	var beyondR, beyond45 int
	for i := 0; i < n; i++ {
		z := math.Abs(s.Normal())
		if z > zigR {
			beyondR++
		}
		if z > 4.5 {
			beyond45++
		}
	}
	for _, c := range []struct {
		k   float64
		got int
	}{{zigR, beyondR}, {4.5, beyond45}} {
		p := 2 * normCDF(-c.k)
		se := math.Sqrt(p * (1 - p) / n)
		if got := float64(c.got) / n; math.Abs(got-p) > 5*se {
			t.Errorf("P(|Z| > %v) = %v, want %v ± %v", c.k, got, p, 5*se)
		}
	}
}
