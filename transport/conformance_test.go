package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
)

// makePool builds a pool whose clients answer with handlers (keyed by
// client id); it registers its own teardown with t.Cleanup.
type makePool func(t *testing.T, handlers map[string]fl.Handler) fl.Pool

// testPool is the conformance suite every transport passes: what the
// server sees must not depend on whether its clients are in memory or
// across a network.
func testPool(t *testing.T, mk makePool) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, mk) })
	t.Run("ByteExact", func(t *testing.T) { testByteExact(t, mk) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, mk) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, mk) })
	t.Run("Deadline", func(t *testing.T) { testDeadline(t, mk) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, mk) })
	t.Run("Server", func(t *testing.T) { testServerRun(t, mk) })
	t.Run("fltest", func(t *testing.T) {
		fltest.TestPool(t, func(t *testing.T, ids []string, h func(string) fl.Handler) fl.Pool {
			handlers := map[string]fl.Handler{}
			for _, id := range ids {
				handlers[id] = h(id)
			}
			return mk(t, handlers)
		})
	})
}

// The compression wrappers pass the pool conformance suite too (with a
// lossless codec, so that the suite's exact checks hold).
func TestConformanceCodecWrappers(t *testing.T) {
	codec := mustCodec(t, "float64")
	fltest.TestPool(t, func(t *testing.T, ids []string, h func(string) fl.Handler) fl.Pool {
		p, err := NewMemory(MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) {
			return fl.Wrap(h(id), DecodeDownlink(codec, 0), EncodeUplink(mustCodec(t, "float64"))), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		return CompressUplink(CompressDownlink(p, codec), codec, 0)
	})
}

func TestConformanceMemory(t *testing.T) {
	testPool(t, func(t *testing.T, handlers map[string]fl.Handler) fl.Pool {
		ids := slices.Sorted(maps.Keys(handlers))
		p, err := NewMemory(MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) {
			return handlers[id], nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

func TestConformanceHTTP(t *testing.T) {
	testPool(t, func(t *testing.T, handlers map[string]fl.Handler) fl.Pool {
		return startNet(t, netOptions{}, handlers).pool
	})
}

func TestConformanceHTTPClientCertsZstd(t *testing.T) {
	testPool(t, func(t *testing.T, handlers map[string]fl.Handler) fl.Pool {
		return startNet(t, netOptions{certs: true, zstd: true}, handlers).pool
	})
}

// ids returns n client ids.
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%02d", i)
	}
	return out
}

// conns returns the pool's conns by id, checking the pool lists want.
func connsByID(t *testing.T, p fl.Pool, want []string) map[string]fl.Conn {
	t.Helper()
	out := map[string]fl.Conn{}
	for _, c := range fl.Reachable(p) {
		out[c.ID()] = c
	}
	got := slices.Sorted(maps.Keys(out))
	if !slices.Equal(got, want) {
		t.Fatalf("pool lists %v, want %v", got, want)
	}
	return out
}

// scaler answers a train message with Params scaled by k and the client's
// id in Metrics.
type scaler struct {
	k  float64
	id int
}

func (s scaler) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	out := make([]float64, len(m.Params))
	for i, x := range m.Params {
		out[i] = s.k * x
	}
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: out, Weight: float64(s.id + 1),
		Metrics: fl.Metrics{"id": float64(s.id)}}, nil
}

func testRoundTrip(t *testing.T, mk makePool) {
	names := ids(3)
	handlers := map[string]fl.Handler{}
	for i, id := range names {
		handlers[id] = scaler{k: float64(i + 2), id: i}
	}
	p := mk(t, handlers)
	conns := connsByID(t, p, names)
	req := &fl.Message{Type: fl.TypeTrain, Round: 3, Params: []float64{1, -2, 0.5}, Config: fl.Config{"lr": 0.1}}
	tc, _ := p.(fl.TrafficCounter)
	var up0, down0 int64
	if tc != nil {
		up0, down0 = tc.Traffic()
	}
	for i, id := range names {
		r, err := conns[id].Send(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		k := float64(i + 2)
		want := []float64{k, -2 * k, 0.5 * k}
		if r.Type != fl.TypeUpdate || r.Round != 3 || !slices.Equal(r.Params, want) || r.Weight != float64(i+1) || r.Metrics["id"] != float64(i) {
			t.Errorf("%s: reply %+v, want params %v", id, r, want)
		}
	}
	if req.Params[0] != 1 || req.Params[1] != -2 {
		t.Error("the request was modified")
	}
	if tc != nil {
		up, down := tc.Traffic()
		if down-down0 < 3*8*3 || up-up0 < 3*8*3 {
			t.Errorf("traffic grew by up %d down %d, want ≥ 72 each way", up-up0, down-down0)
		}
	}
}

// echoAll answers with a copy of everything it was sent.
type echoAll struct{}

func (echoAll) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	out := &fl.Message{Type: "echo/" + m.Type, Round: m.Round, Params: m.Params, Payload: m.Payload,
		Weight: m.Config["w"], Metrics: fl.Metrics{}}
	for k, v := range m.Config {
		out.Metrics[k] = v
	}
	return out, nil
}

func testByteExact(t *testing.T, mk makePool) {
	p := mk(t, map[string]fl.Handler{"x": echoAll{}})
	c := connsByID(t, p, []string{"x"})["x"]
	params := []float64{0, math.Copysign(0, -1), 5e-324, -math.MaxFloat64, math.Inf(1), math.Inf(-1),
		math.Float64frombits(0x7ff8_0000_dead_beef), 1.0 / 3, -2.5e-300}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		params = append(params, math.Float64frombits(rng.Uint64()))
	}
	payload := make([]byte, 70_001)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	cfg := fl.Config{"w": 2.75, "é-ü": -1e-310, "": 3, "nan": math.NaN()}
	r, err := c.Send(context.Background(), &fl.Message{Type: "step/π", Round: 1<<31 - 1, Params: params, Payload: payload, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != "echo/step/π" || r.Round != 1<<31-1 || r.Weight != 2.75 || !bytes.Equal(r.Payload, payload) {
		t.Fatalf("type %q round %d weight %v payload equal %v", r.Type, r.Round, r.Weight, bytes.Equal(r.Payload, payload))
	}
	if len(r.Params) != len(params) {
		t.Fatalf("%d params back, sent %d", len(r.Params), len(params))
	}
	for i := range params {
		if math.Float64bits(r.Params[i]) != math.Float64bits(params[i]) {
			t.Fatalf("param %d: bits %#x, sent %#x", i, math.Float64bits(r.Params[i]), math.Float64bits(params[i]))
		}
	}
	if len(r.Metrics) != len(cfg) {
		t.Fatalf("metrics %v, want %v", r.Metrics, cfg)
	}
	for k, v := range cfg {
		if math.Float64bits(r.Metrics[k]) != math.Float64bits(v) {
			t.Errorf("metric %q = %v, want %v", k, r.Metrics[k], v)
		}
	}
}

func testErrors(t *testing.T, mk makePool) {
	p := mk(t, map[string]fl.Handler{
		"bad": fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			return nil, fmt.Errorf("boom in round %d", m.Round)
		}),
		"nil": fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) { return nil, nil }),
		"ok":  scaler{k: 1},
	})
	conns := connsByID(t, p, []string{"bad", "nil", "ok"})
	msg := &fl.Message{Type: fl.TypeTrain, Round: 7, Params: []float64{1}}
	if _, err := conns["bad"].Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "boom in round 7") {
		t.Errorf("error = %v, want the handler's", err)
	}
	if _, err := conns["nil"].Send(context.Background(), msg); err == nil {
		t.Error("a nil reply gave no error")
	}
	// The pool goes on working after the failures.
	if r, err := conns["ok"].Send(context.Background(), msg); err != nil || r.Params[0] != 1 {
		t.Errorf("after failures: %v, %v", r, err)
	}
}

