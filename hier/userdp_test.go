package hier_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// recordingDP is a mechanism that adds no noise and records what reaches
// it: the sums, the populations it is checked against, the releases.
type recordingDP struct {
	q, clip float64
	n       int
	sums    [][]float64
	pops    []int
	records int
}

func (d *recordingDP) Sampler() fl.Sampler       { return fl.Poisson{Q: d.q} }
func (d *recordingDP) Check(_, pop int) error    { d.pops = append(d.pops, pop); return nil }
func (d *recordingDP) Aggregator() fl.Aggregator { return &fl.FedAvg{} }
func (d *recordingDP) ClipNorm() float64         { return d.clip }
func (d *recordingDP) Record(*fl.RoundStats)     { d.records++ }
func (d *recordingDP) NoiseSum(sum []float64) error {
	d.sums = append(d.sums, append([]float64(nil), sum...))
	for j := range sum {
		sum[j] /= d.q * float64(d.n) // the fixed denominator qN
	}
	return nil
}

// dpTree: 3 edges of 10 clients, secure, under a root with UserSampled.
func dpTree() tree {
	t := tree{"root": {"e0", "e1", "e2"}}
	for e := range 3 {
		for c := range 10 {
			id := "e" + strconv.Itoa(e)
			t[id] = append(t[id], fmt.Sprintf("c%03d", e*10+c))
		}
	}
	return t
}

func dpEdges(tb testing.TB, t tree, l *secureLeaves, perRound int) *transport.Memory {
	handlers := map[string]fl.Handler{}
	for k, e := range t["root"] {
		sc := secureCfg(0, 0, byte(k))
		edge, err := hier.NewEdge(hier.EdgeConfig{Pool: l.pool(tb, t[e]), Secure: &sc, Seed: uint64(100 + k), ClientsPerRound: perRound})
		if err != nil {
			tb.Fatal(err)
		}
		handlers[e] = edge
	}
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: t["root"], Factory: func(id string) (fl.Handler, error) { return handlers[id], nil }})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestUserSampledDP: with central DP at the root of secure edges, every
// edge is asked every round, the users are sampled at the edges at rate q
// (each user on its own: the fraction is q), every client clips its delta
// to the clip norm before masking, the mechanism gets the sum of the
// clipped deltas of exactly the users whose inputs are in the sum (within
// the quantization bound) once per round, and it is checked against the
// users' population.
func TestUserSampledDP(t *testing.T) {
	tr := dpTree()
	const clip, q = 1.0, 0.6
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	l := newSecureLeaves(nil)
	dp := &recordingDP{q: q, clip: clip, n: 30}
	cfg := serverConfig(rounds, 1)
	cfg.Exchange = &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip}}
	cfg.Privacy = &hier.UserSampled{Privacy: dp, Population: 30}
	_, h := run(t, cfg, dpEdges(t, tr, l, 0))

	total := 0
	for r := 1; r <= rounds; r++ {
		total += len(l.trained[r])
	}
	// 30·rounds independent draws at q: mean 30·rounds·q, and four
	// standard deviations of slack.
	draws := float64(30 * rounds)
	if mean, sd := draws*q, math.Sqrt(draws*q*(1-q)); math.Abs(float64(total)-mean) > 4*sd {
		t.Errorf("%d of %v user draws sampled, want about %v (q = %v)", total, draws, mean, q)
	}
	for _, r := range h.Rounds {
		if r.Extra[hier.KeyEdges] != 3 && !r.Aborted && r.Extra[hier.KeyFailedMembers] == 0 {
			t.Errorf("round %d: %v edges answered, want all 3 asked", r.Round, r.Extra[hier.KeyEdges])
		}
	}
	if dp.records == 0 || len(dp.sums) != dp.records {
		t.Fatalf("%d releases, %d records", len(dp.sums), dp.records)
	}
	for _, p := range dp.pops {
		if p != 30 {
			t.Fatalf("the mechanism was checked against a population of %d, want the 30 users", p)
		}
	}
	step := secagg.QuantStep(secureClip, fedround.DefaultBits, 30)
	cq, err := privacy.QuantizedClipNorm(clip, step, dim)
	if err != nil {
		t.Fatal(err)
	}
	release := 0
	for _, r := range h.Rounds {
		if r.Aborted {
			continue
		}
		sum := dp.sums[release]
		release++
		members := l.masked[r.Round]
		if len(members) != r.Accepted || len(members) == 0 {
			t.Fatalf("round %d: %d masked inputs, %d accepted", r.Round, len(members), r.Accepted)
		}
		want := make([]float64, dim)
		for _, id := range members {
			m, err := leaf(id).Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: r.Round, Params: l.trained[r.Round][id]})
			if err != nil {
				t.Fatal(err)
			}
			f := privacy.ClipFactor(privacy.L2Norm(m.Params), cq)
			for j, x := range m.Params {
				want[j] += f * x
			}
		}
		tol := float64(len(members)) * step * (1 + 1e-9)
		for j := range want {
			if math.Abs(sum[j]-want[j]) > tol {
				t.Fatalf("round %d coordinate %d: the mechanism got %v, want Σ clipped = %v ± %v", r.Round, j, sum[j], want[j], tol)
			}
		}
		// The clip mattered: some sampled client's delta was longer than C.
		clipped := false
		for _, id := range members {
			m, _ := leaf(id).Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: r.Round, Params: l.trained[r.Round][id]})
			clipped = clipped || privacy.L2Norm(m.Params) > clip
		}
		if !clipped {
			t.Errorf("round %d: no sampled delta exceeds the clip norm; the test cannot see clipping", r.Round)
		}
	}
	if release != len(dp.sums) {
		t.Errorf("%d releases for %d completed rounds", len(dp.sums), release)
	}
}

