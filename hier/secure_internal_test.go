package hier

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// TestQuantRoundTrip: a secure partial sum re-encodes to its payload, and
// adding partials equals the integer sum of their inputs (grouping does
// not matter).
func TestQuantRoundTrip(t *testing.T) {
	g := (&Secure{Clip: 1.5, WeightCap: 3}).grid(10)
	l := g.levels()
	mk := func(count int, vals ...uint64) *quantSum {
		var q quantSum
		q.reset(g, len(vals))
		copy(q.vec, vals)
		q.count = count
		return &q
	}
	a, b := mk(3, 0, 3*l, 7), mk(2, 2*l, 1, 0)
	var root, dec quantSum
	root.reset(g, 3)
	for _, p := range []*quantSum{a, b} {
		payload := appendQuant(nil, p)
		if err := decodeQuant(&dec, payload, g, 3); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(appendQuant(nil, &dec), payload) {
			t.Fatal("payload does not round-trip")
		}
		if err := root.add(&dec); err != nil {
			t.Fatal(err)
		}
	}
	if want := []uint64{2 * l, 3*l + 1, 7}; root.count != 5 || !slices.Equal(root.vec, want) {
		t.Errorf("sum %v count %d, want %v count 5", root.vec, root.count, want)
	}
	// A sixth-to-eleventh input would exceed the grid's 10 summands.
	big := mk(6, 0, 0, 0)
	if err := root.add(big); !errors.Is(err, ErrPartial) {
		t.Errorf("11 inputs on a grid of 10: err = %v, want ErrPartial", err)
	}
	// The dequantized mean is fedround's: Σ·step − count·clip, over Σw.
	dst, full := make([]float64, 2), make([]float64, 3)
	var q quantSum
	q.reset(g, 3)
	q.vec[0], q.vec[1], q.vec[2], q.count = l, 2*l, 3*l/2, 2
	if err := q.mean(dst, full, nil); err != nil {
		t.Fatal(err)
	}
	step := secagg.QuantStep(1.5, fedround.DefaultBits, 10)
	w := (float64(3*l/2)*step - 2*1.5) / 1.5
	for j, want := range []float64{(float64(l)*step - 3) / w, (float64(2*l)*step - 3) / w} {
		if dst[j] != want {
			t.Errorf("mean[%d] = %v, want %v", j, dst[j], want)
		}
	}
}

// TestGridOf: a round carries its grid whole or not at all.
func TestGridOf(t *testing.T) {
	cfg := fl.Config{}
	(&Secure{Clip: 2}).grid(5).put(cfg)
	g, ok, err := gridOf(cfg)
	if err != nil || !ok || g != (&Secure{Clip: 2, Bits: 32}).grid(5) {
		t.Fatalf("gridOf = %+v %v %v", g, ok, err)
	}
	if _, ok, err := gridOf(fl.Config{"lr": 1}); ok || err != nil {
		t.Errorf("plain round: ok=%v err=%v", ok, err)
	}
	for _, bad := range []fl.Config{
		{KeySecureClip: 2},
		{KeySecureClip: 2, KeySecureBits: 32, KeySecureWeightCap: 0, fedround.KeySummands: 0},
		{KeySecureClip: 2, KeySecureBits: 32.5, KeySecureWeightCap: 0, fedround.KeySummands: 4},
		{KeySecureClip: math.Inf(1), KeySecureBits: 32, KeySecureWeightCap: 0, fedround.KeySummands: 4},
		{KeySecureClip: 2, KeySecureBits: 2, KeySecureWeightCap: 0, fedround.KeySummands: 4},
		{KeySecureClip: 2, KeySecureBits: 32, KeySecureWeightCap: -1, fedround.KeySummands: 4},
	} {
		if _, _, err := gridOf(bad); !errors.Is(err, ErrGrid) {
			t.Errorf("gridOf(%v): err = %v, want ErrGrid", bad, err)
		}
	}
}

func FuzzDecodeQuant(f *testing.F) {
	g := (&Secure{Clip: 1}).grid(4)
	var q quantSum
	q.reset(g, 3)
	q.vec[0], q.vec[2], q.count = 5, g.levels()*2, 2
	f.Add(appendQuant(nil, &q), 3)
	f.Add([]byte("FGHQ\x01\x20\x01\x04"), 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		var s quantSum
		if err := decodeQuant(&s, b, g, n); err != nil {
			return
		}
		if !bytes.Equal(appendQuant(nil, &s), b) {
			t.Fatal("accepted payload does not re-encode to itself")
		}
		var root quantSum
		root.reset(g, n)
		if err := root.add(&s); err != nil {
			t.Fatal(err)
		}
		for _, v := range root.vec {
			if v > uint64(g.summands)*g.levels() {
				t.Fatal("an accepted partial exceeds the grid's bound")
			}
		}
	})
}

// TestSampleUsersIndependent: two edges with the same Seed and pools of
// the same size do not sample the same positions (each user's draw is
// keyed by its id), and each samples about q of its users.
func TestSampleUsersIndependent(t *testing.T) {
	const n, q = 4000, 0.3
	a, b := make([]string, n), make([]string, n)
	for i := range n {
		a[i], b[i] = fmt.Sprintf("a%05d", i), fmt.Sprintf("b%05d", i)
	}
	e, err := NewEdge(EdgeConfig{Pool: fakePool{}, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := e.sampleUsers(1, a, q), e.sampleUsers(1, b, q)
	// Binomial(4000, 0.3): 1200 ± 29.
	for _, s := range [][]int{sa, sb} {
		if len(s) < 1200-4*29 || len(s) > 1200+4*29 {
			t.Errorf("%d of %d sampled at q = %v", len(s), n, q)
		}
	}
	inA := map[int]bool{}
	for _, i := range sa {
		inA[i] = true
	}
	both := 0
	for _, i := range sb {
		if inA[i] {
			both++
		}
	}
	// Independent: about q²·n = 360 positions in both (± 18); the same
	// positions would give 1200.
	if both < 360-4*18 || both > 360+4*18 {
		t.Errorf("%d positions sampled by both edges, want about 360 (independent draws)", both)
	}
	if again := e.sampleUsers(1, a, q); !slices.Equal(again, sa) {
		t.Error("the same key, round and users sampled differently")
	}
	if next := e.sampleUsers(2, a, q); slices.Equal(next, sa) {
		t.Error("rounds 1 and 2 sampled the same users")
	}
}

type fakePool struct{}

func (fakePool) Population() []string        { return nil }
func (fakePool) Conn(string) (fl.Conn, bool) { return nil, false }
