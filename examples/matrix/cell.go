package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/robust"
	"github.com/fedgo/fedgo/robust/attack"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// The axes of the matrix.
var (
	aggregators = []string{"fedavg", "robust", "byzantine", "byzantine-clients"}
	privacies   = []string{"none", "central", "secure"}
	codecs      = []string{"none", "topk1%+ef", "int8"}
	transports  = []string{"memory", "https"}
)

// The workload: N clients pulling the model toward their own targets, M
// sampled a round, the first Byz of them attackers in the attack rows.
const (
	N, M, Byz = 20, 10, 4
	Dim       = 50
	Rounds    = 8
	Clip      = 1.0
	Noise     = 1.0
	Delta     = 1e-5
	// Allowed is how many releases the privacy budget allows: the
	// target ε lies between ε(Allowed) and ε(Allowed+1).
	Allowed = 5
	// attackScale multiplies a Byzantine client's own delta in the
	// byzantine-clients rows: a huge contribution that DP must clip.
	attackScale = -1e4
)

// A cell is one combination of the axes.
type cell struct {
	Aggregator string `json:"aggregator"`
	Privacy    string `json:"privacy"`
	Codec      string `json:"codec"`
	Transport  string `json:"transport"`
}

func (c cell) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", c.Aggregator, c.Privacy, c.Codec, c.Transport)
}

// outcome is what one run of a cell gave.
type outcome struct {
	refused  error // the server refused the composition before round 1
	runErr   error // Run's error
	rounds   int   // rounds completed
	params   string
	history  *fl.History
	maxRatio float64 // the largest ‖DP sum‖ seen over its bound (≤ 1 when clipping held)
	allowed  int     // releases the budget allowed (direct use of the mechanism)
}

// workload holds the clients' fixed data.
type workload struct {
	targets map[string][]float64
	ids     []string
	byz     map[string]bool
}

func newWorkload() *workload {
	w := &workload{targets: map[string][]float64{}, byz: map[string]bool{}}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range N {
		id := fmt.Sprintf("c%02d", i)
		t := make([]float64, Dim)
		for j := range t {
			t[j] = 3 * r.NormFloat64()
		}
		w.ids = append(w.ids, id)
		w.targets[id] = t
		if i < Byz {
			w.byz[id] = true
		}
	}
	return w
}

// pull is a client's trainer: half the way to its target.
type pull struct {
	target []float64
	weight float64
	scale  float64 // 1, or attackScale for a Byzantine client
}

func (p pull) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	d := make([]float64, len(global))
	var loss float64
	for i := range d {
		e := p.target[i] - global[i]
		d[i] = p.scale * 0.5 * e
		loss += e * e
	}
	return fl.Update{Delta: d, Weight: p.weight, Metrics: fl.Metrics{fl.KeyLoss: loss, fl.KeyExamples: p.weight}}, nil
}

// seeded is a deterministic reader for what a test or simulation may seed
// (the noise, the secagg round seeds, each client's secrets).
func seeded(a, b byte) io.Reader { return rand.NewChaCha8([32]byte{a, b, 0x6d}) }

// run runs cell c once with GOMAXPROCS procs and reports what happened.
func run(ctx context.Context, w *workload, c cell, procs int) (*outcome, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	out := &outcome{allowed: -1}
	dp, err := newPrivacy(c)
	if err != nil {
		return nil, err
	}
	cfg, spy, err := serverConfig(w, c, dp)
	if err != nil {
		return nil, err
	}
	handlers, err := clientHandlers(w, c)
	if err != nil {
		return nil, err
	}
	pool, stop, err := startPool(ctx, c, w.ids, handlers)
	if err != nil {
		return nil, err
	}
	defer stop()
	if c.Codec != "none" {
		dec, err := compress.Parse(c.Codec)
		if err != nil {
			return nil, err
		}
		pool = transport.CompressUplink(pool, dec, Dim)
	}
	s, err := fl.NewServer(cfg, pool, make([]float64, Dim))
	if err != nil {
		out.refused = err
		return out, nil
	}
	if dp != nil {
		out.allowed = dp.MaxRounds()
	}
	h, err := s.Run(ctx)
	out.runErr, out.history, out.rounds = err, h, s.Round()
	sum := sha256.Sum256(floatBytes(s.Params()))
	out.params = hex.EncodeToString(sum[:8])
	if spy != nil {
		out.maxRatio = spy.maxRatio
	}
	return out, nil
}

