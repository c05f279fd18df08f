package detmath

import (
	"math"
	"math/big"
	"sync"
)

// The slow references below evaluate e^x and ln y with math/big at 320
// bits and round once to float64 (big.Float.Float64 rounds to nearest
// even, subnormals included), so they are correctly rounded for every
// input a test gives them. They share nothing with Exp and Log.

const refPrec = 320

func newRef() *big.Float { return new(big.Float).SetPrec(refPrec) }

// bigExp returns e^x as a big.Float (see bigExpBig).
func bigExp(x float64) *big.Float {
	return bigExpBig(newRef().SetFloat64(x))
}

// refExp returns e^x correctly rounded.
func refExp(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return x
	case math.IsInf(x, 1) || x > 710:
		return math.Inf(1)
	case math.IsInf(x, -1) || x < -746:
		return 0
	}
	f, _ := bigExp(x).Float64()
	return f
}

// bigAtanh2 returns 2·atanh(t) = ln((1+t)/(1−t)) for |t| ≤ 1/3 by its
// series 2·Σ t^(2k+1)/(2k+1).
func bigAtanh2(t *big.Float) *big.Float {
	t2 := newRef().Mul(t, t)
	pow := newRef().Set(t)
	sum := newRef().Set(t)
	eps := newRef().SetMantExp(newRef().SetInt64(1), -refPrec-8)
	for k := int64(1); ; k++ {
		pow.Mul(pow, t2)
		term := newRef().Quo(pow, newRef().SetInt64(2*k+1))
		sum.Add(sum, term)
		if newRef().Abs(term).Cmp(eps) < 0 {
			break
		}
	}
	return sum.Mul(sum, newRef().SetInt64(2))
}

var ln2 = sync.OnceValue(func() *big.Float {
	// ln 2 = 2·atanh(1/3).
	return bigAtanh2(newRef().Quo(newRef().SetInt64(1), newRef().SetInt64(3)))
})

// refLog returns ln y correctly rounded.
func refLog(y float64) float64 {
	switch {
	case math.IsNaN(y) || math.IsInf(y, 1):
		return y
	case y < 0:
		return math.NaN()
	case y == 0:
		return math.Inf(-1)
	case y == 1:
		return 0
	}
	// y = m·2^e with m in [1/√2, √2), so t = (m−1)/(m+1) is within ±0.172.
	m := newRef()
	e := newRef().SetFloat64(y).MantExp(m) // m in [0.5, 1)
	if m.Cmp(newRef().SetFloat64(math.Sqrt2/2)) < 0 {
		m.SetMantExp(m, 1)
		e--
	}
	one := newRef().SetInt64(1)
	t := newRef().Quo(newRef().Sub(m, one), newRef().Add(m, one))
	l := bigAtanh2(t)
	l.Add(l, newRef().Mul(newRef().SetInt64(int64(e)), ln2()))
	f, _ := l.Float64()
	return f
}

// refNormal is the ziggurat of Normal written out again with refExp and
// refLog in place of Exp and Log: it shares the tables (which
// TestNormalMatchesStdlib checks against math/rand/v2's) and nothing else.
func refNormal(r interface{ Uint64() uint64 }) float64 {
	uniform := func() float64 { return float64(r.Uint64()&(1<<53-1)) * 0x1p-53 }
	for {
		u := r.Uint64()
		j := int32(u)
		i := (u >> 32) % 128
		x := float64(j) * float64(wn[i])
		aj := int64(j)
		if aj < 0 {
			aj = -aj
		}
		if aj < int64(kn[i]) {
			return x
		}
		if i == 0 {
			for {
				x = float64(-refLog(uniform()) * (1 / 3.442619855899))
				y := -refLog(uniform())
				if float64(2*y) >= float64(x*x) {
					break
				}
			}
			if j > 0 {
				return 3.442619855899 + x
			}
			return -3.442619855899 - x
		}
		lhs := fn[i] + float32(float32(uniform())*(fn[i-1]-fn[i]))
		if lhs < float32(refExp(float64(-0.5*x)*x)) {
			return x
		}
	}
}

// bigLn returns ln y as a big.Float, y > 0 finite.
func bigLn(y float64) *big.Float {
	m := newRef()
	e := newRef().SetFloat64(y).MantExp(m)
	if m.Cmp(newRef().SetFloat64(math.Sqrt2/2)) < 0 {
		m.SetMantExp(m, 1)
		e--
	}
	one := newRef().SetInt64(1)
	l := bigAtanh2(newRef().Quo(newRef().Sub(m, one), newRef().Add(m, one)))
	return l.Add(l, newRef().Mul(newRef().SetInt64(int64(e)), ln2()))
}

// bigExpBig returns e^r for a big.Float r of moderate size: the Taylor
// series of e^(r/2^s), with s chosen so that |r/2^s| < 2^-8, squared s
// times.
func bigExpBig(r *big.Float) *big.Float {
	s := max(0, r.MantExp(nil)+8)
	x := newRef().SetMantExp(r, -s)
	sum, term := newRef().SetInt64(1), newRef().SetInt64(1)
	eps := newRef().SetMantExp(newRef().SetInt64(1), -refPrec-8)
	for n := int64(1); ; n++ {
		term.Mul(term, x)
		term.Quo(term, newRef().SetInt64(n))
		sum.Add(sum, term)
		if newRef().Abs(term).Cmp(eps) < 0 {
			break
		}
	}
	for range s {
		sum.Mul(sum, sum)
	}
	return sum
}
