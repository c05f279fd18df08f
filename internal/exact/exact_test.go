package exact

import (
	"math"
	"math/big"
	"math/rand"
	mrand "math/rand/v2"
	"testing"
)

// src is a seeded Source for tests.
type src struct{ r *mrand.Rand }

func (s src) Uint64() uint64          { return s.r.Uint64() }
func (s src) Uint64N(n uint64) uint64 { return s.r.Uint64N(n) }

func seeded(seed uint64) src {
	return src{mrand.New(mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))}
}

const refPrec = 800

// refExp returns exp(−n/d) in big.Float at refPrec bits by a method
// independent of ExpBounds: 1/Σ γ^i/i! (a series of positive terms,
// summed until the term is below 2^−(refPrec+64) of the sum), so its
// relative error is far below 2^−700.
func refExp(n, d *big.Int) *big.Float {
	g := new(big.Float).SetPrec(refPrec).SetInt(n)
	g.Quo(g, new(big.Float).SetPrec(refPrec).SetInt(d))
	sum := new(big.Float).SetPrec(refPrec).SetInt64(1)
	term := new(big.Float).SetPrec(refPrec).SetInt64(1)
	for i := int64(1); ; i++ {
		term.Mul(term, g)
		term.Quo(term, new(big.Float).SetPrec(refPrec).SetInt64(i))
		sum.Add(sum, term)
		if term.Sign() == 0 || (term.MantExp(nil) < sum.MantExp(nil)-refPrec-64 && term.Cmp(g) < 0) {
			break
		}
	}
	return new(big.Float).SetPrec(refPrec).Quo(new(big.Float).SetPrec(refPrec).SetInt64(1), sum)
}

// inBracket reports lo ≤ x·2^p ≤ hi with a relative slack of 2^−600 on x
// (the reference's error is far smaller).
func inBracket(lo, hi *big.Int, x *big.Float, p uint) bool {
	v := new(big.Float).SetPrec(refPrec).SetMantExp(x, int(p))
	eps := new(big.Float).SetPrec(refPrec).SetMantExp(v, -600)
	up := new(big.Float).SetPrec(refPrec).Add(v, eps)
	dn := new(big.Float).SetPrec(refPrec).Sub(v, eps)
	return new(big.Float).SetPrec(refPrec).SetInt(lo).Cmp(up) <= 0 && new(big.Float).SetPrec(refPrec).SetInt(hi).Cmp(dn) >= 0
}

func bi(x int64) *big.Int { return big.NewInt(x) }

func TestExpBoundsBracket(t *testing.T) {
	huge := new(big.Int).Lsh(bi(3), 90)
	cases := [][2]*big.Int{
		{bi(0), bi(1)}, {bi(1), bi(1)}, {bi(1), bi(2)}, {bi(1), bi(3)}, {bi(7), bi(2)}, {bi(2), bi(1)},
		{bi(50), bi(1)}, {bi(1001), bi(7)}, {bi(1), bi(1 << 40)}, {huge, new(big.Int).Add(huge, bi(1))},
		{new(big.Int).Lsh(bi(5), 80), new(big.Int).Lsh(bi(1), 80)}, {bi(4050), bi(1)},
	}
	for _, c := range cases {
		ref := refExp(c[0], c[1])
		for _, p := range []uint{1, 63, 64, 127, 200, 512} {
			lo, hi := ExpBounds(c[0], c[1], p)
			if !inBracket(lo, hi, ref, p) {
				t.Fatalf("exp(−%v/%v) at %d bits: [%v, %v] does not bracket %v", c[0], c[1], p, lo, hi, ref.Text('g', 30))
			}
			if w := new(big.Int).Sub(hi, lo); w.Cmp(bi(4)) > 0 {
				t.Errorf("exp(−%v/%v) at %d bits: bracket %v units wide", c[0], c[1], p, w)
			}
		}
	}
	// γ = 0 is exact.
	lo, hi := ExpBounds(bi(0), bi(5), 70)
	if one := new(big.Int).Lsh(bi(1), 70); lo.Cmp(one) != 0 || hi.Cmp(one) != 0 {
		t.Errorf("exp(0): [%v, %v], want 2^70 twice", lo, hi)
	}
}

// A randomized sweep of rationals against the reference.
func TestExpBoundsRandom(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	r2 := rand.New(rand.NewSource(3))
	for i := range 300 {
		// γ = n/d below 2^8, so that the reference series stays short.
		d := new(big.Int).SetUint64(1 + r.Uint64N(1<<uint(1+r.IntN(40))))
		n := new(big.Int).Rand(r2, new(big.Int).Lsh(d, uint(r.IntN(9))))
		p := uint(1 + r.IntN(300))
		lo, hi := ExpBounds(n, d, p)
		if !inBracket(lo, hi, refExp(n, d), p) {
			t.Fatalf("case %d: exp(−%v/%v) at %d bits: [%v, %v] wrong", i, n, d, p, lo, hi)
		}
	}
}

