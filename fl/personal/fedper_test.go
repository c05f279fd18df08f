package personal_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// fedperTrainers returns clients of the rotated-concept federation with
// 40, 80 and 120 training examples (so FedAvg's weights differ).
func fedperTrainers(t testing.TB, m model.Model) []*model.Trainer {
	t.Helper()
	var trs []*model.Trainer
	for i, n := range []int{40, 80, 120} {
		theta := 2 * math.Pi * float64(i) / 3
		tr, err := model.NewTrainer(model.TrainerConfig{
			Model: m, ID: string(rune('a' + i)), Train: rotated(uint64(i), n, theta), Test: rotated(uint64(50+i), 60, theta),
			LR: 0.1, BatchSize: 10, Seed: uint64(i + 1),
		})
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	return trs
}

// FedPer's server update, checked against a naive reference of the
// paper's Algorithm 1 for two rounds: each client trains the model made of
// the global base and its own head (the initial head in round 1), the
// base becomes the example-weighted mean of the clients' bases
// (W_B ← Σ n_j W_B,j / Σ n_j), each client keeps its new head, and the
// server's copy of the head never moves.
func TestFedPerBaseAverageIsFedAvg(t *testing.T) {
	m := smallMLP()
	k, err := personal.HeadMask(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	trs, twins := fedperTrainers(t, m), fedperTrainers(t, m)
	store := &drift.MemoryStore{}
	var conns []fl.Conn
	for _, tr := range trs {
		id := tr.Config().ID
		conns = append(conns, conn{id, &personal.FedPerClient{ID: id, Mask: k, Trainer: tr, Store: store}})
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = 2, 1
	cfg.Exchange = &personal.FedPer{Mask: k}
	w0 := initial(m, 4)
	s, _ := runServer(t, cfg, newPool(t, conns...), w0)

	w := slices.Clone(w0)
	heads := make([][]float64, len(twins))
	for r := 1; r <= 2; r++ {
		sum := make([]float64, len(w))
		var n float64
		for i, tw := range twins {
			full := slices.Clone(w)
			if heads[i] != nil {
				k.SetHead(full, heads[i])
			}
			u, err := tw.Train(context.Background(), full, fl.Config{fl.KeyRound: float64(r)})
			if err != nil {
				t.Fatal(err)
			}
			h := k.Head(nil, full)
			for j, d := range k.Head(nil, u.Delta) {
				h[j] += d
			}
			heads[i] = h
			for j, d := range u.Delta {
				sum[j] += u.Weight * d
			}
			n += u.Weight
		}
		base := k.Base(nil, w)
		for j, v := range k.Base(nil, sum) {
			base[j] += v / n
		}
		k.SetBase(w, base)
	}
	got := s.Params()
	near(t, "base", k.Base(nil, got), k.Base(nil, w), 1e-14)
	if !slices.Equal(k.Head(nil, got), k.Head(nil, w0)) {
		t.Fatal("the server's copy of the head moved")
	}
	for i, tw := range twins {
		h := make([]float64, k.PersonalLen())
		if ok, err := store.Load(personal.FedPerKey(tw.Config().ID), h); !ok || err != nil {
			t.Fatalf("client %d has no head (%v)", i, err)
		}
		// Round 2 trains from the server's base, whose last bits depend on
		// FedAvg's summation order: a tolerance, not bit equality.
		near(t, "head", h, heads[i], 1e-12)
	}
}

// recorder is a trainer that records the full deltas it returns.
type recorder struct {
	fl.Trainer
	mu     sync.Mutex
	deltas [][]float64
}

func (r *recorder) Train(ctx context.Context, g []float64, cfg fl.Config) (fl.Update, error) {
	u, err := r.Trainer.Train(ctx, g, cfg)
	r.mu.Lock()
	r.deltas = append(r.deltas, slices.Clone(u.Delta))
	r.mu.Unlock()
	return u, err
}

// The spy on the wire: every train reply holds exactly the base part of
// the trainer's delta (BaseLen values), no payload; no reply, train or
// evaluation, holds a run of the client's head or of its change; and the
// evaluation replies hold metrics only.
func TestFedPerHeadsNeverLeave(t *testing.T) {
	m := smallMLP()
	k, _ := personal.HeadMask(m, 1)
	store := &drift.MemoryStore{}
	spies := map[string]*spy{}
	recs := map[string]*recorder{}
	var conns []fl.Conn
	for _, tr := range fedperTrainers(t, m) {
		id := tr.Config().ID
		spies[id], recs[id] = &spy{}, &recorder{Trainer: tr}
		conns = append(conns, conn{id, spies[id].wrap(&personal.FedPerClient{ID: id, Mask: k, Trainer: recs[id], Evaluator: tr, Store: store})})
	}
	pool := newPool(t, conns...)
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed, cfg.EvalClients = 3, 1, -1
	cfg.Exchange = &personal.FedPer{Mask: k}
	runServer(t, cfg, pool, initial(m, 4))
	for id, sp := range spies {
		head := make([]float64, k.PersonalLen())
		store.Load(personal.FedPerKey(id), head)
		rec := recs[id]
		trains := 0
		for _, r := range sp.out {
			switch r.Type {
			case personal.TypeFedPerUpdate:
				if len(r.Params) != k.BaseLen() || r.Payload != nil {
					t.Fatalf("client %s: reply of %d values (+%d payload bytes), want the %d base values", id, len(r.Params), len(r.Payload), k.BaseLen())
				}
				if !slices.Equal(r.Params, k.Base(nil, rec.deltas[trains])) {
					t.Fatalf("client %s: reply %d is not the base part of its delta", id, trains)
				}
				if containsRun(r.Params, k.Head(nil, rec.deltas[trains])) || containsRun(r.Params, head) {
					t.Fatalf("client %s: a reply carries head values", id)
				}
				trains++
			case fl.TypeMetrics:
				if r.Params != nil || r.Payload != nil || len(r.Metrics) == 0 {
					t.Fatalf("client %s: evaluation reply carries vectors: %+v", id, r)
				}
			default:
				t.Fatalf("client %s: reply of type %q", id, r.Type)
			}
		}
		if trains != 3 {
			t.Fatalf("client %s answered %d train messages, want 3", id, trains)
		}
	}
}

// A client that answers with its full update (head included) is refused,
// counted, and left out of the aggregate.
func TestFedPerRejectsFullUpdate(t *testing.T) {
	k := personal.Mask{Dim: 3, Personal: []personal.Range{{2, 3}}}
	honest := &quad{a: []float64{1, 1, 1}, b: []float64{1, 2, 3}, k: 1, lr: 0.5, weight: 1}
	leaky := fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		u, _ := honest.Train(ctx, m.Params, m.Config)
		return &fl.Message{Type: personal.TypeFedPerUpdate, Round: m.Round, Params: u.Delta, Weight: 1}, nil
	})
	conns := []fl.Conn{
		conn{"a", &personal.FedPerClient{ID: "a", Mask: k, Trainer: honest, Store: &drift.MemoryStore{}}},
		conn{"b", leaky},
	}
	ex := &personal.FedPer{Mask: k}
	r := fl.NewRound(1, []float64{0, 0, 0}, nil, conns, nil)
	dst := make([]float64, 3)
	n, err := ex.Run(context.Background(), r, dst)
	if err != nil || n != 1 {
		t.Fatalf("Run = %d, %v; want 1 accepted", n, err)
	}
	if st := r.Stats(); st.Failures[fl.FailRejected] != 1 {
		t.Fatalf("failures %v, want one rejected", st.Failures)
	}
	// The honest client's base: one step of 0.5 from 0 toward (1, 2).
	if want := []float64{0.5, 1, 0}; !slices.Equal(dst, want) {
		t.Fatalf("aggregate %v, want %v", dst, want)
	}
}

// fakePrivacy is a fl.Privacy that does nothing.
type fakePrivacy struct{}

func (fakePrivacy) Sampler() fl.Sampler       { return fl.Uniform{} }
func (fakePrivacy) Check(int, int) error      { return nil }
func (fakePrivacy) Aggregator() fl.Aggregator { return &fl.FedAvg{} }
func (fakePrivacy) ClipNorm() float64         { return 1 }
func (fakePrivacy) NoiseSum([]float64) error  { return nil }
func (fakePrivacy) Record(*fl.RoundStats)     {}

// encodingPool reports an uplink codec, as transport's compression
// wrappers do.
type encodingPool struct{ fl.Pool }

func (encodingPool) Encoding() (string, string) { return "topk", "" }

func TestFedPerCheck(t *testing.T) {
	pool := newPool(t, conn{"a", nil})
	k := personal.Mask{Dim: 4, Personal: []personal.Range{{3, 4}}}
	for name, tc := range map[string]struct {
		ex   *personal.FedPer
		cfg  fl.ServerConfig
		pool fl.Pool
	}{
		"bad mask":               {&personal.FedPer{Mask: personal.Mask{Dim: 4, Personal: []personal.Range{{3, 5}}}}, fl.ServerConfig{}, pool},
		"no mask":                {&personal.FedPer{}, fl.ServerConfig{}, pool},
		"all personal":           {&personal.FedPer{Mask: personal.Mask{Dim: 4, Personal: []personal.Range{{0, 4}}}}, fl.ServerConfig{}, pool},
		"privacy and aggregator": {&personal.FedPer{Mask: k, Aggregator: &fl.FedAvg{}}, fl.ServerConfig{Privacy: fakePrivacy{}}, pool},
		"aggregator":             {&personal.FedPer{Mask: k}, fl.ServerConfig{Aggregator: &fl.FedAvg{}}, pool},
		"compression":            {&personal.FedPer{Mask: k}, fl.ServerConfig{}, encodingPool{pool}},
	} {
		if err := tc.ex.Check(&tc.cfg, tc.pool); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: Check = %v, want ErrConfig", name, err)
		}
	}
	if err := (&personal.FedPer{Mask: k}).Check(&fl.ServerConfig{}, pool); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
	if err := (&personal.FedPer{Mask: k}).Check(&fl.ServerConfig{Privacy: fakePrivacy{}}, pool); err != nil {
		t.Errorf("valid config with a Privacy refused: %v", err)
	}
	// A mask for another model is refused when the round shows the size.
	r := fl.NewRound(1, make([]float64, 5), nil, nil, nil)
	if _, err := (&personal.FedPer{Mask: k}).Run(context.Background(), r, make([]float64, 5)); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("mask of Dim 4 for 5 parameters: %v, want ErrConfig", err)
	}
}

