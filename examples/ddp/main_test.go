package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
)

// TestMain runs the program itself when DDP_RUN_MAIN=1, so that a test
// can check its exit status.
func TestMain(m *testing.M) {
	if os.Getenv("DDP_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runLines runs with -json and returns stdout's lines, each parsed; it
// fails unless every line is a JSON object.
func runLines(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		lines = append(lines, r)
	}
	return lines
}

// runFields are the fields every run's object carries (issue 20's list,
// the data set, and the noise).
var runFields = []string{"dataset", "model", "mechanism", "bits", "epsilon", "delta", "accuracy", "bytes_per_client",
	"seconds_per_round", "threshold", "noise_stddev", "accounted_noise_stddev"}

// TestJSONContract: every stdout line is JSON, one object per run with
// the documented fields, the summary last; a width too small for the
// clients is a failed run with its reason, not a failure of the program;
// the plot is written.
func TestJSONContract(t *testing.T) {
	dir := t.TempDir()
	lines := runLines(t, "-clients", "40", "-per-round", "8", "-rounds", "2", "-epsilons", "8", "-bits", "3,16",
		"-mechanisms", "central,ddg,skellam", "-local-epochs", "1", "-max-samples", "20", "-out", dir)
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 5 runs and a summary: %v", len(lines), lines)
	}
	seen := map[string]bool{}
	for _, r := range lines[:5] {
		requireRunFields(t, r)
		m, _ := r["mechanism"].(string)
		bits, _ := r["bits"].(float64)
		seen[m] = true
		if r["dataset"] != "synthetic" || r["model"] != "softmax" {
			t.Errorf("run %v: dataset %v, model %v", r, r["dataset"], r["model"])
		}
		switch {
		case m != "central" && bits == 3:
			if r["error"] == nil || r["accuracy"] != nil {
				t.Errorf("3 bits for 8 clients ran: %v", r)
			}
		default:
			acc, ok := r["accuracy"].(float64)
			eps, _ := r["epsilon"].(float64)
			if !ok || !(acc > 0 && acc <= 1) || !(eps > 0 && eps <= 8*1.002) || r["error"] != nil {
				t.Errorf("run %v: accuracy %v, ε %v", r, r["accuracy"], r["epsilon"])
			}
			if se, ok := r["server_epsilon"].(float64); m != "central" && (!ok || !(se >= eps)) {
				t.Errorf("run %v: server ε %v below the released models' ε %v", r, r["server_epsilon"], eps)
			} else if m == "central" && r["server_epsilon"] != nil {
				t.Errorf("central run %v: a server ε for a server that sees the exact sum", r)
			}
			if b, _ := r["bytes_per_client"].(float64); !(b > 0) {
				t.Errorf("run %v: no bytes", r)
			}
			if th, _ := r["threshold"].(float64); m != "central" && th != 8/2+1 {
				t.Errorf("run %v: threshold %v, want the default n/2+1 = 5", r, r["threshold"])
			}
		}
	}
	if !seen["central"] || !seen["ddg"] || !seen["skellam"] {
		t.Errorf("mechanisms seen: %v", seen)
	}
	sum := lines[5]
	if sum["runs"] != 5.0 || sum["failed_runs"] != 2.0 || sum["dataset"] != "synthetic" || sum["threshold"] != 5.0 {
		t.Fatalf("summary %v", sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "ddp_accuracy.png")); err != nil {
		t.Errorf("plot: %v", err)
	}
}

