package privacy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/fltest"
	"github.com/fedgo/fedgo/privacy/accountant"
)

func mustCentral(t testing.TB, cfg CentralConfig) *CentralDP {
	t.Helper()
	d, err := NewCentralDP(cfg)
	if err != nil {
		t.Fatalf("NewCentralDP: %v", err)
	}
	return d
}

func randomUpdates(r *rand.Rand, n, d int, scale float64) []fl.Update {
	ups := make([]fl.Update, n)
	for i := range ups {
		v := make([]float64, d)
		s := scale * math.Exp(r.NormFloat64())
		for j := range v {
			v[j] = s * r.NormFloat64()
		}
		ups[i] = fl.Update{Client: fmt.Sprint("c", i), Delta: v, Weight: 1 + 100*r.Float64()}
	}
	return ups
}

// naiveDPFedAvg is McMahan et al.'s f̃_f from the definition, without noise:
// Σ w_k·Δ_k·min(1, C/‖Δ_k‖) / (q·W).
func naiveDPFedAvg(ups []fl.Update, c, wcap, totalW, q float64, n int) []float64 {
	out := make([]float64, len(ups[0].Delta))
	for _, u := range ups {
		var s float64
		for _, x := range u.Delta {
			s += x * x
		}
		f := 1.0
		if norm := math.Sqrt(s); norm > c {
			f = c / norm
		}
		w := 1.0
		if wcap > 0 {
			w = math.Min(u.Weight/wcap, 1)
		}
		for j, x := range u.Delta {
			out[j] += w * f * x
		}
	}
	den := q * float64(n)
	if wcap > 0 {
		den = q * totalW
	}
	for j := range out {
		out[j] /= den
	}
	return out
}

func TestCentralDPNoNoiseEqualsNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name string
		cfg  CentralConfig
	}{
		{"poisson unweighted", CentralConfig{ClipNorm: 1.5, Population: 100, SampleRate: 0.1}},
		{"poisson bounded weights", CentralConfig{ClipNorm: 0.7, Population: 100, SampleRate: 0.1, WeightCap: 40, TotalWeight: 63.5}},
		{"fixed size", CentralConfig{ClipNorm: 2, Population: 50, SampleRate: 0.2, Sampling: accountant.FixedSize}},
		{"client clipped (the server clips all the same)", CentralConfig{ClipNorm: 1e-3, Population: 100, SampleRate: 0.1, ClientClipped: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mustCentral(t, c.cfg)
			ups := randomUpdates(r, 12, 17, 1)
			got := make([]float64, 17)
			if err := d.Aggregate(got, ups); err != nil {
				t.Fatal(err)
			}
			want := naiveDPFedAvg(ups, c.cfg.ClipNorm, c.cfg.WeightCap, c.cfg.TotalWeight, c.cfg.SampleRate, c.cfg.Population)
			for j := range want {
				if math.Abs(got[j]-want[j]) > 1e-12*(1+math.Abs(want[j])) {
					t.Fatalf("coordinate %d = %v, want %v", j, got[j], want[j])
				}
			}
			st := fl.RoundStats{}
			d.Record(&st)
			if _, ok := st.Extra[KeyEpsilon]; ok {
				t.Error("no noise, yet ε was recorded")
			}
			if st.Extra[KeyClipNorm] != c.cfg.ClipNorm {
				t.Errorf("recorded clip norm %v", st.Extra[KeyClipNorm])
			}
		})
	}
}

func TestCentralDPConformance(t *testing.T) {
	t.Run("no clipping, q=1: the plain mean", func(t *testing.T) {
		fltest.TestAggregator(t, func() fl.Aggregator {
			return mustCentral(t, CentralConfig{ClipNorm: 1e9, Population: 9, SampleRate: 1})
		}, fltest.Options{Mean: fltest.UnweightedMean})
	})
	t.Run("clipped and noised", func(t *testing.T) {
		fltest.TestAggregator(t, func() fl.Aggregator {
			return mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 18, SampleRate: 0.5, Random: seeded(1)})
		}, fltest.Options{
			NotIdempotent: "clipping and the fixed denominator qN",
			Stateful:      "the noise stream advances with each call",
		})
	})
}

