package fl

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// evaluate runs the centralized and federated evaluations of round r.
func (s *Server) evaluate(ctx context.Context, r int, population []string, stats *RoundStats) error {
	if s.cfg.Evaluate != nil {
		m, err := s.cfg.Evaluate(ctx, slices.Clone(s.params))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("central evaluation failed", "round", r, "err", err)
		} else {
			stats.Central = m
		}
	}
	if s.cfg.EvalClients == 0 {
		return nil
	}
	var sampler Sampler = Uniform{}
	if s.cfg.EvalClients > 0 {
		sampler = Uniform{Count: s.cfg.EvalClients}
	}
	var es RoundStats
	rd := s.sample(r, sampler, 1, population, &es)
	msg := &Message{Type: TypeEvaluate, Round: r, Params: s.params}
	sums := Metrics{}
	var total float64
	err := rd.Step(ctx, TypeEvaluate, func(int) (*Message, error) { return msg, nil }, func(i int, m *Message) error {
		if m.Type != TypeMetrics {
			return fmt.Errorf("%w: type %q, want %q", ErrReply, m.Type, TypeMetrics)
		}
		n := m.Metrics[KeyExamples]
		if !(n > 0) || math.IsInf(n, 0) {
			return fmt.Errorf("%w: %s = %v, want finite and > 0", ErrReply, KeyExamples, n)
		}
		for k, v := range m.Metrics {
			if k != KeyExamples && !math.IsNaN(v) && !math.IsInf(v, 0) {
				sums[k] += n * v
			}
		}
		total += n
		return nil
	})
	if err != nil {
		return err
	}
	out := Metrics{"clients": float64(rd.Len() - es.Failed), "failed": float64(es.Failed)}
	if total > 0 {
		for k, v := range sums {
			out[k] = v / total
		}
		out[KeyExamples] = total
	}
	stats.Eval = out
	return nil
}