// The noise columns are what the mechanisms add: central DP's accounted
// and summed noise are one; a distributed run's n clients each add a
// share provisioned for t survivors, so the sum carries n/t times the
// accounted variance (independently: Var = n·σ²/t). At 16 bits the
// rounding hardly inflates the sensitivity, so at the same ε the
// accounted σ is central DP's within 1%, and with t = n−1 so is the
// summed σ (within √(n/(n−1))).
func TestNoiseColumns(t *testing.T) {
	const n = 10
	for _, th := range []string{"6", "9"} {
		lines := runLines(t, "-clients", "100", "-per-round", "10", "-rounds", "1", "-epsilons", "4", "-bits", "16",
			"-mechanisms", "central,ddg,skellam", "-local-epochs", "1", "-max-samples", "5", "-out", "", "-threshold", th)
		central := lines[0]
		if central["noise_stddev"] != central["accounted_noise_stddev"] || central["threshold"] != nil {
			t.Errorf("central: %v", central)
		}
		cs := central["noise_stddev"].(float64)
		tf, _ := lines[1]["threshold"].(float64)
		for _, r := range lines[1:3] {
			s, a := r["noise_stddev"].(float64), r["accounted_noise_stddev"].(float64)
			if got, want := s*s/(a*a), n/tf; math.Abs(got-want) > 1e-9*want {
				t.Errorf("%v t=%v: summed/accounted variance %v, want n/t = %v", r["mechanism"], tf, got, want)
			}
			if math.Abs(a/cs-1) > 0.01 {
				t.Errorf("%v: accounted σ %v, central DP's %v at the same ε", r["mechanism"], a, cs)
			}
			if th == "9" && math.Abs(s/cs-1) > math.Sqrt(float64(n)/(n-1))-1+0.01 {
				t.Errorf("%v t=n−1: summed σ %v, central DP's %v", r["mechanism"], s, cs)
			}
		}
	}
}

// The plot joins each mechanism×width's points in increasing ε, leaves
// out failed runs, and its title names the data set, n, the rounds and δ.
func TestSeriesAndTitle(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	b12, b16 := 12, 16
	results := []result{
		{Mechanism: "central", TargetEpsilon: 8, Epsilon: f(8), Accuracy: f(0.8)},
		{Mechanism: "ddg", Bits: &b12, TargetEpsilon: 8, Epsilon: f(8), Accuracy: f(0.7)},
		{Mechanism: "ddg", Bits: &b16, TargetEpsilon: 8, Error: "too few bits"},
		{Mechanism: "central", TargetEpsilon: 2, Epsilon: f(2), Accuracy: f(0.6)},
		{Mechanism: "ddg", Bits: &b12, TargetEpsilon: 2, Epsilon: f(2), Accuracy: f(0.5)},
		{Mechanism: "central", TargetEpsilon: 4, Epsilon: f(4), Accuracy: f(0.7)},
	}
	s := series(results)
	if len(s) != 2 || s[0].Name != "central" || s[1].Name != "ddg b=12" {
		t.Fatalf("series %+v", s)
	}
	if x, y := s[0].X, s[0].Y; len(x) != 3 || x[0] != 2 || x[1] != 4 || x[2] != 8 || y[0] != 0.6 || y[1] != 0.7 || y[2] != 0.8 {
		t.Errorf("central: x %v y %v, want ε 2, 4, 8 with their accuracies", x, y)
	}
	if x, y := s[1].X, s[1].Y; len(x) != 2 || x[0] != 2 || y[0] != 0.5 || x[1] != 8 || y[1] != 0.7 {
		t.Errorf("ddg b=12: x %v y %v", x, y)
	}
	o := &options{model: "softmax", perRound: 100, clients: 1000, rounds: 20, delta: 5.0e-4}
	got := title(o, &workload{name: "Fashion-MNIST"})
	for _, w := range []string{"Fashion-MNIST", "n = 100", "20 rounds", "δ = 0.0005"} {
		if !strings.Contains(got, w) {
			t.Errorf("title %q lacks %q", got, w)
		}
	}
}