// The noise on the aggregate must be N(0, (z·S/(qN))²) per coordinate with
// S = C (Poisson), 2C (fixed size), and z_Δ in place of z with adaptive
// clipping: checked by the same statistical test as the sampler.
func TestCentralDPNoiseVariance(t *testing.T) {
	const d = 100_000
	z, c := 1.3, 0.7
	zDelta, err := UpdateNoiseMultiplier(z, 0.05*20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  CentralConfig
		std  float64
	}{
		{"poisson", CentralConfig{Sampling: accountant.Poisson}, z * c / 20},
		{"fixed size", CentralConfig{Sampling: accountant.FixedSize}, 2 * z * c / 20},
		{"adaptive", CentralConfig{Adaptive: true}, zDelta * c / 20},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ClipNorm, cfg.NoiseMultiplier, cfg.Population, cfg.SampleRate = c, z, 200, 0.1
			cfg.Random = seeded(uint64(40 + i))
			dp := mustCentral(t, cfg)
			if got := dp.NoiseStddev(); math.Abs(got-tc.std) > 1e-15 {
				t.Errorf("NoiseStddev = %v, want %v", got, tc.std)
			}
			dst := make([]float64, d)
			if err := dp.Aggregate(dst, []fl.Update{{Client: "a", Delta: make([]float64, d), Weight: 1}}); err != nil {
				t.Fatal(err)
			}
			if err := checkNormal(dst, tc.std); err != nil {
				t.Error(err)
			}
			if err := checkNormal(dst, tc.std*1.05); err == nil {
				t.Error("the check does not tell σ from 1.05σ")
			}
		})
	}
}

func TestUpdateNoiseMultiplierTheorem(t *testing.T) {
	for _, c := range []struct{ z, sigmaB, sens float64 }{
		{1, 5, 0.5}, {0.7, 0.5, 0.5}, {3, 100, 0.5}, {1.1, 2, 1},
	} {
		zd, err := UpdateNoiseMultiplier(c.z, c.sigmaB, c.sens)
		if err != nil {
			t.Fatal(err)
		}
		if c.sens == 0.5 {
			// The paper's formula, with 2σ_b.
			want := math.Pow(math.Pow(c.z, -2)-math.Pow(2*c.sigmaB, -2), -0.5)
			if math.Abs(zd-want) > 1e-12*want {
				t.Errorf("z_Δ = %v, want %v", zd, want)
			}
		}
		if zd <= c.z {
			t.Errorf("z_Δ = %v is not above z = %v", zd, c.z)
		}
		// The joint Gaussian mechanism on (Σ clip(Δ), Σ(b − 1/2)): with unit
		// clip norm, sensitivities (1, sens) and noise (z_Δ, σ_b); scaled to
		// unit noise its sensitivity is √((1/z_Δ)² + (sens/σ_b)²), which must
		// be 1/z, the sensitivity of one release with multiplier z.
		joint := math.Hypot(1/zd, c.sens/c.sigmaB)
		if math.Abs(joint-1/c.z) > 1e-12/c.z {
			t.Errorf("joint sensitivity %v, want 1/z = %v", joint, 1/c.z)
		}
		if back := EffectiveNoiseMultiplier(zd, c.sigmaB, c.sens); math.Abs(back-c.z) > 1e-12*c.z {
			t.Errorf("EffectiveNoiseMultiplier(z_Δ) = %v, want %v", back, c.z)
		}
	}
	for _, c := range []struct{ z, sigmaB float64 }{{1, 0.5}, {2, 0.9}, {0, 1}, {1, 0}, {math.NaN(), 1}} {
		if _, err := UpdateNoiseMultiplier(c.z, c.sigmaB, 0.5); !errors.Is(err, ErrConfig) {
			t.Errorf("z = %v, σ_b = %v: err = %v, want ErrConfig", c.z, c.sigmaB, err)
		}
	}
}

