package main

import (
	"bytes"
	"context"
	"encoding/json"
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

func runNetwork(t *testing.T, args ...string) (summary, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("network %v: %v\n%s\n%s", args, err, out.String(), errb.String())
	}
	return lastJSON(t, out.String()), out.String()
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

	got, out := runNetwork(t, flags...)
	if got.ParamsSHA256 != want.ParamsSHA256 || got.Rounds != 6 || got.FailedUpdates != 0 {
		t.Errorf("network: %+v\nquickstart: %+v", got, want)
	}
	for _, s := range []string{"train loss", "test acc", "\n    6  ", "0 killed and restarted"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	faulty, out := runNetwork(t, append(flags, "-kill", "0.25", "-restart-server")...)
	if faulty.Rounds != 6 || faulty.FinalAccuracy == nil || math.Abs(*faulty.FinalAccuracy-*want.FinalAccuracy) > 0.01 {
		t.Errorf("with faults: %+v, want 6 rounds and accuracy near %v", faulty, *want.FinalAccuracy)
	}
	for _, s := range []string{"2 killed and restarted", "server restarted 1 times", "resumed after round", "each once"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "\n    6  "); n != 1 {
		t.Errorf("round 6 printed %d times:\n%s", n, out)
	}
}

func TestNetworkBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "0"}, {"-kill", "1.5"}, {"-rounds", "-2"}, {"extra"}, {"-no-such-flag"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if err := dispatch(context.Background(), "juggler", nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("an unknown role was accepted")
	}
}
