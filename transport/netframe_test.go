package transport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fedgo/fedgo/fl"
)

// knownFrame is the frame of knownMsg, written out by hand from the layout
// in the package documentation.
var knownFrame = strings.Join([]string{
	"46470200",                 // "FG", version 2, flags 0
	"05747261696e",             // type: length 5, "train"
	"03",                       // round 3
	"000000000000f83f",         // weight 1.5
	"02",                       // 2 params
	"01",                       // 1 payload byte
	"01026c72000000000000e03f", // config: 1 entry, "lr" = 0.5
	"00",                       // metrics: none
	"000000000000f03f",         // params[0] = 1
	"00000000000000c0",         // params[1] = -2
	"ab",                       // payload
}, "")

var knownMsg = &fl.Message{Type: "train", Round: 3, Weight: 1.5, Params: []float64{1, -2},
	Payload: []byte{0xab}, Config: fl.Config{"lr": 0.5}}

func TestFrameKnownAnswer(t *testing.T) {
	want, _ := hex.DecodeString(knownFrame)
	if got := AppendFrame(nil, knownMsg); !bytes.Equal(got, want) {
		t.Errorf("AppendFrame = %x\nwant          %x", got, want)
	}
	var buf bytes.Buffer
	n, err := WriteFrame(&buf, knownMsg, Limits{}, FrameOptions{})
	if err != nil || n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteFrame = %x, %d, %v", buf.Bytes(), n, err)
	}
	if got := FrameSize(knownMsg); got != int64(len(want)) {
		t.Errorf("FrameSize = %d, want %d", got, len(want))
	}
	got, err := io.ReadAll(iotest.OneByteReader(NewFrameReader(knownMsg)))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("FrameReader byte by byte = %x, %v", got, err)
	}
	m, n, err := ReadFrame(iotest.HalfReader(bytes.NewReader(want)), Limits{})
	if err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrame: %v (read %d)", err, n)
	}
	if !sameMessage(m, knownMsg) {
		t.Errorf("ReadFrame = %+v, want %+v", m, knownMsg)
	}
}

// sameMessage compares two messages bit for bit (nil and empty alike).
func sameMessage(a, b *fl.Message) bool {
	if a.Type != b.Type || a.Round != b.Round || math.Float64bits(a.Weight) != math.Float64bits(b.Weight) ||
		len(a.Params) != len(b.Params) || !bytes.Equal(a.Payload, b.Payload) ||
		len(a.Config) != len(b.Config) || len(a.Metrics) != len(b.Metrics) {
		return false
	}
	for i := range a.Params {
		if math.Float64bits(a.Params[i]) != math.Float64bits(b.Params[i]) {
			return false
		}
	}
	for k, v := range a.Config {
		if w, ok := b.Config[k]; !ok || math.Float64bits(v) != math.Float64bits(w) {
			return false
		}
	}
	for k, v := range a.Metrics {
		if w, ok := b.Metrics[k]; !ok || math.Float64bits(v) != math.Float64bits(w) {
			return false
		}
	}
	return true
}

func randomMessage(rng *rand.Rand, dim, payload int) *fl.Message {
	m := &fl.Message{Type: "update", Round: rng.IntN(1000), Weight: rng.Float64()}
	if dim > 0 {
		m.Params = make([]float64, dim)
		for i := range m.Params {
			m.Params[i] = rng.NormFloat64()
		}
	}
	if payload > 0 {
		m.Payload = make([]byte, payload)
		for i := range m.Payload {
			m.Payload[i] = byte(rng.IntN(4)) // compressible
		}
	}
	m.Metrics = fl.Metrics{"loss": rng.Float64(), "examples": 10}
	return m
}

func TestFrameRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name         string
		dim, payload int
	}{
		{"empty", 0, 0}, {"params", 1000, 0}, {"payload", 0, 5000},
		{"both", 3, 3}, {"chunks", 3*frameChunk/8 + 5, 2*frameChunk + 1}, {"large", 1 << 18, 0},
	} {
		for _, z := range []bool{false, true} {
			m := randomMessage(rng, tc.dim, tc.payload)
			var buf bytes.Buffer
			n, err := WriteFrame(&buf, m, Limits{}, FrameOptions{Zstd: z})
			if err != nil || n != int64(buf.Len()) {
				t.Fatalf("%s zstd=%v: WriteFrame: %d bytes counted, %d written, %v", tc.name, z, n, buf.Len(), err)
			}
			if !z && n != FrameSize(m) {
				t.Errorf("%s: wrote %d bytes, FrameSize %d", tc.name, n, FrameSize(m))
			}
			got, read, err := ReadFrame(&buf, Limits{})
			if err != nil || read != n {
				t.Fatalf("%s zstd=%v: ReadFrame: %v (read %d of %d)", tc.name, z, err, read, n)
			}
			if !sameMessage(got, m) {
				t.Errorf("%s zstd=%v: round trip changed the message", tc.name, z)
			}
		}
	}
}

func TestFrameRejects(t *testing.T) {
	valid, _ := hex.DecodeString(knownFrame)
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	lim := Limits{MaxParams: 4, MaxPayload: 4, MaxEntries: 2, MaxString: 8}
	head := func(rest string) []byte { b, _ := hex.DecodeString("46470200" + rest); return b }
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"version 1", mutate(func(b []byte) []byte { b[2] = 1; return b }), "version"},
		{"unknown flag", mutate(func(b []byte) []byte { b[3] = 2; return b }), "flags"},
		{"trailing byte", append(bytes.Clone(valid), 0), "trailing"},
		{"params over limit", head("00" + "00" + "0000000000000000" + "05" + "00" + "00" + "00"), "exceeds"},
		{"payload over limit", head("00" + "00" + "0000000000000000" + "00" + "05" + "00" + "00"), "exceeds"},
		{"type over limit", head("09" + "616161616161616161"), "exceeds"},
		{"entries over limit", head("00" + "00" + "0000000000000000" + "00" + "00" + "03"), "exceeds"},
		{"unsorted keys", head("00" + "00" + "0000000000000000" + "00" + "00" + "02" +
			"0162" + "0000000000000000" + "0161" + "0000000000000000" + "00"), "order"},
		{"duplicate keys", head("00" + "00" + "0000000000000000" + "00" + "00" + "02" +
			"0161" + "0000000000000000" + "0161" + "0000000000000000" + "00"), "order"},
		{"varint overflow", head("ffffffffffffffffffff01"), "overflow"},
		{"round out of range", head("00" + "8080808010"), "range"},
		{"zstd garbage", head("")[:3:3], "truncated"},
		{"zstd body not zstd", append([]byte{'F', 'G', 2, 1}, "not zstd at all"...), "zstd"},
	}
	for _, tc := range cases {
		_, _, err := ReadFrame(bytes.NewReader(tc.in), lim)
		if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrFrame mentioning %q", tc.name, err, tc.want)
		}
	}
	for i := range len(valid) {
		if _, _, err := ReadFrame(bytes.NewReader(valid[:i]), Limits{}); !errors.Is(err, ErrFrame) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrFrame", i, err)
		}
	}
}

func TestFrameWriteChecksLimits(t *testing.T) {
	m := &fl.Message{Type: "update", Params: make([]float64, 5)}
	var buf bytes.Buffer
	if _, err := WriteFrame(&buf, m, Limits{MaxParams: 4}, FrameOptions{}); !errors.Is(err, ErrFrameTooLarge) || buf.Len() != 0 {
		t.Errorf("err = %v, %d bytes written; want ErrFrameTooLarge and nothing", err, buf.Len())
	}
}