// badTrainer returns a delta of the wrong length.
type badTrainer struct{}

func (badTrainer) Train(context.Context, []float64, fl.Config) (fl.Update, error) {
	return fl.Update{Delta: []float64{1}, Weight: 1}, nil
}

func TestFedPerClientBadInput(t *testing.T) {
	k := personal.Mask{Dim: 3, Personal: []personal.Range{{2, 3}}}
	q := &quad{a: []float64{1, 1, 1}, b: []float64{1, 2, 3}, k: 1, lr: 0.5, weight: 1}
	send := func(c *personal.FedPerClient, typ string, params []float64) error {
		_, err := c.Handle(context.Background(), &fl.Message{Type: typ, Round: 1, Params: params})
		return err
	}
	mk := func(tr fl.Trainer, s drift.Store) *personal.FedPerClient {
		return &personal.FedPerClient{ID: "a", Mask: k, Trainer: tr, Evaluator: q, Store: s}
	}
	if err := send(mk(q, &drift.MemoryStore{}), personal.TypeFedPerTrain, []float64{0, 0}); err == nil {
		t.Error("parameters of the wrong length accepted")
	}
	if err := send(mk(q, &drift.MemoryStore{}), fl.TypeEvaluate, []float64{0, 0, 0, 0}); err == nil {
		t.Error("evaluation of parameters of the wrong length accepted")
	}
	if err := send(mk(q, &drift.MemoryStore{}), personal.TypeFedPerTrain, []float64{0, math.Inf(-1), 0}); err == nil {
		t.Error("Inf parameter accepted")
	}
	s := &drift.MemoryStore{}
	s.Save(personal.FedPerKey("a"), []float64{7})
	if err := send(mk(badTrainer{}, s), personal.TypeFedPerTrain, []float64{0, 0, 0}); err == nil {
		t.Error("a delta of the wrong length accepted")
	}
	if h := []float64{0}; func() bool { s.Load(personal.FedPerKey("a"), h); return h[0] != 7 }() {
		t.Error("a failed update changed the stored head")
	}
	wrong := &drift.MemoryStore{}
	wrong.Save(personal.FedPerKey("a"), []float64{1, 2})
	if err := send(mk(q, wrong), personal.TypeFedPerTrain, []float64{0, 0, 0}); !errors.Is(err, drift.ErrState) {
		t.Errorf("stored head of the wrong length: %v, want ErrState", err)
	}
	if err := send(mk(q, &drift.MemoryStore{}), fl.TypeTrain, []float64{0, 0, 0}); !errors.Is(err, fl.ErrUnknownType) {
		t.Errorf("plain train message without Next: %v, want ErrUnknownType", err)
	}
	if err := send(mk(q, nil), personal.TypeFedPerTrain, []float64{0, 0, 0}); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("no Store: %v, want ErrConfig", err)
	}
	bad := mk(q, &drift.MemoryStore{})
	bad.Mask = personal.Mask{Dim: 3, Personal: []personal.Range{{2, 9}}}
	if err := send(bad, personal.TypeFedPerTrain, []float64{0, 0, 0}); !errors.Is(err, personal.ErrMask) {
		t.Errorf("invalid mask: %v, want ErrMask", err)
	}
}

