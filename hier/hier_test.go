package hier_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/transport"
)

const dim = 24

// targetTrainer moves the parameters halfway towards a client's target:
// a deterministic local step with a closed form.
type targetTrainer struct {
	target []float64
	weight float64
}

func (tr *targetTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	delta := make([]float64, len(global))
	var loss float64
	for j := range delta {
		e := tr.target[j] - global[j]
		delta[j] = 0.5 * e
		loss += e * e
	}
	return fl.Update{Delta: delta, Weight: tr.weight, Metrics: fl.Metrics{fl.KeyLoss: loss / float64(len(global)), fl.KeyExamples: tr.weight}}, nil
}

func (tr *targetTrainer) Evaluate(_ context.Context, p []float64) (fl.Metrics, error) {
	var loss float64
	for j := range p {
		e := tr.target[j] - p[j]
		loss += e * e
	}
	return fl.Metrics{fl.KeyLoss: loss, fl.KeyExamples: tr.weight}, nil
}

func leaf(id string) fl.Handler {
	k, _ := strconv.Atoi(strings.TrimPrefix(id, "c"))
	rng := rand.New(rand.NewPCG(uint64(k), 99))
	target := make([]float64, dim)
	for j := range target {
		target[j] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(10)-5)
	}
	tr := &targetTrainer{target: target, weight: 1 + float64(k%7) + 0.37*float64(k%3)}
	return fl.NewHandler(tr, tr)
}

// outage says which nodes (edges, by id) are down in which rounds; a
// node down in a round fails it, as a crashed process would. With
// afterWork, it first runs its sub-round (crash after training).
type outage struct {
	down      map[string][]int
	afterWork bool
}

func (o outage) isDown(id string, round int) bool { return slices.Contains(o.down[id], round) }

type crashing struct {
	fl.Handler
	id string
	o  outage
}

var errCrash = errors.New("test: node crashed")

func (c crashing) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if !c.o.isDown(c.id, m.Round) {
		return c.Handler.Handle(ctx, m)
	}
	if c.o.afterWork {
		c.Handler.Handle(ctx, m)
	}
	return nil, errCrash
}

// tree is a federation: parent → children, leaves are the clients.
type tree map[string][]string

func (t tree) leaves(id string) []string {
	kids, ok := t[id]
	if !ok {
		return []string{id}
	}
	var out []string
	for _, k := range kids {
		out = append(out, t.leaves(k)...)
	}
	return out
}

// edgeOf returns the ancestors of leaf under root.
func (t tree) ancestors(root, leaf string) []string {
	for _, k := range t[root] {
		if k == leaf {
			return []string{root}
		}
		if a := t.ancestors(k, leaf); a != nil {
			return append(a, root)
		}
	}
	return nil
}

var leafFaults = transport.Faults{Drop: 0.15}

const faultSeed = 42

// pool builds the memory pool of node id's children; edges are built
// recursively, each wrapped in the outage.
func (t tree) pool(tb testing.TB, id string, o outage) *transport.Memory {
	kids := t[id]
	handlers := map[string]fl.Handler{}
	isLeaves := true
	for _, k := range kids {
		if _, ok := t[k]; !ok {
			continue
		}
		isLeaves = false
		e, err := hier.NewEdge(hier.EdgeConfig{Pool: t.pool(tb, k, o), Size: t.size})
		if err != nil {
			tb.Fatal(err)
		}
		handlers[k] = crashing{e, k, o}
	}
	cfg := transport.MemoryConfig{IDs: kids, Seed: faultSeed, Factory: func(c string) (fl.Handler, error) {
		if h, ok := handlers[c]; ok {
			return h, nil
		}
		return leaf(c), nil
	}}
	if isLeaves {
		cfg.Faults = leafFaults
	}
	p, err := transport.NewMemory(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func (t tree) size(id string) int { return len(t.leaves(id)) }

// flatPool is the flat federation over the same leaves: the same leaf
// dropouts (the faults are drawn from the seed, the client id and the
// round), and a leaf fails in a round when one of its edges is down.
func (t tree) flatPool(tb testing.TB, root string, o outage) *transport.Memory {
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: t.leaves(root), Seed: faultSeed, Faults: leafFaults,
		Factory: func(c string) (fl.Handler, error) {
			return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
				for _, a := range t.ancestors(root, c) {
					if o.isDown(a, m.Round) {
						return nil, errCrash
					}
				}
				return leaf(c).Handle(ctx, m)
			}), nil
		}})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// twoLevel: 4 edges of 6 clients each.
func twoLevel() tree {
	t := tree{"root": {"e0", "e1", "e2", "e3"}}
	for e := range 4 {
		for c := range 6 {
			id := "e" + strconv.Itoa(e)
			t[id] = append(t[id], fmt.Sprintf("c%03d", e*6+c))
		}
	}
	return t
}

