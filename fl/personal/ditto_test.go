package personal_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// One personal step by hand: F(v) = ½·2(v − 1)², λ = 0.5, η = 0.1, from
// v = 3 toward w = 0: v − η(∇F(v) + λ(v − w)) = 3 − 0.1(4 + 1.5) = 2.45.
// The reply is the global update alone, w − η∇F(w) − w = −0.1·2(0 − 1) = 0.2.
func TestDittoPersonalStepByHand(t *testing.T) {
	store := &drift.MemoryStore{}
	store.Save(personal.DittoKey("a"), []float64{3})
	q := &quad{a: []float64{2}, b: []float64{1}, k: 1, lr: 0.1, weight: 1}
	c := &personal.DittoClient{ID: "a", Global: fl.NewHandler(q, q), Personal: q, Store: store}
	r, err := c.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{0}, Config: fl.Config{personal.KeyLambda: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != fl.TypeUpdate || len(r.Params) != 1 || math.Abs(r.Params[0]-0.2) > 1e-15 {
		t.Fatalf("reply %+v, want the global update 0.2", r)
	}
	v := []float64{0}
	if ok, _ := store.Load(personal.DittoKey("a"), v); !ok || math.Abs(v[0]-2.45) > 1e-15 {
		t.Fatalf("v_k = %v, want 2.45", v)
	}
}

// Ditto through the engine on two quadratic clients, every client every
// round, checked against the closed forms of Algorithm 1 for three
// rounds: the global step from w is K gradient steps on F_k,
// w_k − b = (1 − ηa)^K (w − b), averaged with FedAvg's weights; the
// personal step is K steps on h_k(v; w^t), which contract toward
// v* = (ab + λw^t)/(a + λ) by (1 − η(a + λ))^K, from v_k^0 = w^0.
func TestDittoClosedForm(t *testing.T) {
	const lr, lambda, k, rounds = 0.1, 0.7, 3, 3
	qs := []*quad{
		{a: []float64{1, 2}, b: []float64{3, -1}, k: k, lr: lr, weight: 1},
		{a: []float64{0.5, 4}, b: []float64{-2, 2}, k: k, lr: lr, weight: 3},
	}
	store := &drift.MemoryStore{}
	var conns []fl.Conn
	for i, q := range qs {
		id := string(rune('a' + i))
		conns = append(conns, conn{id, &personal.DittoClient{ID: id, Global: fl.NewHandler(q, q), Personal: q, Store: store}})
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = rounds, 1
	cfg.ClientConfig = fl.Config{personal.KeyLambda: lambda}
	w0 := []float64{0.5, 0.25}
	s, _ := runServer(t, cfg, newPool(t, conns...), w0)

	w := slices.Clone(w0)
	v := [][]float64{slices.Clone(w0), slices.Clone(w0)}
	for range rounds {
		next := make([]float64, 2)
		for j := range w {
			var num, den float64
			for i, q := range qs {
				wk := q.b[j] + math.Pow(1-lr*q.a[j], k)*(w[j]-q.b[j])
				num += q.weight * (wk - w[j])
				den += q.weight
				star := (q.a[j]*q.b[j] + lambda*w[j]) / (q.a[j] + lambda)
				v[i][j] = star + math.Pow(1-lr*(q.a[j]+lambda), k)*(v[i][j]-star)
			}
			next[j] = w[j] + num/den
		}
		w = next
	}
	near(t, "w", s.Params(), w, 1e-13)
	for i := range qs {
		got := make([]float64, 2)
		if ok, err := store.Load(personal.DittoKey(string(rune('a'+i))), got); !ok || err != nil {
			t.Fatalf("client %d has no v_k (%v)", i, err)
		}
		near(t, "v_k", got, v[i], 1e-13)
	}
}

// λ = 0 is local training: v_k after three rounds is three successive
// local trainings from v_k alone (a twin trainer, same seed and rounds),
// bit for bit, whatever the global model did.
func TestDittoLambdaZeroIsLocalTraining(t *testing.T) {
	m := model.Softmax{Dim: 2, Classes: 2}
	trs, twins := trainers(t, m, 3), trainers(t, m, 3)
	store := &drift.MemoryStore{}
	var conns []fl.Conn
	for _, tr := range trs {
		id := tr.Config().ID
		conns = append(conns, conn{id, &personal.DittoClient{ID: id, Global: fl.NewHandler(tr, tr), Personal: tr, Store: store}})
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = 3, 1
	cfg.ClientConfig = fl.Config{personal.KeyLambda: 0, fl.KeyEpochs: 2}
	w0 := initial(m, 3)
	s, _ := runServer(t, cfg, newPool(t, conns...), w0)
	for _, tw := range twins {
		v := slices.Clone(w0)
		for r := 1; r <= 3; r++ {
			u, err := tw.Train(context.Background(), v, fl.Config{fl.KeyRound: float64(r), fl.KeyEpochs: 2})
			if err != nil {
				t.Fatal(err)
			}
			for j := range v {
				v[j] += u.Delta[j]
			}
		}
		got := make([]float64, len(v))
		store.Load(personal.DittoKey(tw.Config().ID), got)
		if !slices.Equal(got, v) {
			t.Fatalf("client %s: v_k with λ = 0 differs from local training", tw.Config().ID)
		}
	}
	if slices.Equal(s.Params(), w0) {
		t.Fatal("the global model did not move")
	}
}

// As λ grows, v_k follows the global model it received: the minimizer of
// h_k satisfies v − w^t = −∇F_k(v)/λ, and with η = 1/(2λ) every step keeps
// ‖v − w^t‖ within G/λ (G bounds the softmax cross-entropy's gradient,
// √2·max‖(x, 1)‖) once the start's distance has decayed (by 2^−steps).
// With λ = 0 the personal model wanders far from w^t.
func TestDittoLargeLambdaFollowsGlobal(t *testing.T) {
	m := model.Softmax{Dim: 2, Classes: 2}
	dist := func(lambda float64) (maxDist, g float64) {
		trs := trainers(t, m, 3)
		store := &drift.MemoryStore{}
		spies := map[string]*spy{}
		var conns []fl.Conn
		for _, tr := range trs {
			id := tr.Config().ID
			d := tr.Config().Train
			for i := range d.Len() {
				g = math.Max(g, math.Sqrt2*math.Hypot(math.Hypot(d.X[2*i], d.X[2*i+1]), 1))
			}
			spies[id] = &spy{}
			conns = append(conns, conn{id, spies[id].wrap(&personal.DittoClient{ID: id, Global: fl.NewHandler(tr, tr), Personal: tr, Store: store})})
		}
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Seed = 4, 1
		cfg.ClientConfig = fl.Config{personal.KeyLambda: lambda, fl.KeyEpochs: 5}
		if lambda > 0 {
			cfg.ClientConfig[personal.KeyPersonalLR] = 1 / (2 * lambda)
		}
		runServer(t, cfg, newPool(t, conns...), initial(m, 3))
		for id, sp := range spies {
			wt := sp.in[len(sp.in)-1].Params // the last global model received
			v := make([]float64, len(wt))
			store.Load(personal.DittoKey(id), v)
			var d2 float64
			for j := range v {
				d2 += (v[j] - wt[j]) * (v[j] - wt[j])
			}
			maxDist = math.Max(maxDist, math.Sqrt(d2))
		}
		return maxDist, g
	}
	free, _ := dist(0)
	for _, lambda := range []float64{1e2, 1e4, 1e6} {
		d, g := dist(lambda)
		t.Logf("λ = %g: max ‖v_k − w^t‖ = %.3g (bound G/λ = %.3g; λ = 0: %.3g)", lambda, d, g/lambda, free)
		if d > g/lambda*(1+1e-9) {
			t.Errorf("λ = %g: ‖v_k − w^t‖ = %v exceeds G/λ = %v", lambda, d, g/lambda)
		}
	}
	if free < 0.1 {
		t.Errorf("λ = 0: ‖v_k − w^t‖ = %v, the test cannot tell λ apart", free)
	}
}

// Ditto's uplink is the plain update, bit for bit: the personal model
// never leaves the client.
func TestDittoReplyIsThePlainUpdate(t *testing.T) {
	m := model.Softmax{Dim: 2, Classes: 2}
	tr, twin := trainers(t, m, 1)[0], trainers(t, m, 1)[0]
	store := &drift.MemoryStore{}
	c := &personal.DittoClient{ID: "c0", Global: fl.NewHandler(tr, tr), Personal: tr, Store: store, Lambda: 0.1}
	w := initial(m, 9)
	for r := 1; r <= 3; r++ {
		msg := &fl.Message{Type: fl.TypeTrain, Round: r, Params: w, Config: fl.Config{fl.KeyRound: float64(r)}}
		got, err := c.Handle(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fl.NewHandler(twin, twin).Handle(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float64, len(w))
		store.Load(personal.DittoKey("c0"), v)
		if !slices.Equal(got.Params, want.Params) || got.Weight != want.Weight || got.Payload != nil || got.Type != want.Type {
			t.Fatalf("round %d: Ditto's reply differs from the plain handler's", r)
		}
		if slices.Equal(got.Params, v) || containsRun(got.Params, v) {
			t.Fatalf("round %d: the reply carries v_k", r)
		}
		for j := range w {
			w[j] += got.Params[j]
		}
	}
}

// containsRun reports whether any 3 consecutive values of v occur in a.
func containsRun(a, v []float64) bool {
	for i := 0; i+3 <= len(v); i++ {
		for j := 0; j+3 <= len(a); j++ {
			if slices.Equal(a[j:j+3], v[i:i+3]) {
				return true
			}
		}
	}
	return false
}

// failing is a ProxTrainer that fails or returns a bad update.
type failing struct {
	err   error
	delta []float64
}

func (f failing) TrainFrom(context.Context, []float64, []float64, fl.Config) (fl.Update, error) {
	return fl.Update{Delta: f.delta, Weight: 1}, f.err
}

func TestDittoBadInput(t *testing.T) {
	q := &quad{a: []float64{1, 1}, b: []float64{0, 0}, k: 1, lr: 0.1, weight: 1}
	train := func(c *personal.DittoClient, params []float64, cfg fl.Config) error {
		_, err := c.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: params, Config: cfg})
		return err
	}
	mk := func(p personal.ProxTrainer, s drift.Store) *personal.DittoClient {
		return &personal.DittoClient{ID: "a", Global: fl.NewHandler(q, q), Personal: p, Store: s}
	}
	ok := []float64{1, 2}
	for name, lambda := range map[string]float64{"negative": -1, "NaN": math.NaN(), "Inf": math.Inf(1)} {
		if err := train(mk(q, &drift.MemoryStore{}), ok, fl.Config{personal.KeyLambda: lambda}); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("λ %s: %v, want ErrConfig", name, err)
		}
	}
	if err := train(mk(q, nil), ok, nil); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("no Store: %v, want ErrConfig", err)
	}
	if err := train(mk(nil, &drift.MemoryStore{}), ok, nil); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("no Personal trainer: %v, want ErrConfig", err)
	}
	if err := train(mk(q, &drift.MemoryStore{}), []float64{1, math.NaN()}, nil); err == nil {
		t.Error("NaN global model accepted")
	}
	wrong := &drift.MemoryStore{}
	wrong.Save(personal.DittoKey("a"), []float64{1, 2, 3})
	if err := train(mk(q, wrong), ok, nil); !errors.Is(err, drift.ErrState) {
		t.Errorf("stored v_k of the wrong length: %v, want ErrState", err)
	}
	for name, p := range map[string]failing{
		"error":       {err: errors.New("boom")},
		"short":       {delta: []float64{1}},
		"overflowing": {delta: []float64{math.MaxFloat64, 0}},
		"not finite":  {delta: []float64{math.NaN(), 0}},
	} {
		s := &drift.MemoryStore{}
		s.Save(personal.DittoKey("a"), []float64{math.MaxFloat64, 5})
		if err := train(mk(p, s), ok, nil); err == nil {
			t.Errorf("%s personal update accepted", name)
		}
		v := make([]float64, 2)
		s.Load(personal.DittoKey("a"), v)
		if !slices.Equal(v, []float64{math.MaxFloat64, 5}) {
			t.Errorf("%s personal update changed the stored v_k to %v", name, v)
		}
	}
}

