package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
)

type summary struct {
	Rounds          int      `json:"rounds"`
	FinalAccuracy   *float64 `json:"final_accuracy"`
	FinalLoss       *float64 `json:"final_loss"`
	ParamsSHA256    string   `json:"params_sha256"`
	WallSeconds     *float64 `json:"wall_seconds"`
	BytesUp         int64    `json:"bytes_up"`
	FailedUpdates   *int     `json:"failed_updates"`
	Epsilon         *float64 `json:"epsilon"`
	Delta           float64  `json:"delta"`
	NoiseMultiplier float64  `json:"noise_multiplier"`
	ClipNorm        float64  `json:"clip_norm"`
	BudgetExhausted bool     `json:"budget_exhausted"`
}

// runJSON runs with -json and checks the output contract: every line of
// stdout is JSON, the rounds (with ε in their extra values, when not
// -quiet), then the summary. It returns the summary and the rounds.
func runJSON(t *testing.T, args ...string) (summary, []fl.RoundStats) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rounds []fl.RoundStats
	for _, l := range lines[:len(lines)-1] {
		var r fl.RoundStats
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Round == 0 {
			t.Fatalf("stdout line %q is not a round's JSON: %v", l, err)
		}
		rounds = append(rounds, r)
	}
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	return s, rounds
}

