package ddp

import (
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// fixedTrainer returns a fixed delta of norm 0.9 (below C = 1).
type fixedTrainer struct{ delta []float64 }

func (t fixedTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	if len(global) != len(t.delta) {
		return fl.Update{}, errors.New("test: dimension")
	}
	return fl.Update{Delta: append([]float64(nil), t.delta...), Weight: 1, Metrics: fl.Metrics{fl.KeyLoss: 1}}, nil
}

// spyPrivacy records every sum the server releases, before the division:
// after unmasking, this is everything the server learns about the
// clients' deltas.
type spyPrivacy struct {
	fl.Privacy
	mu   sync.Mutex
	sums [][]float64
}

func (s *spyPrivacy) NoiseSum(sum []float64) error {
	s.mu.Lock()
	s.sums = append(s.sums, append([]float64(nil), sum...))
	s.mu.Unlock()
	return s.Privacy.NoiseSum(sum)
}

// spyConn records every reply a client sends to the server.
type spyConn struct {
	fl.Conn
	log *[]*fl.Message
	mu  *sync.Mutex
}

func (c spyConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	r, err := c.Conn.Send(ctx, m)
	if r != nil {
		c.mu.Lock()
		*c.log = append(*c.log, r)
		c.mu.Unlock()
	}
	return r, err
}

type spyPool struct {
	fl.Pool
	log []*fl.Message
	mu  sync.Mutex
}

func (p *spyPool) Conn(id string) (fl.Conn, bool) {
	c, ok := p.Pool.Conn(id)
	if !ok {
		return nil, false
	}
	return spyConn{Conn: c, log: &p.log, mu: &p.mu}, true
}

type sim struct {
	ids    []string
	deltas map[string][]float64
	pool   *spyPool
	d      *DDP
	// drop lists the clients that fail when asked for their masked input
	// (they leave the round after sharing their keys).
	drop map[string]bool
}

// newSim builds n clients with fixed deltas over the in-memory transport,
// each with its own encoder and state, the clients' middleware built by
// the DDP (or by wrap, if set).
func newSim(t *testing.T, d *DDP, n int, ccfg func(i int) fedround.ClientConfig) *sim {
	t.Helper()
	s := &sim{d: d, deltas: map[string][]float64{}, drop: map[string]bool{}}
	r := mrand.New(mrand.NewPCG(11, 12))
	states := map[string]*fedround.ClientState{}
	encs := map[string]*Encoder{}
	ccs := map[string]fedround.ClientConfig{}
	for i := range n {
		id := fmt.Sprintf("c%02d", i)
		s.ids = append(s.ids, id)
		s.deltas[id] = randVec(r, d.p.Dim, 0.9)
		states[id] = &fedround.ClientState{}
		enc, err := d.Encoder(seedReader(byte(100 + i)))
		if err != nil {
			t.Fatal(err)
		}
		encs[id] = enc
		ccs[id] = fedround.ClientConfig{Rand: mrand.NewChaCha8([32]byte{byte(i), 7})}
		if ccfg != nil {
			ccs[id] = ccfg(i)
		}
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs: s.ids, Seed: 1, Workers: 2,
		Factory: func(id string) (fl.Handler, error) {
			tr := fixedTrainer{s.deltas[id]}
			h := fl.Wrap(fl.NewHandler(tr, nil), d.ClientMiddleware(states[id], ccs[id], encs[id]))
			return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
				if m.Type == fedround.TypeMaskedInput && s.drop[id] {
					return nil, errors.New("test: dropped out")
				}
				return h.Handle(ctx, m)
			}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.pool = &spyPool{Pool: pool}
	return s
}

func wiringConfig(m Mechanism, n int) Config {
	return Config{
		Mechanism: m, Bits: 16, ClipNorm: 1, Dim: 200, Clients: n, Threshold: n / 2,
		NoiseMultiplier: 1, Population: n, SampleRate: 1, Sampling: accountant.FixedSize,
		Secagg: fedround.Config{Rand: mrand.NewChaCha8([32]byte{9})},
	}
}

func (s *sim) server(t *testing.T, priv fl.Privacy, ex fl.Exchange, rounds int) *fl.Server {
	t.Helper()
	scfg := fl.DefaultServerConfig()
	scfg.ClientsPerRound = 0
	scfg.Rounds, scfg.Privacy, scfg.Exchange, scfg.Seed = rounds, priv, ex, 1
	scfg.MinClients = 2
	srv, err := fl.NewServer(scfg, s.pool, make([]float64, s.d.p.Dim))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestServerViewIsNoised mounts the curious server: a spy records every
// reply the clients send and every sum the server unmasks. No reply
// carries a plain vector, and the unmasked sum differs from the exact sum
// of the clipped deltas by noise whose variance per coordinate is at least
// the provisioned Shares·σ²_share·γ² (all n clients' shares are in it).
func TestServerViewIsNoised(t *testing.T) {
	for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
		t.Run(m.String(), func(t *testing.T) {
			const n = 8
			cfg := wiringConfig(m, n)
			if m == Skellam {
				cfg.Bits = 12
			}
			d := mustNew(t, cfg)
			s := newSim(t, d, n, nil)
			spy := &spyPrivacy{Privacy: d}
			srv := s.server(t, spy, d.Exchange(), 2)
			h, err := srv.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(spy.sums) != 2 || h.Last().Accepted != n {
				t.Fatalf("%d releases, last round accepted %d", len(spy.sums), h.Last().Accepted)
			}
			for _, msg := range s.pool.log {
				if len(msg.Params) != 0 {
					t.Fatalf("a reply of type %q carries a plain vector", msg.Type)
				}
			}
			exact := make([]float64, cfg.Dim)
			for _, id := range s.ids {
				for j, v := range s.deltas[id] {
					exact[j] += v
				}
			}
			p := d.Params()
			provisioned := p.Variance * p.Gamma * p.Gamma
			full := provisioned * n / float64(p.Shares)
			for r, sum := range spy.sums {
				var m2 float64
				for j := range sum {
					e := sum[j] - exact[j]
					m2 += e * e
				}
				m2 /= float64(len(sum))
				// The noise of n shares, plus the rounding (< n·γ²/4... per
				// coordinate after rotation; tiny next to it).
				if se := full * math.Sqrt(2/float64(len(sum))); m2 < provisioned || math.Abs(m2-full) > 6*se+float64(n)*p.Gamma*p.Gamma {
					t.Errorf("round %d: noise variance per coordinate %.4g, want ≈ %.4g (n shares), never below %.4g (provisioned)", r+1, m2, full, provisioned)
				}
			}
			if eps, ok := h.Last().Extra[privacy.KeyEpsilon]; !ok || !(eps > 0) {
				t.Errorf("ε not recorded: %v", h.Last().Extra)
			}
			if eps, ok := h.Last().Extra[KeyServerEpsilon]; !ok || !(eps >= h.Last().Extra[privacy.KeyEpsilon]) {
				t.Errorf("ε against the server not recorded or below the released models' ε: %v", h.Last().Extra)
			}
		})
	}
}

// TestPlainExchangeRefused: a DDP wired with a secure-aggregation exchange
// that does not use its encoding (the clients would send un-noised
// quantized deltas) releases nothing: NoiseSum refuses a sum its decoder
// did not write.
func TestPlainExchangeRefused(t *testing.T) {
	const n = 6
	d := mustNew(t, wiringConfig(DiscreteGaussian, n))
	plain, err := fedround.New(fedround.Config{Clip: 1, Threshold: n / 2, Rand: mrand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	sum := make([]float64, d.p.Dim)
	if err := d.NoiseSum(sum); !errors.Is(err, ErrNotDDP) {
		t.Fatalf("NoiseSum of a sum the decoder did not write: %v", err)
	}
	// The whole round: clients with plain secagg middleware.
	s := newSim(t, d, n, nil)
	states := map[string]*fedround.ClientState{}
	for _, id := range s.ids {
		states[id] = &fedround.ClientState{}
	}
	s.pool.Pool, err = transport.NewMemory(transport.MemoryConfig{IDs: s.ids, Seed: 1, Factory: func(id string) (fl.Handler, error) {
		return fl.Wrap(fl.NewHandler(fixedTrainer{s.deltas[id]}, nil), fedround.Middleware(states[id], fedround.ClientConfig{})), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := s.server(t, d, plain, 1)
	if h, err := srv.Run(context.Background()); err == nil || !h.Last().Aborted {
		t.Fatal("a round without the ddp encoding ran")
	}
	// The same exchange on a round of its own, to see the error.
	var conns []fl.Conn
	for _, id := range s.ids {
		c, _ := s.pool.Conn(id)
		conns = append(conns, c)
	}
	r := fl.NewRound(7, make([]float64, d.p.Dim), nil, conns, nil)
	r.Privacy = d
	if _, err := plain.Run(context.Background(), r, make([]float64, d.p.Dim)); !errors.Is(err, ErrNotDDP) {
		t.Fatalf("err = %v, want ErrNotDDP", err)
	}
	if d.Rounds() != 0 {
		t.Fatalf("%d releases accounted", d.Rounds())
	}
	// The plain train exchange is refused too.
	if err := d.Aggregator().Aggregate(sum, []fl.Update{{Delta: sum, Weight: 1}}); !errors.Is(err, fl.ErrConfig) {
		t.Fatalf("Aggregator: %v", err)
	}
}

// TestLowThresholdRefused: a server that opens a round with a threshold
// below the one the noise is provisioned for (so a sum of fewer shares
// could be unmasked) is refused by every client's policy.
func TestLowThresholdRefused(t *testing.T) {
	const n = 8
	d := mustNew(t, wiringConfig(DiscreteGaussian, n))
	cheat := d.Exchange().Config()
	cheat.Threshold = 2
	ex, err := fedround.New(cheat)
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, d, n, nil)
	srv := s.server(t, d, ex, 1)
	h, err := srv.Run(context.Background())
	if err == nil {
		t.Fatal("the round ran")
	}
	if h != nil && len(h.Rounds) > 0 && h.Rounds[0].Failures[fl.FailRejected]+h.Rounds[0].Failures[fl.FailError] < n {
		t.Errorf("failures %v", h.Rounds[0].Failures)
	}
	if !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("err = %v, want one wrapping fedround.ErrPolicy", err)
	}
	if d.Rounds() != 0 {
		t.Fatalf("%d releases accounted", d.Rounds())
	}
}

// TestBudgetStops: with a budget the server stops when it is spent.
func TestBudgetStops(t *testing.T) {
	const n = 6
	c := wiringConfig(DiscreteGaussian, n)
	c.NoiseMultiplier, c.TargetEpsilon, c.Rounds = 0, 2, 3
	c.Delta = 1e-5
	d := mustNew(t, c)
	if d.MaxRounds() < 3 {
		t.Fatalf("budget calibrated for 3 rounds allows %d", d.MaxRounds())
	}
	if e, _ := d.EpsilonAfter(d.MaxRounds()); e > c.TargetEpsilon {
		t.Fatalf("ε after the allowed rounds %v > %v", e, c.TargetEpsilon)
	}
	if e, _ := d.EpsilonAfter(d.MaxRounds() + 1); !(e > c.TargetEpsilon) {
		t.Fatalf("ε after one round more than allowed %v <= %v", e, c.TargetEpsilon)
	}
	s := newSim(t, d, n, nil)
	srv := s.server(t, d, d.Exchange(), d.MaxRounds()+3)
	_, err := srv.Run(context.Background())
	if !errors.Is(err, fl.ErrBudget) {
		t.Fatalf("err = %v, want the budget", err)
	}
	if d.Rounds() != d.MaxRounds() {
		t.Fatalf("%d releases, budget %d", d.Rounds(), d.MaxRounds())
	}
}

// TestAccountingMonotone: ε grows with the releases, and the calibrated
// noise meets the budget for the planned rounds but a tenth of it does not.
func TestAccountingMonotone(t *testing.T) {
	c := wiringConfig(DiscreteGaussian, 10)
	c.NoiseMultiplier, c.TargetEpsilon, c.Rounds, c.Delta = 0, 3, 20, 1e-5
	d := mustNew(t, c)
	prev := 0.0
	for _, k := range []int{1, 5, 20} {
		e, err := d.EpsilonAfter(k)
		if err != nil || !(e > prev) {
			t.Fatalf("ε after %d = %v (%v), previous %v", k, e, err, prev)
		}
		prev = e
	}
	if prev > 3 {
		t.Errorf("ε after the planned 20 rounds = %v > 3", prev)
	}
	p := d.Params()
	weak := p
	weak.Variance /= 10
	target := accountant.Target{Epsilon: 3, Delta: c.Delta, SampleRate: c.SampleRate, Steps: 20, Sampling: accountant.FixedSize, Population: c.Population}
	v, err := accountant.CalibrateDiscrete(target, weak.Noise())
	if err != nil || !(v > weak.Variance) {
		t.Errorf("a tenth of the variance meets the budget: need %v, have %v (%v)", v, weak.Variance, err)
	}
}

// TestStateSurvivesResume: a resumed server continues the budget where the
// checkpoint left it (no round is released twice for free), and a state
// of another configuration is refused.
func TestStateSurvivesResume(t *testing.T) {
	const n = 6
	c := wiringConfig(DiscreteGaussian, n)
	c.NoiseMultiplier, c.TargetEpsilon, c.Rounds, c.Delta = 0, 2, 3, 1e-5
	d := mustNew(t, c)
	s := newSim(t, d, n, nil)
	srv := s.server(t, d, d.Exchange(), 2)
	if _, err := srv.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	state, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d2 := mustNew(t, c)
	if err := d2.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if d2.Rounds() != 2 {
		t.Fatalf("restored %d releases, want 2", d2.Rounds())
	}
	e1, _ := d.Epsilon()
	e2, _ := d2.Epsilon()
	if e1 != e2 {
		t.Fatalf("ε %v after restore, %v before", e2, e1)
	}
	other := c
	other.Bits = 14
	d3 := mustNew(t, other)
	if err := d3.UnmarshalBinary(state); !errors.Is(err, ErrState) {
		t.Fatalf("a state of another width: %v", err)
	}
}

// TestDropoutsKeepProvisionedNoise mounts the dropout attack on the
// noise: as many clients as the threshold allows drop out after sharing
// their keys (so their noise is missing), and the sum the server unmasks
// still carries the provisioned variance: Threshold shares, the noise the
// accountant was given.
func TestDropoutsKeepProvisionedNoise(t *testing.T) {
	const n = 8
	cfg := wiringConfig(DiscreteGaussian, n)
	cfg.Dim = 1000
	d := mustNew(t, cfg)
	s := newSim(t, d, n, nil)
	survivors := s.ids[:cfg.Threshold]
	for _, id := range s.ids[cfg.Threshold:] {
		s.drop[id] = true
	}
	spy := &spyPrivacy{Privacy: d}
	srv := s.server(t, spy, d.Exchange(), 1)
	h, err := srv.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Last().Accepted; got != cfg.Threshold || len(spy.sums) != 1 {
		t.Fatalf("%d survivors, %d releases", got, len(spy.sums))
	}
	exact := make([]float64, cfg.Dim)
	for _, id := range survivors {
		for j, v := range s.deltas[id] {
			exact[j] += v
		}
	}
	p := d.Params()
	provisioned := p.Variance * p.Gamma * p.Gamma
	var m2 float64
	for j, v := range spy.sums[0] {
		m2 += (v - exact[j]) * (v - exact[j])
	}
	m2 /= float64(cfg.Dim)
	// The mean of D/... squared errors; after the inverse rotation the
	// noise is spread evenly: m2 estimates the per-coordinate variance.
	if se := provisioned * math.Sqrt(2/float64(cfg.Dim)); math.Abs(m2-provisioned) > 6*se+float64(n)*p.Gamma*p.Gamma {
		t.Fatalf("noise variance %.4g per coordinate with %d survivors, provisioned %.4g", m2, cfg.Threshold, provisioned)
	}
}
