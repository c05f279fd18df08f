package report_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
)

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tab := &report.Table{W: &b, Extra: []report.Column{{Name: "epsilon", Format: func(s fl.RoundStats) string { return "0.5" }}}}
	tab.RoundEnd(fl.RoundStats{Round: 1, Sampled: 10, Accepted: 9, Failed: 1, TrainLoss: 0.25, BytesUp: 2048, BytesDown: 100,
		Central: fl.Metrics{fl.KeyAccuracy: 0.75, fl.KeyLoss: 0.5}})
	tab.RoundEnd(fl.RoundStats{Round: 2, Sampled: 10, Aborted: true, TrainLoss: math.NaN()})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want header and 2 rounds:\n%s", len(lines), b.String())
	}
	for _, want := range []string{"round", "test acc", "epsilon"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header lacks %q: %s", want, lines[0])
		}
	}
	for _, want := range []string{"9/10", "0.2500", "0.7500", "0.5000", "2.0 KiB", "100 B", "0.5"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("round 1 lacks %q: %s", want, lines[1])
		}
	}
	if !strings.Contains(lines[2], "0/10!") || !strings.Contains(lines[2], " - ") {
		t.Errorf("aborted round without loss: %s", lines[2])
	}
}

func TestJSONRoundsOneObjectPerLine(t *testing.T) {
	var b bytes.Buffer
	j := &report.JSONRounds{W: &b}
	obs := report.Observers(nil, j)
	for r := 1; r <= 3; r++ {
		obs.RoundStart(r, nil)
		obs.RoundEnd(fl.RoundStats{Round: r, TrainLoss: math.NaN(), Central: fl.Metrics{fl.KeyAccuracy: 0.5}})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || j.Err != nil {
		t.Fatalf("%d lines, err %v", len(lines), j.Err)
	}
	for i, l := range lines {
		var s fl.RoundStats
		if err := json.Unmarshal([]byte(l), &s); err != nil || s.Round != i+1 || !math.IsNaN(s.TrainLoss) {
			t.Errorf("line %d %q: %+v, %v", i, l, s, err)
		}
	}
}

// A fake clock: each round takes 2 s; after round 4 of 10, 8 s elapsed and
// 6 rounds remain: ETA 12 s.
func TestProgressETA(t *testing.T) {
	var b bytes.Buffer
	clock := time.Unix(0, 0)
	p := &report.Progress{W: &b, Label: "run", Rounds: 10, Every: -1, Now: func() time.Time { return clock }}
	for r := 1; r <= 10; r++ {
		p.RoundStart(r, nil)
		clock = clock.Add(2 * time.Second)
		p.RoundEnd(fl.RoundStats{Round: r})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines with Every < 0, want 10", len(lines))
	}
	if want := "run: round 4/10 (40%), 8s elapsed, ETA 12s"; lines[3] != want {
		t.Errorf("line 4 = %q, want %q", lines[3], want)
	}
	if want := "run: round 10/10 (100%), 20s elapsed, done"; lines[9] != want {
		t.Errorf("last line = %q, want %q", lines[9], want)
	}
}

// A resumed run starts at round 6: the ETA uses the rounds of this run.
func TestProgressResumedAndThrottled(t *testing.T) {
	var b bytes.Buffer
	clock := time.Unix(0, 0)
	p := &report.Progress{W: &b, Rounds: 10, Every: 3 * time.Second, Now: func() time.Time { return clock }}
	for r := 6; r <= 10; r++ {
		p.RoundStart(r, nil)
		clock = clock.Add(time.Second)
		p.RoundEnd(fl.RoundStats{Round: r})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// Lines when 3 s passed since the last (after round 8) and at the end.
	want := []string{"round 8/10 (80%), 3s elapsed, ETA 2s", "round 10/10 (100%), 5s elapsed, done"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", lines, want)
	}
}

func TestSummaryJSON(t *testing.T) {
	h := &fl.History{Rounds: []fl.RoundStats{
		{Round: 1, BytesUp: 10, BytesDown: 20, Failed: 1, TrainSeconds: 0.5, Central: fl.Metrics{fl.KeyAccuracy: 0.5, fl.KeyLoss: 1}},
		{Round: 2, BytesUp: 1, BytesDown: 2, TrainSeconds: 0.25},
	}}
	s := report.Summarize(h, []float64{1, -2}, 3*time.Second)
	if s.Rounds != 2 || s.BytesUp != 11 || s.BytesDown != 22 || s.FailedUpdates != 1 || s.TrainSeconds != 0.75 ||
		s.FinalAccuracy != 0.5 || s.FinalLoss != 1 || s.WallSeconds != 3 {
		t.Errorf("summary %+v", s)
	}
	// printf '\0\0\0\0\0\0\xf0\x3f\0\0\0\0\0\0\0\xc0' | sha256sum
	if want := "7886fe67ba4484d889aa8ec41f0b242f914fbf6bae1be2ed23f56a007e3547b0"; s.ParamsSHA256 != want {
		t.Errorf("sha256 %s, want %s", s.ParamsSHA256, want)
	}
	none := report.Summarize(&fl.History{}, nil, 0)
	var b bytes.Buffer
	if err := report.WriteJSON(&b, none); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m["final_accuracy"]; !ok || v != nil {
		t.Errorf("NaN accuracy marshalled as %v (present %v), want null", v, ok)
	}
	f := s.Fields()
	if f["rounds"] != 2.0 || f["params_sha256"] != s.ParamsSHA256 || f["final_accuracy"] != 0.5 {
		t.Errorf("fields %v", f)
	}
	var p bytes.Buffer
	s.Print(&p)
	if !strings.Contains(p.String(), "final test accuracy 0.5000") {
		t.Errorf("print:\n%s", p.String())
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := report.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