// runText runs without -json and returns stdout and stderr.
func runText(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

func rdpEpsilon(t *testing.T, s accountant.Step, k int, delta float64) float64 {
	t.Helper()
	a, _ := accountant.NewRDP(nil)
	if err := a.Compose(s, k); err != nil {
		t.Fatal(err)
	}
	e, _, err := a.Epsilon(delta)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// discreteStep is the step CentralDP's default mechanism is accounted
// with, from its parameters: the discrete Gaussian of σ = z·L grid steps
// over one client's rounded contribution of L2 norm at most L (any L: the
// bound depends on σ/L only), Poisson-sampled with rate q.
func discreteStep(z, q float64) accountant.Step {
	const L = 1 << 12
	return accountant.Step{SampleRate: q, Discrete: &accountant.DiscreteNoise{
		Kind: accountant.DistributedDiscreteGaussian, Shares: 1, Variance: (z * L) * (z * L), L2: L, L1: L,
	}}
}

func TestDPJSONAndTable(t *testing.T) {
	s, rounds := runJSON(t, "-rounds", "5", "-epsilon", "3", "-q", "0.05")
	if s.Rounds != 5 || s.FinalAccuracy == nil || s.FailedUpdates == nil || len(s.ParamsSHA256) != 64 || s.BudgetExhausted {
		t.Fatalf("summary = %+v", s)
	}
	wantDelta := math.Pow(1000, -1.1)
	if math.Abs(s.Delta-wantDelta) > 1e-15 || s.ClipNorm != 1 || s.NoiseMultiplier <= 0 {
		t.Errorf("delta %v (want %v), clip %v, noise %v", s.Delta, wantDelta, s.ClipNorm, s.NoiseMultiplier)
	}
	want := rdpEpsilon(t, discreteStep(s.NoiseMultiplier, 0.05), 5, s.Delta)
	if s.Epsilon == nil || math.Abs(*s.Epsilon-want) > 1e-9*want || *s.Epsilon > 3 {
		t.Errorf("epsilon %v, want %v ≤ 3", s.Epsilon, want)
	}
	if len(rounds) != 5 || rounds[4].Extra[privacy.KeyEpsilon] != *s.Epsilon || rounds[0].Extra[privacy.KeyEpsilon] >= *s.Epsilon {
		t.Errorf("rounds' ε do not grow to the summary's %v: %+v", *s.Epsilon, rounds)
	}
	out, _ := runText(t, "-rounds", "5", "-epsilon", "3", "-q", "0.05")
	for _, w := range []string{"epsilon", "test acc", "\n    5  ", "calibrated", "privacy: (ε = "} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// With a given noise multiplier and a budget that allows k rounds, the run
// stops after k rounds with the model of a k-round run.
func TestDPBudgetStopsRun(t *testing.T) {
	const k, z, q = 3, 1.0, 0.05
	delta := math.Pow(1000, -1.1)
	step := discreteStep(z, q)
	target := (rdpEpsilon(t, step, k, delta) + rdpEpsilon(t, step, k+1, delta)) / 2
	eps := strings.TrimRight(strings.TrimRight(jsonFloat(target), "0"), ".")
	s, _ := runJSON(t, "-rounds", "20", "-noise", "1", "-epsilon", eps, "-q", "0.05")
	if s.Rounds != k || !s.BudgetExhausted {
		t.Fatalf("rounds %d, exhausted %v", s.Rounds, s.BudgetExhausted)
	}
	if out, _ := runText(t, "-rounds", "20", "-noise", "1", "-epsilon", eps, "-q", "0.05"); !strings.Contains(out, "budget exhausted") {
		t.Errorf("text output does not say the budget is exhausted:\n%s", out)
	}
	ref, _ := runJSON(t, "-rounds", "3", "-noise", "1", "-epsilon", eps, "-quiet", "-q", "0.05")
	if ref.ParamsSHA256 != s.ParamsSHA256 || ref.BudgetExhausted {
		t.Errorf("stopped run's params %s, a %d-round run's %s", s.ParamsSHA256, k, ref.ParamsSHA256)
	}
}

func jsonFloat(x float64) string { b, _ := json.Marshal(x); return string(b) }

func TestDPVariants(t *testing.T) {
	a, _ := runJSON(t, "-rounds", "3", "-quiet", "-clients", "300")
	b, _ := runJSON(t, "-rounds", "3", "-quiet", "-clients", "300")
	if a.ParamsSHA256 != b.ParamsSHA256 {
		t.Error("same seed, different parameters")
	}
	sec, _ := runJSON(t, "-rounds", "3", "-quiet", "-clients", "300", "-secure-noise")
	if sec.ParamsSHA256 == a.ParamsSHA256 {
		t.Error("crypto/rand noise gave the seeded run's parameters")
	}
	none, _ := runJSON(t, "-rounds", "3", "-quiet", "-clients", "300", "-epsilon", "0")
	if none.Epsilon != nil || none.NoiseMultiplier != 0 {
		t.Errorf("no noise: epsilon %v, noise %v", none.Epsilon, none.NoiseMultiplier)
	}
	fixed, _ := runJSON(t, "-rounds", "3", "-quiet", "-clients", "300", "-per-round", "40", "-adaptive")
	if fixed.Epsilon == nil || *fixed.Epsilon > 5 || fixed.ClipNorm == 1 {
		t.Errorf("fixed-size adaptive: %+v", fixed)
	}
	iid, _ := runJSON(t, "-rounds", "3", "-quiet", "-iid", "-model", "mlp", "-clients", "300")
	if iid.Rounds != 3 || iid.Epsilon == nil {
		t.Errorf("iid mlp: %+v", iid)
	}
}

func TestDPBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-q", "0.1", "-per-round", "10"},
		{"-per-round", "5000"},
		{"-accountant", "xyz"},
		{"-q", "1.5"},
		{"-clip", "-1"},
		{"-epsilon", "0.0001", "-noise", "0.3"},
		{"-dataset", "imagenet"},
		{"-rounds", "-1"},
		{"-rounds", "0"},
		{"-clients", "0"},
		{"-per-round", "-2"},
		{"-q", "0"},
		{"-delta", "1"},
		{"-delta", "-0.1"},
		{"-model", "cnn"},
		{"-local-epochs", "0"},
		{"-lr", "0"},
		{"extra"},
		{"-bogus"},
	} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err == nil || out.Len() != 0 {
			t.Errorf("%v: error %v, stdout %q", args, err, out.String())
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// A δ of at least 1/N allows publishing a client's data: the run warns.
func TestDPLargeDeltaWarned(t *testing.T) {
	_, stderr := runText(t, "-rounds", "1", "-clients", "100", "-delta", "0.5", "-quiet")
	if !strings.Contains(stderr, "warning: δ = 0.5 ≥ 1/N = 0.01") {
		t.Errorf("no warning for δ = 0.5 with 100 clients: %q", stderr)
	}
	_, stderr = runText(t, "-rounds", "1", "-clients", "100", "-quiet")
	if strings.Contains(stderr, "warning") {
		t.Errorf("warning with the default δ: %q", stderr)
	}
}

// TestDPFashionMNIST: DP-FedAvg at ε = 5 over 1000 IID clients keeps most
// of the accuracy of the non-private run (76% in 40 rounds).
// It trains 40 rounds over 1000 clients (20 s on two cores), so it runs
// under CI=true only.
func TestDPFashionMNIST(t *testing.T) {
	if testing.Short() || os.Getenv("CI") != "true" {
		t.Skip("long reproduction: runs under CI=true (as .ci/run sets), not with -short")
	}
	dir := dataset.DefaultFashionMNISTDir // CI installs it: its absence fails the run
	s, _ := runJSON(t, "-dataset", "fashion-mnist", "-data", dir, "-iid", "-quiet")
	if *s.FinalAccuracy < 0.70 || s.Epsilon == nil || *s.Epsilon > 5 {
		t.Errorf("accuracy %.4f, ε %v", *s.FinalAccuracy, s.Epsilon)
	}
	t.Logf("Fashion-MNIST DP-FedAvg (ε = %.3f): accuracy %.4f", *s.Epsilon, *s.FinalAccuracy)
}

// -model cnn is niid_bench's CNN (44,426 parameters on 28×28 inputs, see
// examples/compare) and refuses other inputs.
func TestDPCNNModel(t *testing.T) {
	m, err := newModel("cnn", 28*28, 10)
	if err != nil || m.NumParams() != 44426 {
		t.Fatalf("cnn: %v, %v", m, err)
	}
	if _, err := newModel("cnn", 60, 10); err == nil || !strings.Contains(err.Error(), "28×28") {
		t.Errorf("cnn on 60 features: %v", err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-model", "cnn"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "fashion-mnist") {
		t.Errorf("-model cnn on synthetic: %v", err)
	}
}