// badFlags cannot be honoured: each is refused before any work, and the
// message names what is wrong.
var badFlags = []struct {
	args []string
	want string
}{
	{[]string{"-epsilons", "0"}, "-epsilons"}, {[]string{"-epsilons", "x"}, "-epsilons"},
	{[]string{"-bits", "1"}, "-bits"}, {[]string{"-bits", "63"}, "-bits"}, {[]string{"-mechanisms", "local"}, "-mechanisms"},
	{[]string{"-per-round", "2"}, "-per-round"}, {[]string{"-clients", "10", "-per-round", "11"}, "-per-round"},
	{[]string{"-delta", "1"}, "-delta"}, {[]string{"-clip", "0"}, "-clip"}, {[]string{"-rounds", "-1"}, "-rounds"},
	{[]string{"extra"}, "unexpected arguments"}, {[]string{"-bogus"}, "bogus"},
	{[]string{"-dataset", "imagenet"}, "-dataset"}, {[]string{"-model", "cnn"}, "-model cnn"}, {[]string{"-model", "resnet"}, "-model"},
	{[]string{"-data", "/tmp"}, "-data"}, {[]string{"-dataset", "fashion-mnist", "-max-samples", "10"}, "-max-samples"},
	{[]string{"-dataset", "fashion-mnist", "-clients", "60001", "-per-round", "10"}, "-clients 60001"},
	{[]string{"-threshold", "1"}, "-threshold"}, {[]string{"-per-round", "10", "-threshold", "10"}, "-threshold"},
}

func TestHelpAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, c := range badFlags {
		out.Reset()
		errb.Reset()
		err := run(append([]string{"-out", ""}, c.args...), &out, &errb)
		if !errors.Is(err, errUsage) || out.Len() != 0 {
			t.Errorf("%v: error %v, stdout %q", c.args, err, out.String())
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, errb.String(), c.want)
		}
	}
	if err := run([]string{"-out", "/dev/null/x"}, &out, &errb); err == nil {
		t.Error("-out /dev/null/x accepted")
	}
}

// The program exits with status 2 and a message naming the flag for a
// command line it cannot honour, before loading anything.
func TestExitStatus(t *testing.T) {
	for _, args := range [][]string{{"-model", "cnn"}, {"-dataset", "fashion-mnist", "-max-samples", "10"}, {"-bogus"}, {"-threshold", "100"}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "DDP_RUN_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit status 2; stderr %q", args, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), args[0]) {
			t.Errorf("%v: stderr %q does not name %s", args, stderr.String(), args[0])
		}
	}
}

// Missing Fashion-MNIST files are an error that names the package.
func TestFashionMNISTMissing(t *testing.T) {
	var out, errb bytes.Buffer
	err := run([]string{"-dataset", "fashion-mnist", "-data", t.TempDir(), "-out", ""}, &out, &errb)
	if !errors.Is(err, dataset.ErrNotFound) || !strings.Contains(err.Error(), dataset.FashionMNISTPackage) {
		t.Errorf("missing data: %v", err)
	}
}

// The models' sizes and the padded dimensions the doc quotes: softmax
// 784·10+10, the MLP 784·128+128 + 128·10+10, niid_bench's CNN 44,426
// (examples/compare); the CNN refuses other inputs.
func TestModels(t *testing.T) {
	for _, c := range []struct {
		name      string
		params, D int
	}{{"softmax", 7850, 8192}, {"mlp", 101770, 131072}, {"cnn", 44426, 65536}} {
		m, err := newModel(c.name, 28*28, 10)
		if err != nil || m.NumParams() != c.params || padded(m.NumParams()) != c.D {
			t.Errorf("%s: %v parameters (want %d), D = %d (want %d), %v", c.name, m.NumParams(), c.params, padded(m.NumParams()), c.D, err)
		}
	}
	if _, err := newModel("cnn", 60, 10); err == nil || !strings.Contains(err.Error(), "28×28") {
		t.Errorf("cnn on 60 features: %v", err)
	}
	if o, err := parseFlags([]string{"-dataset", "fashion-mnist", "-model", "cnn"}, io.Discard); err != nil || o.model != "cnn" || o.lr != 0.1 || o.epochs != 1 {
		t.Errorf("-dataset fashion-mnist -model cnn: %+v, %v", o, err)
	}
}

// requireRunFields fails t unless the run line r has every field of
// runFields.
func requireRunFields(t *testing.T, r map[string]any) {
	t.Helper()
	for _, k := range runFields {
		if _, ok := r[k]; !ok {
			t.Errorf("run %v lacks %q", r, k)
		}
	}
}