func TestExpBoundsPanics(t *testing.T) {
	for _, c := range [][2]*big.Int{{bi(-1), bi(1)}, {bi(1), bi(0)}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ExpBounds(%v, %v) did not panic", c[0], c[1])
				}
			}()
			ExpBounds(c[0], c[1], 10)
		}()
	}
}

// TestLessExpFrequency: P[A + B·U < C·exp(−n/d)] = clamp((C·e − A)/B)
// for thresholds inside (0, 1), at 0 and 1 exactly, and with γ = 0.
func TestLessExpFrequency(t *testing.T) {
	s := seeded(1)
	const trials = 20000
	for _, c := range []struct {
		a, b, c, n, d int64
	}{
		{0, 1, 1, 1, 3},     // exp(−1/3)
		{1, 3, 5, 1, 2},     // (5e^{−1/2} − 1)/3
		{0, 7, 3, 0, 1},     // γ = 0: 3/7
		{2, 6, 4, 0, 9},     // γ = 0: (4−2)/6 = 1/3
		{10, 1, 5, 1, 1},    // C·e < A: never
		{0, 1, 100, 1, 100}, // C·e ≥ A + B: always
		{3, 2, 7, 2, 3},     // (7e^{−2/3} − 3)/2 ≈ 0.297
		{0, 1 << 40, 1 << 40, 50, 1},
	} {
		e, _ := refExp(bi(c.n), bi(c.d)).Float64()
		want := min(max((float64(c.c)*e-float64(c.a))/float64(c.b), 0), 1)
		hits := 0
		for range trials {
			if LessExp(s, bi(c.a), bi(c.b), bi(c.c), bi(c.n), bi(c.d)) {
				hits++
			}
		}
		got := float64(hits) / trials
		if se := math.Sqrt(want * (1 - want) / trials); math.Abs(got-want) > 5*se+1e-12 {
			t.Errorf("%+v: frequency %v, want %v ± %v", c, got, want, 5*se)
		}
	}
}

// TestLessExpMatchesNaive: LessExp reads U's bits most significant first
// from the source's 64-bit words; a naive comparison that takes U from the
// same words at 512 bits and exp from the reference must agree whenever
// it is decided by a margin.
func TestLessExpMatchesNaive(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	decided := 0
	for i := range 2000 {
		a := new(big.Int).SetUint64(r.Uint64N(1 << 20))
		b := new(big.Int).SetUint64(1 + r.Uint64N(1<<20))
		c := new(big.Int).SetUint64(r.Uint64N(1 << 22))
		n := new(big.Int).SetUint64(r.Uint64N(64))
		d := new(big.Int).SetUint64(1 + r.Uint64N(64))
		got := LessExp(seeded(uint64(i)), a, b, c, n, d)
		w := seeded(uint64(i))
		u := new(big.Int)
		for range 8 {
			u.Lsh(u, 64).Or(u, new(big.Int).SetUint64(w.Uint64()))
		}
		// lhs = A + B·U, U = u/2^512; rhs = C·e.
		lhs := new(big.Float).SetPrec(refPrec).SetInt(new(big.Int).Add(new(big.Int).Lsh(a, 512), new(big.Int).Mul(b, u)))
		lhs.SetMantExp(lhs, -512)
		rhs := new(big.Float).SetPrec(refPrec).Mul(new(big.Float).SetPrec(refPrec).SetInt(c), refExp(n, d))
		diff := new(big.Float).SetPrec(refPrec).Sub(rhs, lhs)
		// B·2^−512 bounds the rest of U's contribution.
		margin := new(big.Float).SetPrec(refPrec).SetMantExp(new(big.Float).SetPrec(refPrec).SetInt(b), -500)
		if new(big.Float).Abs(diff).Cmp(margin) <= 0 {
			continue
		}
		decided++
		if want := diff.Sign() > 0; got != want {
			t.Fatalf("case %d: A=%v B=%v C=%v γ=%v/%v: LessExp %v, naive %v", i, a, b, c, n, d, got, want)
		}
	}
	if decided < 1900 {
		t.Fatalf("only %d cases decided", decided)
	}
}

func TestRatioAndGeometric(t *testing.T) {
	s := seeded(9)
	const trials = 40000
	big3 := new(big.Int).Lsh(bi(1), 130)
	for _, c := range [][2]*big.Int{{bi(1), bi(3)}, {bi(0), bi(5)}, {bi(5), bi(5)}, {big3, new(big.Int).Mul(big3, bi(3))}} {
		r := NewRatio(c[0], c[1])
		want, _ := new(big.Rat).SetFrac(c[0], c[1]).Float64()
		hits := 0
		for range trials {
			if r.Bernoulli(s) {
				hits++
			}
		}
		if se := math.Sqrt(want * (1 - want) / trials); math.Abs(float64(hits)/trials-want) > 5*se+1e-12 {
			t.Errorf("%v/%v: frequency %v", c[0], c[1], float64(hits)/trials)
		}
	}
	// Geometric of ratio 3/4: mean ρ/(1−ρ) = 3, variance ρ/(1−ρ)² = 12.
	r := NewRatio(bi(3), bi(4))
	var sum float64
	for range trials {
		sum += float64(Geometric(s, &r))
	}
	if m := sum / trials; math.Abs(m-3) > 5*math.Sqrt(12.0/trials) {
		t.Errorf("geometric mean %v, want 3", m)
	}
}