// TestFrameHostileLengthAllocatesLittle: a frame that claims the largest
// vector the limits allow but carries 8 bytes of it costs a bounded
// amount of memory, not 8 × MaxParams bytes.
func TestFrameHostileLengthAllocatesLittle(t *testing.T) {
	b := []byte{'F', 'G', 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = append(b, 0x80, 0x80, 0x80, 0x80, 0x01) // 1<<28 params
	b = append(b, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := ReadFrame(bytes.NewReader(b), Limits{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFrame) {
		t.Fatalf("err = %v, want ErrFrame", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("allocated %d bytes for a truncated claim of 2 GiB", grew)
	}
}

// TestFrameZstdBounded: a compressed frame whose decompressed lengths
// exceed the limits is refused at the header, however well it compresses.
func TestFrameZstdBounded(t *testing.T) {
	m := &fl.Message{Type: "update", Payload: make([]byte, 1<<20)}
	var buf bytes.Buffer
	if _, err := WriteFrame(&buf, m, Limits{}, FrameOptions{Zstd: true}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 1<<12 {
		t.Fatalf("zeros compressed to %d bytes", buf.Len())
	}
	_, _, err := ReadFrame(&buf, Limits{MaxPayload: 1 << 10})
	if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want the payload limit", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	valid, _ := hex.DecodeString(knownFrame)
	f.Add(valid)
	f.Add(AppendFrame(nil, &fl.Message{}))
	rng := rand.New(rand.NewPCG(1, 1))
	var z bytes.Buffer
	WriteFrame(&z, randomMessage(rng, 20, 30), Limits{}, FrameOptions{Zstd: true})
	f.Add(z.Bytes())
	f.Add(valid[:10])
	f.Add([]byte("FG\x02\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	lim := Limits{MaxParams: 1 << 12, MaxPayload: 1 << 14, MaxEntries: 16, MaxString: 32}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := ReadFrame(bytes.NewReader(b), lim)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error %v does not wrap ErrFrame", err)
			}
			return
		}
		if n != int64(len(b)) {
			t.Fatalf("decoded after %d of %d bytes", n, len(b))
		}
		again, _, err := ReadFrame(bytes.NewReader(AppendFrame(nil, m)), lim)
		if err != nil || !sameMessage(m, again) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
	})
}

// TestFrameZstdWindow: a reader bounds the zstd window by its limits: a
// frame that declares an 8 MiB window is refused under LimitsFor of a
// small model, and the frames WriteFrame makes (whose window fits their
// size) are accepted.
func TestFrameZstdWindow(t *testing.T) {
	lim := LimitsFor(610, 10)
	m := &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: make([]float64, 610)}
	var good bytes.Buffer
	if _, err := WriteFrame(&good, m, lim, FrameOptions{Zstd: true}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ReadFrame(bytes.NewReader(good.Bytes()), lim); err != nil || len(got.Params) != 610 {
		t.Fatalf("ReadFrame of WriteFrame's frame: %v", err)
	}
	// A zstd frame by hand (RFC 8878): magic, a descriptor without
	// single-segment or content size, a window descriptor of 2^23 bytes
	// (exponent 13, mantissa 0), and one raw last block holding the body.
	plain := AppendFrame(nil, m)
	body := plain[4:]
	var big bytes.Buffer
	big.Write(plain[:3])
	big.WriteByte(frameZstd)
	big.Write([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3})
	bh := uint32(1 | len(body)<<3) // last block, raw
	big.Write([]byte{byte(bh), byte(bh >> 8), byte(bh >> 16)})
	big.Write(body)
	if _, _, err := ReadFrame(bytes.NewReader(big.Bytes()), lim); !errors.Is(err, ErrFrame) {
		t.Errorf("an 8 MiB window under LimitsFor(610, 10): err = %v, want ErrFrame", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader(big.Bytes()), Limits{}); err != nil {
		t.Errorf("an 8 MiB window under the default limits: %v", err)
	}
}

// TestLimitsFor checks LimitsFor against its formula and MaxFrameBytes of
// a 610-parameter model against the sum of its parts.
func TestLimitsFor(t *testing.T) {
	got := LimitsFor(610, 10)
	want := Limits{MaxParams: 610, MaxPayload: 16*610 + 1024*10 + 65536, MaxEntries: 256, MaxString: 128}
	if got != want {
		t.Errorf("LimitsFor(610, 10) = %+v, want %+v", got, want)
	}
	head := int64(4 + 5*10 + 128 + 8 + 2*(10+256*(10+128+8)))
	if n := MaxFrameBytes(got); n != head+8*610+int64(want.MaxPayload) || n > 200_000 {
		t.Errorf("MaxFrameBytes = %d, want %d (under 200 kB)", n, head+8*610+int64(want.MaxPayload))
	}
	if LimitsFor(0, 0).MaxParams != 1 {
		t.Error("LimitsFor(0, 0) must still admit a frame")
	}
}
