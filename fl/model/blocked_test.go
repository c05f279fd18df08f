package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// blockedValues draws test values: normals over 17 decades (so that the
// order of additions shows in the last bits), with, if special, zeros of
// both signs, subnormals and, if inf, ±Inf and NaN.
func blockedValues(rng *rand.Rand, special, inf bool) func() float64 {
	return func() float64 {
		if special {
			switch rng.IntN(16) {
			case 0:
				return 0
			case 1:
				return math.Copysign(0, -1)
			case 2:
				return float64(rng.IntN(1000)-500) * 5e-324 // subnormal
			case 3:
				return rng.NormFloat64() * 1e-310
			}
		}
		if inf && rng.IntN(64) == 0 {
			return [...]float64{math.Inf(1), math.Inf(-1), math.NaN()}[rng.IntN(3)]
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(17)-8))
	}
}

func fillWith(v func() float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v()
	}
	return s
}

// sameBits reports whether a and b are the same float64, NaNs counting as
// equal to each other whatever their payload (x86 and the portable code
// may pick different NaN operands to propagate).
func sameBits(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func firstDiff(got, want []float64) int {
	for i := range want {
		if !sameBits(got[i], want[i]) {
			return i
		}
	}
	return -1
}

// mulAddRowsRef is mulAddRows written from its definition, one element at
// a time: o ← round(a·x) + o for l = 0, 1, … in order.
func mulAddRowsRef(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	for i := range rows {
		for c := range n {
			v := o[i*ldo+c]
			for l := range k {
				v = float64(a[i*ars+l*acs]*x[l*ldx+c]) + v
			}
			o[i*ldo+c] = v
		}
	}
}

// dotRef is gonum's order written from its description: partial sum j
// takes the products i ≡ j (mod 4) of the leading multiple of four, s₀ the
// rest, and the result is (s₀+s₂) + (s₁+s₃).
func dotRef(x, y []float64, n int) float64 {
	var s [4]float64
	n4 := n - n%4
	for i := range n {
		p := float64(x[i] * y[i])
		if i < n4 {
			s[i%4] += p
		} else {
			s[0] += p
		}
	}
	return (s[0] + s[2]) + (s[1] + s[3])
}

func dotRowsRef(g []float64, ldg int, d []float64, ldd int, x []float64, ldx int, fr, lr, n int, add bool) {
	for f := range fr {
		for l := range lr {
			v := dotRef(d[f*ldd:], x[l*ldx:], n)
			if add {
				v += g[f*ldg+l]
			}
			g[f*ldg+l] = v
		}
	}
}

// mulAddCase is one shape of mulAddRows: rows×k weights read through
// (ars, acs), a k×n input ldx apart, rows×n outputs ldo apart.
type mulAddCase struct {
	rows, k, n, ldo, ldx, ars, acs int
	o, a, x                        []float64
}

func (c mulAddCase) String() string {
	return fmt.Sprintf("rows=%d k=%d n=%d ldo=%d ldx=%d ars=%d acs=%d", c.rows, c.k, c.n, c.ldo, c.ldx, c.ars, c.acs)
}

// mulAddCases covers the layers' uses (a forward product, ars=k, acs=1; an
// input gradient, ars=1, acs=rows) on every small shape, the row and column
// tails of the 4×8 and 2×8 blocks, and padded strides.
func mulAddCases(rng *rand.Rand, special, inf bool) []mulAddCase {
	v := blockedValues(rng, special, inf)
	var cs []mulAddCase
	add := func(rows, k, n, padO, padX int, transposed bool) {
		c := mulAddCase{rows: rows, k: k, n: n, ldo: n + padO, ldx: n + padX, ars: k, acs: 1}
		if transposed {
			c.ars, c.acs = 1, rows
		}
		c.o = fillWith(v, max(0, (rows-1)*c.ldo+n))
		c.x = fillWith(v, max(0, (k-1)*c.ldx+n))
		c.a = fillWith(v, rows*k)
		cs = append(cs, c)
	}
	for rows := 1; rows <= 9; rows++ {
		for _, k := range []int{1, 2, 3, 7} {
			for _, n := range []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31} {
				add(rows, k, n, rng.IntN(3), rng.IntN(3), rng.IntN(2) == 0)
			}
		}
	}
	for _, s := range [][3]int{{6, 25, 256}, {16, 150, 256}, {150, 16, 256}, {120, 256, 64}, {10, 84, 64}, {13, 5, 100}, {5, 13, 61}} {
		add(s[0], s[1], s[2], 0, 0, false)
		add(s[0], s[1], s[2], 5, 3, true)
	}
	return cs
}

// dotCase is one shape of dotRows.
type dotCase struct {
	fr, lr, n, ldg, ldd, ldx int
	g, d, x                  []float64
}