// In a round where no client has a head yet, FedPer's aggregate is the
// engine's FedAvg exchange's restricted to the base coordinates, bit for
// bit, and 0 on the head.
func TestFedPerFirstRoundIsFedAvgOnBase(t *testing.T) {
	m := smallMLP()
	k, _ := personal.HeadMask(m, 1)
	w := initial(m, 8)
	cfg := fl.Config{fl.KeyRound: 1}
	var per, plain []fl.Conn
	for _, tr := range fedperTrainers(t, m) {
		per = append(per, conn{tr.Config().ID, &personal.FedPerClient{ID: tr.Config().ID, Mask: k, Trainer: tr, Store: &drift.MemoryStore{}}})
	}
	for _, tr := range fedperTrainers(t, m) {
		plain = append(plain, conn{tr.Config().ID, fl.NewHandler(tr, tr)})
	}
	got, want := make([]float64, len(w)), make([]float64, len(w))
	if _, err := (&personal.FedPer{Mask: k}).Run(context.Background(), fl.NewRound(1, w, cfg, per, nil), got); err != nil {
		t.Fatal(err)
	}
	if _, err := (&fl.TrainExchange{}).Run(context.Background(), fl.NewRound(1, w, cfg, plain, nil), want); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.Base(nil, got), k.Base(nil, want)) {
		t.Fatal("FedPer's base aggregate differs from FedAvg's")
	}
	if slices.ContainsFunc(k.Head(nil, got), func(v float64) bool { return v != 0 }) {
		t.Fatal("FedPer's aggregate moves the head")
	}
}