// With update norms uniform on [0, 10], the γ-quantile is 10γ: adaptive
// clipping must settle there.
func TestAdaptiveClippingConvergesToQuantile(t *testing.T) {
	for _, gamma := range []float64{0.5, 0.2, 0.8} {
		dp := mustCentral(t, CentralConfig{
			ClipNorm: 0.1, NoiseMultiplier: 0.5, Population: 100, SampleRate: 1,
			Adaptive: true, TargetQuantile: gamma, Random: seeded(7),
		})
		r := rand.New(rand.NewPCG(5, 6))
		ups := make([]fl.Update, 100)
		for i := range ups {
			ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: make([]float64, 2), Weight: 1}
		}
		dst := make([]float64, 2)
		var sum float64
		const rounds, tail = 300, 150
		for k := 0; k < rounds; k++ {
			for i := range ups {
				a := 2 * math.Pi * r.Float64()
				n := 10 * r.Float64()
				ups[i].Delta[0], ups[i].Delta[1] = n*math.Cos(a), n*math.Sin(a)
			}
			if err := dp.Aggregate(dst, ups); err != nil {
				t.Fatal(err)
			}
			if k >= rounds-tail {
				sum += dp.ClipNorm()
			}
		}
		if got, want := sum/tail, 10*gamma; math.Abs(got-want) > 0.1*want {
			t.Errorf("γ = %v: mean clip norm %v over the last %d rounds, want %v ± 10%%", gamma, got, tail, want)
		}
		st := fl.RoundStats{}
		dp.Record(&st)
		if f := st.Extra[KeyUnclippedFraction]; math.Abs(f-gamma) > 0.3 {
			t.Errorf("γ = %v: recorded unclipped fraction %v", gamma, f)
		}
	}
}

func TestGeometricClipUpdate(t *testing.T) {
	// Known answers from the formula C·exp(−η(b − γ)).
	if got := GeometricClipUpdate(2, 0.2, 1, 0.5); math.Abs(got-2*math.Exp(-0.1)) > 1e-15 {
		t.Errorf("got %v", got)
	}
	if got := GeometricClipUpdate(2, 0.2, 0.5, 0.5); got != 2 {
		t.Errorf("at the target the norm moved: %v", got)
	}
}

// Calibration meets the budget, tightly, under the bound each mechanism is
// accounted with: the discrete Gaussian's proven bound for the default
// mechanism, the Gaussian's for MechanismGaussian. (PLD calibration costs
// seconds; TestCentralDPPLDAccounting checks the PLD plumbing.)
func TestCentralDPCalibration(t *testing.T) {
	const q, delta, rounds, target = 0.05, 1e-5, 40, 2.0
	var zs [2]float64
	for _, tc := range []struct {
		m Mechanism
		s accountant.Sampling
	}{{MechanismDiscreteGaussian, accountant.FixedSize}, {MechanismDiscreteGaussian, accountant.Poisson}, {MechanismGaussian, accountant.Poisson}} {
		m, s := tc.m, tc.s
		cfg := CentralConfig{ClipNorm: 1, TargetEpsilon: target, Delta: delta, Rounds: rounds, Population: 1000, SampleRate: q, Mechanism: m, Sampling: s}
		dp := mustCentral(t, cfg)
		z := dp.NoiseMultiplier()
		if s == accountant.Poisson {
			zs[m] = z
		}
		eps := func(z float64, steps int) float64 {
			if m == MechanismGaussian {
				return rdpEpsilon(t, accountant.Step{NoiseMultiplier: z, SampleRate: q}, steps, delta)
			}
			return rdpEpsilon(t, gridStep(z, s, q, 1000, 1<<10, 1), steps, delta)
		}
		if e := eps(z, rounds); e > target {
			t.Errorf("%v %v: calibrated z = %v gives ε = %v > %v after %d rounds", m, s, z, e, target, rounds)
		}
		if e := eps(z*0.999, rounds); e <= target {
			t.Errorf("%v %v: z = %v is not tight: 0.999z already gives ε = %v", m, s, z, e)
		}
		if k := dp.MaxRounds(); k < rounds || eps(z, k) > target || eps(z, k+1) <= target {
			t.Errorf("%v %v: MaxRounds = %d is not the largest k with ε(k) ≤ %v", m, s, k, target)
		}
	}
	// The proven bound of the discrete Gaussian under Poisson sampling is
	// above the continuous Gaussian's: it needs more noise.
	if !(zs[MechanismDiscreteGaussian] > zs[MechanismGaussian]) {
		t.Errorf("discrete z = %v, Gaussian z = %v: want the discrete one larger", zs[MechanismDiscreteGaussian], zs[MechanismGaussian])
	}
}

