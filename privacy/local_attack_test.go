package privacy

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// secretClient holds one private value s. Its evaluator reports the loss
// (θ₀ − s)² at the parameters the server sends, and its trainer reports s
// and its example count in the update's metrics and weight: the raw
// channels of issue 13.
type secretClient struct{ s float64 }

func (c secretClient) Train(context.Context, []float64, fl.Config) (fl.Update, error) {
	return fl.Update{Delta: []float64{c.s, 0}, Weight: 1000 * c.s, Metrics: fl.Metrics{fl.KeyLoss: c.s, fl.KeyExamples: 1000 * c.s}}, nil
}

func (c secretClient) Evaluate(_ context.Context, p []float64) (fl.Metrics, error) {
	d := p[0] - c.s
	return fl.Metrics{fl.KeyLoss: d * d, fl.KeyExamples: 1000 * c.s}, nil
}

// evalAttack is the server's attack: evaluate at θ = 0 and θ = 1 and solve
// (0 − s)² − (1 − s)² = 2s − 1 for s.
func evalAttack(ctx context.Context, h fl.Handler) (float64, error) {
	var loss [2]float64
	for i := range loss {
		r, err := h.Handle(ctx, &fl.Message{Type: fl.TypeEvaluate, Params: []float64{float64(i), 0}})
		if err != nil {
			return 0, err
		}
		loss[i] = r.Metrics[fl.KeyLoss]
	}
	return (loss[0] - loss[1] + 1) / 2, nil
}

func TestLocalEvaluationAttack(t *testing.T) {
	const secret = 0.3141592653589793
	ctx := context.Background()
	c := secretClient{secret}

	// Without local DP the attack returns the secret exactly.
	if got, err := evalAttack(ctx, fl.NewHandler(c, c)); err != nil || got != secret {
		t.Fatalf("unprotected client: attack gives %v, %v; the attack itself is broken", got, err)
	}

	// Default: evaluation refused, nothing learned, nothing spent.
	l, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 1, TargetEpsilon: 20, Random: seeded(7)})
	if err != nil {
		t.Fatal(err)
	}
	h := fl.Wrap(fl.NewHandler(c, c), l.Middleware())
	if _, err := evalAttack(ctx, h); !errors.Is(err, ErrRefused) {
		t.Fatalf("evaluation answered: err = %v, want ErrRefused", err)
	}
	if l.Participations() != 0 {
		t.Errorf("a refused evaluation was accounted")
	}

	// Privatized: the answers are noised (the estimate is far from exact
	// in distribution), each one is accounted, and the budget ends them.
	const bound = 1.0
	l, err = NewLocal(LocalConfig{
		ClipNorm: 1, NoiseMultiplier: 2, TargetEpsilon: 8, Delta: 1e-6,
		Evaluation: EvaluationPrivatized, EvalMetrics: map[string]float64{fl.KeyLoss: bound}, Random: seeded(8),
	})
	if err != nil {
		t.Fatal(err)
	}
	h = fl.Wrap(fl.NewHandler(c, c), l.Middleware())
	var errs []float64
	for {
		before := l.Participations()
		got, err := evalAttack(ctx, h)
		if errors.Is(err, ErrBudgetExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if l.Participations() != before+2 {
			t.Fatalf("two evaluations accounted as %d releases", l.Participations()-before)
		}
		errs = append(errs, got-secret)
	}
	if l.Participations() != l.MaxParticipations() {
		t.Errorf("stopped after %d releases, the budget allows %d", l.Participations(), l.MaxParticipations())
	}
	// Each loss carries noise of σ = z·B = 2, so the estimate has σ = √2.
	// Among the attempts none may come within 1e-3 of the secret (chance
	// about 1e-3 per attempt at this noise), and their spread must be the
	// noise's, not zero.
	var sq float64
	for _, e := range errs {
		if math.Abs(e) < 1e-3 {
			t.Errorf("an attack estimate is within 1e-3 of the secret: %v", e)
		}
		sq += e * e
	}
	if len(errs) == 0 || math.Sqrt(sq/float64(len(errs))) < 0.3 {
		t.Errorf("attack errors %v: the evaluations are not noised", errs)
	}
}

