package hier

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// bigOf returns a as a big.Int (the reference for the 128-bit arithmetic).
func bigOf(a i128) *big.Int {
	v := new(big.Int).SetUint64(a.hi)
	v.Lsh(v, 64)
	v.Or(v, new(big.Int).SetUint64(a.lo))
	if a.negative() {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return v
}

// refQuantize is round-half-even(x·2^64) computed with math/big.
func refQuantize(x float64) *big.Int {
	r := new(big.Rat).SetFloat64(x)
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), FracBits)))
	// floor and remainder
	num, den := r.Num(), r.Denom()
	q, m := new(big.Int).DivMod(num, den, new(big.Int)) // floor for den > 0
	twice := new(big.Int).Lsh(m, 1)
	switch twice.Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// randFloat draws values over many binades, with exact ties and values
// near the range limit.
func randFloat(rng *rand.Rand) float64 {
	switch rng.IntN(6) {
	case 0:
		return float64(rng.Int64N(1<<40)-1<<39) / 2 // halves and integers
	case 1:
		return math.Ldexp(float64(rng.Int64N(1<<53)), -64-rng.IntN(4)) // ties at 2^-64
	case 2:
		return (rng.Float64()*2 - 1) * MaxTerm
	}
	return math.Ldexp(rng.NormFloat64(), rng.IntN(100)-70)
}

func TestQuantizeMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		x := randFloat(rng)
		q, ok := quantize(x)
		if math.Abs(x) >= MaxTerm {
			if ok {
				t.Fatalf("quantize(%v) accepted a value out of range", x)
			}
			continue
		}
		if !ok {
			t.Fatalf("quantize(%v) refused", x)
		}
		if got, want := bigOf(q), refQuantize(x); got.Cmp(want) != 0 {
			t.Fatalf("quantize(%v) = %v, want %v", x, got, want)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), MaxTerm, -MaxTerm, 1e300} {
		if _, ok := quantize(x); ok {
			t.Errorf("quantize(%v) accepted", x)
		}
	}
}

func TestFloatMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var a i128
		switch rng.IntN(3) {
		case 0:
			a = i128{lo: rng.Uint64(), hi: rng.Uint64() >> (1 + rng.UintN(63))}
		case 1:
			a = i128{lo: rng.Uint64()}
		default: // ties: 54 significant bits ending in 1, then zeros
			m := rng.Uint64()>>10 | 1<<53 | 1
			s := rng.UintN(70)
			a = i128{lo: m << s}
			if s > 0 {
				a.hi = m >> (64 - s)
			}
			if s >= 64 {
				a = i128{hi: m << (s - 64)}
			}
		}
		if rng.IntN(2) == 0 {
			a = a.neg()
		}
		want, _ := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven).SetInt(bigOf(a)).Float64()
		if got := a.float(); got != want {
			t.Fatalf("float(%v) = %v, want %v", bigOf(a), got, want)
		}
	}
}

// randUpdates returns n updates of dimension d with integer-ish weights.
func randUpdates(rng *rand.Rand, n, d int) []fl.Update {
	out := make([]fl.Update, n)
	for i := range out {
		delta := make([]float64, d)
		for j := range delta {
			delta[j] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(12)-8)
		}
		out[i] = fl.Update{Client: string(rune('a' + i%26)), Delta: delta, Weight: float64(1 + rng.IntN(500))}
	}
	return out
}

// TestSumOrderAndGroupingInvariant: the flat sum, the sum in another order,
// and a random tree of partial sums (through the wire encoding) give the
// same bits, and the mean equals the exact rational Σq(wΔ)/Σq(w) rounded
// twice as documented.
func TestSumOrderAndGroupingInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, d = 37, 50
	updates := randUpdates(rng, n, d)
	var flat exactSum
	flat.reset(d)
	for _, u := range updates {
		if err := flat.addUpdate(u.Weight, u.Delta); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]float64, d)
	flat.mean(want)

	for trial := range 20 {
		perm := rng.Perm(n)
		// Split the permuted updates into random groups, each a partial
		// sum sent through the wire encoding.
		var root, part exactSum
		root.reset(d)
		for lo := 0; lo < n; {
			hi := min(n, lo+1+rng.IntN(8))
			var g exactSum
			g.reset(d)
			for _, i := range perm[lo:hi] {
				if err := g.addUpdate(updates[i].Weight, updates[i].Delta); err != nil {
					t.Fatal(err)
				}
			}
			if err := decodePartial(&part, appendPartial(nil, &g), d); err != nil {
				t.Fatal(err)
			}
			if err := root.addSum(&part); err != nil {
				t.Fatal(err)
			}
			lo = hi
		}
		got := make([]float64, d)
		root.mean(got)
		for j := range got {
			if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
				t.Fatalf("trial %d coordinate %d: %v, flat %v", trial, j, got[j], want[j])
			}
		}
	}

	// Reference: big-integer sums, each converted with correct rounding.
	W := new(big.Int)
	for _, u := range updates {
		W.Add(W, refQuantize(u.Weight))
	}
	wf, _ := new(big.Float).SetInt(W).Float64()
	for j := range d {
		S := new(big.Int)
		for _, u := range updates {
			S.Add(S, refQuantize(u.Weight*u.Delta[j]))
		}
		sf, _ := new(big.Float).SetInt(S).Float64()
		if r := sf / wf; math.Float64bits(r) != math.Float64bits(want[j]) {
			t.Fatalf("coordinate %d: %v, reference %v", j, want[j], r)
		}
	}

	// Against fl.FedAvg (Σ (wᵢ/W)Δᵢ in float64): rounding only.
	fed := make([]float64, d)
	if err := (&fl.FedAvg{}).Aggregate(fed, updates); err != nil {
		t.Fatal(err)
	}
	for j := range d {
		var scale float64
		for _, u := range updates {
			scale = max(scale, math.Abs(u.Delta[j]))
		}
		if diff := math.Abs(fed[j] - want[j]); diff > 4*n*0x1p-52*scale+n*0x1p-64 {
			t.Errorf("coordinate %d: FedAvg %v, exact %v (diff %g)", j, fed[j], want[j], diff)
		}
	}
}