// --- a server over an in-test pool ---

type conn struct {
	id string
	h  fl.Handler
}

func (c conn) ID() string { return c.id }
func (c conn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	return c.h.Handle(ctx, m)
}

type pool []fl.Conn

func (p pool) pool(t *testing.T) fl.Pool {
	t.Helper()
	fp, err := fl.NewPool(p...)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// pullTrainer moves the model halfway toward its client's own target.
type pullTrainer struct{ target []float64 }

func (p pullTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	d := make([]float64, len(global))
	for i := range d {
		d[i] = 0.5 * (p.target[i] - global[i])
	}
	return fl.Update{Delta: d, Weight: 1, Metrics: fl.Metrics{fl.KeyLoss: 1}}, nil
}

func newPool(n, dim int, mws ...fl.Middleware) pool {
	r := rand.New(rand.NewPCG(11, 12))
	p := make(pool, n)
	for i := range p {
		tgt := make([]float64, dim)
		for j := range tgt {
			tgt[j] = 3 * r.NormFloat64()
		}
		p[i] = conn{fmt.Sprintf("c%03d", i), fl.Wrap(fl.NewHandler(pullTrainer{tgt}, nil), mws...)}
	}
	return p
}

func newServer(t *testing.T, dp *CentralDP, rounds int, p pool) *fl.Server {
	t.Helper()
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = rounds
	cfg.ClientsPerRound = 0
	cfg.Privacy = dp
	cfg.Seed = 99
	s, err := fl.NewServer(cfg, p.pool(t), make([]float64, 5))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rdpEpsilon(t *testing.T, s accountant.Step, k int, delta float64) float64 {
	t.Helper()
	a, _ := accountant.NewRDP(nil)
	if err := a.Compose(s, k); err != nil {
		t.Fatal(err)
	}
	e, _, err := a.Epsilon(delta)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestServerStopsWhenBudgetIsSpent(t *testing.T) {
	const n, q, z, delta, k = 30, 0.5, 1.5, 1e-5, 4
	step := gridStep(z, accountant.Poisson, q, 0, 1<<10, 1) // the default mechanism's proven bound
	// A budget between ε(k) and ε(k+1) allows exactly k rounds.
	target := (rdpEpsilon(t, step, k, delta) + rdpEpsilon(t, step, k+1, delta)) / 2
	cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: z, TargetEpsilon: target, Delta: delta, Population: n, SampleRate: q, Random: seeded(3)}
	dp := mustCentral(t, cfg)
	if dp.MaxRounds() != k {
		t.Fatalf("MaxRounds = %d, want %d", dp.MaxRounds(), k)
	}
	s := newServer(t, dp, 10, newPool(n, 5))
	h, err := s.Run(context.Background())
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("Run: %v, want ErrBudgetExhausted", err)
	}
	if s.Round() != k || len(h.Rounds) != k {
		t.Fatalf("ran %d rounds (%d in history), want %d", s.Round(), len(h.Rounds), k)
	}
	for i, r := range h.Rounds {
		want := rdpEpsilon(t, step, i+1, delta)
		if r.Aborted || math.Abs(r.Extra[KeyEpsilon]-want) > 1e-12*want || r.Extra[KeyDelta] != delta || r.Extra[KeyNoiseMultiplier] != z {
			t.Errorf("round %d: aborted %v, extra %v, want ε = %v", i+1, r.Aborted, r.Extra, want)
		}
	}
	if h.Rounds[k-1].Extra[KeyEpsilon] > target {
		t.Errorf("ε spent %v exceeds the target %v", h.Rounds[k-1].Extra[KeyEpsilon], target)
	}
	// The model is that of a k-round run.
	cfg.Random = seeded(3)
	ref := newServer(t, mustCentral(t, cfg), k, newPool(n, 5))
	if _, err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Params(), ref.Params()) {
		t.Errorf("params after refusal %v, want those of a %d-round run %v", s.Params(), k, ref.Params())
	}
	// The refusal repeats and touches nothing.
	before := s.Params()
	if _, err := s.RunRound(context.Background()); !errors.Is(err, ErrBudgetExhausted) || !slices.Equal(before, s.Params()) {
		t.Errorf("second attempt: %v", err)
	}
}

