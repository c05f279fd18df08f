package privacy

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
)

type countingTrainer struct {
	calls atomic.Int32
	delta []float64
}

func (c *countingTrainer) Train(context.Context, []float64, fl.Config) (fl.Update, error) {
	c.calls.Add(1)
	return fl.Update{Delta: append([]float64(nil), c.delta...), Weight: 1}, nil
}

func (c *countingTrainer) Evaluate(context.Context, []float64) (fl.Metrics, error) {
	return fl.Metrics{fl.KeyExamples: 1}, nil
}

func TestLocalRefusesOnceBudgetIsSpent(t *testing.T) {
	const z, delta, k = 1.5, 1e-6, 3
	step := accountant.Step{NoiseMultiplier: z, SampleRate: 1}
	target := (rdpEpsilon(t, step, k, delta) + rdpEpsilon(t, step, k+1, delta)) / 2
	l, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: z, TargetEpsilon: target, Delta: delta, Random: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	if l.MaxParticipations() != k {
		t.Fatalf("MaxParticipations = %d, want %d", l.MaxParticipations(), k)
	}
	tr := &countingTrainer{delta: []float64{3, 4}}
	h := fl.Wrap(fl.NewHandler(tr, tr), l.Middleware())
	ctx := context.Background()
	for i := 1; i <= k; i++ {
		r, err := h.Handle(ctx, &fl.Message{Type: fl.TypeTrain, Round: i, Params: []float64{0, 0}})
		if err != nil {
			t.Fatalf("participation %d: %v", i, err)
		}
		if len(r.Params) != 2 || (r.Params[0] == 0.6 && r.Params[1] == 0.8) {
			t.Fatalf("participation %d: update %v carries no noise", i, r.Params)
		}
		e, _ := l.Epsilon()
		if want := rdpEpsilon(t, step, i, delta); math.Abs(e-want) > 1e-12*want {
			t.Errorf("after %d participations ε = %v, want %v", i, e, want)
		}
	}
	_, err = h.Handle(ctx, &fl.Message{Type: fl.TypeTrain, Round: k + 1, Params: []float64{0, 0}})
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("participation %d: err = %v, want ErrBudgetExhausted", k+1, err)
	}
	if tr.calls.Load() != k {
		t.Errorf("the trainer ran %d times, want %d (no work once the budget is spent)", tr.calls.Load(), k)
	}
	if l.Participations() != k {
		t.Errorf("Participations = %d", l.Participations())
	}
	// Evaluation is refused by default, before and after the budget.
	if _, err := h.Handle(ctx, &fl.Message{Type: fl.TypeEvaluate, Params: []float64{0, 0}}); !errors.Is(err, ErrRefused) {
		t.Errorf("evaluate: err = %v, want ErrRefused", err)
	}
}

func TestLocalNoise(t *testing.T) {
	for _, m := range []Mechanism{MechanismDiscreteGaussian, MechanismGaussian} {
		t.Run(m.String(), func(t *testing.T) { testLocalNoise(t, m) })
	}
}

func testLocalNoise(t *testing.T, mech Mechanism) {
	const d, z, c = 50_000, 0.8, 0.5
	l, err := NewLocal(LocalConfig{ClipNorm: c, NoiseMultiplier: z, Mechanism: mech, Random: seeded(2)})
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float64, d)
	for i := range v {
		v[i] = 10 / math.Sqrt(d) // norm 10, clipped to c
	}
	if err := l.Privatize(v); err != nil {
		t.Fatal(err)
	}
	if mech == MechanismDiscreteGaussian {
		gamma := GridStep(0, c, d)
		for i, x := range v {
			if x != math.Round(x/gamma)*gamma {
				t.Fatalf("coordinate %d = %v is not on the grid γ = %v", i, x, gamma)
			}
		}
	}
	clipped := c / math.Sqrt(d)
	for i := range v {
		v[i] -= clipped
	}
	if err := checkNormal(v, 2*z*c); err != nil {
		t.Errorf("local noise: %v", err)
	}
	if err := checkNormal(v, z*c); err == nil {
		t.Error("noise of the wrong scale passes")
	}
	if l.MaxParticipations() != -1 {
		t.Errorf("no budget, MaxParticipations = %d", l.MaxParticipations())
	}
	if err := l.Privatize([]float64{1, math.NaN()}); !errors.Is(err, fl.ErrNotFinite) {
		t.Errorf("NaN: %v", err)
	}
}

func TestLocalCalibratesAndIsConcurrencySafe(t *testing.T) {
	l, err := NewLocal(LocalConfig{ClipNorm: 1, TargetEpsilon: 4, Delta: 1e-6, Rounds: 5, Random: seeded(3)})
	if err != nil {
		t.Fatal(err)
	}
	if l.MaxParticipations() < 5 {
		t.Fatalf("calibrated for 5 participations, budget allows %d", l.MaxParticipations())
	}
	if e := rdpEpsilon(t, accountant.Step{NoiseMultiplier: l.NoiseMultiplier(), SampleRate: 1}, 5, 1e-6); e > 4 {
		t.Errorf("calibrated z = %v gives ε = %v > 4", l.NoiseMultiplier(), e)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 4 * l.MaxParticipations() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.Privatize([]float64{1, 2, 3}) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if int(ok.Load()) != l.MaxParticipations() {
		t.Errorf("%d concurrent releases succeeded, budget allows %d", ok.Load(), l.MaxParticipations())
	}
}

func TestLocalRejectsEncodedUpdates(t *testing.T) {
	enc := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Payload: []byte{1}}, nil
	})
	l, _ := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 1})
	for name, h := range map[string]fl.Handler{"local": l.Middleware()(enc), "clip": ClipMiddleware(1)(enc)} {
		if _, err := h.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain}); !errors.Is(err, ErrEncoded) {
			t.Errorf("%s: err = %v, want ErrEncoded", name, err)
		}
	}
}

func TestLocalConfigValidate(t *testing.T) {
	for name, c := range map[string]LocalConfig{
		"no clip":               {NoiseMultiplier: 1},
		"no noise, no target":   {ClipNorm: 1},
		"target without rounds": {ClipNorm: 1, TargetEpsilon: 1},
		"negative noise":        {ClipNorm: 1, NoiseMultiplier: -1},
		"delta 1":               {ClipNorm: 1, NoiseMultiplier: 1, Delta: 1},
		"NaN target":            {ClipNorm: 1, NoiseMultiplier: 1, TargetEpsilon: math.NaN()},
	} {
		if _, err := NewLocal(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	if _, err := NewLocal(LocalConfig{ClipNorm: 1, NoiseMultiplier: 0.1, TargetEpsilon: 0.01}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("budget below one participation: %v", err)
	}
}
