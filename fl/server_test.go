package fl_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// targetTrainer pulls the model toward its target: Delta = LR·(target −
// global), so that with LR = 1 and FedAvg one round moves the global model
// to the weighted mean of the targets.
type targetTrainer struct {
	target []float64
	weight float64
	lr     float64
	noise  float64 // adds seeded noise drawn from (id, round)
	seed   uint64
}

func (tt *targetTrainer) Train(ctx context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	rng := rand.New(rand.NewPCG(tt.seed, uint64(cfg[fl.KeyRound])))
	d := make([]float64, len(global))
	loss := 0.0
	for i := range d {
		diff := tt.target[i] - global[i]
		loss += diff * diff / 2
		d[i] = tt.lr*diff + tt.noise*rng.NormFloat64()
	}
	return fl.Update{Delta: d, Weight: tt.weight, Metrics: fl.Metrics{fl.KeyLoss: loss, fl.KeyExamples: tt.weight}}, nil
}

func (tt *targetTrainer) Evaluate(ctx context.Context, params []float64) (fl.Metrics, error) {
	loss := 0.0
	for i := range params {
		diff := tt.target[i] - params[i]
		loss += diff * diff / 2
	}
	return fl.Metrics{fl.KeyLoss: loss, fl.KeyExamples: tt.weight}, nil
}

// misbehaving answers a train request in one of several wrong ways.
type misbehaving string

func (m misbehaving) Handle(ctx context.Context, msg *fl.Message) (*fl.Message, error) {
	d := make([]float64, len(msg.Params))
	r := &fl.Message{Type: fl.TypeUpdate, Round: msg.Round, Params: d, Weight: 1}
	switch m {
	case "nan":
		d[0] = math.NaN()
	case "inf":
		d[len(d)-1] = math.Inf(1)
	case "short":
		r.Params = d[1:]
	case "stale":
		r.Round = msg.Round - 1
	case "type":
		r.Type = fl.TypeMetrics
	case "weight":
		r.Weight = -1
	case "error":
		return nil, errors.New("boom")
	case "payload":
		r.Params, r.Payload = nil, []byte{1, 2, 3}
	}
	return r, nil
}

