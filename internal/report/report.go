// Package report is what examples/worker and examples/hier print with,
// kept for them while they move to the public package fl/report (the
// table, summary and JSON) and fl/report/chart (the figures), to which it
// now delegates. New code imports those.
package report

import (
	"io"
	"time"

	"github.com/fedgo/fedgo/fl"
	pub "github.com/fedgo/fedgo/fl/report"
)

// Table is an fl.Observer that prints one line per round (fl/report.Table).
type Table = pub.Table

// Column is an extra column of a Table.
type Column = pub.Column

// Summary is the result of a run, as printed by -json.
type Summary = pub.Summary

// Bytes formats a byte count with a binary unit.
func Bytes(n int64) string { return pub.Bytes(n) }

// Summarize fills a Summary from a history, the hex SHA-256 of the final
// parameters and the wall time of the run.
func Summarize(h *fl.History, paramsSHA256 string, wall time.Duration) Summary {
	s := pub.Summarize(h, nil, wall)
	s.ParamsSHA256 = paramsSHA256
	return s
}

// JSON writes v as one line of JSON.
func JSON(w io.Writer, v any) error { return pub.WriteJSON(w, v) }
