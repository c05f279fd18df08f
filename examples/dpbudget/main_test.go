package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/privacy/accountant"
)

type answer struct {
	Epsilon         float64  `json:"epsilon"`
	Delta           float64  `json:"delta"`
	NoiseMultiplier float64  `json:"noise_multiplier"`
	Steps           int      `json:"steps"`
	Q               float64  `json:"q"`
	Accountant      string   `json:"accountant"`
	Order           *float64 `json:"order"`
}

// runJSON runs with -json, checks that stdout is one JSON object, and
// returns it with the text output of the same run without -json.
func runJSON(t *testing.T, args ...string) (answer, string) {
	t.Helper()
	var out, text, errb bytes.Buffer
	if err := run(append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	if err := run(args, &text, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("-json printed %d lines, want one JSON object:\n%s", len(lines), out.String())
	}
	var a answer
	var raw map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &raw); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &a); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"epsilon", "delta", "noise_multiplier", "steps", "q", "accountant"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	return a, text.String()
}

// The JSON must carry exactly what the accountant computes directly.
func TestDPBudgetMatchesAccountant(t *testing.T) {
	cases := []struct {
		args []string
		step accountant.Step
		pld  bool
	}{
		{[]string{"-q", "0.01", "-sigma", "1.1", "-steps", "1000", "-delta", "1e-5"}, accountant.Step{NoiseMultiplier: 1.1, SampleRate: 0.01}, false},
		{[]string{"-q", "0.05", "-sigma", "0.8", "-steps", "300", "-delta", "1e-6"}, accountant.Step{NoiseMultiplier: 0.8, SampleRate: 0.05}, false},
		{[]string{"-q", "0.05", "-sigma", "1", "-steps", "200", "-sampling", "fixed", "-n", "1000"},
			accountant.Step{NoiseMultiplier: 1, SampleRate: 0.05, Sampling: accountant.FixedSize, Population: 1000}, false},
		{[]string{"-q", "0.01", "-sigma", "2", "-steps", "100", "-accountant", "pld"}, accountant.Step{NoiseMultiplier: 2, SampleRate: 0.01}, true},
	}
	for _, c := range cases {
		a, out := runJSON(t, c.args...)
		delta := a.Delta
		var want, wantOrder float64
		if c.pld {
			acc, _ := accountant.NewPLD(accountant.PLDConfig{})
			if err := acc.Compose(c.step, a.Steps); err != nil {
				t.Fatal(err)
			}
			var err error
			if want, err = acc.Epsilon(delta); err != nil {
				t.Fatal(err)
			}
			if a.Order != nil || a.Accountant != "pld" {
				t.Errorf("%v: PLD answer has order %v, accountant %q", c.args, a.Order, a.Accountant)
			}
		} else {
			acc, _ := accountant.NewRDP(nil)
			if err := acc.Compose(c.step, a.Steps); err != nil {
				t.Fatal(err)
			}
			var err error
			if want, wantOrder, err = acc.Epsilon(delta); err != nil {
				t.Fatal(err)
			}
			if a.Order == nil || *a.Order != wantOrder || a.Accountant != "rdp" {
				t.Errorf("%v: order %v, want %v", c.args, a.Order, wantOrder)
			}
		}
		if a.Epsilon != want || a.NoiseMultiplier != c.step.NoiseMultiplier || a.Q != c.step.SampleRate {
			t.Errorf("%v: %+v, want ε = %v", c.args, a, want)
		}
		if !strings.Contains(out, "differentially private") {
			t.Errorf("%v: no readable answer:\n%s", c.args, out)
		}
	}
}

func TestDPBudgetCalibrates(t *testing.T) {
	a, out := runJSON(t, "-q", "0.01", "-steps", "1000", "-target-epsilon", "3")
	want, err := accountant.CalibrateNoise(accountant.Target{Epsilon: 3, Delta: 1e-5, SampleRate: 0.01, Steps: 1000}, accountant.KindRDP)
	if err != nil {
		t.Fatal(err)
	}
	if a.NoiseMultiplier != want || a.Epsilon > 3 || a.Steps != 1000 {
		t.Errorf("%+v, want σ = %v and ε ≤ 3", a, want)
	}
	if !strings.Contains(out, "To meet ε = 3") {
		t.Errorf("output:\n%s", out)
	}
}

func TestDPBudgetBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-q", "0.01", "-steps", "10"},
		{"-sigma", "1", "-target-epsilon", "2"},
		{"-sigma", "1", "-accountant", "moments"},
		{"-sigma", "1", "-sampling", "shuffle"},
		{"-sigma", "1", "-sampling", "fixed"},
		{"-sigma", "1", "-n", "10"},
		{"-sigma", "1", "-sampling", "fixed", "-n", "1000", "-q", "0.0005"},
		{"-sigma", "-1"},
		{"-sigma", "1", "-q", "2"},
		{"-sigma", "1", "-delta", "0"},
		{"-sigma", "1", "-steps", "0"},
		{"extra", "-sigma", "1"},
	} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// -rdp-method selects how fractional orders are computed; each answer is
// what the accountant computes directly with that method.
func TestDPBudgetRDPMethods(t *testing.T) {
	step := accountant.Step{NoiseMultiplier: 5, SampleRate: 0.5}
	for _, m := range []accountant.RDPMethod{accountant.RDPExact, accountant.RDPOpacus, accountant.RDPDPAccounting} {
		a, _ := runJSON(t, "-q", "0.5", "-sigma", "5", "-steps", "100", "-delta", "1e-5", "-rdp-method", m.String())
		acc, err := accountant.NewRDPWith(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.Compose(step, 100); err != nil {
			t.Fatal(err)
		}
		want, _, err := acc.Epsilon(1e-5)
		if err != nil {
			t.Fatal(err)
		}
		if a.Epsilon != want {
			t.Errorf("%s: epsilon %v, accountant %v", m, a.Epsilon, want)
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-sigma", "1", "-rdp-method", "moments"}, &out, &errb); err == nil {
		t.Error("unknown -rdp-method accepted")
	}
	if err := run([]string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
