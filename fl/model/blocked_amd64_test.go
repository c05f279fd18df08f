//go:build !noasm && !gccgo && !safe && !purego

package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// guarded returns a copy of s inside a buffer with guard values on both
// sides, the copy, and a check that the guards are untouched.
func guarded(s []float64) (inner []float64, intact func() bool) {
	const pad = 64
	buf := make([]float64, len(s)+2*pad)
	for i := range buf {
		buf[i] = math.Float64frombits(0x7ff8dead0000beef) // a NaN no kernel makes
	}
	inner = buf[pad : pad+len(s) : pad+len(s)]
	copy(inner, s)
	return inner, func() bool {
		for _, v := range append(buf[:pad:pad], buf[pad+len(s):]...) {
			if math.Float64bits(v) != 0x7ff8dead0000beef {
				return false
			}
		}
		return true
	}
}

// TestBlockedFastEqualsGo: the AVX2 blocks give the bits of the portable
// definitions on every shape of mulAddCases and dotCases — row and column
// tails, padded strides, the layers' shapes — with ordinary values, with
// signed zeros and subnormals, and with ±Inf and NaN (NaN where the
// definition gives NaN); and they write nothing outside their outputs.
func TestBlockedFastEqualsGo(t *testing.T) {
	if !hasAVX2 {
		t.Skip("the CPU has no AVX2: the blocked kernels run the portable code")
	}
	for _, vals := range []struct {
		name          string
		special, infs bool
	}{{"normal", false, false}, {"zeros-subnormals", true, false}, {"inf-nan", true, true}} {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, c := range mulAddCases(rng, vals.special, vals.infs) {
			got, intact := guarded(c.o)
			want := append([]float64(nil), c.o...)
			mulAddRowsAVX2(got, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
			mulAddRowsGo(want, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%s: mulAddRowsAVX2 %v: o[%d] = %v (%#x), want %v (%#x)", vals.name, c, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
			}
			if !intact() {
				t.Fatalf("%s: mulAddRowsAVX2 %v wrote outside o", vals.name, c)
			}
		}
		for _, c := range mulAddCases(rng, vals.special, vals.infs) {
			got, intact := guarded(c.o)
			want := append([]float64(nil), c.o...)
			mulAddRowsSkipAVX2(got, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
			mulAddRowsSkipGo(want, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%s: mulAddRowsSkipAVX2 %v: o[%d] = %v (%#x), want %v (%#x)", vals.name, c, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
			}
			if !intact() {
				t.Fatalf("%s: mulAddRowsSkipAVX2 %v wrote outside o", vals.name, c)
			}
		}
		for _, c := range mulAddCases(rng, vals.special, vals.infs) {
			off := offsetsOf(rng, c, true)
			got, intact := guarded(c.o)
			want := append([]float64(nil), c.o...)
			mulAddRowsOffAVX2(got, c.ldo, c.a, c.ars, c.acs, c.x, off, c.rows, c.k, c.n)
			mulAddRowsOffGo(want, c.ldo, c.a, c.ars, c.acs, c.x, off, c.rows, c.k, c.n)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%s: mulAddRowsOffAVX2 %v: o[%d] = %v, want %v", vals.name, c, i, got[i], want[i])
			}
			if !intact() {
				t.Fatalf("%s: mulAddRowsOffAVX2 %v wrote outside o", vals.name, c)
			}
		}
		for _, c := range grpCases(rng, vals.special, vals.infs) {
			for _, add := range []bool{false, true} {
				got, intact := guarded(c.g)
				want := append([]float64(nil), c.g...)
				dotRowsGrpAVX2(got, c.ldg, c.d, c.ldd, c.x, c.off, c.grp, c.fr, c.lr, add)
				dotRowsGrpGo(want, c.ldg, c.d, c.ldd, c.x, c.off, c.grp, c.fr, c.lr, add)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%s: dotRowsGrpAVX2 %v add=%v: g[%d] = %v, want %v", vals.name, c, add, i, got[i], want[i])
				}
				if !intact() {
					t.Fatalf("%s: dotRowsGrpAVX2 %v wrote outside g", vals.name, c)
				}
			}
		}
		for _, c := range grpCases(rng, vals.special, vals.infs) {
			// col2imGrp scatters c.lr rows of 4·groups values into c.x;
			// groups overlap, so the order of the additions shows.
			dcols := fillWith(blockedValues(rng, vals.special, vals.infs), c.lr*4*len(c.grp))
			got, intact := guarded(c.x)
			want := append([]float64(nil), c.x...)
			col2imGrp(got, dcols, c.off, c.grp)
			col2imGrpGo(want, dcols, c.off, c.grp)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%s: col2imGrp %v: din[%d] = %v, want %v", vals.name, c, i, got[i], want[i])
			}
			if !intact() {
				t.Fatalf("%s: col2imGrp %v wrote outside din", vals.name, c)
			}
		}
		for _, c := range dotCases(rng, vals.special, vals.infs) {
			for _, add := range []bool{false, true} {
				got, intact := guarded(c.g)
				want := append([]float64(nil), c.g...)
				dotRowsAVX2(got, c.ldg, c.d, c.ldd, c.x, c.ldx, c.fr, c.lr, c.n, add)
				dotRowsGo(want, c.ldg, c.d, c.ldd, c.x, c.ldx, c.fr, c.lr, c.n, add)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%s: dotRowsAVX2 %v add=%v: g[%d] = %v, want %v", vals.name, c, add, i, got[i], want[i])
				}
				if !intact() {
					t.Fatalf("%s: dotRowsAVX2 %v wrote outside g", vals.name, c)
				}
			}
		}
	}
}

// TestBlockedFastSignedZero pins the sign rules the blocks must keep: an
// axpy onto −0 of a +0 product gives +0 (−0 + +0), of a −0 product −0; a
// set dot of n = 0 is +0, an added one leaves g + 0; a dot's partial sums
// start at +0, so −0 products sum to +0.
func TestBlockedFastSignedZero(t *testing.T) {
	if !hasAVX2 {
		t.Skip("the CPU has no AVX2: the blocked kernels run the portable code")
	}
	negz := math.Copysign(0, -1)
	o := make([]float64, 8)
	for i := range o {
		o[i] = negz
	}
	x := []float64{1, -1, 0, negz, 1, -1, 0, negz}
	mulAddRowsAVX2(o, 8, []float64{negz}, 1, 1, x, 8, 1, 1, 8)
	// products −0·x: −0, +0, −0, +0, …; −0 + p keeps −0 only for p = −0.
	for i, v := range o {
		if want := math.Signbit(float64(negz * x[i])); math.Signbit(v) != want || v != 0 {
			t.Errorf("o[%d] = %v, want a zero with sign bit %v", i, v, want)
		}
	}
	g := []float64{negz, negz, negz, negz, negz, negz, negz, negz}
	d := []float64{negz, negz, negz, negz, negz, negz, negz, negz}
	pos := []float64{1, 2, 0, 3, 1, 2, 0, 3} // −0·pos: every product −0
	dotRowsAVX2(g, 4, d, 4, pos, 1, 2, 4, 4, false)
	for i, v := range g {
		if v != 0 || math.Signbit(v) {
			t.Errorf("set dot of −0 products: g[%d] = %v (sign %v), want +0", i, v, math.Signbit(v))
		}
	}
}
