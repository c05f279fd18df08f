package main

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/robust"
	"github.com/fedgo/fedgo/robust/attack"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// TestMatrix is the composition acceptance test: every cell in memory, and
// over HTTPS a sample of cells (all of them under CI=true).
func TestMatrix(t *testing.T) {
	sample := map[cell]bool{
		{"fedavg", "secure", "none", "https"}:             true,
		{"fedavg", "central", "int8", "https"}:            true,
		{"robust", "none", "topk1%+ef", "https"}:          true,
		{"byzantine-clients", "central", "none", "https"}: true,
		{"byzantine", "central", "none", "https"}:         true,
	}
	all := os.Getenv("CI") == "true"
	m := newMatrix()
	for _, c := range cells(transports) {
		if c.Transport == "https" && !all && !sample[c] {
			continue
		}
		r, err := m.check(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK {
			t.Errorf("%v: %v", c, r.Problems)
		}
	}
}

// The spy of the DP sums finds an unclipped contribution.
func TestSpyDetectsUnclippedSum(t *testing.T) {
	dp, err := newPrivacy(cell{Privacy: "secure"})
	if err != nil {
		t.Fatal(err)
	}
	spy := &spyPrivacy{CentralDP: dp}
	sum := make([]float64, Dim)
	sum[0] = -attackScale // one client's contribution left unclipped
	if err := spy.NoiseSum(sum); err != nil {
		t.Fatal(err)
	}
	if spy.maxRatio <= 1 {
		t.Errorf("clip ratio %v for an unclipped sum, want > 1", spy.maxRatio)
	}
}

// The demonstrations of the composition issue, each now refused or held.
func TestCompositionRegressions(t *testing.T) {
	w := newWorkload()
	dp := func(t *testing.T, cfg privacy.CentralConfig) *privacy.CentralDP {
		t.Helper()
		d, err := privacy.NewCentralDP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	budgeted := privacy.CentralConfig{ClipNorm: 1, NoiseMultiplier: 3, TargetEpsilon: 2, Delta: Delta, Population: N, SampleRate: 0.2, Random: seeded(9, 9)}
	handlers, err := clientHandlers(w, cell{"fedavg", "none", "none", "memory"})
	if err != nil {
		t.Fatal(err)
	}
	pool, _, err := startPool(context.Background(), cell{Transport: "memory"}, w.ids, handlers)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, name string, cfg fl.ServerConfig) {
		t.Helper()
		if _, err := fl.NewServer(cfg, pool, make([]float64, Dim)); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: NewServer = %v, want fl.ErrConfig", name, err)
		}
	}
	t.Run("budget hidden by a wrapper", func(t *testing.T) {
		d := dp(t, budgeted)
		for name, agg := range map[string]fl.Aggregator{
			"robust.Pre":       &robust.Pre{Step: &robust.NNM{F: 1}, Rule: d},
			"attack.Byzantine": &attack.Byzantine{Attack: attack.SignFlip{}, Clients: w.byz, Rule: d},
		} {
			cfg := fl.DefaultServerConfig()
			cfg.Rounds, cfg.Aggregator, cfg.Privacy, cfg.MinClients = 80, agg, d, 5
			refused(t, name+" in front of the Privacy", cfg)
		}
		// A Privacy given as the Aggregator only is refused: its budget
		// and sampler would go unused and its ε unrecorded.
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Aggregator = 80, d
		refused(t, "Privacy as the Aggregator", cfg)
		// Even a wrapper the server cannot see through releases nothing
		// past the budget: CentralDP checks it at every release.
		d = dp(t, budgeted)
		cfg = fl.DefaultServerConfig()
		cfg.Rounds, cfg.MaxAborted, cfg.ClientsPerRound, cfg.Seed = 80, 80, 4, 1
		cfg.Aggregator = &robust.Pre{Step: &robust.NNM{F: 1}, Rule: d}
		cfg.MinClients = 4
		s, err := fl.NewServer(cfg, pool, make([]float64, Dim))
		if err != nil {
			t.Fatal(err)
		}
		h, _ := s.Run(context.Background())
		released := 0
		for _, r := range h.Rounds {
			if !r.Aborted {
				released++
			}
		}
		if released != d.MaxRounds() || d.Rounds() != d.MaxRounds() {
			t.Errorf("%d rounds released through a hiding wrapper, %d accounted; the budget allows %d", released, d.Rounds(), d.MaxRounds())
		}
	})
	t.Run("sampler other than the accounted one", func(t *testing.T) {
		cfg := fl.DefaultServerConfig()
		cfg.Privacy = dp(t, budgeted) // Poisson, q = 0.2
		cfg.ClientsPerRound = 10
		refused(t, "ClientsPerRound", cfg)
		cfg.ClientsPerRound, cfg.Sampler = 0, fl.Uniform{Count: 10}
		refused(t, "Uniform sampler", cfg)
	})
	t.Run("fixed-size sampling from fewer clients than accounted", func(t *testing.T) {
		c := budgeted
		c.Population, c.Sampling, c.SampleRate = 2*N, accountant.FixedSize, 0.1
		cfg := fl.DefaultServerConfig()
		cfg.Privacy = dp(t, c)
		s, err := fl.NewServer(cfg, pool, make([]float64, Dim))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunRound(context.Background()); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("round over %d of the %d accounted clients: %v", N, 2*N, err)
		}
	})
	t.Run("clip middleware outside secure aggregation", func(t *testing.T) {
		c := budgeted
		c.ClientClipped, c.Sampling, c.SampleRate = true, accountant.FixedSize, 0.5
		d := dp(t, c)
		mem, err := transport.NewMemory(transport.MemoryConfig{IDs: w.ids, Factory: func(id string) (fl.Handler, error) {
			h := fl.NewHandler(pull{target: w.targets[id], weight: 1, scale: attackScale}, nil)
			return fl.Wrap(h, privacy.ClipMiddleware(1), fedround.Middleware(&fedround.ClientState{}, fedround.ClientConfig{})), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := fedround.New(fedround.Config{Clip: 1})
		if err != nil {
			t.Fatal(err)
		}
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Privacy, cfg.Exchange, cfg.MaxAborted, cfg.Seed = 1, d, ex, 1, 1
		s, err := fl.NewServer(cfg, mem, make([]float64, Dim))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Run(context.Background())
		var ce *fl.ClientError
		if !errors.As(err, &ce) || d.Rounds() != 0 {
			t.Errorf("Run = %v with %d releases, want a client error and none", err, d.Rounds())
		}
	})
}
