package personal_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/personal"
)

func report(acc, examples []float64) *personal.Report {
	r := &personal.Report{}
	for i := range acc {
		r.Clients = append(r.Clients, personal.ClientMetrics{Client: string(rune('a' + i)), Metrics: fl.Metrics{fl.KeyAccuracy: acc[i], fl.KeyExamples: examples[i]}})
	}
	return r
}

// Known answers by hand: accuracies 0.9, 0.2, 1.0, 0.5 (sorted 0.2, 0.5,
// 0.9, 1.0) on 20, 10, 40, 30 examples. Mean 2.6/4 = 0.65; weighted
// (18 + 2 + 40 + 15)/100 = 0.75; type-7 quantiles with h = 3p: p10 at
// h = 0.3: 0.2 + 0.3·0.3 = 0.29; p50 at 1.5: 0.5 + 0.5·0.4 = 0.7; p90 at
// 2.7: 0.9 + 0.7·0.1 = 0.97.
func TestSummaryKnownAnswer(t *testing.T) {
	r := report([]float64{0.9, 0.2, 1.0, 0.5}, []float64{20, 10, 40, 30})
	s, ok := r.Summary(fl.KeyAccuracy)
	if !ok {
		t.Fatal("no summary")
	}
	want := personal.Summary{Clients: 4, Mean: 0.65, WeightedMean: 0.75, P10: 0.29, P50: 0.7, P90: 0.97, Min: 0.2, Max: 1}
	got := []float64{s.Mean, s.WeightedMean, s.P10, s.P50, s.P90, s.Min, s.Max}
	exp := []float64{want.Mean, want.WeightedMean, want.P10, want.P50, want.P90, want.Min, want.Max}
	if s.Clients != 4 {
		t.Fatalf("clients %d, want 4", s.Clients)
	}
	near(t, "summary", got, exp, 1e-15)
	m := r.Metrics()
	if m["accuracy_p10"] != s.P10 || m["accuracy_wmean"] != s.WeightedMean || m["clients"] != 4 || m[fl.KeyExamples] != 100 {
		t.Fatalf("Metrics() = %v", m)
	}
	if _, ok := r.Summary("nothing"); ok {
		t.Error("summary of a metric nobody reported")
	}
	// A NaN or a missing value is left out, not averaged.
	r.Clients = append(r.Clients, personal.ClientMetrics{Client: "e", Metrics: fl.Metrics{fl.KeyAccuracy: math.NaN(), fl.KeyExamples: 5}})
	if s2, _ := r.Summary(fl.KeyAccuracy); s2 != s {
		t.Errorf("NaN changed the summary: %+v", s2)
	}
}

func TestQuantileEdges(t *testing.T) {
	xs := []float64{1, 2, 4}
	for _, tc := range []struct{ p, want float64 }{{0, 1}, {1, 4}, {0.5, 2}, {0.25, 1.5}, {0.75, 3}} {
		if got := personal.Quantile(xs, tc.p); got != tc.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", xs, tc.p, got, tc.want)
		}
	}
	if got := personal.Quantile([]float64{7}, 0.9); got != 7 {
		t.Errorf("one value: %v", got)
	}
}

// holePool is a pool in which some registered clients are unreachable.
type holePool struct {
	fl.Pool
	off map[string]bool
}

func (p holePool) Conn(id string) (fl.Conn, bool) {
	if p.off[id] {
		return nil, false
	}
	return p.Pool.Conn(id)
}

func answer(m fl.Metrics) fl.Handler {
	return fl.HandlerFunc(func(_ context.Context, msg *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeMetrics, Round: msg.Round, Metrics: m}, nil
	})
}

// Failures of every kind are counted and left out; the answers keep the
// population's order.
func TestEvaluationRun(t *testing.T) {
	pool := holePool{newPool(t,
		conn{"a", answer(fl.Metrics{fl.KeyAccuracy: 0.5, fl.KeyExamples: 10})},
		conn{"b", fl.HandlerFunc(func(context.Context, *fl.Message) (*fl.Message, error) { return nil, errors.New("down") })},
		conn{"c", answer(fl.Metrics{fl.KeyAccuracy: 0.9})}, // no examples
		conn{"d", answer(fl.Metrics{fl.KeyAccuracy: 1, fl.KeyExamples: 30})},
		conn{"e", answer(fl.Metrics{fl.KeyAccuracy: 1, fl.KeyExamples: 30})},
		conn{"f", fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
			return &fl.Message{Type: fl.TypeUpdate, Metrics: fl.Metrics{fl.KeyExamples: 1}}, nil
		})},
	), map[string]bool{"e": true}}
	ev := &personal.Evaluation{Pool: pool}
	rep, err := ev.Run(context.Background(), []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 4 || len(rep.Clients) != 2 || rep.Clients[0].Client != "a" || rep.Clients[1].Client != "d" {
		t.Fatalf("report %+v, want a and d, 4 failed", rep)
	}
	if s, _ := rep.Summary(fl.KeyAccuracy); s.WeightedMean != (5+30)/40.0 || s.Mean != 0.75 {
		t.Fatalf("summary %+v", s)
	}
	ev.Clients = []string{"b", "c"}
	if _, err := ev.Run(context.Background(), []float64{1}); !errors.Is(err, personal.ErrNoAnswers) {
		t.Errorf("no answers: %v, want ErrNoAnswers", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ev.Run(ctx, []float64{1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	if _, err := (&personal.Evaluation{}).Run(context.Background(), nil); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("no pool: %v, want ErrConfig", err)
	}
}

// A client that does not answer within Timeout counts as failed; the
// others' answers stand.
func TestEvaluationTimeout(t *testing.T) {
	pool := newPool(t,
		conn{"a", answer(fl.Metrics{fl.KeyAccuracy: 0.5, fl.KeyExamples: 10})},
		conn{"b", fl.HandlerFunc(func(ctx context.Context, _ *fl.Message) (*fl.Message, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})},
	)
	rep, err := (&personal.Evaluation{Pool: pool, Timeout: 20 * time.Millisecond}).Run(context.Background(), []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || len(rep.Clients) != 1 || rep.Clients[0].Client != "a" {
		t.Fatalf("report %+v, want a's answer and one failure", rep)
	}
}
