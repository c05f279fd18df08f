package compress

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// fuzzMaxLen bounds the vectors fuzzed decoders accept, so that a hostile
// declared length cannot make the target allocate much.
const fuzzMaxLen = 1 << 16

// fuzzSeeds returns valid payloads of c for several lengths, their
// truncations, a corrupted copy, and headers declaring absurd lengths.
func fuzzSeeds(c Codec, id CodecID) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var seeds [][]byte
	for _, n := range []int{0, 1, 3, 8, 9, 100} {
		v := randVec(rng, n)
		p, err := c.Encode(nil, v)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, p, p[:len(p)/2], p[:min(len(p), HeaderSize)])
		q := bytes.Clone(p)
		q[len(q)-1] ^= 0xFF
		seeds = append(seeds, q)
	}
	for _, n := range []uint32{fuzzMaxLen, fuzzMaxLen + 1, math.MaxUint32} {
		h := appendHeader(nil, id, 0)
		binary.LittleEndian.PutUint32(h[3:], n)
		seeds = append(seeds, h, append(h, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2, 3))
	}
	return append(seeds, nil, []byte{magic}, []byte("garbage payload"))
}

// fuzzDecoder checks that c's decoder never panics, that every length it
// reports is bounded by fuzzMaxLen, and that what it accepts is finite.
// When lossless, a decoded payload must re-encode to the same bytes
// (the wire format is canonical).
func fuzzDecoder(f *testing.F, c Codec, id CodecID, lossless bool) {
	for _, s := range fuzzSeeds(c, id) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := c.DecodedLen(data)
		if err != nil {
			if c.Decode(nil, data) == nil {
				t.Fatal("DecodedLen fails but Decode(nil) succeeds")
			}
			return
		}
		if n < 0 || n > fuzzMaxLen {
			t.Fatalf("DecodedLen = %d beyond MaxLen %d", n, fuzzMaxLen)
		}
		dst := make([]float64, n)
		if err := c.Decode(dst, data); err != nil {
			return
		}
		for i, x := range dst {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("decoded[%d] = %v", i, x)
			}
		}
		if lossless {
			p, err := c.Encode(nil, dst)
			if err != nil {
				t.Fatalf("re-encoding a decoded payload: %v", err)
			}
			if !bytes.Equal(p, data) {
				t.Fatalf("re-encoding gives %x, payload was %x", p, data)
			}
		}
	})
}

func FuzzFloat64(f *testing.F)  { fuzzDecoder(f, Float64{MaxLen: fuzzMaxLen}, IDFloat64, true) }
func FuzzFloat32(f *testing.F)  { fuzzDecoder(f, Float32{MaxLen: fuzzMaxLen}, IDFloat32, true) }
func FuzzFloat16(f *testing.F)  { fuzzDecoder(f, Float16{MaxLen: fuzzMaxLen}, IDFloat16, true) }
func FuzzBFloat16(f *testing.F) { fuzzDecoder(f, BFloat16{MaxLen: fuzzMaxLen}, IDBFloat16, true) }
func FuzzSign(f *testing.F)     { fuzzDecoder(f, Sign{MaxLen: fuzzMaxLen}, IDSign, false) }

func FuzzInt8(f *testing.F) {
	fuzzDecoder(f, must(NewInt8(Int8Config{BlockSize: 4, MaxLen: fuzzMaxLen})), IDInt8, false)
}

func FuzzQSGD(f *testing.F) {
	fuzzDecoder(f, must(NewQSGD(QSGDConfig{S: 3, MaxLen: fuzzMaxLen})), IDQSGD, false)
}

func FuzzTopK(f *testing.F) {
	fuzzDecoder(f, must(NewTopK(TopKConfig{Fraction: 0.3, MaxLen: fuzzMaxLen})), IDTopK, false)
}

func FuzzRandK(f *testing.F) {
	fuzzDecoder(f, must(NewRandK(RandKConfig{Fraction: 0.3, MaxLen: fuzzMaxLen})), IDRandK, false)
}

func FuzzChainZstd(f *testing.F) {
	z := must(NewZstd(DefaultZstdConfig()))
	fuzzDecoder(f, Chain(must(NewTopK(TopKConfig{Fraction: 0.5, MaxLen: fuzzMaxLen})), z), IDChain, false)
}
