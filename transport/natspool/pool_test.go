package natspool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
	"github.com/fedgo/fedgo/transport"
	"github.com/fedgo/fedgo/transport/natspool"
)

// TestConformanceWithMemory: the same run over NATS (one runner per
// client) and over transport.Memory ends with the same parameter bits and
// the same bytes on the wire.
func TestConformanceWithMemory(t *testing.T) {
	const n, d = 12, 40
	s := startServer(t, nil)
	population := ids(n)
	for _, id := range population {
		h, _ := client(d)(id)
		r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, s.ClientURL()), IDs: []string{id},
			Factory: func(string) (fl.Handler, error) { return h, nil }})
		if err != nil {
			t.Fatal(err)
		}
		serveRunner(t, r)
	}
	pool, err := natspool.New(natspool.Config{Conn: connect(t, s.ClientURL()), IDs: population})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed, cfg.RoundTimeout = 4, 8, 11, 10*time.Second
	got, gh := runServer(t, cfg, pool, d)
	want, wh := runServer(t, cfg, memoryPool(t, population, d, transport.Faults{}), d)
	sameBits(t, got, want)
	for i := range gh.Rounds {
		g, w := gh.Rounds[i], wh.Rounds[i]
		if g.Accepted != 8 || g.BytesUp != w.BytesUp || g.BytesDown != w.BytesDown {
			t.Errorf("round %d: accepted %d, bytes %d/%d; memory: %d/%d", i+1, g.Accepted, g.BytesUp, g.BytesDown, w.BytesUp, w.BytesDown)
		}
	}
}

// TestFailures: an offline client, a client whose handler fails, and a
// rogue responder whose reply is not a frame, or exceeds the limits, are
// each counted as failed with a clear error; the round goes on.
func TestFailures(t *testing.T) {
	const d = 8
	s := startServer(t, nil)
	url := s.ClientURL()
	good, _ := client(d)("c000001")
	serve := func(id string, h fl.Handler) {
		r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, url), IDs: []string{id}, Factory: func(string) (fl.Handler, error) { return h, nil }})
		if err != nil {
			t.Fatal(err)
		}
		serveRunner(t, r)
	}
	serve("good", good)
	serve("failing", fl.HandlerFunc(func(context.Context, *fl.Message) (*fl.Message, error) { return nil, errors.New("disk full") }))
	serve("huge", fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: make([]float64, 1000), Weight: 1}, nil
	}))
	rogue := connect(t, url)
	if _, err := rogue.Subscribe(natspool.Subject("", "rogue"), func(m *nats.Msg) { m.Respond([]byte("FG\x02\x00garbage")) }); err != nil {
		t.Fatal(err)
	}
	rogue.Flush()

	pool, err := natspool.New(natspool.Config{Conn: connect(t, url), IDs: []string{"good", "failing", "offline", "rogue", "huge"}, Limits: transport.Limits{MaxParams: 100}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msg := &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, d)}
	for id, want := range map[string]error{"failing": natspool.ErrClient, "offline": natspool.ErrNoClient, "rogue": transport.ErrFrame, "huge": transport.ErrFrame} {
		c, _ := pool.Conn(id)
		if _, err := c.Send(ctx, msg); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", id, err, want)
		}
	}
	if !errors.Is(natspool.ErrNoClient, fl.ErrUnreachable) {
		t.Error("ErrNoClient does not wrap fl.ErrUnreachable")
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout = 1, 5*time.Second
	_, h := runServer(t, cfg, pool, d)
	if r := h.Rounds[0]; r.Aborted || r.Accepted != 1 || r.Failed != 4 {
		t.Errorf("round: %+v, want 1 accepted and 4 failed", r)
	}
	// A request over the limits fails before it is sent.
	c, _ := pool.Conn("good")
	if _, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Params: make([]float64, 101)}); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Errorf("oversized request: %v", err)
	}
	// Ids that are not subject tokens are refused.
	nc := connect(t, url)
	for _, bad := range []string{"a.b", "*", ">", "a b", ""} {
		if _, err := natspool.New(natspool.Config{Conn: nc, IDs: []string{bad}}); !errors.Is(err, natspool.ErrID) {
			t.Errorf("id %q accepted", bad)
		}
	}
}

// TestDeadline: a client slower than the round's deadline counts as a
// timeout, and the runner's handler sees the deadline in its context.
func TestDeadline(t *testing.T) {
	s := startServer(t, nil)
	sawDeadline := make(chan bool, 1)
	release := make(chan struct{})
	r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, s.ClientURL()), IDs: []string{"slow"}, Factory: func(string) (fl.Handler, error) {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			_, ok := ctx.Deadline()
			sawDeadline <- ok
			select {
			case <-ctx.Done():
			case <-release:
			}
			return nil, errors.New("too late")
		}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	serveRunner(t, r)
	pool, _ := natspool.New(natspool.Config{Conn: connect(t, s.ClientURL()), IDs: []string{"slow"}})
	c, _ := pool.Conn("slow")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1}, Config: fl.Config{fl.KeyDeadline: 5}})
	close(release)
	if !errors.Is(err, fl.ErrTimeout) {
		t.Errorf("err = %v, want fl.ErrTimeout", err)
	}
	if !<-sawDeadline {
		t.Error("the handler's context had no deadline")
	}
}

// blocker is a client that blocks until its context ends, reporting when
// it starts and when its context ends.
type blocker struct{ started, done chan struct{} }

func (b blocker) Handle(ctx context.Context, _ *fl.Message) (*fl.Message, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	b.done <- struct{}{}
	return nil, ctx.Err()
}

func within[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestCancel: a Send cancelled by the server returns context.Canceled at
// once, and the client's handler learns that its work is no longer wanted
// (its context ends), as over transport.Memory and HTTPS.
func TestCancel(t *testing.T) {
	s := startServer(t, nil)
	b := blocker{started: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, s.ClientURL()), IDs: []string{"slow"}, Factory: func(string) (fl.Handler, error) { return b, nil }})
	if err != nil {
		t.Fatal(err)
	}
	serveRunner(t, r)
	pool, _ := natspool.New(natspool.Config{Conn: connect(t, s.ClientURL()), IDs: []string{"slow"}})
	c, _ := pool.Conn("slow")
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
	within(t, b.done, "the handler's context ending")
}

// The pool passes fl's pool conformance suite.
func TestPoolConformance(t *testing.T) {
	fltest.TestPool(t, func(t *testing.T, population []string, h func(string) fl.Handler) fl.Pool {
		s := startServer(t, nil)
		handlers := map[string]fl.Handler{}
		for _, id := range population {
			handlers[id] = h(id)
		}
		r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, s.ClientURL()), IDs: population,
			Factory: func(id string) (fl.Handler, error) { return handlers[id], nil }})
		if err != nil {
			t.Fatal(err)
		}
		serveRunner(t, r)
		pool, err := natspool.New(natspool.Config{Conn: connect(t, s.ClientURL()), IDs: population})
		if err != nil {
			t.Fatal(err)
		}
		return pool
	})
}
