package compress

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// testCodec names a constructor of a fresh codec, and whether its payloads
// decode exactly for inputs representable in float32 (exact32) or in the
// codec's own 16-bit format (exactHalf).
type testCodec struct {
	name      string
	id        CodecID
	new       func(t testing.TB) Codec
	exact32   bool
	exactHalf *refFormat
}

// must returns x; it panics on err, for constructors given valid
// configurations in tests.
func must[T any](x T, err error) T {
	if err != nil {
		panic(err)
	}
	return x
}

func newZstd(t testing.TB) *Zstd { return must(NewZstd(DefaultZstdConfig())) }

func allCodecs() []testCodec {
	return []testCodec{
		{"float64", IDFloat64, func(testing.TB) Codec { return Float64{} }, true, nil},
		{"float32", IDFloat32, func(testing.TB) Codec { return Float32{} }, true, nil},
		{"float16", IDFloat16, func(testing.TB) Codec { return Float16{} }, false, &refFormats[0]},
		{"bfloat16", IDBFloat16, func(testing.TB) Codec { return BFloat16{} }, false, &refFormats[1]},
		{"int8", IDInt8, func(t testing.TB) Codec { return must(NewInt8(Int8Config{})) }, false, nil},
		{"int8b7s", IDInt8, func(t testing.TB) Codec {
			return must(NewInt8(Int8Config{BlockSize: 7, Stochastic: true, Rand: rand.NewPCG(3, 4)}))
		}, false, nil},
		{"qsgd", IDQSGD, func(t testing.TB) Codec { return must(NewQSGD(QSGDConfig{Rand: rand.NewPCG(5, 6)})) }, false, nil},
		{"topk10%", IDTopK, func(t testing.TB) Codec { return must(NewTopK(TopKConfig{Fraction: 0.1})) }, false, nil},
		{"topkall", IDTopK, func(t testing.TB) Codec { return must(NewTopK(TopKConfig{Fraction: 1})) }, true, nil},
		{"randk10%", IDRandK, func(t testing.TB) Codec { return must(NewRandK(RandKConfig{Fraction: 0.1})) }, false, nil},
		{"randkall", IDRandK, func(t testing.TB) Codec { return must(NewRandK(RandKConfig{Fraction: 1})) }, true, nil},
		{"sign", IDSign, func(testing.TB) Codec { return Sign{} }, false, nil},
		{"topk10%+ef", IDTopK, func(t testing.TB) Codec {
			return NewErrorFeedback(must(NewTopK(TopKConfig{Fraction: 0.1})))
		}, false, nil},
		{"float32+zstd", IDChain, func(t testing.TB) Codec { return Chain(Float32{}, newZstd(t)) }, true, nil},
		{"topkall+zstd", IDChain, func(t testing.TB) Codec {
			return Chain(must(NewTopK(TopKConfig{Fraction: 1})), newZstd(t))
		}, true, nil},
	}
}

// randVec returns n normal values rounded to float32.
func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(float32(rng.NormFloat64()))
	}
	return v
}

var testLens = []int{0, 1, 2, 7, 8, 9, 64, 1000, 10007}

func TestCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range allCodecs() {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.new(t)
			for _, n := range testLens {
				if ef, ok := c.(*ErrorFeedback); ok {
					ef.Reset() // the residual's length is fixed until Reset
				}
				v := randVec(rng, n)
				if tc.exactHalf != nil {
					for i := range v {
						h, _ := tc.exactHalf.round(v[i])
						v[i] = tc.exactHalf.value(h)
					}
				}
				prefix := []byte("prefix")
				p, err := c.Encode(bytes.Clone(prefix), v)
				if err != nil {
					t.Fatalf("n=%d: Encode: %v", n, err)
				}
				if !bytes.Equal(p[:len(prefix)], prefix) {
					t.Fatalf("n=%d: Encode overwrote dst's contents", n)
				}
				p = p[len(prefix):]
				if len(p) > c.MaxEncodedLen(n) {
					t.Errorf("n=%d: payload of %d bytes > MaxEncodedLen %d", n, len(p), c.MaxEncodedLen(n))
				}
				h, err := ReadHeader(p)
				if err != nil || h.ID != tc.id || h.Len != n || h.Version != version {
					t.Fatalf("n=%d: header %+v, %v", n, h, err)
				}
				if m, err := c.DecodedLen(p); err != nil || m != n {
					t.Fatalf("n=%d: DecodedLen = %d, %v", n, m, err)
				}
				got := make([]float64, n)
				for i := range got {
					got[i] = math.NaN() // Decode must overwrite every coordinate
				}
				if err := c.Decode(got, p); err != nil {
					t.Fatalf("n=%d: Decode: %v", n, err)
				}
				for i := range got {
					if math.IsNaN(got[i]) {
						t.Fatalf("n=%d: Decode left dst[%d] unset", n, i)
					}
				}
				if tc.exact32 || tc.exactHalf != nil {
					for i := range v {
						if got[i] != v[i] {
							t.Fatalf("n=%d: got[%d] = %v, want %v", n, i, got[i], v[i])
						}
					}
				}
				if n > 0 {
					if err := c.Decode(make([]float64, n+1), p); !errors.Is(err, ErrLength) {
						t.Errorf("n=%d: Decode into n+1: err = %v, want ErrLength", n, err)
					}
				}
			}
		})
	}
}