// threeLevel: 2 regions of 2 edges of 5 clients.
func threeLevel() tree {
	t := tree{"root": {"r0", "r1"}, "r0": {"e0", "e1"}, "r1": {"e2", "e3"}}
	for e := range 4 {
		for c := range 5 {
			id := "e" + strconv.Itoa(e)
			t[id] = append(t[id], fmt.Sprintf("c%03d", e*5+c))
		}
	}
	return t
}

func serverConfig(rounds, quorum int) fl.ServerConfig {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.MinClients, cfg.Seed = rounds, quorum, 7
	return cfg
}

func run(tb testing.TB, cfg fl.ServerConfig, pool fl.Pool) (*fl.Server, *fl.History) {
	tb.Helper()
	s, err := fl.NewServer(cfg, pool, make([]float64, dim))
	if err != nil {
		tb.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return s, h
}

// resumeAfterTwo runs serverConfig(rounds, quorum) on a fresh ex() and
// pool() with a checkpoint directory for two rounds, then restores the
// checkpoint into a new server on another fresh ex() and pool() and runs
// the rounds left; it returns that server and its history.
func resumeAfterTwo(t *testing.T, rounds, quorum int, ex func() fl.Exchange, pool func() fl.Pool) (*fl.Server, *fl.History) {
	t.Helper()
	dir := t.TempDir()
	cfg := serverConfig(rounds, quorum)
	cfg.Exchange, cfg.CheckpointDir = ex(), dir
	s, err := fl.NewServer(cfg, pool(), make([]float64, dim))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.RunRound(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := fl.ReadCheckpoint(filepath.Join(dir, fl.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Exchange = ex()
	s2, err := fl.NewServer(cfg, pool(), make([]float64, dim))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Restore(cp); err != nil {
		t.Fatal(err)
	}
	h, err := s2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s2, h
}

func sameBits(tb testing.TB, what string, got, want []float64) {
	tb.Helper()
	for j := range want {
		if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
			tb.Fatalf("%s: coordinate %d = %v, want %v (bit-identical)", what, j, got[j], want[j])
		}
	}
}

// TestTreeEqualsFlat runs hierarchical and flat federations over the same
// clients with leaf dropouts, edge outages (an edge down before and after
// its clients trained, a region down), and a round without quorum, and
// checks bit-identical parameters and matching failure counts.
func TestTreeEqualsFlat(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    tree
		o    outage
	}{
		{"two levels", twoLevel(), outage{down: map[string][]int{"e1": {2, 4}, "e2": {4}, "e3": {4}}}},
		{"two levels, crash after training", twoLevel(), outage{down: map[string][]int{"e0": {1, 3}, "e1": {4}, "e2": {4}, "e3": {4}}, afterWork: true}},
		{"three levels", threeLevel(), outage{down: map[string][]int{"e2": {2}, "r0": {3, 4}, "e3": {4}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const rounds, quorum = 5, 8
			size := func(id string) int { return tc.t.size(id) }
			hcfg := serverConfig(rounds, quorum)
			hcfg.Exchange = &hier.Exchange{Size: size}
			hs, hh := run(t, hcfg, tc.t.pool(t, "root", tc.o))

			fcfg := serverConfig(rounds, quorum)
			fcfg.Exchange = &hier.Exchange{}
			fs, fh := run(t, fcfg, tc.t.flatPool(t, "root", tc.o))

			acfg := serverConfig(rounds, quorum)
			acfg.Aggregator = &hier.ExactFedAvg{}
			as, _ := run(t, acfg, tc.t.flatPool(t, "root", tc.o))

			sameBits(t, "tree vs flat Exchange", hs.Params(), fs.Params())
			sameBits(t, "tree vs flat ExactFedAvg", hs.Params(), as.Params())
			aborted := 0
			for i, hr := range hh.Rounds {
				fr := fh.Rounds[i]
				if hr.Aborted != fr.Aborted || hr.Accepted != fr.Accepted {
					t.Errorf("round %d: tree aborted=%v accepted=%d, flat aborted=%v accepted=%d", i+1, hr.Aborted, hr.Accepted, fr.Aborted, fr.Accepted)
				}
				if got, want := hr.Extra[hier.KeyFailed], float64(fr.Failed); got != want {
					t.Errorf("round %d: tree counts %v failed clients, flat %v", i+1, got, want)
				}
				// The engine's counts are of leaf clients (fl.Round.SetSize):
				// a failed edge or region counts as its clients (under the
				// edge's reason: a leaf that would have timed out inside a
				// crashed edge counts as the edge's error).
				byReason := 0
				for _, n := range hr.Failures {
					byReason += n
				}
				if hr.Sampled != fr.Sampled || hr.Failed != fr.Failed || byReason != hr.Failed || hr.FailedAt[fl.TypeTrain] != hr.Failed {
					t.Errorf("round %d: tree sampled %d failed %d %v at %v, flat sampled %d failed %d", i+1, hr.Sampled, hr.Failed, hr.Failures, hr.FailedAt, fr.Sampled, fr.Failed)
				}
				if got, want := hr.Extra[hier.KeyClients], float64(len(tc.t.leaves("root"))); got != want {
					t.Errorf("round %d: tree counts %v clients, want %v", i+1, got, want)
				}
				if !hr.Aborted && math.Abs(hr.TrainLoss-fr.TrainLoss) > 1e-12*math.Abs(fr.TrainLoss) {
					t.Errorf("round %d: tree loss %v, flat %v", i+1, hr.TrainLoss, fr.TrainLoss)
				}
				if hr.Aborted {
					aborted++
				}
				if fr.Failed == 0 {
					t.Errorf("round %d: no client failed: the test injects no dropout", i+1)
				}
			}
			if aborted != 1 {
				t.Errorf("%d aborted rounds, the outage makes 1", aborted)
			}
			// The run moved: the parameters are not the initial ones.
			if slices.Equal(hs.Params(), make([]float64, dim)) {
				t.Error("parameters did not move")
			}
		})
	}
}

// TestExactVersusFedAvg bounds the documented tolerance against fl.FedAvg
// over the flat federation without faults, after one round from zero.
func TestExactVersusFedAvg(t *testing.T) {
	tr := twoLevel()
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: tr.leaves("root"), Factory: func(c string) (fl.Handler, error) { return leaf(c), nil }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(1, 1)
	cfg.Exchange = &hier.Exchange{}
	es, _ := run(t, cfg, pool)
	cfg = serverConfig(1, 1)
	fs, _ := run(t, cfg, pool)
	e, f := es.Params(), fs.Params()
	n := len(tr.leaves("root"))
	for j := range e {
		if d := math.Abs(e[j] - f[j]); d > 2*float64(n)*0x1p-52*math.Abs(f[j])+1e-15 {
			t.Errorf("coordinate %d: exact %v, FedAvg %v", j, e[j], f[j])
		}
	}
}

// TestResumeAtRoot: a root that stops after round 2 and resumes from its
// checkpoint ends with the bits of an uninterrupted run.
func TestResumeAtRoot(t *testing.T) {
	tr := twoLevel()
	o := outage{down: map[string][]int{"e2": {3}}}
	const rounds = 4
	size := func(id string) int { return tr.size(id) }
	full := serverConfig(rounds, 4)
	full.Exchange = &hier.Exchange{Size: size}
	ref, refH := run(t, full, tr.pool(t, "root", o))

	s2, h := resumeAfterTwo(t, rounds, 4,
		func() fl.Exchange { return &hier.Exchange{Size: size} },
		func() fl.Pool { return tr.pool(t, "root", o) })
	sameBits(t, "resumed vs uninterrupted", s2.Params(), ref.Params())
	if got, want := h.Rounds[2].Extra[hier.KeyFailed], refH.Rounds[2].Extra[hier.KeyFailed]; got != want || got < 6 {
		t.Errorf("round 3 failed clients: resumed %v, uninterrupted %v (want ≥ 6: edge e2 is down)", got, want)
	}
}

// lyingEdge answers with a partial sum that claims more updates than exist
// and values that would overflow the root's sum if accepted.
type lyingEdge struct{ payload []byte }

func (l lyingEdge) Handle(_ context.Context, m *fl.Message) (*fl.Message, error) {
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Weight: 1, Payload: l.payload}, nil
}

func TestLyingEdgeIsRejected(t *testing.T) {
	tr := twoLevel()
	good := tr.pool(t, "root", outage{})
	// A payload with the magic of a partial sum and an impossible count.
	bad := []byte("FGHS\x01\x40\xff\xff\xff\xff\x0f")
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: append(slices.Clone(tr["root"]), "liar"), Factory: func(id string) (fl.Handler, error) {
		if id == "liar" {
			return lyingEdge{bad}, nil
		}
		c, _ := good.Conn(id)
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) { return c.Send(ctx, m) }), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(1, 1)
	cfg.Exchange = &hier.Exchange{}
	_, h := run(t, cfg, pool)
	r := h.Rounds[0]
	if r.Aborted || r.Failures[fl.FailRejected] != 1 {
		t.Fatalf("round: aborted=%v failures=%v, want the liar rejected and the round completed", r.Aborted, r.Failures)
	}
}

// stubPrivacy is the smallest fl.Privacy: enough for the composition check.
type stubPrivacy struct{}

func (stubPrivacy) Sampler() fl.Sampler       { return fl.Uniform{Count: 2} }
func (stubPrivacy) Check(int, int) error      { return nil }
func (stubPrivacy) Aggregator() fl.Aggregator { return &fl.FedAvg{} }
func (stubPrivacy) ClipNorm() float64         { return 1 }
func (stubPrivacy) NoiseSum([]float64) error  { return nil }
func (stubPrivacy) Record(*fl.RoundStats)     {}

func TestUnsoundCompositionsRefused(t *testing.T) {
	tr := twoLevel()
	cfg := serverConfig(1, 1)
	cfg.Exchange, cfg.Privacy = &hier.Exchange{}, stubPrivacy{}
	if _, err := fl.NewServer(cfg, tr.pool(t, "root", outage{}), make([]float64, dim)); !errors.Is(err, fl.ErrConfig) || !strings.Contains(err.Error(), "Privacy") {
		t.Errorf("Privacy at the root: err = %v, want ErrConfig naming Privacy", err)
	}
	cfg = serverConfig(1, 1)
	cfg.Exchange = &hier.Exchange{}
	pool := transport.CompressUplink(tr.pool(t, "root", outage{}), compress.Float16{}, dim)
	if _, err := fl.NewServer(cfg, pool, make([]float64, dim)); !errors.Is(err, fl.ErrConfig) || !strings.Contains(err.Error(), "uplink") {
		t.Errorf("uplink codec above the edges: err = %v, want ErrConfig naming the codec", err)
	}
}

// TestEdgeQuorumAndEvaluate: an edge below its quorum fails (its parent
// counts it); an edge answers evaluation with the example-weighted mean.
func TestEdgeQuorumAndEvaluate(t *testing.T) {
	tr := twoLevel()
	p := tr.pool(t, "e0", outage{})
	e, err := hier.NewEdge(hier.EdgeConfig{Pool: p, MinClients: 7})
	if err != nil {
		t.Fatal(err)
	}
	msg := &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, dim)}
	if _, err := e.Handle(context.Background(), msg); !errors.Is(err, hier.ErrEdgeQuorum) {
		t.Errorf("edge of 6 clients with quorum 7: err = %v, want ErrEdgeQuorum", err)
	}
	clean, err := transport.NewMemory(transport.MemoryConfig{IDs: tr["e0"], Factory: func(c string) (fl.Handler, error) { return leaf(c), nil }})
	if err != nil {
		t.Fatal(err)
	}
	e, _ = hier.NewEdge(hier.EdgeConfig{Pool: clean})
	rep, err := e.Handle(context.Background(), &fl.Message{Type: fl.TypeEvaluate, Round: 1, Params: make([]float64, dim)})
	if err != nil {
		t.Fatal(err)
	}
	var sum, n float64
	for _, id := range tr["e0"] {
		m, _ := leaf(id).Handle(context.Background(), &fl.Message{Type: fl.TypeEvaluate, Params: make([]float64, dim)})
		sum += m.Metrics[fl.KeyExamples] * m.Metrics[fl.KeyLoss]
		n += m.Metrics[fl.KeyExamples]
	}
	if got := rep.Metrics[fl.KeyLoss]; math.Abs(got-sum/n) > 1e-12*sum/n || rep.Metrics[fl.KeyExamples] != n {
		t.Errorf("edge evaluation %v, want loss %v over %v examples", rep.Metrics, sum/n, n)
	}
	if _, err := hier.NewEdge(hier.EdgeConfig{}); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("NewEdge without a pool: %v", err)
	}
}

