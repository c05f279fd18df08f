package compress

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// refFormat describes a 16-bit format from the IEEE 754 definition, for the
// naive reference conversions below.
type refFormat struct {
	name      string
	codec     Codec
	expBits   int
	fracBits  int
	bias      int
	maxFinite uint16 // largest finite positive pattern
}

var refFormats = []refFormat{
	{"float16", Float16{}, 5, 10, 15, 0x7BFF},
	{"bfloat16", BFloat16{}, 8, 7, 127, 0x7F7F},
}

// value is the definition: (−1)^s·2^(1−bias)·(0.m) for e = 0 and
// (−1)^s·2^(e−bias)·(1.m) otherwise; for e = max it returns the value the
// normal formula gives (the "next" value past the largest finite one).
func (r refFormat) value(h uint16) float64 {
	s := h >> 15
	e := int(h>>r.fracBits) & (1<<r.expBits - 1)
	m := float64(int(h) & (1<<r.fracBits - 1))
	var x float64
	if e == 0 {
		x = math.Ldexp(m/math.Ldexp(1, r.fracBits), 1-r.bias)
	} else {
		x = math.Ldexp(1+m/math.Ldexp(1, r.fracBits), e-r.bias)
	}
	if s == 1 {
		x = -x
	}
	return x
}

// round returns the pattern nearest to x (ties to even) by binary search
// over the ordered positive patterns, and ok = false when x rounds past the
// largest finite value.
func (r refFormat) round(x float64) (uint16, bool) {
	a := math.Abs(x)
	lo, hi := uint16(0), r.maxFinite+1 // value(lo) <= a < value(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if r.value(mid) <= a {
			lo = mid
		} else {
			hi = mid
		}
	}
	var h uint16
	if vl := r.value(lo); vl == a {
		h = lo
	} else {
		m := (vl + r.value(hi)) / 2 // exact in float64
		switch {
		case a < m:
			h = lo
		case a > m:
			h = hi
		case lo%2 == 0:
			h = lo
		default:
			h = hi
		}
	}
	if h > r.maxFinite {
		return 0, false
	}
	if math.Signbit(x) {
		h |= 0x8000
	}
	return h, true
}

func encode1(t *testing.T, c Codec, x float64) (uint16, error) {
	t.Helper()
	p, err := c.Encode(nil, []float64{x})
	if err != nil {
		return 0, err
	}
	if len(p) != HeaderSize+2 {
		t.Fatalf("%s: payload of %d bytes", c.Name(), len(p))
	}
	return uint16(p[HeaderSize]) | uint16(p[HeaderSize+1])<<8, nil
}

func decode1(t *testing.T, c Codec, h uint16) (float64, error) {
	t.Helper()
	p := appendHeader(nil, map[string]CodecID{"float16": IDFloat16, "bfloat16": IDBFloat16}[c.Name()], 1)
	p = append(p, byte(h), byte(h>>8))
	dst := make([]float64, 1)
	err := c.Decode(dst, p)
	return dst[0], err
}

// TestHalfExhaustive decodes every 16-bit pattern, checks the value against
// the definition, and encodes it back to the same pattern.
func TestHalfExhaustive(t *testing.T) {
	for _, r := range refFormats {
		for i := range 1 << 16 {
			h := uint16(i)
			e := int(h>>r.fracBits) & (1<<r.expBits - 1)
			got, err := decode1(t, r.codec, h)
			if e == 1<<r.expBits-1 {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: decode(%#04x) (Inf/NaN) err = %v, want ErrCorrupt", r.name, h, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: decode(%#04x): %v", r.name, h, err)
			}
			want := r.value(h)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("%s: decode(%#04x) = %v, want %v", r.name, h, got, want)
			}
			back, err := encode1(t, r.codec, got)
			if err != nil || back != h {
				t.Fatalf("%s: encode(decode(%#04x)) = %#04x, %v", r.name, h, back, err)
			}
		}
	}
}

