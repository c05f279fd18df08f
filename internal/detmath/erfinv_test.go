package detmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestErfinv: the special values; math.Erfinv's bits where its algorithm
// involves no math.Log and the build does not fuse (|x| ≤ 0.85), within two
// ulps of it elsewhere; and, against math.Erf (another algorithm), the
// inverse: erf(Erfinv(x)) is within a few ulps of x.
func TestErfinv(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 0}, {1, math.Inf(1)}, {-1, math.Inf(-1)},
	} {
		if got := Erfinv(c.x); got != c.want {
			t.Errorf("Erfinv(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	for _, x := range []float64{math.NaN(), 1.5, -1.0000001, math.Inf(1)} {
		if got := Erfinv(x); !math.IsNaN(got) {
			t.Errorf("Erfinv(%v) = %v, want NaN", x, got)
		}
	}
	rng := rand.New(rand.NewPCG(6, 28))
	for k := range 200000 {
		x := 2*rng.Float64() - 1
		if k%4 == 0 { // the tails, where math.Log is called
			x = math.Copysign(1-math.Ldexp(rng.Float64(), -rng.IntN(50)), x)
		}
		got, want := Erfinv(x), math.Erfinv(x)
		if got != -Erfinv(-x) {
			t.Fatalf("Erfinv(%v) = %v, Erfinv(−x) = %v: not odd", x, got, Erfinv(-x))
		}
		if math.Abs(x) <= 0.85 && !stdlibFused {
			if got != want {
				t.Fatalf("Erfinv(%v) = %v, math.Erfinv %v", x, got, want)
			}
		} else if d := ulpDist(got, want); (!stdlibFused && d > 2) || d > 8 {
			t.Fatalf("Erfinv(%v) = %v, math.Erfinv %v: %d ulps", x, got, want, d)
		}
		if math.Abs(x) < 0.99 && x != 0 {
			// erf'(y)·δy bounds the change of erf; allow 4 ulps of x (math.Erf's
			// own error) plus 8 ulps of y carried through the slope.
			y := got
			slope := 2 / math.SqrtPi * math.Exp(-y*y)
			tol := 4*ulp(x) + 8*slope*ulp(y)
			if e := math.Abs(math.Erf(y) - x); e > tol {
				t.Fatalf("erf(Erfinv(%v)) − x = %v > %v", x, e, tol)
			}
		}
	}
}

func ulp(x float64) float64 {
	x = math.Abs(x)
	return math.Nextafter(x, math.Inf(1)) - x
}