func (c dotCase) String() string {
	return fmt.Sprintf("fr=%d lr=%d n=%d ldg=%d ldd=%d ldx=%d", c.fr, c.lr, c.n, c.ldg, c.ldd, c.ldx)
}

func dotCases(rng *rand.Rand, special, inf bool) []dotCase {
	v := blockedValues(rng, special, inf)
	var cs []dotCase
	add := func(fr, lr, n, padG, padD, padX int) {
		c := dotCase{fr: fr, lr: lr, n: n, ldg: lr + padG, ldd: n + padD, ldx: n + padX}
		c.g = fillWith(v, (fr-1)*c.ldg+lr)
		c.d = fillWith(v, max(0, (fr-1)*c.ldd+n))
		c.x = fillWith(v, max(0, (lr-1)*c.ldx+n))
		cs = append(cs, c)
	}
	for fr := 1; fr <= 5; fr++ {
		for lr := 1; lr <= 9; lr++ {
			for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 11, 13} {
				add(fr, lr, n, rng.IntN(3), rng.IntN(3), rng.IntN(3))
			}
		}
	}
	for _, s := range [][3]int{{6, 25, 256}, {16, 150, 256}, {16, 150, 65}, {120, 256, 64}, {84, 120, 63}, {10, 84, 2}} {
		add(s[0], s[1], s[2], 0, 0, 0)
		add(s[0], s[1], s[2], 2, 7, 1)
	}
	return cs
}

// TestBlockedGoMatchesReference: the portable definitions equal the
// element-by-element references, bit for bit, on every shape (with
// signed zeros, subnormals, ±Inf and NaN among the values).
func TestBlockedGoMatchesReference(t *testing.T) {
	for _, special := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, c := range mulAddCases(rng, special, special) {
			got := append([]float64(nil), c.o...)
			want := append([]float64(nil), c.o...)
			mulAddRowsGo(got, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
			mulAddRowsRef(want, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("mulAddRowsGo %v: o[%d] = %v, want %v", c, i, got[i], want[i])
			}
		}
		for _, c := range dotCases(rng, special, special) {
			for _, add := range []bool{false, true} {
				got := append([]float64(nil), c.g...)
				want := append([]float64(nil), c.g...)
				dotRowsGo(got, c.ldg, c.d, c.ldd, c.x, c.ldx, c.fr, c.lr, c.n, add)
				dotRowsRef(want, c.ldg, c.d, c.ldd, c.x, c.ldx, c.fr, c.lr, c.n, add)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("dotRowsGo %v add=%v: g[%d] = %v, want %v", c, add, i, got[i], want[i])
				}
			}
		}
	}
}

// TestBlockedReferenceSeesOrder: the comparisons above can fail for the
// right reason. On these values, a product fused with its sum (one
// rounding) and a dot summed in plain order give other bits than the
// definitions, so a kernel that fused or reordered would be caught.
func TestBlockedReferenceSeesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	fusedDiffers, orderDiffers := false, false
	for _, c := range mulAddCases(rng, false, false) {
		want := append([]float64(nil), c.o...)
		mulAddRowsRef(want, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
		for i := range c.rows {
			for j := range c.n {
				v := c.o[i*c.ldo+j]
				for l := range c.k {
					v = math.FMA(c.a[i*c.ars+l*c.acs], c.x[l*c.ldx+j], v)
				}
				fusedDiffers = fusedDiffers || v != want[i*c.ldo+j]
			}
		}
	}
	for _, c := range dotCases(rng, false, false) {
		for l := range c.lr {
			var s float64
			for i := range c.n {
				s += c.d[i] * c.x[l*c.ldx+i]
			}
			orderDiffers = orderDiffers || s != dotRef(c.d, c.x[l*c.ldx:], c.n)
		}
	}
	if !fusedDiffers || !orderDiffers {
		t.Errorf("the test values do not tell a fused product (%v) or a plain-order dot (%v) from the definitions", fusedDiffers, orderDiffers)
	}
}