// newPrivacy returns the cell's DP mechanism: fixed-size sampling of M of
// N, noise multiplier Noise, a budget of Allowed releases.
func newPrivacy(c cell) (*privacy.CentralDP, error) {
	if c.Privacy == "none" {
		return nil, nil
	}
	cfg := privacy.CentralConfig{
		ClipNorm: Clip, NoiseMultiplier: Noise, TargetEpsilon: 1e6, Delta: Delta,
		Population: N, SampleRate: float64(M) / N, Sampling: accountant.FixedSize,
		ClientClipped: c.Privacy == "secure", Random: seeded(1, 1),
	}
	// The mechanism's own accounting step (the discrete Gaussian's proven
	// bound), from a probe with an unbounded budget.
	probe, err := privacy.NewCentralDP(cfg)
	if err != nil {
		return nil, err
	}
	step := probe.AccountingStep()
	eps := func(k int) (float64, error) {
		a, err := accountant.NewRDP(nil)
		if err != nil {
			return 0, err
		}
		if err := a.Compose(step, k); err != nil {
			return 0, err
		}
		e, _, err := a.Epsilon(Delta)
		return e, err
	}
	lo, err := eps(Allowed)
	if err != nil {
		return nil, err
	}
	hi, err := eps(Allowed + 1)
	if err != nil {
		return nil, err
	}
	cfg.TargetEpsilon = (lo + hi) / 2
	return privacy.NewCentralDP(cfg)
}

// serverConfig returns the server config of cell c. The aggregator rows
// put their rule in Aggregator whatever the privacy column says: the server
// must refuse what cannot be composed.
func serverConfig(w *workload, c cell, dp *privacy.CentralDP) (fl.ServerConfig, *spyPrivacy, error) {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed, cfg.MaxAborted = Rounds, 7, Rounds
	cfg.ClientConfig = fl.Config{fl.KeyLR: 0.5}
	switch c.Aggregator {
	case "robust":
		cfg.Aggregator = &robust.Pre{Step: &robust.NNM{F: Byz / 2}, Rule: &robust.TrimmedMean{F: Byz / 2}}
		cfg.MinClients = Byz + 1 // the rule needs n > 2F updates
	case "byzantine":
		cfg.Aggregator = &attack.Byzantine{Attack: attack.SignFlip{}, Clients: w.byz, Rule: &fl.FedAvg{}, Seed: 3}
	}
	var spy *spyPrivacy
	if dp != nil {
		spy = &spyPrivacy{CentralDP: dp}
		cfg.Privacy = spy
	} else {
		cfg.ClientsPerRound = M
	}
	if c.Privacy == "secure" {
		sc := fedround.DefaultConfig()
		sc.Clip, sc.Rand = Clip, seeded(2, 2)
		ex, err := fedround.New(sc)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Exchange = ex
	}
	return cfg, spy, nil
}

// clientHandlers returns each client's handler: its trainer, then the
// cell's client middleware (the attack, the uplink codec, secure
// aggregation). Each client keeps its codec (error feedback) and its
// secure-aggregation state for the whole run.
func clientHandlers(w *workload, c cell) (map[string]fl.Handler, error) {
	hs := map[string]fl.Handler{}
	for i, id := range w.ids {
		scale := 1.0
		if c.Aggregator == "byzantine-clients" && w.byz[id] {
			scale = attackScale
		}
		h := fl.NewHandler(pull{target: w.targets[id], weight: float64(1 + i%3), scale: scale}, nil)
		if c.Codec != "none" {
			codec, err := compress.ParseSeeded(c.Codec, uint64(i))
			if err != nil {
				return nil, err
			}
			h = fl.Wrap(h, transport.EncodeUplink(codec))
		}
		if c.Privacy == "secure" {
			st := &fedround.ClientState{}
			h = fl.Wrap(h, fedround.Middleware(st, fedround.ClientConfig{Rand: seeded(3, byte(i))}))
		}
		hs[id] = h
	}
	return hs, nil
}

// spyPrivacy is the cell's Privacy: the CentralDP, with a look at every
// sum it releases. Under secure aggregation NoiseSum gets the unmasked sum
// of the clients' contributions, whose norm is at most (survivors)·C when
// each was clipped; in the plain exchange the aggregate it releases has
// norm at most (m·C + noise)/qN.
type spyPrivacy struct {
	*privacy.CentralDP
	mu       sync.Mutex
	maxRatio float64
}

func (s *spyPrivacy) Aggregator() fl.Aggregator { return spyAgg{s} }

func (s *spyPrivacy) NoiseSum(sum []float64) error {
	// Quantization moves each coordinate by at most one step; the bound
	// allows 1e-6 of slack for it.
	s.observe(norm(sum) / (M*Clip*(1+1e-6) + 1e-6))
	return s.CentralDP.NoiseSum(sum)
}

func (s *spyPrivacy) observe(ratio float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxRatio = max(s.maxRatio, ratio)
}

type spyAgg struct{ s *spyPrivacy }

func (a spyAgg) Aggregate(dst []float64, ups []fl.Update) error {
	if err := a.s.CentralDP.Aggregate(dst, ups); err != nil {
		return err
	}
	// Noise of standard deviation σ = z·S (S = 2C, fixed-size sampling)
	// per coordinate of the sum: its norm is below σ(√d + 6) but for
	// probability e^-18.
	sigma := Noise * 2 * Clip
	bound := float64(len(ups))*Clip + sigma*(math.Sqrt(Dim)+6)
	a.s.observe(norm(dst) * a.s.Denominator() / bound)
	return nil
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func floatBytes(v []float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		u := math.Float64bits(x)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
	}
	return b
}
