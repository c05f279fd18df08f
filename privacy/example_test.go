package privacy_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
)

func ExampleClipL2() {
	v := []float64{3, 4}
	norm := privacy.ClipL2(v, v, 1)
	fmt.Println(norm, v)
	// Output: 5 [0.6000000000000001 0.8]
}

// A CentralDP with a budget: the noise multiplier is calibrated so that the
// planned rounds fit, and the server refuses any round beyond them.
func ExampleNewCentralDP() {
	dp, err := privacy.NewCentralDP(privacy.CentralConfig{
		ClipNorm:      1,
		TargetEpsilon: 2, Delta: 1e-6, Rounds: 100,
		Population: 10_000, SampleRate: 0.01,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("noise multiplier %.2f, rounds allowed %d\n", dp.NoiseMultiplier(), dp.MaxRounds())
	fmt.Printf("noise on the averaged update: σ = %.4f per coordinate\n", dp.NoiseStddev())

	// In a server: Aggregator: dp, Sampler: dp.Sampler().
	cfg := fl.DefaultServerConfig()
	cfg.Aggregator, cfg.Sampler, cfg.ClientsPerRound = dp, dp.Sampler(), 0
	fmt.Printf("sampler %+v\n", cfg.Sampler)
	// Output:
	// noise multiplier 0.93, rounds allowed 100
	// noise on the averaged update: σ = 0.0093 per coordinate
	// sampler {Q:0.01}
}

// The effective noise of adaptive clipping: the updates get slightly more
// noise so that the update and the clipped count together cost z.
func ExampleUpdateNoiseMultiplier() {
	const z, expectedClients = 1.0, 100.0
	sigmaB := expectedClients / 20 // the paper's default count noise
	zDelta, err := privacy.UpdateNoiseMultiplier(z, sigmaB, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("z_Δ = %.4f\n", zDelta)
	// Output: z_Δ = 1.0050
}

// Exact integer noise for secure aggregation: the discrete Gaussian with
// σ² = 9/2, drawn from a seeded source for reproducibility.
func ExampleDiscreteGaussian() {
	g, err := privacy.NewDiscreteGaussian(big.NewRat(9, 2))
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := privacy.NewSource(rand.NewChaCha8([32]byte{1}))
	noise := g.AddTo(make([]int64, 100_000), src)
	var sq float64
	for _, x := range noise {
		sq += float64(x * x)
	}
	fmt.Printf("σ² = %v, sample variance ≈ %.1f\n", g.Sigma2(), sq/float64(len(noise)))
	// Output: σ² = 9/2, sample variance ≈ 4.5
}

// A sampler shared by goroutines builds its table first, so that the
// values each seeded Source gives do not depend on the schedule; σ² ≥ 2^28
// has no table and keeps Canonne et al.'s sampler.
func ExampleDiscreteGaussian_UseTable() {
	for _, s2 := range []int64{10_000, 1 << 28} {
		g, err := privacy.NewDiscreteGaussian(big.NewRat(s2, 1))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("σ² = %d: table %v\n", s2, g.UseTable())
	}
	// Output:
	// σ² = 10000: table true
	// σ² = 268435456: table false
}

// Local DP: the client refuses to train once its own budget is spent.
func ExampleLocal() {
	l, err := privacy.NewLocal(privacy.LocalConfig{ClipNorm: 1, NoiseMultiplier: 4, TargetEpsilon: 2.2, Delta: 1e-6})
	if err != nil {
		fmt.Println(err)
		return
	}
	trainer := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{3, 4}, Weight: 1}, nil
	})
	h := l.Middleware()(trainer)
	for round := 1; ; round++ {
		_, err := h.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: round})
		if errors.Is(err, privacy.ErrBudgetExhausted) {
			fmt.Printf("round %d refused after %d participations\n", round, l.Participations())
			break
		}
	}
	// Output: round 4 refused after 3 participations
}

// A local-DP client that sends its example count as the weight, noised in
// the same release as the update: 10% of each release's privacy loss goes
// to the count (noise z·B/√0.1), the rest to the update (noise
// 2Cz/√0.9), so the release costs what an update with a constant weight
// costs.
func ExampleLocal_noisedWeight() {
	l, err := privacy.NewLocal(privacy.LocalConfig{ClipNorm: 1, NoiseMultiplier: 4, TargetEpsilon: 2.2, Delta: 1e-6,
		WeightBound: 1000, WeightShare: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	trainer := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{3, 4}, Weight: 120}, nil
	})
	r, err := l.Middleware()(trainer).Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("weight is a whole number in [1, 1000]:", r.Weight == math.Trunc(r.Weight) && r.Weight >= 1 && r.Weight <= 1000)
	fmt.Println("releases the budget allows:", l.MaxParticipations())
	// Output:
	// weight is a whole number in [1, 1000]: true
	// releases the budget allows: 3
}

// A client whose spent budget survives restarts: the count of releases is
// saved to a file before each release, and a new Local with the same file
// continues from it.
func ExampleFileStore() {
	dir, err := os.MkdirTemp("", "fedgo-local")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cfg := privacy.LocalConfig{ClipNorm: 1, NoiseMultiplier: 4, TargetEpsilon: 2.2, Delta: 1e-6,
		Store: &privacy.FileStore{Path: filepath.Join(dir, "budget")}}
	trainer := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{3, 4}, Weight: 120}, nil
	})
	l, _ := privacy.NewLocal(cfg)
	r, err := l.Middleware()(trainer).Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("weight sent %v, metrics %v\n", r.Weight, r.Metrics)
	restarted, _ := privacy.NewLocal(cfg)
	fmt.Printf("after restart: %d of %d releases spent\n", restarted.Participations(), restarted.MaxParticipations())
	_, err = l.Middleware()(trainer).Handle(context.Background(), &fl.Message{Type: fl.TypeEvaluate})
	fmt.Println(errors.Is(err, privacy.ErrRefused))
	// Output:
	// weight sent 1, metrics map[]
	// after restart: 1 of 3 releases spent
	// true
}

// Secure aggregation of quantized updates: stochastic rounding to a step s
// can lengthen a vector by up to s·√d, so clients clip to the smaller norm
// (or the server accounts the larger sensitivity).
func ExampleQuantizedClipNorm() {
	const c, step, d = 1.0, 0x1p-20, 1_000_000
	clip, err := privacy.QuantizedClipNorm(c, step, d)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("clip to %.6f, or account sensitivity %.6f\n", clip, privacy.QuantizedSensitivity(c, step, d))
	// Output: clip to 0.999046, or account sensitivity 1.000954
}