func TestCentralDPBudgetTooSmallForOneRound(t *testing.T) {
	_, err := NewCentralDP(CentralConfig{ClipNorm: 1, NoiseMultiplier: 0.1, TargetEpsilon: 0.01, Delta: 1e-5, Population: 100, SampleRate: 1})
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("err = %v, want ErrBudgetExhausted", err)
	}
}

func TestCentralDPStateRoundTrip(t *testing.T) {
	cfg := CentralConfig{ClipNorm: 0.5, NoiseMultiplier: 1, Population: 40, SampleRate: 0.25, Adaptive: true, CountNoise: 2, Random: seeded(8)}
	r := rand.New(rand.NewPCG(1, 1))
	rounds := make([][]fl.Update, 5)
	for i := range rounds {
		rounds[i] = randomUpdates(r, 10, 6, 1)
	}
	run := func(dp *CentralDP, ups []fl.Update) []float64 {
		dst := make([]float64, 6)
		if err := dp.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	whole := mustCentral(t, cfg)
	var want [][]float64
	for _, ups := range rounds {
		want = append(want, run(whole, ups))
	}
	cfg.Random = seeded(8)
	first := mustCentral(t, cfg)
	for _, ups := range rounds[:3] {
		run(first, ups)
	}
	state, err := first.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Random = seeded(1234) // the state carries the generator
	resumed := mustCentral(t, cfg)
	if err := resumed.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if resumed.Rounds() != 3 || resumed.ClipNorm() != first.ClipNorm() {
		t.Fatalf("restored %d rounds, clip %v; want 3, %v", resumed.Rounds(), resumed.ClipNorm(), first.ClipNorm())
	}
	for i, ups := range rounds[3:] {
		if got := run(resumed, ups); !slices.Equal(got, want[3+i]) {
			t.Errorf("round %d after restore differs", 4+i)
		}
	}
	e1, _ := whole.Epsilon()
	e2, _ := resumed.Epsilon()
	if e1 != e2 || e1 <= 0 {
		t.Errorf("ε %v after restore, %v uninterrupted", e2, e1)
	}

	// A secure source is never written out, and is not replaced on restore.
	cfg.Random = nil
	secure := mustCentral(t, cfg)
	st, err := secure.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != stateFixed {
		t.Errorf("secure state is %d bytes, want %d (no generator)", len(st), stateFixed)
	}
	if err := secure.UnmarshalBinary(state); err != nil || secure.src.Seeded() {
		t.Errorf("restoring a seeded state into a secure source: %v, seeded %v", err, secure.src.Seeded())
	}

	// Corrupt, truncated and mismatched states are refused and change nothing.
	other := mustCentral(t, CentralConfig{ClipNorm: 0.5, NoiseMultiplier: 2, Population: 40, SampleRate: 0.25, Random: seeded(1)})
	bad := [][]byte{nil, state[:10], state[:len(state)-1], append([]byte("XXXX"), state[4:]...)}
	v := slices.Clone(state)
	v[4] = 9
	bad = append(bad, v)
	for i, b := range bad {
		if err := resumed.UnmarshalBinary(b); !errors.Is(err, ErrState) {
			t.Errorf("bad state %d: err = %v, want ErrState", i, err)
		}
	}
	if err := other.UnmarshalBinary(state); !errors.Is(err, ErrState) {
		t.Errorf("state of z = 1 into z = 2: err = %v, want ErrState", err)
	}
	if other.Rounds() != 0 {
		t.Error("a refused state changed the mechanism")
	}
}

// The server's checkpoint carries CentralDP's state: a resumed run ends
// with the same parameters and ε as an uninterrupted one.
func TestServerCheckpointResume(t *testing.T) {
	cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1.2, Delta: 1e-5, Population: 20, SampleRate: 0.5, Random: seeded(21)}
	whole := newServer(t, mustCentral(t, cfg), 6, newPool(20, 5))
	if _, err := whole.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Random = seeded(21)
	part := newServer(t, mustCentral(t, cfg), 3, newPool(20, 5))
	if _, err := part.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cp, err := part.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Random = seeded(77)
	dp := mustCentral(t, cfg)
	resumed := newServer(t, dp, 6, newPool(20, 5))
	if err := resumed.Restore(cp); err != nil {
		t.Fatal(err)
	}
	h, err := resumed.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resumed.Params(), whole.Params()) {
		t.Error("resumed parameters differ from the uninterrupted run")
	}
	if got, want := h.Last().Extra[KeyEpsilon], whole.History().Last().Extra[KeyEpsilon]; got != want || dp.Rounds() != 6 {
		t.Errorf("ε %v after resume (%d rounds accounted), want %v", got, dp.Rounds(), want)
	}
}

