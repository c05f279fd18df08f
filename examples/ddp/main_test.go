package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONContract: every stdout line is JSON, one object per run with
// the documented fields, the summary last; a width too small for the
// clients is a failed run with its reason, not a failure of the program;
// the plot is written.
func TestJSONContract(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"-clients", "40", "-per-round", "8", "-rounds", "2", "-epsilons", "8", "-bits", "3,16",
		"-mechanisms", "central,ddg,skellam", "-local-epochs", "1", "-max-samples", "20", "-out", dir, "-json"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 5 runs and a summary:\n%s", len(lines), out.String())
	}
	seen := map[string]bool{}
	for _, l := range lines[:5] {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		for _, k := range []string{"mechanism", "bits", "epsilon", "delta", "accuracy", "bytes_per_client", "seconds_per_round"} {
			if _, ok := r[k]; !ok {
				t.Errorf("line %q lacks %q", l, k)
			}
		}
		m, _ := r["mechanism"].(string)
		bits, _ := r["bits"].(float64)
		seen[m] = true
		switch {
		case m != "central" && bits == 3:
			if r["error"] == nil || r["accuracy"] != nil {
				t.Errorf("3 bits for 8 clients ran: %q", l)
			}
		default:
			acc, ok := r["accuracy"].(float64)
			eps, _ := r["epsilon"].(float64)
			if !ok || !(acc > 0 && acc <= 1) || !(eps > 0 && eps <= 8*1.002) || r["error"] != nil {
				t.Errorf("run %q: accuracy %v, ε %v", l, r["accuracy"], r["epsilon"])
			}
			if se, ok := r["server_epsilon"].(float64); m != "central" && (!ok || !(se >= eps)) {
				t.Errorf("run %q: server ε %v below the released models' ε %v", l, r["server_epsilon"], eps)
			} else if m == "central" && r["server_epsilon"] != nil {
				t.Errorf("central run %q: a server ε for a server that sees the exact sum", l)
			}
			if b, _ := r["bytes_per_client"].(float64); !(b > 0) {
				t.Errorf("run %q: no bytes", l)
			}
		}
	}
	if !seen["central"] || !seen["ddg"] || !seen["skellam"] {
		t.Errorf("mechanisms seen: %v", seen)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[5]), &sum); err != nil || sum["runs"] != 5.0 || sum["failed_runs"] != 2.0 {
		t.Fatalf("summary %q: %v", lines[5], err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ddp_accuracy.png")); err != nil {
		t.Errorf("plot: %v", err)
	}
}

func TestHelpAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, args := range [][]string{
		{"-epsilons", "0"}, {"-epsilons", "x"}, {"-bits", "1"}, {"-bits", "63"}, {"-mechanisms", "local"},
		{"-per-round", "2"}, {"-clients", "10", "-per-round", "11"}, {"-delta", "1"}, {"-clip", "0"},
		{"-out", "/dev/null/x"}, {"extra"},
	} {
		if err := run(append([]string{"-out", ""}, args...), &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
