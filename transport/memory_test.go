package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
)

type echo struct{ built *atomic.Int64 }

func (e echo) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	m.Params[0] = -1 // a client scribbling on its copy must not reach the server
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: m.Params, Weight: 1}, nil
}

func newTestPool(t *testing.T, n int, f Faults) (*Memory, *atomic.Int64) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
	}
	var built atomic.Int64
	p, err := NewMemory(MemoryConfig{IDs: ids, Faults: f, Seed: 1, Factory: func(id string) (fl.Handler, error) {
		built.Add(1)
		return echo{&built}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p, &built
}

func TestMemoryCopiesAndCounts(t *testing.T) {
	p, built := newTestPool(t, 3, Faults{})
	params := []float64{1, 2, 3}
	req := &fl.Message{Type: fl.TypeTrain, Round: 1, Params: params, Config: fl.Config{"lr": 1}}
	var wantDown, wantUp int64
	for _, c := range fl.Reachable(p) {
		r, err := c.Send(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		wantDown += FrameSize(req)
		wantUp += FrameSize(r)
		if r.Params[0] != -1 || r.Params[1] != 2 {
			t.Fatalf("reply = %v", r.Params)
		}
	}
	if params[0] != 1 {
		t.Fatal("the client modified the server's parameters")
	}
	up, down := p.Traffic()
	if up != wantUp || down != wantDown {
		t.Errorf("traffic up %d down %d, want %d %d", up, down, wantUp, wantDown)
	}
	if built.Load() != 3 {
		t.Errorf("factory called %d times, want 3 (lazily, per call)", built.Load())
	}
}

func TestMemoryFaultsDeterministic(t *testing.T) {
	f := Faults{Drop: 0.3, Error: 0.2, Latency: LogNormalLatency(time.Second, 1)}
	outcomes := func() []string {
		p, _ := newTestPool(t, 200, f)
		var out []string
		for _, c := range fl.Reachable(p) {
			_, err := c.Send(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 4, Params: []float64{0}, Config: fl.Config{fl.KeyDeadline: 2}})
			switch {
			case err == nil:
				out = append(out, "ok")
			case errors.Is(err, ErrDropped):
				out = append(out, "drop")
			case errors.Is(err, ErrStraggler):
				out = append(out, "late")
			case errors.Is(err, ErrInjected):
				out = append(out, "err")
			default:
				t.Fatal(err)
			}
		}
		return out
	}
	a, b := outcomes(), outcomes()
	counts := map[string]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("client %d: %s then %s", i, a[i], b[i])
		}
		counts[a[i]]++
	}
	// Drop 0.3; of the rest, latency > 2 s with probability
	// P(Z > ln 2) = 0.244; of the rest, errors 0.2. Expected counts out of
	// 200: drop 60, late 34, err 21, ok 85. Allow generous binomial slack.
	for k, want := range map[string]float64{"drop": 60, "late": 34, "err": 21, "ok": 85} {
		if d := float64(counts[k]) - want; d > 25 || d < -25 {
			t.Errorf("%s: %d of 200, want about %v", k, counts[k], want)
		}
	}
	if !errors.Is(ErrDropped, fl.ErrTimeout) || !errors.Is(ErrStraggler, fl.ErrTimeout) {
		t.Error("dropouts and stragglers must read as timeouts")
	}
}

func TestMemorySleepHonoursContext(t *testing.T) {
	p, _ := newTestPool(t, 1, Faults{Sleep: true, Latency: func(*rand.Rand) time.Duration { return time.Hour }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fl.Reachable(p)[0].Send(ctx, &fl.Message{Params: []float64{1}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestMemoryConfigValidate(t *testing.T) {
	f := func(string) (fl.Handler, error) { return nil, nil }
	for _, c := range []MemoryConfig{
		{Factory: f},
		{IDs: []string{"a"}},
		{IDs: []string{"a", "a"}, Factory: f},
		{IDs: []string{"a"}, Factory: f, Faults: Faults{Drop: 2}},
	} {
		if _, err := NewMemory(c); err == nil {
			t.Errorf("NewMemory(%+v) accepted", c)
		}
	}
}