func newPool(t testing.TB, n int, mk func(i int, id string) fl.Handler, faults transport.Faults) *transport.Memory {
	ids := make([]string, n)
	handlers := map[string]fl.Handler{}
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%03d", i)
		handlers[ids[i]] = mk(i, ids[i])
	}
	p, err := transport.NewMemory(transport.MemoryConfig{
		IDs:     ids,
		Factory: func(id string) (fl.Handler, error) { return handlers[id], nil },
		Faults:  faults,
		Seed:    11,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func targets(n, d int) ([][]float64, []float64) {
	rng := rand.New(rand.NewPCG(5, 5))
	ts := make([][]float64, n)
	ws := make([]float64, n)
	for i := range ts {
		ts[i] = make([]float64, d)
		for j := range ts[i] {
			ts[i][j] = rng.NormFloat64()
		}
		ws[i] = float64(1 + rng.IntN(50))
	}
	return ts, ws
}

func TestServerFedAvgKnownAnswer(t *testing.T) {
	const n, d = 8, 5
	ts, ws := targets(n, d)
	pool := newPool(t, n, func(i int, id string) fl.Handler {
		tt := &targetTrainer{target: ts[i], weight: ws[i], lr: 1}
		return fl.NewHandler(tt, tt)
	}, transport.Faults{})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.EvalClients = 2, 0, -1
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// One round takes the model to Σ wᵢtᵢ / Σ wᵢ; the second keeps it there.
	want := make([]float64, d)
	var wsum float64
	for i := range ts {
		for j := range want {
			want[j] += ws[i] * ts[i][j]
		}
		wsum += ws[i]
	}
	got := s.Params()
	for j := range want {
		want[j] /= wsum
		if math.Abs(got[j]-want[j]) > 1e-12 {
			t.Errorf("param %d = %v, want %v", j, got[j], want[j])
		}
	}
	if len(h.Rounds) != 2 || h.Rounds[0].Accepted != n || h.Rounds[1].Failed != 0 {
		t.Fatalf("history: %+v", h.Rounds)
	}
	// Round 1's train loss is the example-weighted mean of ‖tᵢ‖²/2.
	var wantLoss float64
	for i := range ts {
		var l float64
		for _, x := range ts[i] {
			l += x * x / 2
		}
		wantLoss += ws[i] * l / wsum
	}
	if math.Abs(h.Rounds[0].TrainLoss-wantLoss) > 1e-12 {
		t.Errorf("train loss = %v, want %v", h.Rounds[0].TrainLoss, wantLoss)
	}
	// Federated evaluation after round 2 weights each client's loss by its
	// examples.
	var evalLoss float64
	for i := range ts {
		var l float64
		for j, x := range ts[i] {
			l += (x - want[j]) * (x - want[j]) / 2
		}
		evalLoss += ws[i] * l / wsum
	}
	if ev := h.Rounds[1].Eval; math.Abs(ev[fl.KeyLoss]-evalLoss) > 1e-9 || ev[fl.KeyExamples] != wsum {
		t.Errorf("federated eval = %v, want loss %v examples %v", ev, evalLoss, wsum)
	}
	// Bytes are counted as encoded: 8 train requests carrying d float64s
	// each way, plus the evaluation requests, at least.
	if r := h.Rounds[0]; r.BytesDown < int64(n*8*d) || r.BytesUp < int64(n*8*d) {
		t.Errorf("bytes down %d up %d, want at least %d each", r.BytesDown, r.BytesUp, n*8*d)
	}
}

func TestServerRejectsBadUpdates(t *testing.T) {
	const d = 4
	bad := []string{"nan", "inf", "short", "stale", "type", "weight", "error", "payload"}
	good := 3
	ts, ws := targets(good, d)
	pool := newPool(t, good+len(bad), func(i int, id string) fl.Handler {
		if i < good {
			return fl.NewHandler(&targetTrainer{target: ts[i], weight: ws[i], lr: 1}, nil)
		}
		return misbehaving(bad[i-good])
	}, transport.Faults{})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound = 1, 0
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Accepted != good || st.Failed != len(bad) || st.Failures[fl.FailRejected] != len(bad)-1 || st.Failures[fl.FailError] != 1 {
		t.Fatalf("stats: accepted %d failed %d %v", st.Accepted, st.Failed, st.Failures)
	}
	// Only the good clients reach the aggregate.
	got := s.Params()
	for j := 0; j < d; j++ {
		var num, den float64
		for i := 0; i < good; i++ {
			num += ws[i] * ts[i][j]
			den += ws[i]
		}
		if math.Abs(got[j]-num/den) > 1e-12 {
			t.Errorf("param %d = %v, want %v", j, got[j], num/den)
		}
	}
}

func TestServerQuorum(t *testing.T) {
	pool := newPool(t, 4, func(i int, id string) fl.Handler { return misbehaving("nan") }, transport.Faults{})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.MinClients, cfg.MaxAborted = 10, 4, 2, 2
	init := []float64{1, 2, 3}
	s, err := fl.NewServer(cfg, pool, init)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if !errors.Is(err, fl.ErrQuorum) {
		t.Fatalf("Run error = %v, want ErrQuorum", err)
	}
	if len(h.Rounds) != 2 || !h.Rounds[0].Aborted || !h.Rounds[1].Aborted {
		t.Fatalf("history = %+v", h.Rounds)
	}
	for i, p := range s.Params() {
		if p != init[i] {
			t.Fatalf("aborted rounds changed the parameters: %v", s.Params())
		}
	}
}

// blockingConn never answers until its context is done.
type blockingConn struct{ id string }

func (b blockingConn) ID() string { return b.id }
func (b blockingConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func listPool(t *testing.T, conns ...fl.Conn) fl.Pool {
	t.Helper()
	p, err := fl.NewPool(conns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServerDeadline(t *testing.T) {
	mem := newPool(t, 3, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{float64(i)}, weight: 1, lr: 1}, nil)
	}, transport.Faults{})
	pool := listPool(t, append([]fl.Conn{blockingConn{"slow-1"}, blockingConn{"slow-2"}}, fl.Reachable(mem)...)...)
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.RoundTimeout = 1, 0, 50*time.Millisecond
	s, err := fl.NewServer(cfg, pool, []float64{0})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Accepted != 3 || st.Failures[fl.FailTimeout] != 2 {
		t.Fatalf("stats = %+v", st)
	}
	if got := s.Params()[0]; got != 1 {
		t.Errorf("param = %v, want mean of 0,1,2 = 1", got)
	}
}

func TestServerCancel(t *testing.T) {
	pool := listPool(t, blockingConn{"a"}, blockingConn{"b"})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound = 5, 0
	s, err := fl.NewServer(cfg, pool, []float64{7})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := s.Run(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if s.Round() != 0 || s.Params()[0] != 7 {
		t.Errorf("cancelled round was applied: round %d params %v", s.Round(), s.Params())
	}
}

// needs is an aggregator that needs at least n updates.
type needs struct{ n int }

func (a needs) Aggregate([]float64, []fl.Update) error { return nil }
func (a needs) Validate(n int) error {
	if n < a.n {
		return fmt.Errorf("needs %d updates, got %d", a.n, n)
	}
	return nil
}

func TestServerConfigValidate(t *testing.T) {
	for _, mut := range []func(*fl.ServerConfig){
		func(c *fl.ServerConfig) { c.Rounds = 0 },
		func(c *fl.ServerConfig) { c.ClientFraction = 1.5 },
		func(c *fl.ServerConfig) { c.ClientFraction = 0.5 }, // and ClientsPerRound = 10
		func(c *fl.ServerConfig) { c.MinClients = 11 },
		func(c *fl.ServerConfig) { c.RoundTimeout = -1 },
		func(c *fl.ServerConfig) { c.ClientConfig = fl.Config{"lr": math.NaN()} },
		func(c *fl.ServerConfig) { c.Sampler = fl.Poisson{Q: 0.1} },
		func(c *fl.ServerConfig) { c.ClientConfig = fl.Config{fl.KeyLR: -1} },
		func(c *fl.ServerConfig) { c.ClientConfig = fl.Config{fl.KeyEpochs: 0.5} },
		func(c *fl.ServerConfig) { c.ClientConfig = fl.Config{fl.KeyBatchSize: 0} },
		func(c *fl.ServerConfig) { c.Optimizer = fl.SGD{LR: -1} },
		func(c *fl.ServerConfig) { c.Optimizer = &fl.FedAvgM{Momentum: 1} },
		func(c *fl.ServerConfig) { c.Optimizer = &fl.Adaptive{Rule: 7} },
		func(c *fl.ServerConfig) { c.SamplingKey = []byte{1, 2, 3} },
		func(c *fl.ServerConfig) { c.Exchange, c.Aggregator = &fl.TrainExchange{}, &fl.FedAvg{} },
		func(c *fl.ServerConfig) { c.Aggregator = needs{5} }, // 10 sampled but a quorum of 1
		func(c *fl.ServerConfig) { c.Aggregator, c.MinClients = needs{11}, 10 },
	} {
		c := fl.DefaultServerConfig()
		c.ClientsPerRound = 10
		c.ClientsPerRound = 10
		mut(&c)
		if err := c.Validate(); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrConfig", c, err)
		}
	}
	c := fl.DefaultServerConfig()
	if err := c.Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	if _, err := fl.NewServer(c, listPool(t), []float64{math.NaN()}); err == nil {
		t.Error("NaN initial parameters accepted")
	}
}

// simulate runs a noisy federated simulation with the given knobs and
// returns the SHA-256 of its final parameters.
func simulate(t *testing.T, rounds int, opt fl.ServerOptimizer, dir string, resume bool) [32]byte {
	t.Helper()
	const n, d = 20, 16
	ts, ws := targets(n, d)
	pool := newPool(t, n, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: ts[i], weight: ws[i], lr: 0.5, noise: 0.1, seed: uint64(i)}, nil)
	}, transport.Faults{Drop: 0.2})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Optimizer, cfg.Seed = rounds, 6, opt, 99
	cfg.CheckpointDir, cfg.CheckpointEvery = dir, 3
	s, err := fl.NewServer(cfg, pool, make([]float64, d))
	if err != nil {
		t.Fatal(err)
	}
	if resume {
		cp, err := fl.ReadCheckpoint(filepath.Join(dir, fl.CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Restore(cp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return paramsHash(s.Params())
}

func paramsHash(p []float64) [32]byte {
	b := make([]byte, 0, 8*len(p))
	for _, x := range p {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return sha256.Sum256(b)
}

func TestDeterminismAcrossGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	a := simulate(t, 8, fl.NewFedAdam(0.05), "", false)
	runtime.GOMAXPROCS(4)
	b := simulate(t, 8, fl.NewFedAdam(0.05), "", false)
	if a != b {
		t.Fatal("final parameters differ between GOMAXPROCS 1 and 4")
	}
	if c := simulate(t, 9, fl.NewFedAdam(0.05), "", false); c == a {
		t.Fatal("one more round gave the same parameters: the hash sees nothing")
	}
}

func TestResumeEqualsUninterrupted(t *testing.T) {
	for name, mk := range map[string]func() fl.ServerOptimizer{
		"fedyogi": func() fl.ServerOptimizer { return fl.NewFedYogi(0.05) },
		"fedavgm": func() fl.ServerOptimizer { return &fl.FedAvgM{LR: 1, Momentum: 0.9} },
	} {
		dir := t.TempDir()
		want := simulate(t, 12, mk(), "", false)
		simulate(t, 7, mk(), dir, false) // checkpoints after rounds 3, 6 and 7
		got := simulate(t, 12, mk(), dir, true)
		if got != want {
			t.Errorf("%s: resumed run differs from the uninterrupted one", name)
		}
	}
}

func TestCheckpointRejectsCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cp")
	cp := &fl.Checkpoint{Round: 1, KeyFingerprint: [32]byte{3}, Parts: map[string][]byte{fl.PartExchange: {}}, Params: []float64{1, 2, 3}, History: fl.History{Rounds: []fl.RoundStats{{Round: 1, TrainLoss: math.NaN()}}}}
	if err := fl.WriteCheckpoint(path, cp); err != nil {
		t.Fatal(err)
	}
	got, err := fl.ReadCheckpoint(path)
	if err != nil || got.Round != 1 || got.Params[2] != 3 || !math.IsNaN(got.History.Rounds[0].TrainLoss) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	good, _ := os.ReadFile(path)
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 1
	for name, b := range map[string][]byte{
		"truncated":  good[:len(good)-5],
		"header":     good[:10],
		"empty":      {},
		"bit flip":   flip,
		"bad magic":  append([]byte("XXXXXXXX"), good[8:]...),
		"appended":   append(append([]byte(nil), good...), 0),
		"bad length": append(append(append([]byte(nil), good[:12]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), good[20:]...),
	} {
		p := filepath.Join(dir, "bad")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := fl.ReadCheckpoint(p); !errors.Is(err, fl.ErrCheckpoint) {
			t.Errorf("%s: ReadCheckpoint = %v, want ErrCheckpoint", name, err)
		}
		if name == "appended" {
			continue // a stream reader stops at the checkpoint's end
		}
		if _, err := fl.ReadCheckpointFrom(bytes.NewReader(b)); !errors.Is(err, fl.ErrCheckpoint) {
			t.Errorf("%s: ReadCheckpointFrom = %v, want ErrCheckpoint", name, err)
		}
	}
	var buf bytes.Buffer
	if _, err := cp.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if got, err := fl.ReadCheckpointFrom(&buf); err != nil || got.Round != 1 || got.Params[1] != 2 {
		t.Fatalf("stream round trip: %+v, %v", got, err)
	}
	// A checkpoint of another run (another sampling key) is refused by
	// Restore, and so is one that lacks the state of a stateful part.
	cfg := fl.DefaultServerConfig()
	cfg.Seed = 5
	s, _ := fl.NewServer(cfg, listPool(t), []float64{0, 0, 0})
	if err := s.Restore(cp); !errors.Is(err, fl.ErrCheckpoint) {
		t.Errorf("Restore with another seed = %v", err)
	}
	own, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(own); err != nil {
		t.Errorf("Restore of its own checkpoint: %v", err)
	}
	delete(own.Parts, fl.PartExchange)
	if err := s.Restore(own); !errors.Is(err, fl.ErrCheckpoint) {
		t.Errorf("Restore without the exchange's state = %v", err)
	}
}

func TestObserverAndFaults(t *testing.T) {
	const n = 30
	pool := newPool(t, n, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	}, transport.Faults{Drop: 0.3, Error: 0.1})
	var starts, ends int
	var failed int
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound = 20, n
	cfg.Observer = fl.ObserverFuncs{
		Start: func(r int, s []string) { starts++ },
		End:   func(st fl.RoundStats) { ends++; failed += st.Failed },
	}
	s, err := fl.NewServer(cfg, pool, []float64{0})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if starts != 20 || ends != 20 {
		t.Fatalf("observer saw %d starts, %d ends", starts, ends)
	}
	// Each client fails with probability 1 − 0.7·0.9 = 0.37; 600 draws give
	// a mean of 222 with standard deviation 11.8.
	if failed < 222-60 || failed > 222+60 {
		t.Errorf("%d failures in 600 client-rounds, want about 222", failed)
	}
	_, _, totalFailed, _ := h.Totals()
	if totalFailed != failed {
		t.Errorf("History.Totals failed = %d, observer %d", totalFailed, failed)
	}
}

// toyBudget is a Privacy that allows a fixed number of releases: its
// aggregator is FedAvg, counted.
type toyBudget struct {
	fl.FedAvg
	allowed, released, checked int
}

var errBudget = fmt.Errorf("toy: %w", fl.ErrBudget)

func (b *toyBudget) Sampler() fl.Sampler          { return fl.Uniform{Count: 3} }
func (b *toyBudget) Aggregator() fl.Aggregator    { return b }
func (b *toyBudget) ClipNorm() float64            { return 1 }
func (b *toyBudget) NoiseSum(sum []float64) error { return b.release() }
func (b *toyBudget) Check(r, population int) error {
	b.checked++
	if b.released >= b.allowed {
		return errBudget
	}
	return nil
}
func (b *toyBudget) release() error {
	if b.released >= b.allowed {
		return errBudget
	}
	b.released++
	return nil
}
func (b *toyBudget) Aggregate(dst []float64, ups []fl.Update) error {
	if err := b.release(); err != nil {
		return err
	}
	return b.FedAvg.Aggregate(dst, ups)
}
func (b *toyBudget) Record(st *fl.RoundStats) {
	if st.Extra == nil {
		st.Extra = fl.Metrics{}
	}
	st.Extra["spent"] = float64(b.released)
}

func TestServerPrivacyBudget(t *testing.T) {
	pool := newPool(t, 3, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{float64(i)}, weight: 1, lr: 0.5}, nil)
	}, transport.Faults{})
	b := &toyBudget{allowed: 2}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Privacy = 5, b
	s, err := fl.NewServer(cfg, pool, []float64{0})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Run(context.Background())
	if !errors.Is(err, errBudget) || !errors.Is(err, fl.ErrBudget) {
		t.Fatalf("Run = %v, want the budget error", err)
	}
	if len(h.Rounds) != 2 || h.Rounds[1].Extra["spent"] != 2 || s.Round() != 2 || b.checked != 3 {
		t.Fatalf("history = %+v, checked %d", h.Rounds, b.checked)
	}
	// The parameters are those after round 2: 0 → 0.5 → 0.75 (mean target 1, lr 0.5).
	if got := s.Params()[0]; got != 0.75 {
		t.Errorf("params = %v, want 0.75", got)
	}
	// A config that contradicts the privacy's sampler or puts another
	// aggregator in front of its sum is refused before round 1.
	for name, mut := range map[string]func(*fl.ServerConfig){
		"sampler":    func(c *fl.ServerConfig) { c.Sampler = fl.Poisson{Q: 0.5} },
		"count":      func(c *fl.ServerConfig) { c.ClientsPerRound = 3 },
		"aggregator": func(c *fl.ServerConfig) { c.Aggregator = &fl.FedAvg{} },
	} {
		c := cfg
		mut(&c)
		if _, err := fl.NewServer(c, pool, []float64{0}); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: NewServer = %v, want ErrConfig", name, err)
		}
	}
}

