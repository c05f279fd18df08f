package personal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// ErrNoAnswers is returned by [Evaluation.Run] when no client answered.
var ErrNoAnswers = errors.New("personal: no client answered the evaluation")

// Evaluation asks clients to evaluate their personal models on their own
// held-out data ([DittoClient] and [FedPerClient] answer [fl.TypeEvaluate]
// so) and keeps every client's answer, so that the spread of the
// per-client accuracy is seen, not only its mean. Its Evaluate method has
// the signature of fl.ServerConfig.Evaluate: set there, it runs on the
// server's evaluation schedule (every EvalEvery rounds and after the
// last) and its summary lands in each evaluated round's stats (Central).
// The engine's own federated evaluation (fl.ServerConfig.EvalClients)
// over the same clients gives the example-weighted mean only.
type Evaluation struct {
	// Pool reaches the clients. Required.
	Pool fl.Pool
	// Clients lists the clients to ask, nil meaning the pool's whole
	// population. A client the pool cannot reach counts as failed.
	Clients []string
	// Timeout bounds the exchange (0: no deadline); late clients count as
	// failed.
	Timeout time.Duration
	// Logger receives client failures at warn level; nil discards them.
	Logger *slog.Logger
}

// ClientMetrics is one client's answer to an evaluation.
type ClientMetrics struct {
	Client  string
	Metrics fl.Metrics
}

// Report is the result of one evaluation: the clients' answers in the
// order of Evaluation.Clients (or of the population), and how many
// clients failed.
type Report struct {
	Clients []ClientMetrics
	Failed  int
}

// Run sends params to every client for evaluation and returns their
// answers. An answer that is not a [fl.TypeMetrics] reply with a finite,
// positive fl.KeyExamples counts as a failure. Run returns ctx.Err() when
// ctx is done, and an error wrapping [ErrNoAnswers] (with the report)
// when no client answered.
func (e *Evaluation) Run(ctx context.Context, params []float64) (*Report, error) {
	if e.Pool == nil {
		return nil, fmt.Errorf("%w: personal: Evaluation without a Pool", fl.ErrConfig)
	}
	ids := e.Clients
	if ids == nil {
		ids = e.Pool.Population()
	}
	rep := &Report{}
	conns := make([]fl.Conn, 0, len(ids))
	for _, id := range ids {
		c, ok := e.Pool.Conn(id)
		if !ok || c == nil {
			rep.Failed++
			continue
		}
		conns = append(conns, c)
	}
	rd := fl.NewRound(0, params, nil, conns, e.Logger)
	rd.StepTimeout = e.Timeout
	msg := &fl.Message{Type: fl.TypeEvaluate, Params: params}
	answers := make([]fl.Metrics, len(conns))
	err := rd.Step(ctx, fl.TypeEvaluate, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		if m.Type != fl.TypeMetrics {
			return fmt.Errorf("%w: type %q, want %q", fl.ErrReply, m.Type, fl.TypeMetrics)
		}
		if n := m.Metrics[fl.KeyExamples]; !(n > 0) || math.IsInf(n, 0) {
			return fmt.Errorf("%w: %s = %v, want finite and > 0", fl.ErrReply, fl.KeyExamples, n)
		}
		answers[i] = m.Metrics
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, m := range answers {
		if m != nil {
			rep.Clients = append(rep.Clients, ClientMetrics{Client: rd.ID(i), Metrics: m})
		}
	}
	rep.Failed += len(conns) - len(rep.Clients)
	if len(rep.Clients) == 0 {
		return rep, fmt.Errorf("%w (%d failed)", ErrNoAnswers, rep.Failed)
	}
	return rep, nil
}

// Evaluate runs the evaluation and returns [Report.Metrics]. It is meant
// for fl.ServerConfig.Evaluate.
func (e *Evaluation) Evaluate(ctx context.Context, params []float64) (fl.Metrics, error) {
	rep, err := e.Run(ctx, params)
	if err != nil {
		return nil, err
	}
	return rep.Metrics(), nil
}

// Summary describes one metric over the clients that reported it finite.
type Summary struct {
	Clients int // clients that reported the metric
	// Mean is the unweighted mean over clients (every client counts
	// once: the fairness view of the personalization papers);
	// WeightedMean weighs each by its fl.KeyExamples (every example counts
	// once, as the engine's federated evaluation does).
	Mean, WeightedMean float64
	// P10, P50 and P90 are quantiles of the per-client values, linearly
	// interpolated between order statistics (Hyndman and Fan's type 7,
	// numpy's default): the p-quantile of sorted x_0 ≤ … ≤ x_{n−1} is
	// x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋+1 − x_⌊h⌋) with h = (n − 1)p.
	P10, P50, P90 float64
	Min, Max      float64
}

// Summary summarizes the metric key over the clients that reported it
// finite; ok is false when none did.
func (r *Report) Summary(key string) (s Summary, ok bool) {
	var xs []float64
	var sum, wsum, w float64
	for _, c := range r.Clients {
		v, has := c.Metrics[key]
		if !has || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		n := c.Metrics[fl.KeyExamples]
		xs = append(xs, v)
		sum += v
		wsum += n * v
		w += n
	}
	if len(xs) == 0 {
		return Summary{}, false
	}
	sort.Float64s(xs)
	s = Summary{
		Clients:      len(xs),
		Mean:         sum / float64(len(xs)),
		WeightedMean: wsum / w,
		P10:          Quantile(xs, 0.1),
		P50:          Quantile(xs, 0.5),
		P90:          Quantile(xs, 0.9),
		Min:          xs[0],
		Max:          xs[len(xs)-1],
	}
	return s, true
}

// Metrics flattens the report: "clients" and "failed", fl.KeyExamples (the
// total), and for every other metric k the clients reported,
// k_mean, k_wmean, k_p10, k_p50, k_p90, k_min and k_max (for example
// accuracy_mean, accuracy_p10, global_accuracy_mean).
func (r *Report) Metrics() fl.Metrics {
	out := fl.Metrics{"clients": float64(len(r.Clients)), "failed": float64(r.Failed)}
	var keys []string
	var total float64
	for _, c := range r.Clients {
		total += c.Metrics[fl.KeyExamples]
		for k := range c.Metrics {
			if k != fl.KeyExamples && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	out[fl.KeyExamples] = total
	for _, k := range keys {
		s, ok := r.Summary(k)
		if !ok {
			continue
		}
		out[k+"_mean"], out[k+"_wmean"] = s.Mean, s.WeightedMean
		out[k+"_p10"], out[k+"_p50"], out[k+"_p90"] = s.P10, s.P50, s.P90
		out[k+"_min"], out[k+"_max"] = s.Min, s.Max
	}
	return out
}

// Quantile returns the p-quantile of the sorted values xs by linear
// interpolation between order statistics (type 7; see [Summary]). It
// panics if xs is empty or p is outside [0, 1].
func Quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 1) {
		panic("personal: Quantile of no values or p outside [0, 1]")
	}
	h := float64(len(xs)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[lo] + (h-float64(lo))*(xs[lo+1]-xs[lo])
}
