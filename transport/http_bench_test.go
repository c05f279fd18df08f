package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// fixedReply answers every task with the same update.
type fixedReply struct{ params []float64 }

func (f fixedReply) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: f.params, Weight: 1}, nil
}

func benchNet(b *testing.B, o netOptions, up, down int) {
	params := make([]float64, up)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range params {
		params[i] = rng.NormFloat64()
	}
	e := startNet(b, o, map[string]fl.Handler{"a": fixedReply{params}})
	c := connOf2(b, e.pool, "a")
	req := &fl.Message{Type: fl.TypeTrain, Params: make([]float64, down)}
	b.SetBytes(8 * int64(up+down))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req.Round = i
		r, err := c.Send(context.Background(), req)
		if err != nil || len(r.Params) != up {
			b.Fatal(err)
		}
	}
}

func connOf2(b testing.TB, p *HTTPPool, id string) fl.Conn {
	for _, c := range fl.Reachable(p) {
		if c.ID() == id {
			return c
		}
	}
	b.Fatalf("no client %q", id)
	return nil
}

// BenchmarkHTTPRoundTrip is one task and its result over loopback TLS 1.3
// and HTTP/2: ns/op is the per-message overhead of the network transport.
func BenchmarkHTTPRoundTrip(b *testing.B) {
	for _, n := range []int{1 << 7, 1 << 14} {
		b.Run(fmt.Sprintf("update=%dB", 8*n), func(b *testing.B) { benchNet(b, netOptions{}, n, n) })
	}
}

// BenchmarkHTTPUpload posts a large update (100 MB at the largest size)
// over loopback TLS 1.3 and HTTP/2; MB/s is the upload throughput.
func BenchmarkHTTPUpload(b *testing.B) {
	for _, n := range []int{1 << 17, 100_000_000 / 8} {
		b.Run(fmt.Sprintf("update=%dMB", 8*n/1_000_000), func(b *testing.B) { benchNet(b, netOptions{}, n, 1) })
	}
}

// BenchmarkHTTPDownload sends large global parameters to one client.
func BenchmarkHTTPDownload(b *testing.B) {
	b.Run("params=100MB", func(b *testing.B) { benchNet(b, netOptions{}, 1, 100_000_000/8) })
}

func BenchmarkFrame(b *testing.B) {
	for _, n := range []int{1e3, 1e5, 1e7} {
		m := randomMessage(rand.New(rand.NewPCG(1, 2)), n, 0)
		enc := AppendFrame(nil, m)
		b.Run(fmt.Sprintf("write/d=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := WriteFrame(io.Discard, m, Limits{}, FrameOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("reader/d=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			buf := make([]byte, 64<<10)
			for b.Loop() {
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{NewFrameReader(m)}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("read/d=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ReadFrame(bytes.NewReader(enc), Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The baseline: copying the same bytes once.
		b.Run(fmt.Sprintf("memcpy/d=%d", n), func(b *testing.B) {
			dst := make([]byte, len(enc))
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				copy(dst, enc)
			}
		})
	}
}
