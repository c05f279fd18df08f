package fl

import (
	"encoding/json"
	"maps"
	"math"
)

// Failure reasons counted in [RoundStats.Failures].
const (
	FailError    = "error"     // the client or the transport returned an error
	FailTimeout  = "timeout"   // no answer before the round's deadline
	FailRejected = "rejected"  // the answer was malformed: NaN/Inf, wrong length, bad weight, wrong round or type
	FailDup      = "duplicate" // a second answer from a client already counted
	// FailUnreachable: a sampled client that is registered but not
	// reachable now. Counted as a dropout of a sampled client, as the
	// privacy accounting of fixed-size sampling requires.
	FailUnreachable = "unreachable"
)

// RoundStats describe one round, as recorded in [History] and passed to
// [Observer.RoundEnd].
type RoundStats struct {
	Round        int            `json:"round"`
	Sampled      int            `json:"sampled"`             // clients asked to train (leaf clients when the exchange sets member sizes, Round.SetSize)
	Accepted     int            `json:"accepted"`            // updates that reached the aggregate (leaf updates, likewise)
	Failed       int            `json:"failed"`              // clients whose contribution was lost (a member counts as its size)
	Failures     map[string]int `json:"failures,omitempty"`  // Failed by reason (Fail... constants)
	FailedAt     map[string]int `json:"failed_at,omitempty"` // Failed by the step the client failed at (a message type)
	Aborted      bool           `json:"aborted,omitempty"`   // fewer than MinClients accepted: parameters unchanged
	TrainLoss    float64        `json:"train_loss"`          // example-weighted mean of the clients' reported loss (NaN if none)
	Eval         Metrics        `json:"eval,omitempty"`      // federated evaluation, when it ran this round
	Central      Metrics        `json:"central,omitempty"`   // centralized evaluation, when it ran this round
	Extra        Metrics        `json:"extra,omitempty"`     // values recorded by extensions (for example privacy spent)
	BytesUp      int64          `json:"bytes_up"`            // client → server, as encoded on the wire
	BytesDown    int64          `json:"bytes_down"`          // server → client
	TrainSeconds float64        `json:"train_seconds"`       // time inside Trainer.Train, summed over clients
	Seconds      float64        `json:"seconds"`             // wall time of the round
}

func (s *RoundStats) fail(reason string) {
	if s.Failures == nil {
		s.Failures = map[string]int{}
	}
	s.Failures[reason]++
	s.Failed++
}

// History is the record of every round run so far.
type History struct {
	Rounds []RoundStats `json:"rounds"`
}

// Clone returns a deep copy of h.
func (h *History) Clone() *History {
	out := &History{Rounds: make([]RoundStats, len(h.Rounds))}
	for i, r := range h.Rounds {
		out.Rounds[i] = r.clone()
	}
	return out
}

func (s RoundStats) clone() RoundStats {
	s.Failures = maps.Clone(s.Failures)
	s.FailedAt = maps.Clone(s.FailedAt)
	s.Eval = maps.Clone(s.Eval)
	s.Central = maps.Clone(s.Central)
	s.Extra = maps.Clone(s.Extra)
	return s
}

// MarshalJSON writes s with a TrainLoss that is not finite (no loss was
// reported) as null, so that a History always marshals.
func (s RoundStats) MarshalJSON() ([]byte, error) {
	type plain RoundStats
	return json.Marshal(struct {
		plain
		TrainLoss *float64 `json:"train_loss"`
	}{plain(s), finiteOrNil(s.TrainLoss)})
}

// UnmarshalJSON reads what MarshalJSON writes; a null TrainLoss is NaN.
func (s *RoundStats) UnmarshalJSON(b []byte) error {
	type plain RoundStats
	var v struct {
		plain
		TrainLoss *float64 `json:"train_loss"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = RoundStats(v.plain)
	s.TrainLoss = math.NaN()
	if v.TrainLoss != nil {
		s.TrainLoss = *v.TrainLoss
	}
	return nil
}

// MarshalJSON writes m as a JSON object with sorted keys, and a value that
// is NaN or ±Inf as null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	out := make(map[string]*float64, len(m))
	for k, v := range m {
		out[k] = finiteOrNil(v)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes; null is NaN.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var in map[string]*float64
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in == nil {
		*m = nil
		return nil
	}
	*m = make(Metrics, len(in))
	for k, v := range in {
		(*m)[k] = math.NaN()
		if v != nil {
			(*m)[k] = *v
		}
	}
	return nil
}

func finiteOrNil(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// Last returns the last round's stats, or the zero value.
func (h *History) Last() RoundStats {
	if len(h.Rounds) == 0 {
		return RoundStats{TrainLoss: math.NaN()}
	}
	return h.Rounds[len(h.Rounds)-1]
}

// LastMetric returns the most recent value of key in Central, then Eval,
// searching back from the last round, and whether one was found.
func (h *History) LastMetric(key string) (float64, bool) {
	for i := len(h.Rounds) - 1; i >= 0; i-- {
		if v, ok := h.Rounds[i].Central[key]; ok {
			return v, true
		}
		if v, ok := h.Rounds[i].Eval[key]; ok {
			return v, true
		}
	}
	return 0, false
}

// Totals sums bytes, failures and train time over all rounds.
func (h *History) Totals() (bytesUp, bytesDown int64, failed int, trainSeconds float64) {
	for _, r := range h.Rounds {
		bytesUp += r.BytesUp
		bytesDown += r.BytesDown
		failed += r.Failed
		trainSeconds += r.TrainSeconds
	}
	return
}
