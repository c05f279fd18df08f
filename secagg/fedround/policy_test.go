package fedround_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// openRound sends client c00 of h a round's opening message with setup s
// and the given global parameters.
func openRound(t *testing.T, h *harness, s fedround.Setup, params []float64) (*fl.Message, error) {
	t.Helper()
	hd, err := h.handler("c00")
	if err != nil {
		t.Fatal(err)
	}
	m := &fl.Message{Type: fedround.TypeTrain, Round: int(s.Params.Round), Params: params, Payload: marshal(&s)}
	return hd.Handle(context.Background(), m)
}

// The downgrade attacks on a client with an identity, each refused
// by the client's policy before it trains: semi-honest mode with N = 2,
// t = 1 (the server plays the other client and unmasks the delta), a
// malicious setup naming [c00, mallory×7], names outside the PKI, and a
// round below the client's minimum N or threshold.
func TestPolicyRefusesDowngrades(t *testing.T) {
	h := newHarness(8, 30)
	pki := h.identities()
	names := func(ns ...string) []string { return ns }
	mallory := names("c00", "c07", "c07", "c07", "c07", "c07", "c07", "c07")
	mal := secagg.Params{N: 8, Threshold: 5, Bits: 32, Dim: 4, Round: 1, Malicious: true}
	for _, c := range []struct {
		name  string
		setup fedround.Setup
	}{
		{"semi-honest N=2 t=1", fedround.Setup{Params: secagg.Params{N: 2, Threshold: 1, Bits: 32, Dim: 4, Round: 1}, ID: 1, Clip: 1}},
		{"semi-honest N=8", fedround.Setup{Params: secagg.Params{N: 8, Threshold: 5, Bits: 32, Dim: 4, Round: 1}, ID: 1, Clip: 1}},
		{"one name seven times", fedround.Setup{Params: mal, ID: 1, Clip: 1, Names: mallory}},
		{"name outside the PKI", fedround.Setup{Params: mal, ID: 1, Clip: 1, Names: names("c00", "c01", "c02", "c03", "c04", "c05", "c06", "eve")}},
	} {
		if _, ok := pki["eve"]; ok {
			t.Fatal("eve is in the PKI")
		}
		r, err := openRound(t, h, c.setup, make([]float64, 4))
		if !errors.Is(err, fedround.ErrPolicy) {
			t.Errorf("%s: %v %v, want ErrPolicy", c.name, r, err)
		}
		if _, started := h.states["c00"].Round(); started {
			t.Errorf("%s: the refused setup started a round", c.name)
		}
	}
	// Without an identity, the minimum threshold applies as well.
	plain := newHarness(3, 31)
	s := fedround.Setup{Params: secagg.Params{N: 3, Threshold: 1, Bits: 32, Dim: 4, Round: 1}, ID: 1, Clip: 1}
	if _, err := openRound(t, plain, s, make([]float64, 4)); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("t = 1: %v, want ErrPolicy", err)
	}
	// A good malicious setup is accepted, unless below the client's MinClients.
	good := fedround.Setup{Params: mal, ID: 1, Clip: 1, Names: names("c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07")}
	c := h.ccfg["c00"]
	c.MinClients = 9
	h.ccfg["c00"] = c
	if _, err := openRound(t, h, good, make([]float64, 4)); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("N = 8 below MinClients = 9: %v, want ErrPolicy", err)
	}
	c.MinClients = 0
	h.ccfg["c00"] = c
	if r, err := openRound(t, h, good, make([]float64, 4)); err != nil || r.Type != fedround.TypeAdvertise {
		t.Fatalf("good setup: %v %v", r, err)
	}
}

// Evaluation is an oracle on the client's data: refused by default, and
// with EvaluateRoundParams answered only at the last round's parameters.
// Round numbers strictly increase: a round reopened with other parameters
// (to difference two masked inputs) or an older round is refused.
func TestPolicyEvaluateAndRounds(t *testing.T) {
	ctx := context.Background()
	h := newHarness(3, 32)
	c := h.ccfg["c00"]
	c.Evaluate = fedround.EvaluateRoundParams
	h.ccfg["c00"] = c
	hd, _ := h.handler("c00")
	global := []float64{0.1, 0.2, 0.3, 0.4}
	eval := func(params []float64) error {
		_, err := hd.Handle(ctx, &fl.Message{Type: fl.TypeEvaluate, Round: 2, Params: params})
		return err
	}
	if err := eval(global); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("evaluate before any round: %v, want ErrPolicy", err)
	}
	s := fedround.Setup{Params: secagg.Params{N: 3, Threshold: 2, Bits: 32, Dim: 4, Round: 2}, ID: 1, Clip: 1}
	if _, err := openRound(t, h, s, global); err != nil {
		t.Fatal(err)
	}
	// fakeTrainer has no evaluator: reaching it gives fl.ErrUnknownType.
	if err := eval(global); !errors.Is(err, fl.ErrUnknownType) {
		t.Errorf("evaluate at the round's parameters: %v, want the wrapped handler's answer", err)
	}
	probe := []float64{0.1, 0.2, 0.3, 0.4 + 1e-9}
	if err := eval(probe); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("evaluate at other parameters: %v, want ErrPolicy", err)
	}
	other := s
	other.Params.Bits = 16
	if _, err := openRound(t, h, other, probe); !errors.Is(err, fedround.ErrRound) {
		t.Errorf("round reopened with other parameters: %v, want ErrRound", err)
	}
	older := s
	older.Params.Round = 1
	if _, err := openRound(t, h, older, global); !errors.Is(err, fedround.ErrRound) {
		t.Errorf("older round: %v, want ErrRound", err)
	}
}

