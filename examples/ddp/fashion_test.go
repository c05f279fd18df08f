package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
)

// runFashion runs on the real Fashion-MNIST with -json and returns the
// parsed lines. When the files are absent it skips, naming the package to
// install, except under CI=true (which installs them), where their
// absence fails the test.
func runFashion(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(append([]string{"-dataset", "fashion-mnist", "-out", "", "-json"}, args...), &out, &errb)
	switch {
	case errors.Is(err, dataset.ErrNotFound) && os.Getenv("CI") != "true":
		t.Skipf("Fashion-MNIST not installed at %s: apt-get install -y %s", dataset.DefaultFashionMNISTDir, dataset.FashionMNISTPackage)
	case errors.Is(err, dataset.ErrNotFound):
		t.Fatalf("Fashion-MNIST is required under CI=true (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
	case err != nil:
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

// TestFashionMNISTDDGMatchesCentral: on the real Fashion-MNIST, split IID
// over N clients (the same split for both runs), the distributed discrete
// Gaussian at 16 bits ends within a stated margin of central DP's test
// accuracy at the same ε, with the noise provisioned for t = n−1
// survivors so that both sums carry the same σ (issue 20's comparison).
// The runs are seeded; the margins are wider than the spread of either
// run over noise draws (measured with -secure-noise, the same configs,
// load average ~10 on 2 cores):
//
//   - default (N = 300, n = 30, 4 rounds, ε = 50: 4 s): 8 draws each,
//     central 0.7009–0.7155, ddg 0.7014–0.7287, paired differences
//     −0.3 to +1.3 points: margin 3 points;
//   - CI=true (N = 1000, n = 100, 5 rounds, ε = 4: 13 s of CPU, 39 s
//     wall at load average 10): central
//     0.6747–0.6879 (6 draws), ddg 0.6511–0.7010 (8 draws): margin 4
//     points. The 20-round figures of the package doc are the claim
//     itself; this test guards the pipeline: a wrong scale or decoding
//     moves accuracy by far more (to chance at worst). A noise level off
//     by √2 (t = n/2+1 instead of n−1) costs only 1–2 points here and
//     may pass: TestNoiseColumns checks the noise level.
//
// Every stdout line parses as JSON, the runs carry the documented fields
// and name the data set, and the summary comes last.
func TestFashionMNISTDDGMatchesCentral(t *testing.T) {
	args := []string{"-clients", "300", "-per-round", "30", "-threshold", "29", "-rounds", "4", "-epsilons", "50"}
	margin := 0.03
	if os.Getenv("CI") == "true" {
		args = []string{"-clients", "1000", "-per-round", "100", "-threshold", "99", "-rounds", "5", "-epsilons", "4"}
		margin = 0.04
	}
	lines := runFashion(t, append(args, "-bits", "16", "-mechanisms", "central,ddg")...)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 2 runs and the summary: %v", len(lines), lines)
	}
	acc := map[string]float64{}
	for _, r := range lines[:2] {
		requireRunFields(t, r)
		m, _ := r["mechanism"].(string)
		a, ok := r["accuracy"].(float64)
		if r["dataset"] != "fashion-mnist" || !ok || r["error"] != nil || r["failed_updates"] != 0.0 {
			t.Fatalf("run %v", r)
		}
		acc[m] = a
	}
	if sum := lines[2]; sum["dataset"] != "fashion-mnist" || sum["runs"] != 2.0 || sum["failed_runs"] != 0.0 {
		t.Errorf("summary %v", sum)
	}
	c, d := acc["central"], acc["ddg"]
	t.Logf("Fashion-MNIST %v: central %.4f, ddg b=16 %.4f (%+.2f points)", args, c, d, 100*(d-c))
	if !(c > 0.6) || math.Abs(d-c) > margin {
		t.Errorf("central %.4f, ddg at 16 bits %.4f: want central > 0.6 and |ddg − central| ≤ %.0f points", c, d, 100*margin)
	}
}