// TestTableInvariants builds tables for random bounds and a tail and
// checks, in exact integers, that each entry's alias share equals ℓ, that
// ℓ ≤ k·lo/2^63 and k·hi/2^63 ≤ h, that the rest column holds Σ(h−ℓ) + T
// with T ≥ k·A, and that Pick over every slot of a small table returns
// each column exactly its share.
func TestTableInvariants(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	for trial := range 20 {
		n := 1 + r.IntN(200)
		lo, hi := make([]uint64, n), make([]uint64, n)
		for i := range lo {
			lo[i] = r.Uint64N(1 << 63)
			hi[i] = lo[i] + r.Uint64N(4)
			if hi[i] > 1<<63 {
				hi[i] = 1 << 63
			}
		}
		an, ad := new(big.Int).SetUint64(1+r.Uint64N(1000)), new(big.Int).Lsh(bi(1), 70)
		tab := Build(lo, hi, an, ad)
		if tab == nil {
			t.Fatalf("trial %d: no table", trial)
		}
		capc := uint64(1) << tab.Q
		got := make([]uint64, len(tab.Ent))
		for c, e := range tab.Ent {
			prob, al := e&(1<<AliasShift-1), e>>AliasShift
			if prob > capc || al >= uint64(len(tab.Ent)) {
				t.Fatalf("trial %d: column %d: prob %d alias %d", trial, c, prob, al)
			}
			got[c] += prob
			got[al] += capc - prob
		}
		k := new(big.Int).SetUint64(tab.K)
		var sumLo, sumRes uint64
		for i := range n {
			if got[i] != tab.Lo[i] {
				t.Fatalf("trial %d: entry %d gets %d, want %d", trial, i, got[i], tab.Lo[i])
			}
			kl := new(big.Int).Mul(k, new(big.Int).SetUint64(lo[i]))
			kh := new(big.Int).Mul(k, new(big.Int).SetUint64(hi[i]))
			h := tab.Lo[i] + tab.Width(i)
			if new(big.Int).Lsh(new(big.Int).SetUint64(tab.Lo[i]), 63).Cmp(kl) > 0 ||
				new(big.Int).Lsh(new(big.Int).SetUint64(h), 63).Cmp(kh) < 0 {
				t.Fatalf("trial %d: entry %d: [ℓ, h] = [%d, %d] does not cover k·[lo, hi]/2^63", trial, i, tab.Lo[i], h)
			}
			sumLo += tab.Lo[i]
			sumRes += tab.Width(i)
		}
		if got[n] != tab.RestW || tab.RestW != tab.Range()-sumLo || tab.RestW < sumRes+tab.TW {
			t.Fatalf("trial %d: rest column %d, want %d ≥ %d", trial, got[n], tab.Range()-sumLo, sumRes+tab.TW)
		}
		if ka := new(big.Int).Mul(k, an); new(big.Int).Mul(new(big.Int).SetUint64(tab.TW), ad).Cmp(ka) < 0 {
			t.Fatalf("trial %d: T = %d < k·A", trial, tab.TW)
		}
		if f := float64(tab.RestW) / float64(tab.Range()); f > 1e-4 {
			t.Errorf("trial %d: the rest column has probability %.3g", trial, f)
		}
	}
	// Pick over all slots of a tiny table (Q forced small by the weights
	// alone is not possible, so count on a table of 3 columns by sampling
	// every column's slots at its boundaries).
	tab := Build([]uint64{1 << 62, 1 << 61}, []uint64{1 << 62, 1 << 61}, bi(1), new(big.Int).Lsh(bi(1), 80))
	counts := make([]uint64, len(tab.Ent))
	for c := range tab.Ent {
		e := tab.Ent[c]
		prob := e & (1<<AliasShift - 1)
		base := uint64(c) << tab.Q
		if prob > 0 {
			if tab.Pick(base) != c || tab.Pick(base+prob-1) != c {
				t.Fatalf("column %d: slots below its threshold do not pick it", c)
			}
			counts[c] += prob
		}
		if prob < 1<<tab.Q {
			al := int(e >> AliasShift)
			if tab.Pick(base+prob) != al || tab.Pick(base+1<<tab.Q-1) != al {
				t.Fatalf("column %d: slots above its threshold do not pick its alias", c)
			}
			counts[al] += 1<<tab.Q - prob
		}
	}
	for i, l := range tab.Lo {
		if counts[i] != l {
			t.Errorf("entry %d: %d slots, want %d", i, counts[i], l)
		}
	}
}
