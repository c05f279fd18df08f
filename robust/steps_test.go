package robust_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

func refClip(xs [][]float64, c float64) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		s := math.Min(1, c/norm(x))
		out[i] = make([]float64, len(x))
		for j := range x {
			out[i][j] = s * x[j]
		}
	}
	return out
}

// refARC is Algorithm 2 of Allouah et al. (2024): k = ⌊2(f/n)(n − f)⌋,
// C the (k+1)-th largest norm, every vector clipped to C.
func refARC(xs [][]float64, f int) ([][]float64, float64) {
	n := len(xs)
	k := int(math.Floor(2 * float64(f) / float64(n) * float64(n-f) * (1 + 1e-12)))
	norms := make([]float64, n)
	for i, x := range xs {
		norms[i] = norm(x)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(norms)))
	return refClip(xs, norms[k]), norms[k]
}

func closeRows(t *testing.T, what string, got []fl.Update, want [][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		closeTo(t, fmt.Sprintf("%s output %d", what, i), got[i].Delta, want[i], 1e-12)
	}
}

// TestARCAgainstReference: the clipped vectors and the threshold for
// several n and f (k from 0 up), against the paper's algorithm; and the
// count k for the paper's worked sizes.
func TestARCAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 9))
	for _, sz := range []struct{ n, f int }{{5, 0}, {5, 1}, {10, 3}, {17, 8}, {30, 7}} {
		ups := randUpdates(rng, sz.n, 6, sz.f)
		a := &robust.ARC{F: sz.f}
		got, err := a.Apply(ups)
		if err != nil {
			t.Fatal(err)
		}
		want, c := refARC(vecs(ups), sz.f)
		closeRows(t, fmt.Sprintf("ARC n=%d f=%d", sz.n, sz.f), got, want)
		if a.Threshold() != c {
			t.Fatalf("n=%d f=%d: threshold %v, want %v", sz.n, sz.f, a.Threshold(), c)
		}
	}
	for _, tc := range []struct{ n, f, k int }{{10, 0, 0}, {10, 1, 1}, {10, 3, 4}, {17, 8, 8}, {100, 10, 18}} {
		if got := robust.ARCClipped(tc.n, tc.f); got != tc.k {
			t.Errorf("ARCClipped(%d, %d) = %d, want %d", tc.n, tc.f, got, tc.k)
		}
	}
}

// TestChain: Chain{Clip, ARC, NNM} equals the references composed, and a
// Chain with Bucketing checkpoints and resumes like an uninterrupted one.
func TestChain(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 10))
	const n, f = 9, 2
	ups := randUpdates(rng, n, 5, f)
	ch := robust.Chain{&robust.Clip{Norm: 8}, &robust.ARC{F: f}, &robust.NNM{F: f}}
	got, err := ch.Apply(ups)
	if err != nil {
		t.Fatal(err)
	}
	clipped := refClip(vecs(ups), 8)
	arc, _ := refARC(clipped, f)
	closeRows(t, "chain", got, refNNM(arc, f))
	if err := (robust.Chain{}).Validate(n); err == nil {
		t.Error("empty Chain validates")
	}
	if err := (robust.Chain{&robust.NNM{F: 5}}).Validate(n); err == nil {
		t.Error("Chain of NNM{F: 5} validates for n = 9")
	}
	if err := (&robust.Clip{}).Validate(n); err == nil {
		t.Error("Clip without Norm validates")
	}

	// Round 1 on a, checkpoint, round 2 on a fresh chain restored from it,
	// against round 2 on a.
	mk := func() robust.Chain { return robust.Chain{&robust.Bucketing{Seed: 5}, &robust.Clip{Norm: 100}} }
	a := mk()
	if _, err := a.Apply(ups); err != nil {
		t.Fatal(err)
	}
	state, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b := mk()
	if err := b.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	ra, _ := a.Apply(ups)
	wantRows := vecs(ra)
	for i := range wantRows {
		wantRows[i] = append([]float64(nil), wantRows[i]...)
	}
	rb, _ := b.Apply(ups)
	closeRows(t, "resumed chain", rb, wantRows)
	if err := b.UnmarshalBinary(state[:len(state)-1]); err == nil {
		t.Error("truncated Chain state accepted")
	}
}
