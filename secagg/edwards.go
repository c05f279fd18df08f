package secagg

import (
	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Point arithmetic for the Feldman check. filippo.io/edwards25519 offers
// only a general addition (nine field multiplications, used for doubling
// too), but the check y·G == Σ_j C_j·x^j spends most of its time doubling
// (about t·log2(x) doublings against t·(weight(x)+1) additions). This file
// adds the dedicated doubling and the cached-operand addition of
//
//	H. Hisil, K. K.-H. Wong, G. Carter, E. Dawson. Twisted Edwards Curves
//	Revisited. ASIACRYPT 2008 (with a = −1: "dbl-2008-hwcd", 4M + 4S,
//	and "add-2008-hwcd-3" with k = 2d, 8M, in the Explicit-Formulas
//	Database),
//
// in extended coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, xy = T/Z
// on −x² + y² = 1 + d·x²·y². Both formulas are complete on edwards25519
// (d is not a square), so no input needs a special case. Everything here
// is variable-time in the public multiplier x only.

// extPoint is a point in extended coordinates.
type extPoint struct{ X, Y, Z, T field.Element }

// cachedPoint is the addition operand (Y+X, Y−X, 2Z, 2d·T) of a point.
type cachedPoint struct{ YpX, YmX, Z2, T2d field.Element }

// curveD2 is 2d, with d = −121665/121666 the edwards25519 constant.
var curveD2 = func() *field.Element {
	var num, den, d field.Element
	num.Mult32(new(field.Element).One(), 121665)
	num.Negate(&num)
	den.Mult32(new(field.Element).One(), 121666)
	d.Multiply(&num, den.Invert(&den))
	return d.Add(&d, &d)
}()

// fromPoint sets v to p.
func (v *extPoint) fromPoint(p *edwards25519.Point) *extPoint {
	X, Y, Z, T := p.ExtendedCoordinates()
	v.X.Set(X)
	v.Y.Set(Y)
	v.Z.Set(Z)
	v.T.Set(T)
	return v
}

// fromExt sets v to the addition operand of p.
func (v *cachedPoint) fromExt(p *extPoint) *cachedPoint {
	v.YpX.Add(&p.Y, &p.X)
	v.YmX.Subtract(&p.Y, &p.X)
	v.Z2.Add(&p.Z, &p.Z)
	v.T2d.Multiply(&p.T, curveD2)
	return v
}

// double sets v = 2p (4 squarings, 3 multiplications, and a fourth for T
// when needT; without it v.T is left stale and v must next be doubled).
// p's T is not read.
func (v *extPoint) double(p *extPoint, needT bool) *extPoint {
	var a, b, c, e, f, g, h field.Element
	a.Square(&p.X)
	b.Square(&p.Y)
	c.Square(&p.Z)
	c.Add(&c, &c)
	e.Add(&p.X, &p.Y)
	e.Square(&e)
	e.Subtract(&e, &a)
	e.Subtract(&e, &b) // E = 2XY
	g.Subtract(&b, &a) // G = aA + B with a = −1
	f.Subtract(&g, &c) // F = G − C
	h.Negate(&a)
	h.Subtract(&h, &b) // H = aA − B
	v.X.Multiply(&e, &f)
	v.Y.Multiply(&g, &h)
	if needT {
		v.T.Multiply(&e, &h)
	}
	v.Z.Multiply(&f, &g)
	return v
}

// addCached sets v = p + q, or p − q when neg (8 multiplications, 7
// without T when !needT; then v must next be doubled). p's T is read.
func (v *extPoint) addCached(p *extPoint, q *cachedPoint, neg, needT bool) *extPoint {
	qpx, qmx := &q.YpX, &q.YmX
	if neg { // −(x, y) = (−x, y): Y+X and Y−X swap, T negates
		qpx, qmx = qmx, qpx
	}
	var a, b, c, dd, e, f, g, h field.Element
	a.Subtract(&p.Y, &p.X)
	a.Multiply(&a, qmx)
	b.Add(&p.Y, &p.X)
	b.Multiply(&b, qpx)
	c.Multiply(&p.T, &q.T2d)
	if neg {
		c.Negate(&c)
	}
	dd.Multiply(&p.Z, &q.Z2)
	e.Subtract(&b, &a)
	f.Subtract(&dd, &c)
	g.Add(&dd, &c)
	h.Add(&b, &a)
	v.X.Multiply(&e, &f)
	v.Y.Multiply(&g, &h)
	if needT {
		v.T.Multiply(&e, &h)
	}
	v.Z.Multiply(&f, &g)
	return v
}

// equalPoint reports whether v and p are the same point (X/Z and Y/Z
// agree). It is not constant-time.
func (v *extPoint) equalPoint(p *edwards25519.Point) bool {
	X, Y, Z, _ := p.ExtendedCoordinates()
	var l, r field.Element
	l.Multiply(&v.X, Z)
	r.Multiply(X, &v.Z)
	if l.Equal(&r) != 1 {
		return false
	}
	l.Multiply(&v.Y, Z)
	r.Multiply(Y, &v.Z)
	return l.Equal(&r) == 1
}

// nafDigits writes the non-adjacent form of x (digits in {−1, 0, 1}, no
// two adjacent nonzero, least significant first) to naf and returns the
// number of digits; the top digit is 1. x must be nonzero.
func nafDigits(naf *[34]int8, x uint32) int {
	n := 0
	for e := uint64(x); e != 0; n++ {
		naf[n] = 0
		if e&1 == 1 {
			d := 2 - int8(e&3) // +1 if e ≡ 1, −1 if e ≡ 3 (mod 4)
			naf[n] = d
			e -= uint64(int64(d))
		}
		e >>= 1
	}
	return n
}

// mulNAF sets v = x·p, where naf[:n] is the non-adjacent form of x ≥ 1,
// by double-and-add from the top digit: n−1 doublings and one addition
// or subtraction of p per other nonzero digit. T is computed when needT.
// v may alias p.
func (v *extPoint) mulNAF(p *extPoint, naf *[34]int8, n int, needT bool) *extPoint {
	var base cachedPoint
	base.fromExt(p)
	*v = *p
	for i := n - 2; i >= 0; i-- {
		last := i == 0
		v.double(v, naf[i] != 0 || (last && needT))
		if naf[i] != 0 {
			v.addCached(v, &base, naf[i] < 0, last && needT)
		}
	}
	return v
}

// hornerVarTime returns Σ_j c[j]·x^j (c non-empty, x ≥ 1) by Horner's
// rule: t−1 multiplications by x in non-adjacent form, each followed by
// the addition of the next commitment (its affine operand, precomputed
// in cached form).
func hornerVarTime(c []edwards25519.Point, x uint32) extPoint {
	var naf [34]int8
	n := nafDigits(&naf, x)
	var acc extPoint
	acc.fromPoint(&c[len(c)-1])
	var cj extPoint
	var q cachedPoint
	for j := len(c) - 2; j >= 0; j-- {
		acc.mulNAF(&acc, &naf, n, true)
		q.fromExt(cj.fromPoint(&c[j]))
		acc.addCached(&acc, &q, false, true)
	}
	return acc
}

// toPoint sets p to v (which must hold a valid T) and returns p.
func (v *extPoint) toPoint(p *edwards25519.Point) *edwards25519.Point {
	if _, err := p.SetExtendedCoordinates(&v.X, &v.Y, &v.Z, &v.T); err != nil {
		panic("secagg: extPoint off the curve: " + err.Error())
	}
	return p
}