// With WeightCap the server must not learn a client's weight: the
// examples metric (the weight itself) is not sent even when the client's
// metric list allows it; without it, only the allowed metrics are sent.
func TestPolicyMetrics(t *testing.T) {
	h := newHarness(3, 33)
	c := h.ccfg["c00"]
	c.Metrics = []string{fl.KeyLoss, fl.KeyExamples}
	h.ccfg["c00"] = c
	s := fedround.Setup{Params: secagg.Params{N: 3, Threshold: 2, Bits: 32, Dim: 5, Round: 1}, ID: 1, Clip: 1, WeightCap: 10}
	r, err := openRound(t, h, s, make([]float64, 4))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Metrics[fl.KeyExamples]; ok || len(r.Metrics) != 1 {
		t.Errorf("weighted round sent metrics %v, want only the loss", r.Metrics)
	}
	s.WeightCap, s.Params.Dim, s.Params.Round = 0, 4, 2
	if r, err = openRound(t, h, s, make([]float64, 4)); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Metrics[fl.KeyExamples]; !ok || len(r.Metrics) != 2 {
		t.Errorf("unweighted round sent metrics %v, want loss and examples", r.Metrics)
	}
	d := newHarness(3, 34)
	s.Params.Round = 1
	if r, err = openRound(t, d, s, make([]float64, 4)); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Metrics[fl.KeyExamples]; ok {
		t.Errorf("default policy sent the examples metric: %v", r.Metrics)
	}
}

// In malicious mode the graph seed needs the share of every client that
// advertised keys: a client failing at the reveal step (the answer to
// secagg/share-keys) stops the round with secagg.ErrIncomplete, since
// leaving it out would let the server choose among seeds; a failure at
// secagg/seed (after the reveal) only drops that client.
func TestMaliciousRevealStep(t *testing.T) {
	const n, dim = 10, 5
	h := newHarness(n, 35)
	cfg := testConfig(5, 6)
	cfg.Malicious, cfg.PeerKeys = true, h.identities()
	h.fail(fedround.TypeShareKeys, h.ids[3])
	_, _, st, err := runRound(t, h, cfg, 1, dim)
	if !errors.Is(err, secagg.ErrIncomplete) || st.FailedAt[fedround.TypeShareKeys] != 1 {
		t.Fatalf("a missing reveal: err %v, failures %v; want ErrIncomplete", err, st.Failures)
	}
	// With MaxUnrevealed = 1 the same failure leaves the round like a
	// dropout, and the other clients' mean comes out.
	h = newHarness(n, 37)
	lenient := cfg
	lenient.PeerKeys, lenient.MaxUnrevealed, lenient.Threshold = h.identities(), 1, 5
	h.fail(fedround.TypeShareKeys, h.ids[3])
	got, acc, st, err := runRound(t, h, lenient, 1, dim)
	if err != nil || acc != n-1 || st.FailedAt[fedround.TypeShareKeys] != 1 {
		t.Fatalf("a missing reveal with MaxUnrevealed 1: accepted %d, failures %v, err %v", acc, st.FailedAt, err)
	}
	assertClose(t, got, wantMean(indices(n, 3), dim, testClip), tol(32, n))
	h = newHarness(n, 36)
	cfg.PeerKeys = h.identities()
	h.fail(fedround.TypeSeed, h.ids[3])
	got, acc, st, err = runRound(t, h, cfg, 1, dim)
	if err != nil || acc != n-1 || st.FailedAt[fedround.TypeSeed] != 1 {
		t.Fatalf("a failure after the reveal: accepted %d, failures %v, err %v", acc, st.Failures, err)
	}
	assertClose(t, got, wantMean(indices(n, 3), dim, testClip), tol(32, n))
}

// A server that picks a degree and threshold Validate accepts but too
// weak for the client's assumed corrupt fraction is refused; the
// parameters the server's own search gives for that fraction pass.
func TestPolicyRefusesWeakParams(t *testing.T) {
	const n = 200
	h := newHarness(n, 37)
	h.identities()
	c := h.ccfg["c00"]
	c.TrustParams, c.Corrupt = false, 0.05
	h.ccfg["c00"] = c
	setup := func(k, thr int) fedround.Setup {
		return fedround.Setup{Params: secagg.Params{N: n, Threshold: thr, Neighbors: k, Bits: 32, Dim: 4, Round: 1, Malicious: true}, ID: 1, Clip: 1, Names: h.ids}
	}
	weak := setup(8, 6) // t = k/2 + 2: valid, tolerates no corrupt neighbour
	if err := weak.Params.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := openRound(t, h, weak, make([]float64, 4)); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("k=8, t=6 for 200 clients, 5%% corrupt: %v, want ErrPolicy", err)
	}
	cfg := fedround.DefaultConfig()
	cfg.Malicious, cfg.Corrupt = true, 0.05
	p, err := cfg.RoundParams(n, 4)
	if err != nil {
		t.Fatal(err)
	}
	good := setup(p.Neighbors, p.Threshold)
	if r, err := openRound(t, h, good, make([]float64, 4)); err != nil || r.Type != fedround.TypeAdvertise {
		t.Fatalf("k=%d, t=%d from the server's search: %v %v", p.Neighbors, p.Threshold, r, err)
	}
	// The default assumption is 1/3 corrupt: the same parameters are too
	// weak for it.
	c.Corrupt = 0
	h.ccfg["c00"] = c
	good.Params.Round = 2
	if _, err := openRound(t, h, good, make([]float64, 4)); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("5%%-corrupt parameters under the default 1/3 assumption: %v, want ErrPolicy", err)
	}
}
