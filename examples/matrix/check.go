package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
)

// valid reports whether cell c is a composition fedgo accepts, and if not
// why: a rule or an attack wrapper in front of a DP sum changes its
// sensitivity; secure aggregation masks dense vectors (no codec) and sums
// them itself (no aggregator).
func valid(c cell) (bool, string) {
	switch {
	case c.Privacy != "none" && (c.Aggregator == "robust" || c.Aggregator == "byzantine"):
		return false, "an aggregator in front of the DP sum changes its sensitivity"
	case c.Privacy == "secure" && c.Codec != "none":
		return false, "secure aggregation masks dense vectors"
	}
	return true, ""
}

// result is one row of the matrix: the cell and what its checks found.
type result struct {
	cell
	Valid     bool     `json:"valid"`
	Refused   string   `json:"refused,omitempty"`
	Rounds    int      `json:"rounds"`
	Allowed   int      `json:"budget_rounds,omitempty"`
	Epsilon   float64  `json:"epsilon,omitempty"`
	Delta     float64  `json:"delta,omitempty"`
	ClipRatio float64  `json:"clip_ratio,omitempty"`
	Params    string   `json:"params_sha256,omitempty"`
	Problems  []string `json:"problems,omitempty"`
	OK        bool     `json:"ok"`
}

// matrix runs cells in order; a cell's reference for the HTTPS comparison
// is the same cell in memory, and for the budget the direct use of the
// mechanism (fedavg, plain exchange, no codec, in memory).
type matrix struct {
	w       *workload
	memory  map[cell]string // params of the in-memory cells
	directs map[string]int  // rounds of direct use, by privacy
}

func newMatrix() *matrix {
	return &matrix{w: newWorkload(), memory: map[cell]string{}, directs: map[string]int{}}
}

// check runs cell c at GOMAXPROCS 1 and 2 and checks every guarantee.
func (m *matrix) check(ctx context.Context, c cell) (*result, error) {
	res := &result{cell: c}
	res.Valid, _ = valid(c)
	bad := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }
	o1, err := run(ctx, m.w, c, 1)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", c, err)
	}
	if !res.Valid {
		if o1.refused == nil {
			bad("invalid composition accepted")
		} else if !errors.Is(o1.refused, fl.ErrConfig) {
			bad("refused without fl.ErrConfig: %v", o1.refused)
		} else {
			res.Refused = o1.refused.Error()
		}
		res.OK = len(res.Problems) == 0
		return res, nil
	}
	if o1.refused != nil {
		bad("valid composition refused: %v", o1.refused)
		return res, nil
	}
	o2, err := run(ctx, m.w, c, 2)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", c, err)
	}
	res.Rounds, res.Params, res.Allowed = o1.rounds, o1.params, o1.allowed
	if o1.params != o2.params {
		bad("GOMAXPROCS 1 and 2 give different bits (%s, %s)", o1.params, o2.params)
	}
	if c.Transport == "memory" {
		m.memory[c] = o1.params
	} else if mem := m.memory[cell{c.Aggregator, c.Privacy, c.Codec, "memory"}]; mem != "" && mem != o1.params {
		bad("HTTPS bits %s differ from in-memory bits %s", o1.params, mem)
	}
	if c.Privacy == "none" {
		if o1.runErr != nil || o1.rounds != Rounds {
			bad("run: %v after %d of %d rounds", o1.runErr, o1.rounds, Rounds)
		}
	} else {
		m.checkBudget(c, o1, res, bad)
	}
	res.OK = len(res.Problems) == 0
	return res, nil
}

// checkBudget checks a DP cell: the budget stops the run after exactly the
// releases it allows (as with direct use), ε and δ are in every round of
// the history, and every sum released was of clipped contributions.
func (m *matrix) checkBudget(c cell, o *outcome, res *result, bad func(string, ...any)) {
	if !errors.Is(o.runErr, fl.ErrBudget) || !errors.Is(o.runErr, privacy.ErrBudgetExhausted) {
		bad("run ended with %v, want the budget error", o.runErr)
	}
	if o.rounds != o.allowed {
		bad("%d rounds ran, the budget allows %d", o.rounds, o.allowed)
	}
	direct := cell{"fedavg", "central", "none", "memory"}
	if c == direct {
		m.directs[c.Privacy] = o.rounds
	} else if d, ok := m.directs["central"]; ok && d != o.rounds {
		bad("stopped after %d rounds, direct use stops after %d", o.rounds, d)
	}
	for _, r := range o.history.Rounds {
		eps, e := r.Extra[privacy.KeyEpsilon]
		delta, d := r.Extra[privacy.KeyDelta]
		if !e || !d || !(eps > 0) || delta != Delta {
			bad("round %d: epsilon %v (%v), delta %v (%v)", r.Round, eps, e, delta, d)
		}
		res.Epsilon, res.Delta = eps, delta
	}
	res.ClipRatio = o.maxRatio
	if !(o.maxRatio > 0 && o.maxRatio <= 1) {
		bad("a DP sum exceeded its clipped bound by a factor %.3g", o.maxRatio)
	}
}