// TestEdgeDeadline: an edge without a RoundTimeout of its own stops
// waiting at 80% of its parent's deadline, so a hung client costs the
// edge that client, not the edge's whole sum.
func TestEdgeDeadline(t *testing.T) {
	members := []string{"c001", "c002", "c003"}
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: members, Factory: func(id string) (fl.Handler, error) {
		if id == "c002" {
			return fl.HandlerFunc(func(ctx context.Context, _ *fl.Message) (*fl.Message, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}), nil
		}
		return leaf(id), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := hier.NewEdge(hier.EdgeConfig{Pool: p})
	if err != nil {
		t.Fatal(err)
	}
	root, err := transport.NewMemory(transport.MemoryConfig{IDs: []string{"edge"}, Factory: func(string) (fl.Handler, error) { return e, nil }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(1, 2)
	cfg.Exchange, cfg.RoundTimeout = &hier.Exchange{Size: func(string) int { return 3 }}, 500*time.Millisecond
	_, h := run(t, cfg, root)
	r := h.Rounds[0]
	if r.Aborted || r.Accepted != 2 || r.Extra[hier.KeyFailedPrefix+fl.FailTimeout] != 1 || r.Extra[hier.KeyFailed] != 1 {
		t.Errorf("round: accepted %d, extra %v; want the edge's 2 live clients, its hung client a timeout", r.Accepted, r.Extra)
	}
}