// twoStep is a toy multi-step exchange: clients train, then the server asks
// each survivor to "commit", and the aggregate is the plain mean of the
// committed deltas.
type twoStep struct{ failCommit string }

func (twoStep) Check(*fl.ServerConfig, fl.Pool) error { return nil }

func (w twoStep) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	deltas := make([][]float64, r.Len())
	err := r.Step(ctx, fl.TypeTrain, func(i int) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeTrain, Round: r.Number, Params: r.Params, Config: r.Config}, nil
	}, func(i int, m *fl.Message) error {
		deltas[i] = m.Params
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = r.Step(ctx, "toy/commit", func(i int) (*fl.Message, error) {
		if r.ID(i) == w.failCommit {
			return nil, errors.New("no commit for you")
		}
		return &fl.Message{Type: "toy/commit", Round: r.Number}, nil
	}, func(i int, m *fl.Message) error {
		if m.Type != "toy/ok" {
			return fl.ErrReply
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	clear(dst)
	n := 0
	for i := range r.Len() {
		if !r.Active(i) {
			continue
		}
		for j, v := range deltas[i] {
			dst[j] += v
		}
		n++
	}
	if n < r.Quorum {
		return n, nil
	}
	for j := range dst {
		dst[j] /= float64(n)
	}
	return n, nil
}

type committer struct{ fl.Handler }

func (c committer) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if m.Type == "toy/commit" {
		return &fl.Message{Type: "toy/ok", Round: m.Round}, nil
	}
	return c.Handler.Handle(ctx, m)
}

func TestServerWorkflow(t *testing.T) {
	pool := newPool(t, 3, func(i int, id string) fl.Handler {
		return committer{fl.NewHandler(&targetTrainer{target: []float64{float64(3 * i)}, weight: 1, lr: 1}, nil)}
	}, transport.Faults{})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.MinClients = 1, 3, 2
	cfg.Exchange = twoStep{failCommit: "client-002"}
	s, err := fl.NewServer(cfg, pool, []float64{0})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Clients 0 and 1 (targets 0 and 3) committed: the mean delta is 1.5.
	if st.Accepted != 2 || st.Failures[fl.FailError] != 1 || s.Params()[0] != 1.5 {
		t.Fatalf("stats %+v params %v", st, s.Params())
	}
	// With a quorum of 3 the same round is aborted.
	cfg.MinClients = 3
	s, _ = fl.NewServer(cfg, pool, []float64{0})
	if st, err := s.RunRound(context.Background()); err != nil || !st.Aborted || s.Params()[0] != 0 {
		t.Fatalf("quorum not enforced: %+v %v", st, err)
	}
}
