package vec

import (
	"math"
	"testing"
)

func TestFirstNonFinite(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for n := 0; n < 12; n++ {
			for pos := -1; pos < n; pos++ {
				v := make([]float64, n)
				for i := range v {
					v[i] = float64(i)*1e300 - 3.5
				}
				if pos >= 0 {
					v[pos] = bad
				}
				if got := FirstNonFinite(v); got != pos {
					t.Fatalf("n=%d bad=%v: got %d, want %d", n, bad, got, pos)
				}
			}
		}
	}
}

func TestAxpy(t *testing.T) {
	for n := 0; n < 11; n++ {
		dst := make([]float64, n)
		x := make([]float64, n+2)
		for i := range x {
			x[i] = float64(i + 1)
		}
		for i := range dst {
			dst[i] = 1
		}
		Axpy(dst, 0.5, x)
		for i := range dst {
			if want := 1 + 0.5*float64(i+1); dst[i] != want {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want)
			}
		}
	}
}

func TestOverlap(t *testing.T) {
	buf := make([]float64, 10)
	for _, tc := range []struct {
		a, b []float64
		want bool
	}{
		{buf[:5], buf[5:], false},
		{buf[:5], buf[4:], true},
		{buf[2:3], buf[:], true},
		{buf[:0], buf[:], false},
		{buf, make([]float64, 10), false},
	} {
		if got := Overlap(tc.a, tc.b); got != tc.want || Overlap(tc.b, tc.a) != tc.want {
			t.Errorf("Overlap = %v, want %v", got, tc.want)
		}
	}
}
