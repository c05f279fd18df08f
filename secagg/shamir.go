package secagg

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Shamir secret sharing over the scalar field of edwards25519
// (ℓ = 2^252 + 27742317777372353535851937790883648493), with Feldman
// commitments on the edwards25519 group.
//
// Secret encoding: the two secrets of a client (the self-mask seed b_u and
// the X25519 mask key s_u) are born as uniformly random scalars (64 random
// bytes reduced mod ℓ, [edwards25519.Scalar.SetUniformBytes]); the 32-byte
// value used by the protocol is the scalar's canonical little-endian
// encoding. Sharing the scalar therefore reconstructs the 32 bytes exactly.
// (The X25519 key built from those bytes is clamped as usual; it keeps
// about 249 bits of entropy.)

// CommitmentSize is the encoded size of a Feldman commitment.
const CommitmentSize = 64

// Commitment is a Feldman commitment C_j = a_j·G, encoded as the affine
// coordinates x || y of the edwards25519 point, each 32 bytes canonical
// little-endian. The affine form (instead of the 32-byte compressed one)
// spares every receiver a square root per point, which otherwise
// dominates the cost of checking shares.
type Commitment [CommitmentSize]byte

// encodeCommitment returns the affine encoding of p.
func encodeCommitment(p *edwards25519.Point) Commitment {
	X, Y, Z, _ := p.ExtendedCoordinates()
	var zInv, x, y field.Element
	zInv.Invert(Z)
	x.Multiply(X, &zInv)
	y.Multiply(Y, &zInv)
	var c Commitment
	copy(c[:32], x.Bytes())
	copy(c[32:], y.Bytes())
	return c
}

// decodeCommitment parses an affine encoding, rejecting non-canonical
// coordinates and points off the curve.
func decodeCommitment(p *edwards25519.Point, c *Commitment) error {
	var x, y, t field.Element
	if _, err := x.SetBytes(c[:32]); err != nil {
		return errBadPoint
	}
	if _, err := y.SetBytes(c[32:]); err != nil {
		return errBadPoint
	}
	if !bytes.Equal(x.Bytes(), c[:32]) || !bytes.Equal(y.Bytes(), c[32:]) {
		return errBadPoint // non-canonical (≥ p) coordinate
	}
	t.Multiply(&x, &y)
	one := new(field.Element).One()
	if _, err := p.SetExtendedCoordinates(&x, &y, one, &t); err != nil {
		return errBadPoint
	}
	return nil
}

// Share is one point (x, f(x)) of a sharing polynomial; X is a client id.
type Share struct {
	X uint32
	Y edwards25519.Scalar
}

// randomScalar draws a uniform scalar from 64 bytes of r.
func randomScalar(r io.Reader) (*edwards25519.Scalar, error) {
	var b [64]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	s, err := edwards25519.NewScalar().SetUniformBytes(b[:])
	if err != nil {
		return nil, err
	}
	return s, nil
}

// scalarFromUint returns x as a scalar.
func scalarFromUint(x uint32) *edwards25519.Scalar {
	var b [32]byte
	binary.LittleEndian.PutUint32(b[:], x)
	s, _ := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	return s
}

// Deal shares secret with threshold t: it draws f(z) = secret + a_1 z + … +
// a_{t-1} z^{t-1} with coefficients from r, writes the Feldman commitments
// C_j = a_j·G (see [Commitment], j = 0..t-1) to commit, and
// f(x) for each x in xs to ys. It panics if len(commit) != t or
// len(ys) != len(xs).
func Deal(ys []edwards25519.Scalar, commit []Commitment, secret *edwards25519.Scalar, t int, xs []uint32, r io.Reader) error {
	if len(commit) != t || len(ys) != len(xs) || t < 1 {
		panic("secagg: Deal: length mismatch")
	}
	coef, err := drawPoly(secret, t, r)
	if err != nil {
		return err
	}
	pts := make([]edwards25519.Point, t)
	for j := range coef {
		pts[j].ScalarBaseMult(&coef[j])
	}
	encodeCommitments(commit, pts)
	evalPoly(ys, coef, xs)
	return nil
}

