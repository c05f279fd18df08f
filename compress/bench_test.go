package compress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var benchDims = []int{1e4, 1e6, 1e7}

var benchVecs = map[int][]float64{}

func benchVec(d int) []float64 {
	if v, ok := benchVecs[d]; ok {
		return v
	}
	v := randVec(rand.New(rand.NewPCG(1, uint64(d))), d)
	benchVecs[d] = v
	return v
}

func benchCodecs() []struct {
	name string
	new  func() Codec
} {
	return []struct {
		name string
		new  func() Codec
	}{
		{"float64", func() Codec { return Float64{} }},
		{"float32", func() Codec { return Float32{} }},
		{"float16", func() Codec { return Float16{} }},
		{"bfloat16", func() Codec { return BFloat16{} }},
		{"int8", func() Codec { return must(NewInt8(Int8Config{})) }},
		{"int8b256s", func() Codec { return must(Parse("int8b256s")) }},
		{"qsgd", func() Codec { return must(Parse("qsgd")) }},
		{"topk1%", func() Codec { return must(Parse("topk1%")) }},
		{"randk1%", func() Codec { return must(Parse("randk1%")) }},
		{"sign", func() Codec { return Sign{} }},
		{"topk1%+ef", func() Codec { return must(Parse("topk1%+ef")) }},
		{"topk1%+zstd", func() Codec { return must(Parse("topk1%+zstd")) }},
	}
}

// BenchmarkEncode reports MB/s of float64 input.
func BenchmarkEncode(b *testing.B) {
	for _, bc := range benchCodecs() {
		for _, d := range benchDims {
			b.Run(fmt.Sprintf("%s/d=%d", bc.name, d), func(b *testing.B) {
				v := benchVec(d)
				c := bc.new()
				buf := make([]byte, 0, c.MaxEncodedLen(d))
				b.SetBytes(int64(8 * d))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Encode(buf[:0], v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecode reports MB/s of float64 output.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchCodecs() {
		for _, d := range benchDims {
			b.Run(fmt.Sprintf("%s/d=%d", bc.name, d), func(b *testing.B) {
				c := bc.new()
				p := must(c.Encode(nil, benchVec(d)))
				dst := make([]float64, d)
				b.SetBytes(int64(8 * d))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Decode(dst, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkTopKSelect is the selection alone at k = 1%.
func BenchmarkTopKSelect(b *testing.B) {
	for _, d := range benchDims {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			v := benchVec(d)
			var s topKSelector
			b.SetBytes(int64(8 * d))
			b.ReportAllocs()
			for b.Loop() {
				s.selectTopK(v, d/100)
			}
		})
	}
}

// BenchmarkTopKSortBaseline selects the top 1% by sorting all magnitudes.
func BenchmarkTopKSortBaseline(b *testing.B) {
	for _, d := range benchDims {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			v := benchVec(d)
			keys := make([]uint64, d)
			b.SetBytes(int64(8 * d))
			b.ReportAllocs()
			for b.Loop() {
				for i, x := range v {
					keys[i] = key(x)
				}
				slices.Sort(keys)
				_ = keys[d-d/100]
			}
		})
	}
}

var sinkFloat float64

// BenchmarkSinglePassBaseline reads the vector once, summing |v_i| in four
// independent accumulators (so that it runs at memory speed rather than at
// the latency of one chain of additions).
func BenchmarkSinglePassBaseline(b *testing.B) {
	for _, d := range benchDims {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			v := benchVec(d)
			b.SetBytes(int64(8 * d))
			b.ReportAllocs()
			for b.Loop() {
				var s0, s1, s2, s3 float64
				i := 0
				for ; i+4 <= len(v); i += 4 {
					s0 += math.Abs(v[i])
					s1 += math.Abs(v[i+1])
					s2 += math.Abs(v[i+2])
					s3 += math.Abs(v[i+3])
				}
				for ; i < len(v); i++ {
					s0 += math.Abs(v[i])
				}
				sinkFloat = s0 + s1 + s2 + s3
			}
		})
	}
}