func TestAddUpdateRefusesOutOfRangeAtomically(t *testing.T) {
	var s exactSum
	s.reset(3)
	if err := s.addUpdate(2, []float64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(s.vec)
	for _, tc := range []struct {
		w     float64
		delta []float64
	}{
		{1, []float64{1, MaxTerm, 1}},
		{MaxTerm, []float64{0, 0, 0}},
		{1e-30, []float64{1, 1, 1}}, // the weight rounds to 0
		{math.Inf(1), []float64{0, 0, 0}},
		{2, []float64{1, math.NaN(), 1}},
	} {
		if err := s.addUpdate(tc.w, tc.delta); !errors.Is(err, ErrRange) {
			t.Errorf("addUpdate(%v, %v) = %v, want ErrRange", tc.w, tc.delta, err)
		}
	}
	if !slices.Equal(before, s.vec) || s.count != 1 {
		t.Fatal("a refused update changed the sum")
	}
}

// TestDecodePartialRefuses mounts a lying edge: a count or values no sum of
// that many terms can reach, which could otherwise overflow the root's
// 128-bit sums and wrap around to a value of the attacker's choosing.
func TestDecodePartialRefuses(t *testing.T) {
	var g exactSum
	g.reset(2)
	g.addUpdate(3, []float64{1, -1})
	good := appendPartial(nil, &g)
	var p exactSum
	if err := decodePartial(&p, good, 2); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(s *exactSum)) []byte {
		s := exactSum{count: g.count, weight: g.weight, vec: slices.Clone(g.vec)}
		f(&s)
		return appendPartial(nil, &s)
	}
	cases := map[string][]byte{
		"empty":        nil,
		"magic":        append([]byte("XXXX"), good[4:]...),
		"version":      append(append([]byte{}, good[:4]...), append([]byte{9}, good[5:]...)...),
		"truncated":    good[:len(good)-1],
		"trailing":     append(slices.Clone(good), 0),
		"dimension":    good,
		"zero count":   mutate(func(s *exactSum) { s.count = 0 }),
		"huge count":   mutate(func(s *exactSum) { s.count = MaxTerms + 1 }),
		"value range":  mutate(func(s *exactSum) { s.vec[0] = i128{hi: 1 << 40} }),
		"negative max": mutate(func(s *exactSum) { s.vec[1] = i128{hi: 1 << 63} }),
		"zero weight":  mutate(func(s *exactSum) { s.weight = i128{} }),
		"neg weight":   mutate(func(s *exactSum) { s.weight = s.weight.neg() }),
	}
	for name, b := range cases {
		dim := 2
		if name == "dimension" {
			dim = 3
		}
		if err := decodePartial(&p, b, dim); !errors.Is(err, ErrPartial) {
			t.Errorf("%s: err = %v, want ErrPartial", name, err)
		}
	}
	// Many partials at the largest values they may hold still cannot
	// overflow: the total count is bounded.
	var root exactSum
	root.reset(1)
	big := exactSum{count: MaxTerms / 2, weight: i128{hi: 1}, vec: []i128{{hi: (MaxTerms/2)<<36 - 1}}}
	var q exactSum
	if err := decodePartial(&q, appendPartial(nil, &big), 1); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		err := root.addSum(&q)
		if k < 2 && err != nil || k == 2 && !errors.Is(err, ErrRange) {
			t.Fatalf("addition %d: %v", k, err)
		}
	}
	if root.vec[0].negative() {
		t.Fatal("the sum wrapped around")
	}
}

func FuzzDecodePartial(f *testing.F) {
	var g exactSum
	g.reset(3)
	g.addUpdate(2.5, []float64{1, -0.25, 1e-9})
	f.Add(appendPartial(nil, &g), 3)
	f.Add([]byte("FGHS\x01\x40\x01"), 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, dim int) {
		if dim < 0 || dim > 1<<16 {
			return
		}
		var s exactSum
		if err := decodePartial(&s, b, dim); err != nil {
			return
		}
		if !bytes.Equal(appendPartial(nil, &s), b) {
			t.Fatal("accepted payload does not re-encode to itself")
		}
		var root exactSum
		root.reset(dim)
		if err := root.addSum(&s); err != nil {
			t.Fatal(err)
		}
		out := make([]float64, dim)
		root.mean(out)
		for _, v := range out {
			if math.IsNaN(v) {
				t.Fatal("NaN mean from an accepted partial")
			}
		}
	})
}