// TestCodecRejectsNonFinite checks every Encode rejects NaN and ±Inf at any
// position, leaving dst as it was.
func TestCodecRejectsNonFinite(t *testing.T) {
	bad := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Float64frombits(0x7FF0000000000001)}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range allCodecs() {
		c := tc.new(t)
		for _, n := range []int{1, 9, 20000} {
			for _, pos := range []int{0, n / 2, n - 1} {
				for _, b := range bad {
					v := randVec(rng, n)
					v[pos] = b
					dst := []byte{1, 2, 3}
					out, err := c.Encode(dst, v)
					if !errors.Is(err, ErrNonFinite) {
						t.Errorf("%s n=%d v[%d]=%v: err = %v, want ErrNonFinite", tc.name, n, pos, b, err)
					}
					if len(out) != 3 {
						t.Errorf("%s: on error returned %d bytes, want dst", tc.name, len(out))
					}
				}
			}
		}
	}
}

// TestCodecRejectsOtherPayloads decodes each codec's payload with every
// other codec: a codec must refuse a payload written by a different one.
func TestCodecRejectsOtherPayloads(t *testing.T) {
	v := randVec(rand.New(rand.NewPCG(5, 6)), 100)
	codecs := allCodecs()
	for _, enc := range codecs {
		p := must(enc.new(t).Encode(nil, v))
		for _, dec := range codecs {
			if dec.id == enc.id {
				continue
			}
			d := dec.new(t)
			if _, err := d.DecodedLen(p); !errors.Is(err, ErrWrongCodec) {
				t.Errorf("%s payload, %s DecodedLen: err = %v, want ErrWrongCodec", enc.name, dec.name, err)
			}
			if err := d.Decode(make([]float64, 100), p); !errors.Is(err, ErrWrongCodec) {
				t.Errorf("%s payload, %s Decode: err = %v, want ErrWrongCodec", enc.name, dec.name, err)
			}
		}
	}
}

// TestCodecRejectsEveryTruncation decodes every proper prefix of a payload
// and a payload with a byte appended: all must fail, none may panic.
func TestCodecRejectsEveryTruncation(t *testing.T) {
	v := randVec(rand.New(rand.NewPCG(7, 8)), 50)
	for _, tc := range allCodecs() {
		c := tc.new(t)
		p := must(c.Encode(nil, v))
		dst := make([]float64, 50)
		for i := range len(p) {
			if err := c.Decode(dst, p[:i]); err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded", tc.name, i, len(p))
			}
		}
		if err := c.Decode(dst, append(bytes.Clone(p), 0)); err == nil {
			t.Errorf("%s: payload with a trailing byte decoded", tc.name)
		}
		q := bytes.Clone(p)
		q[2] = version + 1
		if err := c.Decode(dst, q); !errors.Is(err, ErrVersion) {
			t.Errorf("%s: version %d: err = %v, want ErrVersion", tc.name, q[2], err)
		}
	}
}

