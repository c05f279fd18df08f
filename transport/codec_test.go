package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
)

// deltaClient answers every train request with a fixed delta and records
// the parameters it was sent.
type deltaClient struct {
	delta []float64
	got   []float64
}

func (d *deltaClient) Train(ctx context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	d.got = append([]float64(nil), global...)
	return fl.Update{Delta: append([]float64(nil), d.delta...), Weight: 1}, nil
}

func mustCodec(t *testing.T, name string) compress.Codec {
	t.Helper()
	c, err := compress.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUplinkAndDownlinkCodecs(t *testing.T) {
	const d = 1000
	params := make([]float64, d)
	delta := make([]float64, d)
	for i := range delta {
		delta[i] = float64(i%17) - 8 + 0.25
		params[i] = float64(i) / 4
	}
	clients := map[string]*deltaClient{"a": {delta: delta}, "b": {delta: delta}}
	mem, err := NewMemory(MemoryConfig{
		IDs: []string{"a", "b"},
		Factory: func(id string) (fl.Handler, error) {
			return fl.Wrap(fl.NewHandler(clients[id], nil),
				DecodeDownlink(mustCodec(t, "float32"), 0), EncodeUplink(mustCodec(t, "float16"))), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pool := CompressUplink(CompressDownlink(mem, mustCodec(t, "float32")), mustCodec(t, "float16"), 0)
	if up, down := fl.PoolEncoding(pool); up != "float16" || down != "float32" {
		t.Errorf("PoolEncoding = %q, %q", up, down)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound = 1, 2
	s, err := fl.NewServer(cfg, pool, params)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The values are exactly representable in float16 and float32, so the
	// round is exact: clients saw the parameters, the server their deltas.
	got := s.Params()
	for i := range got {
		if clients["a"].got[i] != params[i] {
			t.Fatalf("client saw param %d = %v, want %v", i, clients["a"].got[i], params[i])
		}
		if got[i] != params[i]+delta[i] {
			t.Fatalf("param %d = %v, want %v", i, got[i], params[i]+delta[i])
		}
	}
	// Bytes: float32 down (4 bytes a value) and float16 up (2), plus
	// headers, instead of 8 bytes a value each way.
	r := h.Rounds[0]
	if r.BytesDown > 2*(4*d+200) || r.BytesDown < 2*4*d || r.BytesUp > 2*(2*d+200) || r.BytesUp < 2*2*d {
		t.Errorf("bytes down %d up %d for d = %d", r.BytesDown, r.BytesUp, d)
	}
}

// sendReply is a Conn that answers every message with a fixed reply.
type sendReply struct{ reply *fl.Message }

func (c sendReply) ID() string { return "x" }
func (c sendReply) Send(context.Context, *fl.Message) (*fl.Message, error) {
	r := *c.reply
	return &r, nil
}

func TestCompressUplinkRejects(t *testing.T) {
	other, _ := mustCodec(t, "float16").Encode(nil, []float64{1, 2, 3})
	own, _ := mustCodec(t, "int8").Encode(nil, []float64{1, 2, 3})
	send := func(payload []byte, maxLen int) (*fl.Message, error) {
		inner, err := fl.NewPool(sendReply{&fl.Message{Type: fl.TypeUpdate, Payload: payload}})
		if err != nil {
			t.Fatal(err)
		}
		c, ok := CompressUplink(inner, mustCodec(t, "int8"), maxLen).Conn("x")
		if !ok {
			t.Fatal("conn not found")
		}
		return c.Send(context.Background(), &fl.Message{Type: fl.TypeTrain})
	}
	if _, err := send(other, 0); !errors.Is(err, compress.ErrWrongCodec) {
		t.Errorf("foreign codec: %v", err)
	}
	if _, err := send(own, 2); !errors.Is(err, compress.ErrTooLarge) {
		t.Errorf("over the length limit: %v", err)
	}
	if _, err := send(own[:len(own)-1], 0); err == nil {
		t.Error("truncated payload accepted")
	}
	m, err := send(own, 0)
	if err != nil || len(m.Payload) != 0 || len(m.Params) != 3 || math.Abs(m.Params[2]-3) > 0.02 {
		t.Errorf("own payload: %+v %v", m, err)
	}
}

// CompressUplink decodes the replies of a round, which arrive
// concurrently, one at a time: rand-k's Decode regenerates its indices in
// the codec's own generator (run under -race).
func TestCompressUplinkConcurrent(t *testing.T) {
	const n, d = 8, 500
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%d", i)
	}
	mem, err := NewMemory(MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) {
		return fl.Wrap(fl.NewHandler(&deltaClient{delta: make([]float64, d)}, nil), EncodeUplink(mustCodec(t, "randk10%"))), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	pool := CompressUplink(mem, mustCodec(t, "randk10%"), 0)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		c, _ := pool.Conn(id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Send(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, d)})
			if err == nil && len(r.Params) != d {
				err = fmt.Errorf("decoded %d values", len(r.Params))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
