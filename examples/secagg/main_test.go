package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// lastJSON checks that every line of a -json run's stdout is a JSON
// object and decodes the last one, the summary, into v.
func lastJSON(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stdout line is not a JSON object: %q: %v", l, err)
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
}

func runOut(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func TestJSONSumAndSurvivors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		k, t int // 0: not checked
	}{
		{"no drops, searched params", []string{"-n", "30", "-dim", "200", "-drop", "0"}, 0, 0},
		{"drops", []string{"-n", "30", "-dim", "200", "-drop", "0.2"}, 0, 0},
		{"secagg+ k=8", []string{"-n", "24", "-dim", "100", "-k", "8", "-t", "5", "-drop", "0.1"}, 8, 5},
		{"complete graph", []string{"-n", "9", "-dim", "50", "-k", "8", "-drop", "0.1"}, 8, 5},
		{"malicious", []string{"-n", "16", "-dim", "64", "-malicious", "-k", "8", "-drop", "0.1"}, 8, 6},
		{"16 bits, trusted dealers", []string{"-n", "12", "-dim", "70", "-bits", "16", "-trust-dealers", "-drop", "0.1"}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s summary
			out := runOut(t, append(tc.args, "-seed", "3", "-json")...)
			lastJSON(t, out, &s)
			n := s.N
			if !s.SumOK {
				t.Fatalf("sum_ok false:\n%s", out)
			}
			if s.Survivors > n || s.Survivors < n-s.Dropped || s.Survivors < s.T {
				t.Fatalf("survivors %d, dropped %d, n %d, t %d: inconsistent", s.Survivors, s.Dropped, n, s.T)
			}
			if strings.Contains(strings.Join(tc.args, " "), "-drop 0 ") || tc.args[len(tc.args)-1] == "0" {
				if s.Dropped != 0 || s.Survivors != n {
					t.Fatalf("no drops asked, got %d dropped, %d survivors", s.Dropped, s.Survivors)
				}
			}
			if tc.k > 0 && (s.K != tc.k || s.T != tc.t) {
				t.Fatalf("k=%d t=%d, want %d %d", s.K, s.T, tc.k, tc.t)
			}
			if s.BytesPerClient <= 0 || s.ClientMS <= 0 || s.ServerMS <= 0 {
				t.Fatalf("summary %+v", s)
			}
			for _, want := range []string{`"step":"advertise"`, `"step":"share-keys"`, `"step":"masked-input"`, `"step":"unmask"`} {
				if !strings.Contains(out, want) {
					t.Errorf("JSON lacks %q", want)
				}
			}
			text := runOut(t, append(tc.args, "-seed", "3")...)
			for _, want := range []string{"advertise", "share-keys", "masked-input", "unmask", "equals the plain sum"} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q", want)
				}
			}
		})
	}
}

// With drops, some clients vanish; with the same seed, the same ones.
func TestDropsAreSeeded(t *testing.T) {
	args := []string{"-n", "40", "-dim", "20", "-drop", "0.3", "-seed", "5", "-json"}
	var a, b summary
	lastJSON(t, runOut(t, args...), &a)
	lastJSON(t, runOut(t, args...), &b)
	if a.Dropped == 0 || a.Survivors == a.N {
		t.Fatalf("-drop 0.3 of 40 dropped nobody: %+v", a)
	}
	if a.Dropped != b.Dropped || a.Survivors != b.Survivors {
		t.Fatalf("same seed, different drops: %+v vs %+v", a, b)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "1"},
		{"-drop", "1"},
		{"-drop", "-0.1"},
		{"-k", "-2"},
		{"-t", "3"},
		{"-k", "7", "-n", "20"},            // odd degree
		{"-k", "30", "-n", "20"},           // degree beyond n-1
		{"-k", "8", "-t", "9", "-n", "20"}, // t > k
		{"-bits", "0"},
		{"-bits", "3", "-n", "20"}, // cannot hold the sum of 20 values
		{"-malicious", "-k", "8", "-t", "3"},
		{"-rounds", "0", "-fl"},
		{"-fl", "-n", "20", "-per-round", "21"},
		{"-lr", "0", "-fl"},
		{"-weight-cap", "-1", "-fl"},
		{"-weight-cap", "NaN", "-fl"},
		{"-bogus"},
		{"extra"},
	} {
		if err := run(append(args, "-dim", "10"), io.Discard, io.Discard); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
	if err := run([]string{"-dim", "0"}, io.Discard, io.Discard); err == nil {
		t.Error("-dim 0: no error")
	}
	if err := run([]string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

type flSummary struct {
	Rounds        int      `json:"rounds"`
	FinalAccuracy *float64 `json:"final_accuracy"`
	FinalLoss     *float64 `json:"final_loss"`
	FailedUpdates int      `json:"failed_updates"`
	BytesUp       int64    `json:"bytes_up"`
}

// -fl trains the quickstart workload through secure aggregation: the test
// loss after 4 rounds is below the loss after 1.
func TestFLModeTrains(t *testing.T) {
	var one, four flSummary
	lastJSON(t, runOut(t, "-fl", "-n", "20", "-rounds", "1", "-local-epochs", "5", "-seed", "1", "-drop", "0", "-json"), &one)
	lastJSON(t, runOut(t, "-fl", "-n", "20", "-rounds", "4", "-local-epochs", "5", "-seed", "1", "-drop", "0", "-json"), &four)
	out := runOut(t, "-fl", "-n", "20", "-rounds", "4", "-local-epochs", "5", "-seed", "1", "-drop", "0")
	if four.Rounds != 4 || four.FinalLoss == nil || one.FinalLoss == nil || four.BytesUp == 0 {
		t.Fatalf("summaries %+v %+v", one, four)
	}
	if !(*four.FinalLoss < *one.FinalLoss) {
		t.Fatalf("test loss %v after 4 rounds, %v after 1", *four.FinalLoss, *one.FinalLoss)
	}
	for _, want := range []string{"round", "train loss", "secure aggregation k="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// With capped weights the run trains too, and differs from the
	// unweighted one (the synthetic clients hold different numbers of
	// examples).
	var wt flSummary
	lastJSON(t, runOut(t, "-fl", "-n", "20", "-rounds", "4", "-local-epochs", "5", "-seed", "1", "-drop", "0", "-weight-cap", "50", "-json"), &wt)
	wout := runOut(t, "-fl", "-n", "20", "-rounds", "4", "-local-epochs", "5", "-seed", "1", "-drop", "0", "-weight-cap", "50")
	if wt.FinalLoss == nil || !(*wt.FinalLoss < *one.FinalLoss) || *wt.FinalLoss == *four.FinalLoss {
		t.Fatalf("-weight-cap 50: final loss %v (unweighted %v, one round %v)", wt.FinalLoss, *four.FinalLoss, *one.FinalLoss)
	}
	if !strings.Contains(wout, "weights capped at 50 examples") {
		t.Errorf("output does not say the weights are capped:\n%s", wout)
	}
	// Drops at random steps: rounds still complete (or abort cleanly).
	var d flSummary
	lastJSON(t, runOut(t, "-fl", "-n", "20", "-rounds", "3", "-local-epochs", "2", "-seed", "2", "-drop", "0.2", "-malicious", "-json"), &d)
	if d.Rounds != 3 || d.FailedUpdates == 0 {
		t.Fatalf("with -drop 0.2: %+v", d)
	}
}