// blocker answers only when its context is done, and reports that on done.
type blocker struct {
	started chan struct{}
	done    chan struct{}
}

func (b blocker) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	b.done <- struct{}{}
	return nil, ctx.Err()
}

// within fails the test if ch yields nothing in a generous bound (a guard
// against hanging, not a measure of speed).
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not happen", what)
		panic("unreachable")
	}
}

func testCancel(t *testing.T, mk makePool) {
	b := blocker{started: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	p := mk(t, map[string]fl.Handler{"slow": b})
	c := connsByID(t, p, []string{"slow"})["slow"]
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1}})
		errc <- err
	}()
	within(t, b.started, "the handler starting")
	cancel()
	if err := within(t, errc, "Send returning after cancel"); !errors.Is(err, context.Canceled) {
		t.Errorf("Send = %v, want context.Canceled", err)
	}
	// The client learns that its work is no longer wanted.
	within(t, b.done, "the handler's context ending")
}

func testDeadline(t *testing.T, mk makePool) {
	b := blocker{started: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	p := mk(t, map[string]fl.Handler{"slow": b})
	c := connsByID(t, p, []string{"slow"})["slow"]
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want context.DeadlineExceeded", err)
	}
	within(t, b.done, "the handler's context ending")
}

func testConcurrent(t *testing.T, mk makePool) {
	names := ids(4)
	handlers := map[string]fl.Handler{}
	for i, id := range names {
		handlers[id] = scaler{k: float64(i + 1), id: i}
	}
	p := mk(t, handlers)
	conns := connsByID(t, p, names)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			i := g % len(names)
			m := &fl.Message{Type: fl.TypeTrain, Round: g, Params: []float64{float64(g), 1}}
			r, err := conns[names[i]].Send(context.Background(), m)
			if err != nil {
				errs <- err
				return
			}
			k := float64(i + 1)
			if r.Round != g || r.Params[0] != k*float64(g) || r.Params[1] != k {
				errs <- fmt.Errorf("send %d to %s: reply round %d params %v", g, names[i], r.Round, r.Params)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// toyTrainer pulls the global parameters a step towards a target of its
// own: a deterministic stand-in for local training.
type toyTrainer struct {
	target []float64
	n      float64
}

func (tt toyTrainer) Train(ctx context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	d := make([]float64, len(global))
	for i := range d {
		d[i] = cfg.Get(fl.KeyLR, 0.5) * (tt.target[i] - global[i])
	}
	return fl.Update{Delta: d, Weight: tt.n, Metrics: fl.Metrics{fl.KeyLoss: math.Abs(d[0])}}, nil
}

func toyHandlers(n, dim int) map[string]fl.Handler {
	rng := rand.New(rand.NewPCG(3, 4))
	out := map[string]fl.Handler{}
	for _, id := range ids(n) {
		target := make([]float64, dim)
		for i := range target {
			target[i] = rng.NormFloat64()
		}
		out[id] = fl.NewHandler(toyTrainer{target: target, n: float64(1 + rng.IntN(50))}, nil)
	}
	return out
}

func toyServerConfig(rounds int) fl.ServerConfig {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = rounds
	cfg.ClientsPerRound = 4
	cfg.Seed = 11
	cfg.Optimizer = fl.NewFedAdam(0.1)
	cfg.ClientConfig = fl.Config{fl.KeyLR: 0.3}
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// testServerRun runs a short fl.Server over the pool and over a reference
// in-memory pool: the parameters must be the same bits.
func testServerRun(t *testing.T, mk makePool) {
	const dim = 40
	handlers := toyHandlers(7, dim)
	init := make([]float64, dim)
	run := func(p fl.Pool) []float64 {
		s, err := fl.NewServer(toyServerConfig(5), p, init)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h.Rounds {
			if r.Accepted != 4 || r.Failed != 0 {
				t.Fatalf("round %d: %d accepted, %d failed", r.Round, r.Accepted, r.Failed)
			}
		}
		return s.Params()
	}
	ref, err := NewMemory(MemoryConfig{IDs: ids(7), Factory: func(id string) (fl.Handler, error) { return handlers[id], nil }})
	if err != nil {
		t.Fatal(err)
	}
	want := run(ref)
	p := mk(t, handlers)
	connsByID(t, p, ids(7))
	got := run(p)
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("param %d = %v, in memory %v", i, got[i], want[i])
		}
	}
}
