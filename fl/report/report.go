package report

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// Table is an [fl.Observer] that prints one line per round to W: the
// round, accepted/sampled clients ("!" when the round was aborted), failed
// clients, the mean training loss, the last evaluation's accuracy and loss
// (centralized if it ran, else federated), the bytes each way and the
// round's seconds, then the Extra columns.
type Table struct {
	W     io.Writer
	Extra []Column

	header bool
}

// Column is an extra column of a [Table]: a header and a function of the
// round's stats.
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
		acc, loss = num(m[fl.KeyAccuracy]), num(m[fl.KeyLoss])
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
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return fmt.Sprintf("%.4f", x)
}

// JSONRounds is an [fl.Observer] that writes each round's [fl.RoundStats]
// to W as one line of JSON. The first write error is kept in Err and ends
// the writing.
type JSONRounds struct {
	W   io.Writer
	Err error
}

var _ fl.Observer = (*JSONRounds)(nil)

// RoundStart does nothing.
func (j *JSONRounds) RoundStart(int, []string) {}

// RoundEnd writes the round's stats as one JSON line.
func (j *JSONRounds) RoundEnd(s fl.RoundStats) {
	if j.Err == nil {
		j.Err = WriteJSON(j.W, s)
	}
}

// Observers returns an [fl.Observer] that calls each non-nil observer in
// turn.
func Observers(obs ...fl.Observer) fl.Observer {
	var all multi
	for _, o := range obs {
		if o != nil {
			all = append(all, o)
		}
	}
	return all
}

type multi []fl.Observer

func (m multi) RoundStart(r int, ids []string) {
	for _, o := range m {
		o.RoundStart(r, ids)
	}
}

func (m multi) RoundEnd(s fl.RoundStats) {
	for _, o := range m {
		o.RoundEnd(s)
	}
}

// Bytes formats a byte count with a binary unit: "512 B", "1.5 KiB".
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

// ParamsSHA256 returns the hex SHA-256 of params as little-endian float64
// values: a fingerprint that two runs share only if their parameters are
// equal bit for bit.
func ParamsSHA256(params []float64) string {
	b := make([]byte, 0, 8*len(params))
	for _, x := range params {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// WriteJSON writes v to w as one line of JSON.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Summary is the result of a run, as a person reads it ([Summary.Print])
// and as a script reads it (its JSON, in which an accuracy or loss that was
// never measured is null).
type Summary struct {
	Rounds        int     `json:"rounds"`
	FinalAccuracy float64 `json:"final_accuracy"` // NaN when no evaluation ran
	FinalLoss     float64 `json:"final_loss"`     // NaN when no evaluation ran
	ParamsSHA256  string  `json:"params_sha256"`
	WallSeconds   float64 `json:"wall_seconds"`
	TrainSeconds  float64 `json:"train_seconds"` // inside Trainer.Train, summed over clients
	BytesUp       int64   `json:"bytes_up"`
	BytesDown     int64   `json:"bytes_down"`
	FailedUpdates int     `json:"failed_updates"`
}

// Summarize fills a Summary from a history (the last evaluation gives the
// final accuracy and loss), the final parameters and the wall time.
func Summarize(h *fl.History, params []float64, wall time.Duration) Summary {
	up, down, failed, train := h.Totals()
	s := Summary{
		Rounds: len(h.Rounds), ParamsSHA256: ParamsSHA256(params), WallSeconds: wall.Seconds(),
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

// Print writes the summary for a person.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%d rounds in %.1fs (%.1fs inside Trainer.Train, summed over clients)\n", s.Rounds, s.WallSeconds, s.TrainSeconds)
	fmt.Fprintf(w, "final test accuracy %s, loss %s\n", num(s.FinalAccuracy), num(s.FinalLoss))
	fmt.Fprintf(w, "bytes up %s, down %s; %d client updates lost\n", Bytes(s.BytesUp), Bytes(s.BytesDown), s.FailedUpdates)
	fmt.Fprintf(w, "params sha256 %s\n", s.ParamsSHA256)
}

// MarshalJSON writes a NaN accuracy or loss as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	out := struct {
		plain
		FinalAccuracy *float64 `json:"final_accuracy"`
		FinalLoss     *float64 `json:"final_loss"`
	}{plain: plain(s), FinalAccuracy: finite(s.FinalAccuracy), FinalLoss: finite(s.FinalLoss)}
	return json.Marshal(out)
}

// Fields returns the summary's JSON fields as a map, to which a program
// adds its own before writing it.
func (s Summary) Fields() map[string]any {
	b, _ := json.Marshal(s) // cannot fail: finite numbers and strings
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}
