package privacy

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClipL2KnownAnswers(t *testing.T) {
	cases := []struct {
		name     string
		v        []float64
		c        float64
		want     []float64
		wantNorm float64
	}{
		{"3-4-5 clipped to 1", []float64{3, 4}, 1, []float64{0.6, 0.8}, 5},
		{"3-4-5 clipped to 10", []float64{3, 4}, 10, []float64{3, 4}, 5},
		{"exactly at the bound", []float64{3, 4}, 5, []float64{3, 4}, 5},
		{"zero vector", []float64{0, 0, 0}, 1, []float64{0, 0, 0}, 0},
		{"clip to zero", []float64{1, -1}, 0, []float64{0, 0}, math.Sqrt2},
		{"empty", nil, 1, nil, 0},
		{"huge coordinates do not overflow", []float64{3e200, 4e200}, 1, []float64{0.6, 0.8}, 5e200},
		{"tiny coordinates do not underflow", []float64{3e-200, 4e-200}, 1e-300, []float64{0.6e-300, 0.8e-300}, 5e-200},
		{"1,2,2 → norm 3, clip 1.5", []float64{1, 2, -2}, 1.5, []float64{0.5, 1, -1}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := make([]float64, len(c.v))
			norm := ClipL2(dst, c.v, c.c)
			if math.Abs(norm-c.wantNorm) > 1e-14*c.wantNorm {
				t.Errorf("norm = %v, want %v", norm, c.wantNorm)
			}
			for i := range c.want {
				if math.Abs(dst[i]-c.want[i]) > 1e-14*math.Abs(c.want[i])+1e-320 {
					t.Errorf("dst[%d] = %v, want %v", i, dst[i], c.want[i])
				}
			}
		})
	}
}

// naiveClip clips from the definition, in big-enough precision for the
// random inputs used (no overflow is possible).
func naiveClip(v []float64, c float64) ([]float64, float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	n := math.Sqrt(s)
	out := make([]float64, len(v))
	for i, x := range v {
		if n > c {
			out[i] = x * c / n
		} else {
			out[i] = x
		}
	}
	return out, n
}

func TestClipL2AgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		d := 1 + r.IntN(50)
		v := make([]float64, d)
		for i := range v {
			v[i] = r.NormFloat64() * math.Exp(4*r.NormFloat64())
		}
		c := math.Exp(3 * r.NormFloat64())
		want, wantN := naiveClip(v, c)
		got := make([]float64, d)
		n := ClipL2(got, v, c)
		if math.Abs(n-wantN) > 1e-13*wantN {
			t.Fatalf("norm %v, want %v", n, wantN)
		}
		if gn := L2Norm(got); gn > c*(1+1e-14) {
			t.Fatalf("clipped norm %v exceeds c = %v", gn, c)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-13*math.Abs(want[i]) {
				t.Fatalf("dst[%d] = %v, want %v", i, got[i], want[i])
			}
		}
		// In place gives the same result.
		ClipL2(v, v, c)
		for i := range v {
			if v[i] != got[i] {
				t.Fatalf("in-place result differs at %d", i)
			}
		}
	}
}

func TestL2NormNonFinite(t *testing.T) {
	if n := L2Norm([]float64{1, math.NaN()}); !math.IsNaN(n) {
		t.Errorf("norm with NaN = %v", n)
	}
	if n := L2Norm([]float64{1, math.Inf(-1)}); !math.IsInf(n, 1) {
		t.Errorf("norm with -Inf = %v", n)
	}
	if n := L2Norm([]float64{math.Inf(1), math.NaN()}); !math.IsNaN(n) {
		t.Errorf("norm with Inf and NaN = %v", n)
	}
}

func TestClipL2Panics(t *testing.T) {
	for name, f := range map[string]func(){
		"length":   func() { ClipL2(make([]float64, 2), make([]float64, 3), 1) },
		"negative": func() { ClipL2(make([]float64, 2), make([]float64, 2), -1) },
		"NaN":      func() { ClipL2(make([]float64, 2), make([]float64, 2), math.NaN()) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestClipL2DoesNotAllocate(t *testing.T) {
	v := make([]float64, 1000)
	for i := range v {
		v[i] = float64(i)
	}
	dst := make([]float64, 1000)
	if a := testing.AllocsPerRun(10, func() { ClipL2(dst, v, 1) }); a != 0 {
		t.Errorf("%v allocations", a)
	}
}
