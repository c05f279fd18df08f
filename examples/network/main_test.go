package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary play the server and the clients, as the
// program does when it runs itself again.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := dispatch(context.Background(), role, os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, role+":", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type summary struct {
	Rounds        int      `json:"rounds"`
	FinalAccuracy *float64 `json:"final_accuracy"`
	ParamsSHA256  string   `json:"params_sha256"`
	FailedUpdates int      `json:"failed_updates"`
	BytesUp       int64    `json:"bytes_up"`
}

func lastJSON(t *testing.T, out string) summary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	return s
}

// runNetwork runs the program with -json and checks the output contract:
// stdout holds only JSON, one object per round (each round once, in
// order), then the summary. It returns the summary and stderr.
func runNetwork(t *testing.T, rounds int, args ...string) (summary, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("network %v: %v\n%s\n%s", args, err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != rounds+1 {
		t.Fatalf("stdout has %d lines, want %d rounds and the summary:\n%s", len(lines), rounds, out.String())
	}
	for i, l := range lines[:rounds] {
		var r struct {
			Round    int            `json:"round"`
			Accepted int            `json:"accepted"`
			Central  map[string]any `json:"central"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Round != i+1 || i == rounds-1 && r.Central["accuracy"] == nil {
			t.Errorf("stdout line %d is not round %d's JSON: %q (%v)", i+1, i+1, l, err)
		}
	}
	return lastJSON(t, out.String()), errb.String()
}

// quickstart runs the in-memory quickstart program with args.
func quickstart(t *testing.T, args ...string) summary {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command("go", "build", "-o", bin, "github.com/fedgo/fedgo/examples/quickstart")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the quickstart: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, append(args, "-json", "-quiet")...).Output()
	if err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	return lastJSON(t, string(out))
}

// TestNetworkEqualsQuickstart: without faults, the deployment over the
// network ends with the in-memory simulation's parameters, bit for bit;
// with clients killed and the server restarted, it still completes every
// round once and ends within a point of accuracy of it.
func TestNetworkEqualsQuickstart(t *testing.T) {
	flags := []string{"-clients", "8", "-rounds", "6", "-per-round", "4", "-seed", "5"}
	want := quickstart(t, flags...)

	got, errOut := runNetwork(t, 6, flags...)
	if got.ParamsSHA256 != want.ParamsSHA256 || got.Rounds != 6 || got.FailedUpdates != 0 {
		t.Errorf("network: %+v\nquickstart: %+v", got, want)
	}
	for _, s := range []string{"network: round 6/6", "0 killed and restarted"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errOut)
		}
	}

	faulty, errOut := runNetwork(t, 6, append(flags, "-kill", "0.25", "-restart-server")...)
	if faulty.Rounds != 6 || faulty.FinalAccuracy == nil || math.Abs(*faulty.FinalAccuracy-*want.FinalAccuracy) > 0.01 {
		t.Errorf("with faults: %+v, want 6 rounds and accuracy near %v", faulty, *want.FinalAccuracy)
	}
	for _, s := range []string{"2 killed and restarted", "server restarted 1 times", "resumed after round", "each once"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errOut)
		}
	}
}

// TestNetworkText: without -json, stdout holds the table, each round once,
// and the summary for a person.
func TestNetworkText(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-clients", "3", "-rounds", "2", "-per-round", "2"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	for _, s := range []string{"train loss", "  test acc  ", "\n    2  ", "final test accuracy", "params sha256", "0 killed and restarted"} {
		if n := strings.Count(out.String(), s); n != 1 {
			t.Errorf("stdout holds %q %d times:\n%s", s, n, out.String())
		}
	}
}

func TestNetworkBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "0"}, {"-kill", "1.5"}, {"-rounds", "-2"}, {"-rounds", "0"}, {"extra"}, {"-no-such-flag"},
		{"-per-round", "0"}, {"-per-round", "9", "-clients", "8"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if err := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp (exit 0)", err)
	}
	if err := dispatch(context.Background(), "juggler", nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("an unknown role was accepted")
	}
}
