package fl

import (
	"math"
	"time"
)

// Failure reasons counted in [RoundStats.Failures].
const (
	FailError    = "error"    // the client or the transport returned an error
	FailTimeout  = "timeout"  // no answer before the round's deadline
	FailRejected = "rejected" // the answer was malformed: NaN/Inf, wrong length, bad weight, wrong round or type
	FailDup      = "duplicate"
)

// RoundStats describe one round, as recorded in [History] and passed to
// [Observer.RoundEnd].
type RoundStats struct {
	Round        int            `json:"round"`
	Sampled      int            `json:"sampled"`            // clients asked to train
	Accepted     int            `json:"accepted"`           // updates that reached the aggregate
	Failed       int            `json:"failed"`             // clients whose contribution was lost
	Failures     map[string]int `json:"failures,omitempty"` // Failed by reason (Fail... constants)
	Aborted      bool           `json:"aborted,omitempty"`  // fewer than MinClients accepted: parameters unchanged
	TrainLoss    float64        `json:"train_loss"`         // example-weighted mean of the clients' reported loss (NaN if none)
	Eval         Metrics        `json:"eval,omitempty"`     // federated evaluation, when it ran this round
	Central      Metrics        `json:"central,omitempty"`  // centralized evaluation, when it ran this round
	Extra        Metrics        `json:"extra,omitempty"`    // values recorded by extensions (for example privacy spent)
	BytesUp      int64          `json:"bytes_up"`           // client → server, as encoded on the wire
	BytesDown    int64          `json:"bytes_down"`         // server → client
	TrainSeconds float64        `json:"train_seconds"`      // time inside Trainer.Train, summed over clients
	Seconds      float64        `json:"seconds"`            // wall time of the round
}

// AddFailure counts one lost client contribution under reason (one of the
// Fail... constants, or a protocol's own).
func (s *RoundStats) AddFailure(reason string) { s.fail(reason) }

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

// Observer is told when rounds start and end. Its methods are called from
// the goroutine running [Server.Run], so they must not block for long.
type Observer interface {
	RoundStart(round int, sampled []string)
	RoundEnd(stats RoundStats)
}

// ObserverFuncs adapts a pair of functions, either of which may be nil, to
// an [Observer].
type ObserverFuncs struct {
	Start func(round int, sampled []string)
	End   func(stats RoundStats)
}

// RoundStart calls o.Start if it is set.
func (o ObserverFuncs) RoundStart(round int, sampled []string) {
	if o.Start != nil {
		o.Start(round, sampled)
	}
}

// RoundEnd calls o.End if it is set.
func (o ObserverFuncs) RoundEnd(stats RoundStats) {
	if o.End != nil {
		o.End(stats)
	}
}

// secondsSince is time.Since in seconds.
func secondsSince(t time.Time) float64 { return time.Since(t).Seconds() }