// drawPoly returns the coefficients of a random polynomial of degree t-1
// with constant term secret; the other t-1 are drawn from r in order
// (64 bytes each, see randomScalar).
func drawPoly(secret *edwards25519.Scalar, t int, r io.Reader) ([]edwards25519.Scalar, error) {
	coef := make([]edwards25519.Scalar, t)
	coef[0].Set(secret)
	for j := 1; j < t; j++ {
		a, err := randomScalar(r)
		if err != nil {
			return nil, err
		}
		coef[j].Set(a)
	}
	return coef, nil
}

// evalPoly writes f(x) to ys[i] for each x = xs[i], by Horner's rule.
func evalPoly(ys []edwards25519.Scalar, coef []edwards25519.Scalar, xs []uint32) {
	t := len(coef)
	for i, x := range xs {
		xs := scalarFromUint(x)
		y := &ys[i]
		y.Set(&coef[t-1])
		for j := t - 2; j >= 0; j-- {
			y.MultiplyAdd(y, xs, &coef[j])
		}
	}
}

// encodeCommitments writes the affine encoding of pts[j] to commit[j],
// with one field inversion for all the points (Montgomery's batch
// inversion) instead of one per point. The output equals
// encodeCommitment point by point. It panics if the lengths differ.
func encodeCommitments(commit []Commitment, pts []edwards25519.Point) {
	if len(commit) != len(pts) {
		panic("secagg: encodeCommitments: length mismatch")
	}
	n := len(pts)
	if n == 0 {
		return
	}
	// prefix[j] = Z_0·…·Z_j; Z is never zero for a valid point.
	prefix := make([]field.Element, n)
	for j := range pts {
		_, _, Z, _ := pts[j].ExtendedCoordinates()
		if j == 0 {
			prefix[0].Set(Z)
		} else {
			prefix[j].Multiply(&prefix[j-1], Z)
		}
	}
	var inv, zInv, x, y field.Element
	inv.Invert(&prefix[n-1]) // 1/(Z_0·…·Z_{n-1})
	for j := n - 1; j >= 0; j-- {
		X, Y, Z, _ := pts[j].ExtendedCoordinates()
		if j > 0 {
			zInv.Multiply(&inv, &prefix[j-1]) // 1/Z_j
			inv.Multiply(&inv, Z)             // 1/(Z_0·…·Z_{j-1})
		} else {
			zInv.Set(&inv)
		}
		x.Multiply(X, &zInv)
		y.Multiply(Y, &zInv)
		copy(commit[j][:32], x.Bytes())
		copy(commit[j][32:], y.Bytes())
	}
}

