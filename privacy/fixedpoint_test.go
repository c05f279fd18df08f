package privacy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// roundAway rounds every coordinate to the grid of the given step away from
// zero: the worst case of stochastic rounding for the norm.
func roundAway(v []float64, step float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Copysign(math.Ceil(math.Abs(x)/step)*step, x)
	}
	return out
}

// Rounding a vector clipped to C can lift its norm above C (issue 13: by
// up to step·√d); clipping to QuantizedClipNorm keeps it within C, and
// QuantizedSensitivity bounds it, for adversarial rounding.
func TestQuantizationNormInflation(t *testing.T) {
	const c, d = 1.0, 10_000
	step := 0x1p-12
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float64, d)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	clipped := make([]float64, d)
	ClipL2(clipped, v, c)
	if n := L2Norm(roundAway(clipped, step)); n <= c {
		t.Fatalf("rounding a vector clipped to C gave norm %v ≤ C: the attack does not bite", n)
	} else if n > QuantizedSensitivity(c, step, d) {
		t.Errorf("rounded norm %v above QuantizedSensitivity %v", n, QuantizedSensitivity(c, step, d))
	}
	q, err := QuantizedClipNorm(c, step, d)
	if err != nil {
		t.Fatal(err)
	}
	ClipL2(clipped, v, q)
	if n := L2Norm(roundAway(clipped, step)); n > c {
		t.Errorf("clipped to QuantizedClipNorm %v, rounded norm %v > C", q, n)
	}
	if _, err := QuantizedClipNorm(c, 1, d); err == nil {
		t.Error("a step whose rounding exceeds C was accepted")
	}
}

// RoundingMargin: round-to-nearest after clipping to C − margin stays
// within C, and GridStep's default keeps C/γ a power of two.
func TestRoundingMarginAndGridStep(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{1, 7, 1000, 100_000} {
		for _, c := range []float64{1e-3, 1, 37.5} {
			g := GridStep(0, c, d)
			k := c / g
			if _, frac := math.Frexp(k); k != math.Ldexp(1, frac-1) || k < math.Sqrt(float64(d))*1024 {
				t.Errorf("d=%d c=%v: C/γ = %v, want a power of two ≥ √d·2^10", d, c, k)
			}
			v := make([]float64, d)
			for i := range v {
				v[i] = r.NormFloat64()
			}
			clip, err := fixedClip(c, g, d)
			if err != nil {
				t.Fatal(err)
			}
			ClipL2(v, v, clip)
			if err := roundToGrid(v, 1, g, maxGridInt); err != nil {
				t.Fatal(err)
			}
			var s float64
			for _, x := range v {
				s += x * x
			}
			if math.Sqrt(s) > c/g {
				t.Errorf("d=%d c=%v: rounded norm %v grid steps > C/γ = %v", d, c, math.Sqrt(s), c/g)
			}
		}
	}
}

// A ClientClipped config still clips on the server: an update of norm
// 1e300 from a client that did not clip contributes exactly what a
// clipped one does, and the release is accounted once.
func TestDiscreteAggregateClipsUnclippedClients(t *testing.T) {
	cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 10, SampleRate: 0.5, ClientClipped: true, Random: seeded(6)}
	run := func(evil float64) []float64 {
		d := mustCentral(t, cfg)
		ups := []fl.Update{{Client: "a", Delta: []float64{0.5, 0}, Weight: 1}, {Client: "evil", Delta: []float64{evil, 0}, Weight: 1}}
		dst := make([]float64, 2)
		if err := d.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		if d.Rounds() != 1 {
			t.Errorf("%d releases accounted", d.Rounds())
		}
		return dst
	}
	cfg.Random = seeded(6)
	huge := run(1e300)
	cfg.Random = seeded(6)
	if clipped := run(1); huge[0] != clipped[0] || huge[1] != clipped[1] {
		t.Errorf("unclipped client gave %v, clipped %v", huge, clipped)
	}
}