func TestCentralConfigValidate(t *testing.T) {
	ok := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 10, SampleRate: 0.5}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if err := func() error { c := DefaultCentralConfig(1000, 0.01, 100); return c.Validate() }(); err != nil {
		t.Errorf("DefaultCentralConfig: %v", err)
	}
	for name, mod := range map[string]func(*CentralConfig){
		"no clip":                  func(c *CentralConfig) { c.ClipNorm = 0 },
		"NaN clip":                 func(c *CentralConfig) { c.ClipNorm = math.NaN() },
		"negative noise":           func(c *CentralConfig) { c.NoiseMultiplier = -1 },
		"Inf target":               func(c *CentralConfig) { c.TargetEpsilon = math.Inf(1) },
		"delta 1":                  func(c *CentralConfig) { c.Delta = 1 },
		"calibrate without rounds": func(c *CentralConfig) { c.NoiseMultiplier, c.TargetEpsilon = 0, 1 },
		"no population":            func(c *CentralConfig) { c.Population = 0 },
		"q 0":                      func(c *CentralConfig) { c.SampleRate = 0 },
		"q above 1":                func(c *CentralConfig) { c.SampleRate = 1.5 },
		"fixed size not integer":   func(c *CentralConfig) { c.Sampling, c.SampleRate = accountant.FixedSize, 0.33 },
		"weight cap without W":     func(c *CentralConfig) { c.WeightCap = 10 },
		"W without weight cap":     func(c *CentralConfig) { c.TotalWeight = 3 },
		"W above N":                func(c *CentralConfig) { c.WeightCap, c.TotalWeight = 1, 11 },
		"client clipped adaptive":  func(c *CentralConfig) { c.ClientClipped, c.Adaptive = true, true },
		"quantile 1":               func(c *CentralConfig) { c.TargetQuantile = 1 },
		"unknown accountant":       func(c *CentralConfig) { c.Accountant = 7 },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
		if _, err := NewCentralDP(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: NewCentralDP err = %v, want ErrConfig", name, err)
		}
	}
	// Adaptive clipping whose count noise is too small for z.
	c := ok
	c.Adaptive, c.CountNoise, c.NoiseMultiplier = true, 0.1, 1
	if _, err := NewCentralDP(c); !errors.Is(err, ErrConfig) {
		t.Errorf("σ_b too small: %v", err)
	}
}

func TestCentralDPNoiseSum(t *testing.T) {
	cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 100, SampleRate: 0.1, ClientClipped: true, Random: seeded(5),
		Mechanism: MechanismGaussian}
	a, b := mustCentral(t, cfg), (*CentralDP)(nil)
	cfg.Random = seeded(5)
	b = mustCentral(t, cfg)
	// Aggregate of clipped updates equals NoiseSum of their sum.
	clipped := []fl.Update{{Client: "x", Delta: []float64{0.6, 0.8}, Weight: 1}, {Client: "y", Delta: []float64{0, -1}, Weight: 5}}
	got := make([]float64, 2)
	if err := a.Aggregate(got, clipped); err != nil {
		t.Fatal(err)
	}
	sum := []float64{0.6, -0.2}
	if err := b.NoiseSum(sum); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got[0]-sum[0]) > 1e-15 || math.Abs(got[1]-sum[1]) > 1e-15 {
		t.Errorf("Aggregate %v, NoiseSum %v", got, sum)
	}
	if err := b.NoiseSum([]float64{math.NaN()}); !errors.Is(err, fl.ErrNotFinite) {
		t.Errorf("NaN sum: %v", err)
	}
	// The discrete mechanism releases the sum on the grid γ/(qN).
	cfg.Mechanism = MechanismDiscreteGaussian
	dd := mustCentral(t, cfg)
	sum = []float64{0.6, -0.2}
	if err := dd.NoiseSum(sum); err != nil {
		t.Fatal(err)
	}
	unit := GridStep(0, 1, 2) / dd.Denominator()
	for j, x := range sum {
		if x/unit != math.Round(x/unit) {
			t.Errorf("discrete NoiseSum coordinate %d = %v is not a multiple of %v", j, x, unit)
		}
	}
	if err := dd.NoiseSum([]float64{1e300}); !errors.Is(err, ErrRange) {
		t.Errorf("sum out of the fixed-point range: %v", err)
	}
	if err := mustCentral(t, CentralConfig{ClipNorm: 1, Population: 10, SampleRate: 1, Adaptive: true}).NoiseSum([]float64{1}); !errors.Is(err, ErrConfig) || !errors.Is(err, fl.ErrConfig) {
		t.Errorf("NoiseSum with adaptive clipping: %v", err)
	}
}