// TestHalfMidpoints checks round-to-nearest-even at every midpoint between
// consecutive finite values, and one float64 ulp on either side of it.
func TestHalfMidpoints(t *testing.T) {
	for _, r := range refFormats {
		for h := uint16(0); h < r.maxFinite; h++ {
			lo, hi := r.value(h), r.value(h+1)
			m := (lo + hi) / 2
			even := h
			if h%2 == 1 {
				even = h + 1
			}
			for _, sign := range []float64{1, -1} {
				mask := uint16(0)
				if sign < 0 {
					mask = 0x8000
				}
				cases := []struct {
					x    float64
					want uint16
				}{
					{sign * m, even | mask},
					{sign * math.Nextafter(m, 0), h | mask},
					{sign * math.Nextafter(m, math.Inf(1)), (h + 1) | mask},
				}
				for _, c := range cases {
					got, err := encode1(t, r.codec, c.x)
					if err != nil || got != c.want {
						t.Fatalf("%s: encode(%v) = %#04x, %v; want %#04x", r.name, c.x, got, err, c.want)
					}
				}
			}
		}
	}
}

// TestHalfRandom compares the encoder with the reference on random float64
// values spread over the whole exponent range of each format, overflow
// included.
func TestHalfRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range refFormats {
		emin, emax := -r.bias-r.fracBits-3, r.bias+2
		for range 100000 {
			x := math.Ldexp(1+rng.Float64(), emin+rng.IntN(emax-emin))
			if rng.IntN(2) == 0 {
				x = -x
			}
			want, ok := r.round(x)
			got, err := encode1(t, r.codec, x)
			if !ok {
				if !errors.Is(err, ErrOverflow) {
					t.Fatalf("%s: encode(%v) = %#04x, %v; want ErrOverflow", r.name, x, got, err)
				}
				continue
			}
			if err != nil || got != want {
				t.Fatalf("%s: encode(%v) = %#04x, %v; want %#04x", r.name, x, got, err, want)
			}
		}
	}
}

func TestHalfKnownValues(t *testing.T) {
	tests := []struct {
		c    Codec
		x    float64
		want uint16
		err  error
	}{
		{Float16{}, 1, 0x3C00, nil},
		{Float16{}, -2, 0xC000, nil},
		{Float16{}, 65504, 0x7BFF, nil},
		{Float16{}, 65519.99, 0x7BFF, nil},
		{Float16{}, 65520, 0, ErrOverflow},
		{Float16{}, 0x1p-24, 0x0001, nil},         // smallest subnormal
		{Float16{}, 0x1p-25, 0x0000, nil},         // tie: rounds to even (zero)
		{Float16{}, 0x1.0000001p-25, 0x0001, nil}, // just above the tie
		{Float16{}, 0x1p-14, 0x0400, nil},         // smallest normal
		{Float16{}, 0x1.ffcp-15, 0x0400, nil},     // largest subnormal + half ulp: ties to even = min normal
		{Float16{}, math.Copysign(0, -1), 0x8000, nil},
		// 1 + 2^-11 + 2^-40 is above the midpoint between 1 and 1+2^-10;
		// rounding through float32 first would lose 2^-40 and tie to 1.
		{Float16{}, 1 + 0x1p-11 + 0x1p-40, 0x3C01, nil},
		{Float16{}, math.Inf(1), 0, ErrNonFinite},
		{Float16{}, math.NaN(), 0, ErrNonFinite},
		{BFloat16{}, 1, 0x3F80, nil},
		{BFloat16{}, math.MaxFloat32, 0, ErrOverflow}, // rounds up past 0x7F7F
		{BFloat16{}, 0x1.fep127, 0x7F7F, nil},
		{BFloat16{}, 0x1p-133, 0x0001, nil},
		{BFloat16{}, math.Inf(-1), 0, ErrNonFinite},
	}
	for _, tt := range tests {
		got, err := encode1(t, tt.c, tt.x)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s(%v): err = %v, want %v", tt.c.Name(), tt.x, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s(%v) = %#04x, %v; want %#04x", tt.c.Name(), tt.x, got, err, tt.want)
		}
	}
}