// fixedDP accounts fixed-size sampling, which the edges cannot split.
type fixedDP struct{ recordingDP }

func (fixedDP) Sampler() fl.Sampler { return fl.Uniform{Count: 10} }

// TestUserSampledRefusals: the unsound ways to put DP at the root of a
// tree are refused before round 1 (or by the edge, for what only the edge
// can see).
func TestUserSampledRefusals(t *testing.T) {
	tr := dpTree()
	pool := dpEdges(t, tr, newSecureLeaves(nil), 0)
	dp := &recordingDP{q: 0.5, clip: 1, n: 30}
	for name, tc := range map[string]struct {
		ex   *hier.Exchange
		priv fl.Privacy
		want string
	}{
		"plain privacy":       {&hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: 1}}, dp, "UserSampled"},
		"no secure edges":     {&hier.Exchange{Size: tr.size}, &hier.UserSampled{Privacy: dp, Population: 30}, "Secure"},
		"fixed-size sampling": {&hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: 1}}, &hier.UserSampled{Privacy: &fixedDP{*dp}, Population: 30}, "Poisson"},
		"weighted":            {&hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: 1, WeightCap: 5}}, &hier.UserSampled{Privacy: dp, Population: 30}, "WeightCap"},
		"range below clip":    {&hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: 0.5}}, &hier.UserSampled{Privacy: dp, Population: 30}, "clip norm"},
		"no population":       {&hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: 1}}, &hier.UserSampled{Privacy: dp}, "Population"},
		"secure without size": {&hier.Exchange{Secure: &hier.Secure{Clip: 1}}, &hier.UserSampled{Privacy: dp, Population: 30}, "Size"},
	} {
		cfg := serverConfig(1, 1)
		cfg.Exchange, cfg.Privacy = tc.ex, tc.priv
		if _, err := fl.NewServer(cfg, pool, make([]float64, dim)); !errors.Is(err, fl.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrConfig naming %q", name, err, tc.want)
		}
	}
	// An edge that subsamples its members under user sampling would
	// change the rate the accountant assumes; one whose range is below
	// the clip norm would clamp clipped updates.
	l := newSecureLeaves(nil)
	msg := func() *fl.Message {
		c := fl.Config{hier.KeySampleRate: 0.5, fedround.KeyClipNorm: 1}
		for k, v := range map[string]float64{hier.KeySecureClip: 1, hier.KeySecureBits: 32, hier.KeySecureWeightCap: 0, fedround.KeySummands: 10} {
			c[k] = v
		}
		return &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, dim), Config: c}
	}
	sc := secureCfg(0, 0, 1)
	e, err := hier.NewEdge(hier.EdgeConfig{Pool: l.pool(t, tr["e0"]), Secure: &sc, ClientsPerRound: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Handle(context.Background(), msg()); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("edge subsampling under user sampling: err = %v, want ErrConfig", err)
	}
	sc.Clip = 0.5
	e, err = hier.NewEdge(hier.EdgeConfig{Pool: l.pool(t, tr["e0"]), Secure: &sc})
	if err != nil {
		t.Fatal(err)
	}
	m := msg()
	m.Config[hier.KeySecureClip] = 0.5
	if _, err := e.Handle(context.Background(), m); !errors.Is(err, hier.ErrGrid) {
		t.Errorf("edge range below the clip norm: err = %v, want ErrGrid", err)
	}
}

// TestUserSampledCentralDP runs privacy.CentralDP at the root of secure
// edges: each completed round is one accounted release (ε recorded and
// growing), and the budget's state travels in the root's checkpoint.
func TestUserSampledCentralDP(t *testing.T) {
	tr := dpTree()
	const rounds = 3
	dp, err := privacy.NewCentralDP(privacy.CentralConfig{
		ClipNorm: 1, ClientClipped: true, NoiseMultiplier: 1, Rounds: rounds, Population: 30, SampleRate: 0.6,
		Sampling: accountant.Poisson, Random: strings.NewReader(strings.Repeat("seeded noise source ", 1<<12)),
	})
	if err != nil {
		t.Fatal(err)
	}
	u := &hier.UserSampled{Privacy: dp, Population: 30}
	cfg := serverConfig(rounds, 1)
	cfg.Exchange, cfg.Privacy = &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip}}, u
	s, h := run(t, cfg, dpEdges(t, tr, newSecureLeaves(nil), 0))
	done, prev := 0, 0.0
	for _, r := range h.Rounds {
		if r.Aborted {
			continue
		}
		done++
		eps := r.Extra[privacy.KeyEpsilon]
		if !(eps > prev) {
			t.Errorf("round %d: ε = %v after %v", r.Round, eps, prev)
		}
		prev = eps
	}
	if done == 0 || dp.Rounds() != done {
		t.Errorf("%d releases accounted for %d completed rounds", dp.Rounds(), done)
	}
	if slicesEqualZero(s.Params()) {
		t.Error("parameters did not move")
	}
	a, err := u.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := dp.MarshalBinary()
	if string(a) != string(b) || len(a) == 0 {
		t.Error("UserSampled does not carry the mechanism's state")
	}
}

func slicesEqualZero(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
