package robust_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

// TestKrumFarFromOrigin: points spread 10⁻³ apart, with two outliers, pick
// the same Krum row (and Multi-Krum set) as the naive reference whether
// they sit at the origin or are all shifted by 10⁶. Uncentered, the Gram
// matrix would hold values near 10¹² and lose the 10⁻⁶ distances to
// cancellation.
func TestKrumFarFromOrigin(t *testing.T) {
	const n, d, f = 12, 300, 2
	rng := rand.New(rand.NewPCG(16, 6))
	for trial := range 5 {
		base := make([][]float64, n)
		for i := range base {
			base[i] = make([]float64, d)
			for j := range base[i] {
				base[i][j] = 1e-3 * rng.NormFloat64()
				if i >= n-f {
					base[i][j] += 5e-3
				}
			}
		}
		want := refKrumOrder(base, f)
		for _, shift := range []float64{0, 1e6, -3e7} {
			ups := make([]fl.Update, n)
			for i := range ups {
				v := make([]float64, d)
				for j := range v {
					v[j] = base[i][j] + shift
				}
				ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
			}
			dst := make([]float64, d)
			if err := (&robust.Krum{F: f}).Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			got := slices.IndexFunc(ups, func(u fl.Update) bool { return slices.Equal(u.Delta, dst) })
			if got != want[0] {
				t.Fatalf("trial %d shift %g: Krum picked update %d, the reference %d", trial, shift, got, want[0])
			}
		}
	}
}

// TestKrumCentreByzantineFirst mounts the attack on the cheap centre: the
// F Byzantine updates come first and sit 10⁹ away from honest points spread
// 10⁻³ apart at 10⁶. The centre is the median of the first 2F + 1 updates,
// so it stays between honest values; a centre taken from the first F rows
// (or any one of them) would leave the honest points 10⁹ from it, and
// their 10⁻⁶ squared distances would drown in rounding of values near
// 10²⁰. Krum and Multi-Krum must agree with the naive reference.
func TestKrumCentreByzantineFirst(t *testing.T) {
	const n, d = 13, 300
	rng := rand.New(rand.NewPCG(16, 7))
	for _, f := range []int{1, 2, 5} {
		xs := make([][]float64, n)
		ups := make([]fl.Update, n)
		for i := range xs {
			xs[i] = make([]float64, d)
			for j := range xs[i] {
				xs[i][j] = 1e6 + 1e-3*rng.NormFloat64()
				if i < f {
					xs[i][j] += 1e9
				}
			}
			ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: xs[i], Weight: 1}
		}
		want := refKrumOrder(xs, f)
		dst := make([]float64, d)
		if err := (&robust.Krum{F: f}).Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		if got := slices.IndexFunc(ups, func(u fl.Update) bool { return slices.Equal(u.Delta, dst) }); got != want[0] {
			t.Fatalf("F=%d: Krum picked update %d, the reference %d", f, got, want[0])
		}
		mk := &robust.MultiKrum{F: f, M: n - f}
		if err := mk.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		if got := mk.Explain().Selected; !slices.Equal(got, want[:n-f]) {
			t.Fatalf("F=%d: Multi-Krum selected %v, the reference %v", f, got, want[:n-f])
		}
	}
}
