package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZstdCompresses(t *testing.T) {
	v := make([]float64, 100000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(v); i += 100 {
		v[i] = rng.NormFloat64()
	}
	plain := must(Float64{}.Encode(nil, v))
	ch := Chain(Float64{}, newZstd(t))
	packed := must(ch.Encode(nil, v))
	if len(packed)*20 > len(plain) {
		t.Errorf("zstd of a 99%%-zero vector: %d bytes from %d", len(packed), len(plain))
	}
	got := make([]float64, len(v))
	if err := ch.Decode(got, packed); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("got[%d] = %v, want %v", i, got[i], v[i])
		}
	}
}

// bomb returns a chain payload declaring 10 float32 coordinates whose zstd
// body inflates to 16 MiB; withFCS selects whether the frame declares it.
func bomb(t *testing.T, withFCS bool) []byte {
	p := appendHeader(nil, IDChain, 10)
	p = append(p, StageZstd)
	p = appendHeader(p, IDFloat32, 10)
	zeros := make([]byte, 16<<20)
	if withFCS {
		enc := must(zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)))
		return enc.EncodeAll(zeros, p)
	}
	var buf bytes.Buffer
	enc := must(zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1)))
	must(enc.Write(zeros))
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return append(p, buf.Bytes()...)
}

// TestZstdBounded checks a payload that inflates beyond what its declared
// length allows is rejected without allocating the inflated size.
func TestZstdBounded(t *testing.T) {
	ch := Chain(Float32{}, newZstd(t))
	dst := make([]float64, 10)
	for _, fcs := range []bool{true, false} {
		p := bomb(t, fcs)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := ch.Decode(dst, p)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("fcs=%v: err = %v, want ErrCorrupt", fcs, err)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 4<<20 {
			t.Errorf("fcs=%v: decoding a bomb allocated %d bytes", fcs, a)
		}
	}
}

func TestZstdMaxDecodedBytes(t *testing.T) {
	v := make([]float64, 1000)
	p := must(Chain(Float64{}, newZstd(t)).Encode(nil, v))
	small := Chain(Float64{}, must(NewZstd(ZstdConfig{MaxDecodedBytes: 1000})))
	if err := small.Decode(make([]float64, 1000), p); !errors.Is(err, ErrCorrupt) {
		t.Errorf("8000-byte body with MaxDecodedBytes 1000: err = %v", err)
	}
}

func TestZstdChainRejects(t *testing.T) {
	v := randVec(rand.New(rand.NewPCG(3, 4)), 10)
	p := must(Chain(Float32{}, newZstd(t)).Encode(nil, v))
	dst := make([]float64, 10)
	// Another inner codec.
	if err := Chain(Float16{}, newZstd(t)).Decode(dst, p); !errors.Is(err, ErrWrongCodec) {
		t.Errorf("float32+zstd payload, float16+zstd decoder: err = %v", err)
	}
	// Another stage id.
	q := bytes.Clone(p)
	q[HeaderSize] = 99
	if err := Chain(Float32{}, newZstd(t)).Decode(dst, q); !errors.Is(err, ErrWrongCodec) {
		t.Errorf("stage 99: err = %v", err)
	}
	// Outer and inner lengths disagree.
	q = bytes.Clone(p)
	q[3] = 9
	if err := Chain(Float32{}, newZstd(t)).Decode(make([]float64, 9), q); !errors.Is(err, ErrCorrupt) {
		t.Errorf("length mismatch: err = %v", err)
	}
	// The unchained codec refuses a chained payload.
	if err := (Float32{}).Decode(dst, p); !errors.Is(err, ErrWrongCodec) {
		t.Errorf("float32 decoding float32+zstd: err = %v", err)
	}
}

// TestZstdNoGoroutines checks building and using zstd stages leaves no
// goroutine running.
func TestZstdNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	v := randVec(rand.New(rand.NewPCG(5, 6)), 50000)
	for range 5 {
		ch := Chain(Float32{}, newZstd(t))
		if err := ch.Decode(make([]float64, len(v)), must(ch.Encode(nil, v))); err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before, %d after", before, after)
	}
}

// TestZstdHugeWindow decodes a hand-made frame (RFC 8878 §3.1.1) that
// declares a 4 GiB window but 4000 bytes of content: the allocation follows
// the content, not the window.
func TestZstdHugeWindow(t *testing.T) {
	p := appendHeader(nil, IDChain, 1000)
	p = append(p, StageZstd)
	p = appendHeader(p, IDFloat32, 1000)
	p = binary.LittleEndian.AppendUint32(p, 0xFD2FB528) // frame magic
	p = append(p, 1<<6)                                 // descriptor: 2-byte content size, multi-segment
	p = append(p, 22<<3)                                // window descriptor: log 10+22 = 32
	p = binary.LittleEndian.AppendUint16(p, 4000-256)   // content size − 256
	blk := uint32(1) | 4000<<3                          // last block, raw, 4000 bytes
	p = append(p, byte(blk), byte(blk>>8), byte(blk>>16))
	p = append(p, make([]byte, 4000)...) // 1000 float32 zeros
	ch := Chain(Float32{}, newZstd(t))
	dst := make([]float64, 1000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := ch.Decode(dst, p)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("decoding 4000 bytes with a 4 GiB window allocated %d bytes", a)
	}
}