func TestCodecMaxLen(t *testing.T) {
	v := make([]float64, 11)
	small := []Codec{
		Float64{MaxLen: 10}, Float32{MaxLen: 10}, Float16{MaxLen: 10}, BFloat16{MaxLen: 10}, Sign{MaxLen: 10},
		must(NewInt8(Int8Config{MaxLen: 10})),
		must(NewQSGD(QSGDConfig{MaxLen: 10})),
		must(NewTopK(TopKConfig{MaxLen: 10})),
		must(NewRandK(RandKConfig{MaxLen: 10})),
	}
	for i, c := range small {
		if _, err := c.Encode(nil, v); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: Encode of 11 with MaxLen 10: err = %v", c.Name(), err)
		}
		big := must(allCodecs()[[]int{0, 1, 2, 3, 11, 4, 6, 7, 9}[i]].new(t).Encode(nil, v))
		if _, err := c.DecodedLen(big); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: DecodedLen of 11 with MaxLen 10: err = %v", c.Name(), err)
		}
		if err := c.Decode(v, big); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: Decode of 11 with MaxLen 10: err = %v", c.Name(), err)
		}
	}
	ch := Chain(Float32{MaxLen: 10}, newZstd(t))
	p := must(Chain(Float32{}, newZstd(t)).Encode(nil, v))
	if _, err := ch.DecodedLen(p); !errors.Is(err, ErrTooLarge) {
		t.Errorf("chain: DecodedLen of 11 with inner MaxLen 10: err = %v", err)
	}
}

func TestCodecOverflow(t *testing.T) {
	tests := []struct {
		c Codec
		x float64
	}{
		{Float32{}, 1e39},
		{Float16{}, 1e5},
		{BFloat16{}, 1e300},
		{must(NewTopK(TopKConfig{K: 1})), -1e300},
		{must(NewRandK(RandKConfig{Fraction: 1})), 1e300},
	}
	for _, tt := range tests {
		if _, err := tt.c.Encode(nil, []float64{0.5, tt.x}); !errors.Is(err, ErrOverflow) {
			t.Errorf("%s(%v): err = %v, want ErrOverflow", tt.c.Name(), tt.x, err)
		}
	}
	// Codecs with a float64 scale take the whole float64 range.
	huge := []float64{math.MaxFloat64 / 2, -math.MaxFloat64 / 3, 1}
	for _, c := range []Codec{Float64{}, Sign{}, must(NewInt8(Int8Config{})), must(NewQSGD(QSGDConfig{}))} {
		p, err := c.Encode(nil, huge)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		got := make([]float64, 3)
		if err := c.Decode(got, p); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		for i, x := range got {
			if math.IsInf(x, 0) || math.IsNaN(x) {
				t.Errorf("%s: got[%d] = %v", c.Name(), i, x)
			}
		}
	}
	// int8's scale is kept so that 127·scale is finite.
	p := must(must(NewInt8(Int8Config{})).Encode(nil, []float64{-math.MaxFloat64}))
	got := make([]float64, 1)
	if err := must(NewInt8(Int8Config{})).Decode(got, p); err != nil || math.IsInf(got[0], 0) {
		t.Errorf("int8(-MaxFloat64) decodes to %v, %v", got[0], err)
	}
	// QSGD's norm must be finite.
	if _, err := must(NewQSGD(QSGDConfig{})).Encode(nil, []float64{math.MaxFloat64, math.MaxFloat64}); !errors.Is(err, ErrOverflow) {
		t.Errorf("qsgd with ‖v‖ > MaxFloat64: err = %v, want ErrOverflow", err)
	}
}

// TestCodecAllocs checks Encode and Decode do not allocate once warm.
func TestCodecAllocs(t *testing.T) {
	v := randVec(rand.New(rand.NewPCG(9, 10)), 20000)
	for _, tc := range allCodecs() {
		c := tc.new(t)
		buf := make([]byte, 0, c.MaxEncodedLen(len(v)))
		dst := make([]float64, len(v))
		var p []byte
		for range 10 { // warm up scratch buffers and zstd's internal state
			p = must(c.Encode(buf[:0], v))
			if err := c.Decode(dst, p); err != nil {
				t.Fatal(err)
			}
		}
		enc := testing.AllocsPerRun(5, func() {
			var err error
			if p, err = c.Encode(buf[:0], v); err != nil {
				t.Fatal(err)
			}
		})
		dec := testing.AllocsPerRun(5, func() {
			if err := c.Decode(dst, p); err != nil {
				t.Fatal(err)
			}
		})
		if raceEnabled && tc.id == IDChain {
			continue // see raceEnabled
		}
		if enc != 0 || dec != 0 {
			t.Errorf("%s: allocs Encode %v, Decode %v; want 0", tc.name, enc, dec)
		}
	}
}