// commitHash is SHA-256 of the concatenated commitments.
func commitHash(commits ...[]Commitment) [32]byte {
	h := sha256.New()
	for _, c := range commits {
		for i := range c {
			h.Write(c[i][:])
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

var errBadPoint = errors.New("secagg: commitment is not a valid point")

// decodeCommitments decompresses Feldman commitments.
func decodeCommitments(c []Commitment) ([]edwards25519.Point, error) {
	pts := make([]edwards25519.Point, len(c))
	for i := range c {
		if err := decodeCommitment(&pts[i], &c[i]); err != nil {
			return nil, err
		}
	}
	return pts, nil
}

// mulSmallVarTime sets v = x·p by double-and-add over the non-adjacent
// form of x (digits in {-1, 0, 1}, no two adjacent nonzero), which needs
// about len(x)/3 additions instead of the len(x)/2 of plain binary: for
// x = 250 = 2^8 − 2^3 + 2^1, 8 doublings and 2 additions instead of 7 and
// 5. The doublings use the dedicated formula (see extPoint.double). It is
// variable-time in x, which is a public client id.
func mulSmallVarTime(v, p *edwards25519.Point, x uint32) *edwards25519.Point {
	if x == 0 {
		return v.Set(edwards25519.NewIdentityPoint())
	}
	var naf [34]int8
	n := nafDigits(&naf, x)
	var acc extPoint
	acc.fromPoint(p)
	acc.mulNAF(&acc, &naf, n, true)
	return acc.toPoint(v)
}

// VerifyShareVarTime reports whether y·G == Σ_j C_j·x^j, the Feldman check
// of share (x, y) against the dealer's commitments. It returns false for
// commitments that do not decode. It evaluates the right side by Horner's
// rule in the group; it is variable-time in x only (public).
func VerifyShareVarTime(x uint32, y *edwards25519.Scalar, commit []Commitment) bool {
	c, err := decodeCommitments(commit)
	if err != nil || len(c) == 0 {
		return false
	}
	var rhs extPoint
	if x == 0 {
		rhs.fromPoint(&c[0])
	} else {
		rhs = hornerVarTime(c, x)
	}
	var lhs edwards25519.Point
	lhs.ScalarBaseMult(y)
	return rhs.equalPoint(&lhs)
}

// checkSecret reports whether secret·G encodes to c0 (constant time in the
// secret).
func checkSecret(secret *edwards25519.Scalar, c0 Commitment) bool {
	var p edwards25519.Point
	p.ScalarBaseMult(secret)
	enc := encodeCommitment(&p)
	return subtle.ConstantTimeCompare(enc[:], c0[:]) == 1
}

// lagrangeAtZero writes λ_i = Π_{j≠i} x_j/(x_j - x_i) to lambda, the
// coefficients that interpolate f(0) from f(x_0..x_{t-1}). The x must be
// distinct and nonzero. It uses one field inversion (batch inversion).
func lagrangeAtZero(lambda []edwards25519.Scalar, xs []uint32) {
	t := len(xs)
	xsc := make([]edwards25519.Scalar, t)
	for i, x := range xs {
		xsc[i].Set(scalarFromUint(x))
	}
	num := make([]edwards25519.Scalar, t)
	den := make([]edwards25519.Scalar, t)
	one := scalarFromUint(1)
	var diff edwards25519.Scalar
	for i := range t {
		num[i].Set(one)
		den[i].Set(one)
		for j := range t {
			if j == i {
				continue
			}
			num[i].Multiply(&num[i], &xsc[j])
			diff.Subtract(&xsc[j], &xsc[i])
			den[i].Multiply(&den[i], &diff)
		}
	}
	// Batch inversion: prefix products, one Invert, then unwind.
	prefix := make([]edwards25519.Scalar, t)
	prefix[0].Set(&den[0])
	for i := 1; i < t; i++ {
		prefix[i].Multiply(&prefix[i-1], &den[i])
	}
	var inv edwards25519.Scalar
	inv.Invert(&prefix[t-1])
	for i := t - 1; i >= 0; i-- {
		var di edwards25519.Scalar
		if i > 0 {
			di.Multiply(&inv, &prefix[i-1])
			inv.Multiply(&inv, &den[i])
		} else {
			di.Set(&inv)
		}
		lambda[i].Multiply(&num[i], &di)
	}
}

// Combine interpolates f(0) from shares with distinct nonzero X, using the
// first t of them. It returns an error wrapping [ErrBelowThreshold] when
// fewer than t shares are given.
func Combine(shares []Share, t int) (*edwards25519.Scalar, error) {
	if t < 1 || len(shares) < t {
		return nil, ErrBelowThreshold
	}
	xs := make([]uint32, t)
	for i := range t {
		xs[i] = shares[i].X
		if xs[i] == 0 {
			return nil, ErrDecode
		}
		for j := range i {
			if xs[j] == xs[i] {
				return nil, ErrDuplicate
			}
		}
	}
	lambda := make([]edwards25519.Scalar, t)
	lagrangeAtZero(lambda, xs)
	return combineWith(shares[:t], lambda), nil
}

// combineWith returns Σ λ_i y_i.
func combineWith(shares []Share, lambda []edwards25519.Scalar) *edwards25519.Scalar {
	s := edwards25519.NewScalar()
	for i := range shares {
		s.MultiplyAdd(&lambda[i], &shares[i].Y, s)
	}
	return s
}