// TestBlockedPanicsOnShortSlices: a shape that does not fit its slices is
// a programmer's error the kernels refuse before reading any memory.
func TestBlockedPanicsOnShortSlices(t *testing.T) {
	o, a, x := make([]float64, 4*8), make([]float64, 4*3), make([]float64, 3*8)
	g, d, xx := make([]float64, 3*4), make([]float64, 3*8), make([]float64, 4*8)
	// The exact fits do not panic.
	mulAddRows(o, 8, a, 3, 1, x, 8, 4, 3, 8)
	mulAddRows(o, 8, a, 1, 4, x, 8, 4, 3, 8)
	dotRows(g, 4, d, 8, xx, 8, 3, 4, 8, false)
	for name, f := range map[string]func(){
		"o":       func() { mulAddRows(o[:31], 8, a, 3, 1, x, 8, 4, 3, 8) },
		"a":       func() { mulAddRows(o, 8, a[:11], 3, 1, x, 8, 4, 3, 8) },
		"a^T":     func() { mulAddRows(o, 8, a[:11], 1, 4, x, 8, 4, 3, 8) },
		"x":       func() { mulAddRows(o, 8, a, 3, 1, x[:23], 8, 4, 3, 8) },
		"overlap": func() { mulAddRows(o, 7, a, 3, 1, x, 8, 4, 3, 8) },
		"g":       func() { dotRows(g[:11], 4, d, 8, xx, 8, 3, 4, 8, false) },
		"d":       func() { dotRows(g, 4, d[:23], 8, xx, 8, 3, 4, 8, false) },
		"dx":      func() { dotRows(g, 4, d, 8, xx[:31], 8, 3, 4, 8, false) },
		"g rows":  func() { dotRows(g, 3, d, 8, xx, 8, 3, 4, 8, false) },
		"neg":     func() { dotRows(g, 4, d, 8, xx, 8, 3, -1, 8, false) },
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

// offsetsOf returns the offsets of the rows of x in c: l·ldx, or, if
// shuffled, the same rows in a random order (x read out of order, as a
// convolution reads its input in place).
func offsetsOf(rng *rand.Rand, c mulAddCase, shuffled bool) []int {
	off := make([]int, c.k)
	for l := range off {
		off[l] = l * c.ldx
	}
	if shuffled {
		rng.Shuffle(len(off), func(i, j int) { off[i], off[j] = off[j], off[i] })
	}
	return off
}

// mulAddRowsOffRef is mulAddRowsOff from its definition.
func mulAddRowsOffRef(o []float64, ldo int, a []float64, ars, acs int, x []float64, off []int, rows, k, n int) {
	for i := range rows {
		for c := range n {
			v := o[i*ldo+c]
			for l := range k {
				v = float64(a[i*ars+l*acs]*x[off[l]+c]) + v
			}
			o[i*ldo+c] = v
		}
	}
}

// TestBlockedOffGoMatchesReference: mulAddRowsOffGo equals its
// element-by-element reference with the rows of x in order and shuffled.
func TestBlockedOffGoMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range mulAddCases(rng, true, true) {
		off := offsetsOf(rng, c, rng.IntN(2) == 0)
		got := append([]float64(nil), c.o...)
		want := append([]float64(nil), c.o...)
		mulAddRowsOffGo(got, c.ldo, c.a, c.ars, c.acs, c.x, off, c.rows, c.k, c.n)
		mulAddRowsOffRef(want, c.ldo, c.a, c.ars, c.acs, c.x, off, c.rows, c.k, c.n)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("mulAddRowsOffGo %v: o[%d] = %v, want %v", c, i, got[i], want[i])
		}
	}
	o, a, x := make([]float64, 8), make([]float64, 2), make([]float64, 16)
	for name, off := range map[string][]int{"short": {0}, "negative": {0, -1}, "past the end": {0, 9}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("offsets %s: no panic", name)
				}
			}()
			mulAddRowsOff(o, 8, a, 2, 1, x, off, 1, 2, 8)
		}()
	}
}

// grpCase is one shape of dotRowsGrp: fr rows of d (ldd apart), lr
// gathered columns of x through off and grp.
type grpCase struct {
	fr, lr, ldg, ldd int
	g, d, x          []float64
	off, grp         []int
}

func (c grpCase) String() string {
	return fmt.Sprintf("fr=%d lr=%d groups=%d ldg=%d ldd=%d", c.fr, c.lr, len(c.grp), c.ldg, c.ldd)
}

func grpCases(rng *rand.Rand, special, inf bool) []grpCase {
	v := blockedValues(rng, special, inf)
	var cs []grpCase
	add := func(fr, lr, ng int) {
		c := grpCase{fr: fr, lr: lr, ldg: lr + rng.IntN(3), ldd: 4*ng + rng.IntN(3)}
		c.g = fillWith(v, (fr-1)*c.ldg+lr)
		c.d = fillWith(v, max(0, (fr-1)*c.ldd+4*ng))
		c.x = fillWith(v, 40+8*ng+2*lr)
		c.off = make([]int, lr)
		for l := range c.off {
			c.off[l] = rng.IntN(2*lr + 1)
		}
		c.grp = make([]int, ng)
		for q := range c.grp {
			c.grp[q] = rng.IntN(len(c.x) - 4 - 2*lr)
		}
		cs = append(cs, c)
	}
	for fr := 1; fr <= 5; fr++ {
		for lr := 1; lr <= 9; lr++ {
			for _, ng := range []int{0, 1, 2, 3, 5} {
				add(fr, lr, ng)
			}
		}
	}
	add(6, 25, 64)
	add(16, 150, 64)
	add(16, 150, 16)
	return cs
}

