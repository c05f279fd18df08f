// Package report prints what fedgo's example programs show a person: a
// per-round progress table, a closing summary, and the one-line JSON object
// that scripts read.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// Table is an [fl.Observer] that prints one line per round to W.
type Table struct {
	W io.Writer
	// Extra columns: a header and a function of the round's stats.
	Extra []Column

	header bool
}

// Column is an extra column of a Table.
type Column struct {
	Name   string
	Format func(fl.RoundStats) string
}

var _ fl.Observer = (*Table)(nil)

// RoundStart does nothing.
func (t *Table) RoundStart(int, []string) {}

// RoundEnd prints the round's line, after the header on the first call.
func (t *Table) RoundEnd(s fl.RoundStats) {
	if !t.header {
		t.header = true
		fmt.Fprintf(t.W, "%5s  %9s  %6s  %10s  %8s  %9s  %9s  %9s  %7s", "round", "clients", "failed", "train loss", "test acc", "test loss", "up", "down", "seconds")
		for _, c := range t.Extra {
			fmt.Fprintf(t.W, "  %10s", c.Name)
		}
		fmt.Fprintln(t.W)
	}
	acc, loss := "", ""
	if m := evalMetrics(s); m != nil {
		acc = fmt.Sprintf("%.4f", m[fl.KeyAccuracy])
		loss = fmt.Sprintf("%.4f", m[fl.KeyLoss])
	}
	clients := fmt.Sprintf("%d/%d", s.Accepted, s.Sampled)
	if s.Aborted {
		clients += "!"
	}
	fmt.Fprintf(t.W, "%5d  %9s  %6d  %10s  %8s  %9s  %9s  %9s  %7.2f", s.Round, clients, s.Failed,
		num(s.TrainLoss), acc, loss, Bytes(s.BytesUp), Bytes(s.BytesDown), s.Seconds)
	for _, c := range t.Extra {
		fmt.Fprintf(t.W, "  %10s", c.Format(s))
	}
	fmt.Fprintln(t.W)
}

// evalMetrics returns the centralized evaluation of a round if it ran,
// else the federated one, else nil.
func evalMetrics(s fl.RoundStats) fl.Metrics {
	if s.Central != nil {
		return s.Central
	}
	if _, ok := s.Eval[fl.KeyAccuracy]; ok {
		return s.Eval
	}
	return nil
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.4f", x)
}

// Bytes formats a byte count with a binary unit.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Summary is the result of a run, as printed by -json.
type Summary struct {
	Rounds        int     `json:"rounds"`
	FinalAccuracy float64 `json:"final_accuracy"`
	FinalLoss     float64 `json:"final_loss"`
	ParamsSHA256  string  `json:"params_sha256"`
	WallSeconds   float64 `json:"wall_seconds"`
	TrainSeconds  float64 `json:"train_seconds"`
	BytesUp       int64   `json:"bytes_up"`
	BytesDown     int64   `json:"bytes_down"`
	FailedUpdates int     `json:"failed_updates"`
}

// Summarize fills a Summary from a history (the last evaluation gives the
// final accuracy and loss) and the wall time of the run.
func Summarize(h *fl.History, paramsSHA256 string, wall time.Duration) Summary {
	up, down, failed, train := h.Totals()
	s := Summary{
		Rounds: len(h.Rounds), ParamsSHA256: paramsSHA256, WallSeconds: wall.Seconds(),
		TrainSeconds: train, BytesUp: up, BytesDown: down, FailedUpdates: failed,
		FinalAccuracy: math.NaN(), FinalLoss: math.NaN(),
	}
	if v, ok := h.LastMetric(fl.KeyAccuracy); ok {
		s.FinalAccuracy = v
	}
	if v, ok := h.LastMetric(fl.KeyLoss); ok {
		s.FinalLoss = v
	}
	return s
}

// Print writes a readable summary.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%d rounds in %.1fs (%.1fs inside Trainer.Train, summed over clients)\n", s.Rounds, s.WallSeconds, s.TrainSeconds)
	fmt.Fprintf(w, "final test accuracy %.4f, loss %.4f\n", s.FinalAccuracy, s.FinalLoss)
	fmt.Fprintf(w, "bytes up %s, down %s; %d client updates lost\n", Bytes(s.BytesUp), Bytes(s.BytesDown), s.FailedUpdates)
	fmt.Fprintf(w, "params sha256 %s\n", s.ParamsSHA256)
}

// JSON writes v as one line of JSON, replacing NaN and Inf (which JSON
// cannot hold) in a Summary by null.
func JSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// MarshalJSON writes NaN accuracy or loss as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	out := struct {
		plain
		FinalAccuracy *float64 `json:"final_accuracy"`
		FinalLoss     *float64 `json:"final_loss"`
	}{plain: plain(s)}
	if !math.IsNaN(s.FinalAccuracy) {
		out.FinalAccuracy = &s.FinalAccuracy
	}
	if !math.IsNaN(s.FinalLoss) {
		out.FinalLoss = &s.FinalLoss
	}
	return json.Marshal(out)
}
