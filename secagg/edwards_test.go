package secagg

import (
	"math"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// randomPoints returns n points a_i·G with seeded random a_i, plus the
// identity and the generator.
func randomPoints(n int) []edwards25519.Point {
	r := seededReader(11, uint64(n))
	pts := make([]edwards25519.Point, 0, n+2)
	pts = append(pts, *edwards25519.NewIdentityPoint(), *edwards25519.NewGeneratorPoint())
	for range n {
		s, _ := randomScalar(r)
		pts = append(pts, *new(edwards25519.Point).ScalarBaseMult(s))
	}
	return pts
}

// TestCurveConstant: the generator and random multiples satisfy
// −x² + y² = 1 + d·x²·y² with d = curveD2/2.
func TestCurveConstant(t *testing.T) {
	var half, d field.Element
	half.Mult32(new(field.Element).One(), 2)
	d.Multiply(curveD2, half.Invert(&half))
	for i, p := range randomPoints(5) {
		X, Y, Z, _ := p.ExtendedCoordinates()
		var zi, x, y, x2, y2, l, r field.Element
		zi.Invert(Z)
		x.Multiply(X, &zi)
		y.Multiply(Y, &zi)
		x2.Square(&x)
		y2.Square(&y)
		l.Subtract(&y2, &x2)
		r.Multiply(&x2, &y2)
		r.Multiply(&r, &d)
		r.Add(&r, new(field.Element).One())
		if l.Equal(&r) != 1 {
			t.Fatalf("point %d is off the curve with this d", i)
		}
	}
}

// TestExtPointFormulas checks double and addCached (with and without
// negation) against edwards25519's Add and Subtract, on random points,
// the identity, and the cases p + p and p − p.
func TestExtPointFormulas(t *testing.T) {
	pts := randomPoints(6)
	for i := range pts {
		p := &pts[i]
		var ep extPoint
		ep.fromPoint(p)
		var got extPoint
		got.double(&ep, true)
		want := new(edwards25519.Point).Add(p, p)
		if !got.equalPoint(want) || got.toPoint(new(edwards25519.Point)).Equal(want) != 1 {
			t.Fatalf("double(point %d) wrong", i)
		}
		for j := range pts {
			q := &pts[j]
			var cq cachedPoint
			cq.fromExt(new(extPoint).fromPoint(q))
			got.addCached(&ep, &cq, false, true)
			if got.toPoint(new(edwards25519.Point)).Equal(new(edwards25519.Point).Add(p, q)) != 1 {
				t.Fatalf("point %d + point %d wrong", i, j)
			}
			got.addCached(&ep, &cq, true, true)
			if got.toPoint(new(edwards25519.Point)).Equal(new(edwards25519.Point).Subtract(p, q)) != 1 {
				t.Fatalf("point %d − point %d wrong", i, j)
			}
		}
	}
	// Without T: the X, Y, Z still give the right point.
	var ep, got extPoint
	ep.fromPoint(&pts[3])
	got.double(&ep, false)
	if !got.equalPoint(new(edwards25519.Point).Add(&pts[3], &pts[3])) {
		t.Fatal("double without T wrong")
	}
}

// TestHornerVarTime compares hornerVarTime with Σ_j ScalarMult(x^j, C_j)
// computed term by term.
func TestHornerVarTime(t *testing.T) {
	pts := randomPoints(23)
	for _, x := range []uint32{1, 2, 3, 7, 250, 599, 1 << 16, math.MaxUint32} {
		for _, n := range []int{1, 2, 5, 25} {
			c := pts[:n]
			want := edwards25519.NewIdentityPoint()
			pow := scalarFromUint(1)
			xs := scalarFromUint(x)
			for j := range c {
				want.Add(want, new(edwards25519.Point).ScalarMult(pow, &c[j]))
				pow.Multiply(pow, xs)
			}
			got := hornerVarTime(c, x)
			if !got.equalPoint(want) {
				t.Fatalf("x=%d t=%d: Horner differs from the term-by-term sum", x, n)
			}
		}
	}
}