func TestLocalTrainReplyCarriesNoRawValues(t *testing.T) {
	const secret = 0.25
	c := secretClient{secret}
	for _, mech := range []Mechanism{MechanismDiscreteGaussian, MechanismGaussian} {
		l, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 1, Weight: 3, Mechanism: mech, Random: seeded(9)})
		if err != nil {
			t.Fatal(err)
		}
		h := fl.Wrap(fl.NewHandler(c, c), l.Middleware())
		r, err := h.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 4, Params: []float64{0, 0}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Type != fl.TypeUpdate || r.Round != 4 || len(r.Params) != 2 {
			t.Fatalf("%v: reply %+v", mech, r)
		}
		if r.Weight != 3 {
			t.Errorf("%v: weight %v, want the constant 3 (the client's count is %v)", mech, r.Weight, 1000*secret)
		}
		if len(r.Metrics) != 0 || len(r.Payload) != 0 || len(r.Config) != 0 {
			t.Errorf("%v: reply carries raw values: metrics %v, payload %d bytes, config %v", mech, r.Metrics, len(r.Payload), r.Config)
		}
		if r.Params[0] == secret || r.Params[1] == 0 {
			t.Errorf("%v: update %v is not noised", mech, r.Params)
		}
	}
}

func TestLocalRefusesOtherMessages(t *testing.T) {
	l, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 1})
	if err != nil {
		t.Fatal(err)
	}
	leak := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: "custom", Metrics: fl.Metrics{"secret": 1}}, nil
	})
	h := l.Middleware()(leak)
	if _, err := h.Handle(context.Background(), &fl.Message{Type: "custom"}); !errors.Is(err, ErrRefused) {
		t.Errorf("custom message: err = %v, want ErrRefused", err)
	}
	if _, err := h.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain}); !errors.Is(err, ErrRefused) {
		t.Errorf("train answered with a non-update: err = %v, want ErrRefused", err)
	}
}

// recordingStore is a MemoryStore that records, at each Save, how many
// replies had already left the client.
type recordingStore struct {
	MemoryStore
	sent  *int
	saves []int
	fail  bool
}

func (s *recordingStore) Save(b []byte) error {
	if s.fail {
		return errors.New("disk full")
	}
	s.saves = append(s.saves, *s.sent)
	return s.MemoryStore.Save(b)
}

func TestLocalBudgetSurvivesRestart(t *testing.T) {
	cfg := LocalConfig{ClipNorm: 1, NoiseMultiplier: 2, TargetEpsilon: 6, Delta: 1e-6, Random: seeded(10)}
	cfg.Store = &FileStore{Path: filepath.Join(t.TempDir(), "budget")}
	tr := &countingTrainer{delta: []float64{1, 2}}
	l, err := NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	max := l.MaxParticipations()
	if max < 3 {
		t.Fatalf("budget allows %d releases; the test needs ≥ 3", max)
	}
	ctx := context.Background()
	train := func(l *Local) error {
		_, err := fl.Wrap(fl.NewHandler(tr, tr), l.Middleware()).Handle(ctx, &fl.Message{Type: fl.TypeTrain, Params: []float64{0, 0}})
		return err
	}
	for range 2 {
		if err := train(l); err != nil {
			t.Fatal(err)
		}
	}
	// A restart with the same file: the two releases are remembered, and
	// the budget ends at the same total.
	cfg.Random = seeded(11)
	l2, err := NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Participations() != 2 {
		t.Fatalf("after restart Participations = %d, want 2", l2.Participations())
	}
	n := 2
	for ; train(l2) == nil; n++ {
	}
	if n != max {
		t.Errorf("released %d times across the restart, the budget allows %d", n, max)
	}
	// The stored state belongs to this configuration only.
	other := cfg
	other.NoiseMultiplier = 3
	if _, err := NewLocal(other); !errors.Is(err, ErrState) {
		t.Errorf("state of another noise multiplier: err = %v, want ErrState", err)
	}

	// The count is saved before each release, and a failed save releases
	// nothing.
	sent := 0
	st := &recordingStore{sent: &sent}
	l3, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 1, Store: st, Random: seeded(12)})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := train(l3); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	if want := []int{0, 1, 2}; len(st.saves) != 3 || st.saves[0] != 0 || st.saves[1] != 1 || st.saves[2] != 2 {
		t.Errorf("saves happened after %v releases, want %v", st.saves, want)
	}
	st.fail = true
	if err := train(l3); err == nil {
		t.Error("a release went out although the budget could not be saved")
	}
}

// FuzzLocalState feeds hostile bytes to the Local state decoder: an error
// wrapping ErrState or a count within the budget, never a panic.
func FuzzLocalState(f *testing.F) {
	cfg := LocalConfig{ClipNorm: 1, NoiseMultiplier: 1.5, TargetEpsilon: 6, Delta: 1e-6}
	l, err := NewLocal(cfg)
	if err != nil {
		f.Fatal(err)
	}
	good := l.marshalLocked(2)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(l.marshalLocked(l.MaxParticipations() + 1))
	f.Add([]byte("FGLD"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := l.parseLocalState(b)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		if n < 0 || n > l.MaxParticipations() {
			t.Fatalf("accepted %d releases, budget %d", n, l.MaxParticipations())
		}
	})
}