// Evaluation reports the personal model's metrics and the global model's
// accuracy on the same split; other messages reach Global.
func TestDittoEvaluate(t *testing.T) {
	q := &quad{a: []float64{1}, b: []float64{2}, k: 1, lr: 0.1, weight: 4}
	store := &drift.MemoryStore{}
	c := &personal.DittoClient{ID: "a", Global: fl.NewHandler(q, nil), Personal: q, Evaluator: q, Store: store}
	ev := func() fl.Metrics {
		r, err := c.Handle(context.Background(), &fl.Message{Type: fl.TypeEvaluate, Params: []float64{0}})
		if err != nil {
			t.Fatal(err)
		}
		return r.Metrics
	}
	// No v_k yet: the personal model is the global one.
	if m := ev(); m[fl.KeyLoss] != 2 || m[personal.KeyGlobalLoss] != 2 || m[fl.KeyExamples] != 4 {
		t.Fatalf("metrics %v, want loss 2 for both", m)
	}
	store.Save(personal.DittoKey("a"), []float64{1})
	if m := ev(); m[fl.KeyLoss] != 0.5 || m[personal.KeyGlobalLoss] != 2 || m[personal.KeyGlobalAccuracy] != -2 {
		t.Fatalf("metrics %v, want personal loss 0.5, global 2", m)
	}
	if _, err := c.Handle(context.Background(), &fl.Message{Type: "other"}); !errors.Is(err, fl.ErrUnknownType) {
		t.Errorf("unknown message: %v, want ErrUnknownType from Global", err)
	}
}