// ClipMiddleware + a ClientClipped CentralDP without noise give the same
// aggregate as server-side clipping.
func TestClientClippingMatchesServerClipping(t *testing.T) {
	const n = 12
	run := func(dp *CentralDP, mws ...fl.Middleware) []float64 {
		s := newServer(t, dp, 3, newPool(n, 5, mws...))
		if _, err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s.Params()
	}
	server := run(mustCentral(t, CentralConfig{ClipNorm: 0.8, Population: n, SampleRate: 0.5}))
	client := run(mustCentral(t, CentralConfig{ClipNorm: 0.8, Population: n, SampleRate: 0.5, ClientClipped: true}), ClipMiddleware(0.8))
	for i := range server {
		if math.Abs(server[i]-client[i]) > 1e-12 {
			t.Fatalf("coordinate %d: server clipping %v, client clipping %v", i, server[i], client[i])
		}
	}
	// Clients that do not clip cannot raise the sensitivity: the server
	// clips what reaches the sum all the same.
	careless := run(mustCentral(t, CentralConfig{ClipNorm: 0.8, Population: n, SampleRate: 0.5, ClientClipped: true}))
	for i := range server {
		if math.Abs(server[i]-careless[i]) > 1e-12 {
			t.Fatalf("coordinate %d: server clipping %v, unclipped clients %v", i, server[i], careless[i])
		}
	}
	if loose := run(mustCentral(t, CentralConfig{ClipNorm: 1e9, Population: n, SampleRate: 0.5})); slices.Equal(loose, server) {
		t.Error("the test does not exercise clipping")
	}
}

func TestCentralDPAggregateDoesNotAllocate(t *testing.T) {
	dp := mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 0.5, Population: 100, SampleRate: 0.1, Adaptive: true, Random: seeded(1)})
	ups := randomUpdates(rand.New(rand.NewPCG(1, 2)), 10, 100, 1)
	dst := make([]float64, 100)
	if a := testing.AllocsPerRun(20, func() {
		if err := dp.Aggregate(dst, ups); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%v allocations per Aggregate", a)
	}
}

func TestCentralDPPLDAccounting(t *testing.T) {
	step := accountant.Step{NoiseMultiplier: 2, SampleRate: 0.05}
	dp := mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 2, Delta: 1e-5, Population: 1000, SampleRate: 0.05,
		Accountant: accountant.KindPLD, Mechanism: MechanismGaussian, Random: seeded(2)})
	ups := randomUpdates(rand.New(rand.NewPCG(1, 2)), 3, 4, 1)
	for range 3 {
		if err := dp.Aggregate(make([]float64, 4), ups); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := accountant.NewPLD(accountant.PLDConfig{})
	if err := a.Compose(step, 3); err != nil {
		t.Fatal(err)
	}
	want, err := a.Epsilon(1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dp.Epsilon(); err != nil || got != want {
		t.Errorf("ε = %v (%v), want the PLD accountant's %v", got, err, want)
	}
	if rdp := rdpEpsilon(t, step, 3, 1e-5); !(want < rdp) {
		t.Errorf("PLD ε %v is not below RDP ε %v: the PLD accountant was not used", want, rdp)
	}
}