// dotRowsGrpRef gathers each column and takes dotRef.
func dotRowsGrpRef(c grpCase, g []float64, add bool) {
	n := 4 * len(c.grp)
	col := make([]float64, n)
	for l := range c.lr {
		for t := range col {
			col[t] = c.x[c.grp[t/4]+c.off[l]+t%4]
		}
		for f := range c.fr {
			v := dotRef(c.d[f*c.ldd:], col, n)
			if add {
				v = g[f*c.ldg+l] + v
			}
			g[f*c.ldg+l] = v
		}
	}
}

// TestBlockedGrpGoMatchesReference: dotRowsGrpGo equals gathering each
// column and taking the reference dot, and refuses offsets out of range.
func TestBlockedGrpGoMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, c := range grpCases(rng, true, true) {
		for _, add := range []bool{false, true} {
			got := append([]float64(nil), c.g...)
			want := append([]float64(nil), c.g...)
			dotRowsGrpGo(got, c.ldg, c.d, c.ldd, c.x, c.off, c.grp, c.fr, c.lr, add)
			dotRowsGrpRef(c, want, add)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("dotRowsGrpGo %v add=%v: g[%d] = %v, want %v", c, add, i, got[i], want[i])
			}
		}
	}
	g, d, x := make([]float64, 4), make([]float64, 8), make([]float64, 16)
	dotRowsGrp(g, 4, d, 8, x, []int{0, 1, 2, 12}, []int{0, 0}, 1, 4, false) // the exact fits do not panic
	col2imGrp(x, d, []int{0, 12}, []int{0})
	for name, f := range map[string]func(){
		"col2imGrp dcols": func() { col2imGrp(x, d, []int{0, 12, 1}, []int{0}) },
		"col2imGrp off":   func() { col2imGrp(x, d, []int{0, 13}, []int{0}) },
		"col2imGrp grp":   func() { col2imGrp(x, d, []int{0, 1}, []int{-1}) },
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
	for name, s := range map[string][2][]int{
		"few offsets":  {{0, 1, 2}, {0, 4}},
		"negative off": {{0, 1, 2, -1}, {0, 4}},
		"negative grp": {{0, 1, 2, 3}, {-1, 4}},
		"past the end": {{0, 1, 2, 3}, {0, 10}},
		"off past end": {{0, 1, 2, 13}, {0, 0}},
		"d too short":  {{0, 1, 2, 3}, {0, 0, 0}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			dotRowsGrp(g, 4, d, 8, x, s[0], s[1], 1, 4, false)
		}()
	}
}

// TestAddRowSums: four rows summed side by side give the bits of sum on
// each row, added to what g held.
func TestAddRowSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	v := blockedValues(rng, true, true)
	for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {6, 256, 300}, {16, 255, 4096}, {9, 0, 3}} {
		rows, n, ld := s[0], s[1], s[2]
		d := fillWith(v, (rows-1)*ld+n)
		got := fillWith(v, rows)
		want := append([]float64(nil), got...)
		addRowSums(got, d, ld, rows, n)
		for f := range want {
			want[f] += sum(d[f*ld : f*ld+n])
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("rows=%d n=%d ld=%d: g[%d] = %v, want %v", rows, n, ld, i, got[i], want[i])
		}
	}
}

// mulAddRowsSkipRef is mulAddRowsSkip from its definition.
func mulAddRowsSkipRef(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	for i := range rows {
		for c := range n {
			v := o[i*ldo+c]
			for l := range k {
				if w := a[i*ars+l*acs]; w != 0 {
					v = float64(w*x[l*ldx+c]) + v
				}
			}
			o[i*ldo+c] = v
		}
	}
}

// TestBlockedSkipGoMatchesReference: mulAddRowsSkipGo equals its
// reference, and on these values (zero weights against −0 outputs and
// infinite inputs) skipping differs from adding, so the comparison can
// tell them apart.
func TestBlockedSkipGoMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	differs := false
	for _, c := range mulAddCases(rng, true, true) {
		got := append([]float64(nil), c.o...)
		want := append([]float64(nil), c.o...)
		plain := append([]float64(nil), c.o...)
		mulAddRowsSkipGo(got, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
		mulAddRowsSkipRef(want, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
		mulAddRowsRef(plain, c.ldo, c.a, c.ars, c.acs, c.x, c.ldx, c.rows, c.k, c.n)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("mulAddRowsSkipGo %v: o[%d] = %v, want %v", c, i, got[i], want[i])
		}
		differs = differs || firstDiff(plain, want) >= 0
	}
	if !differs {
		t.Error("skipping zero weights never made a difference on the test values")
	}
}
