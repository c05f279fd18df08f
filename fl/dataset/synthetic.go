package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/internal/detmath"
)

// Defaults of [SyntheticConfig], from Li et al. (2020), §5.1.
const (
	SyntheticDim          = 60  // features per example
	SyntheticClasses      = 10  // classes
	SyntheticTestFraction = 0.2 // held-out share of each device's samples
)

// maxSyntheticFloats bounds the features one [Synthetic] call may
// allocate (2 GiB of float64). The power law of the sample counts has a
// heavy tail; [SyntheticConfig.MaxSamples] caps it.
const maxSyntheticFloats = 1 << 28

// Stream tags that keep the random streams of [Synthetic] apart.
const (
	tagSyntheticClient = 1
	tagSyntheticModel  = 2
)

// SyntheticConfig configures [Synthetic]. Zero fields mean the defaults
// noted on them.
type SyntheticConfig struct {
	// Alpha is the standard deviation of the per-device model mean u_k
	// (how much local models differ). Must be finite and ≥ 0.
	Alpha float64
	// Beta is the standard deviation of the per-device feature mean B_k
	// (how much local data differ). Must be finite and ≥ 0.
	Beta float64
	// Clients is the number of devices, ≥ 1.
	Clients int
	// IID selects the paper's Synthetic-IID set: one model W, b ~ N(0, 1)
	// shared by every device and features x ~ N(0, Σ); Alpha and Beta are
	// then unused.
	IID bool
	// Dim and Classes default to 60 and 10.
	Dim, Classes int
	// TestFraction is the share of each device's samples held out for
	// test, in (0, 1]; 0 means 0.2.
	TestFraction float64
	// MaxSamples caps the number of samples of one device; 0 means no cap
	// (the power law is then followed exactly, heavy tail included).
	MaxSamples int
	// Seed selects the random streams; the output is a function of the
	// config alone.
	Seed uint64
}

// DefaultSyntheticConfig returns Synthetic(1, 1) with 30 devices, the
// setting of Li et al. (2020).
func DefaultSyntheticConfig() SyntheticConfig {
	return SyntheticConfig{Alpha: 1, Beta: 1, Clients: 30}
}

// Validate reports whether c is usable; the error wraps [ErrInvalid].
func (c SyntheticConfig) Validate() error {
	switch {
	case !(c.Alpha >= 0) || math.IsInf(c.Alpha, 0):
		return fmt.Errorf("%w: SyntheticConfig.Alpha = %v, want finite ≥ 0", ErrInvalid, c.Alpha)
	case !(c.Beta >= 0) || math.IsInf(c.Beta, 0):
		return fmt.Errorf("%w: SyntheticConfig.Beta = %v, want finite ≥ 0", ErrInvalid, c.Beta)
	case c.Clients < 1:
		return fmt.Errorf("%w: SyntheticConfig.Clients = %d, want ≥ 1", ErrInvalid, c.Clients)
	case c.Dim < 0:
		return fmt.Errorf("%w: SyntheticConfig.Dim = %d, want ≥ 0", ErrInvalid, c.Dim)
	case c.Classes < 0 || c.Classes == 1:
		return fmt.Errorf("%w: SyntheticConfig.Classes = %d, want 0 or ≥ 2", ErrInvalid, c.Classes)
	case !(c.TestFraction >= 0 && c.TestFraction <= 1):
		return fmt.Errorf("%w: SyntheticConfig.TestFraction = %v, want in [0, 1]", ErrInvalid, c.TestFraction)
	case c.MaxSamples < 0:
		return fmt.Errorf("%w: SyntheticConfig.MaxSamples = %d, want ≥ 0", ErrInvalid, c.MaxSamples)
	}
	return nil
}

func (c SyntheticConfig) withDefaults() SyntheticConfig {
	if c.Dim == 0 {
		c.Dim = SyntheticDim
	}
	if c.Classes == 0 {
		c.Classes = SyntheticClasses
	}
	if c.TestFraction == 0 {
		c.TestFraction = SyntheticTestFraction
	}
	return c
}

// Split is one client's share of a federated data set.
type Split struct {
	Train, Test *Dataset
}

// Synthetic generates the Synthetic(α, β) federated data set of Li et al.
// (2020), one [Split] per client. For device k:
//
//	n_k = ⌊exp(4 + 2z)⌋ + 50, z ~ N(0, 1)     (numpy lognormal(4, 2) + 50)
//	u_k ~ N(0, α²),  B_k ~ N(0, β²)
//	v_k ∈ R^d with entries ~ N(B_k, 1)
//	W_k ∈ R^{C×d} and b_k ∈ R^C with entries ~ N(u_k, 1)
//	x ~ N(v_k, Σ),  Σ = diag(j^{-1.2}), j = 1…d
//	y = argmax softmax(W_k x + b_k)  (the first maximum on ties)
//
// As in the reference script, α and β are standard deviations (numpy's
// scale). Each device's first ⌊(1−TestFraction)·n_k⌋ samples are its
// training set, the rest its test set (the two share one backing array,
// with Train's capacity clipped so appending to it cannot overwrite
// Test). The result depends only on cfg:
// device k draws from its own stream, so the first devices are the same
// whatever cfg.Clients is.
//
// It returns an error wrapping [ErrInvalid] for a bad config and
// [ErrTooLarge] when the drawn sample counts would need more than 2 GiB of
// features (set MaxSamples).
func Synthetic(cfg SyntheticConfig) ([]Split, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	total := 0
	for k := range cfg.Clients {
		rng := streamRand(cfg.Seed, tagSyntheticClient, uint64(k))
		total += syntheticCount(rng, cfg.MaxSamples)
		if total > maxSyntheticFloats/cfg.Dim {
			return nil, fmt.Errorf("%w: Synthetic: more than %d features after %d of %d clients; set MaxSamples", ErrTooLarge, maxSyntheticFloats, k+1, cfg.Clients)
		}
	}
	var shared *syntheticModel
	if cfg.IID {
		shared = newIIDModel(cfg)
	}
	out := make([]Split, cfg.Clients)
	for k := range out {
		out[k] = syntheticSplit(cfg, k, shared)
	}
	return out, nil
}

// SyntheticClient returns device k's split of [Synthetic](cfg), the same
// bits, generating device k only: a client process of a deployment builds
// its own data in memory and time independent of the number of devices.
// It returns an error wrapping [ErrInvalid] for a bad config or k out of
// [0, cfg.Clients), and [ErrTooLarge] when the device's features alone
// would need more than 2 GiB.
func SyntheticClient(cfg SyntheticConfig, k int) (Split, error) {
	if err := cfg.Validate(); err != nil {
		return Split{}, err
	}
	if k < 0 || k >= cfg.Clients {
		return Split{}, fmt.Errorf("%w: SyntheticClient: device %d of %d", ErrInvalid, k, cfg.Clients)
	}
	cfg = cfg.withDefaults()
	if n := syntheticCount(streamRand(cfg.Seed, tagSyntheticClient, uint64(k)), cfg.MaxSamples); n > maxSyntheticFloats/cfg.Dim {
		return Split{}, fmt.Errorf("%w: SyntheticClient: device %d has %d samples; set MaxSamples", ErrTooLarge, k, n)
	}
	var shared *syntheticModel
	if cfg.IID {
		shared = newIIDModel(cfg)
	}
	return syntheticSplit(cfg, k, shared), nil
}

// syntheticSplit generates device k and splits its samples into train and
// test.
func syntheticSplit(cfg SyntheticConfig, k int, shared *syntheticModel) Split {
	dev := syntheticDevice(cfg, k, shared)
	n := dev.data.Len()
	m := trainLen(n, cfg.TestFraction)
	return Split{
		Train: &Dataset{X: dev.data.X[: m*cfg.Dim : m*cfg.Dim], Y: dev.data.Y[:m:m], Dim: cfg.Dim, Classes: cfg.Classes},
		Test:  &Dataset{X: dev.data.X[m*cfg.Dim:], Y: dev.data.Y[m:], Dim: cfg.Dim, Classes: cfg.Classes},
	}
}

// syntheticModel is one device's generative model.
type syntheticModel struct {
	W    []float64 // Classes×Dim, row-major
	B    []float64 // Classes
	Mean []float64 // v_k, Dim
}

// syntheticDev is one device: its model and all its samples, in order.
type syntheticDev struct {
	model *syntheticModel
	data  *Dataset
}

// syntheticCount draws a device's sample count, the first draw of its
// stream.
func syntheticCount(rng *rand.Rand, maxSamples int) int {
	v := detmath.Exp(4 + 2*detmath.Normal(rng))
	n := int(min(v, 1<<40)) + 50 // numpy's astype(int) truncates
	if maxSamples > 0 {
		n = min(n, maxSamples)
	}
	return n
}

// newIIDModel draws the model shared by every device of Synthetic-IID:
// W, b ~ N(0, 1) and v = 0.
func newIIDModel(cfg SyntheticConfig) *syntheticModel {
	rng := streamRand(cfg.Seed, tagSyntheticModel, 0)
	m := &syntheticModel{
		W:    make([]float64, cfg.Classes*cfg.Dim),
		B:    make([]float64, cfg.Classes),
		Mean: make([]float64, cfg.Dim),
	}
	for i := range m.W {
		m.W[i] = detmath.Normal(rng)
	}
	for i := range m.B {
		m.B[i] = detmath.Normal(rng)
	}
	return m
}

// syntheticDevice generates device k of cfg (defaults applied). When
// shared is non-nil (IID) the device uses it instead of its own model.
func syntheticDevice(cfg SyntheticConfig, k int, shared *syntheticModel) syntheticDev {
	rng := streamRand(cfg.Seed, tagSyntheticClient, uint64(k))
	n := syntheticCount(rng, cfg.MaxSamples)
	d, c := cfg.Dim, cfg.Classes
	model := shared
	if model == nil {
		u := float64(cfg.Alpha * detmath.Normal(rng))
		bk := float64(cfg.Beta * detmath.Normal(rng))
		model = &syntheticModel{
			W:    make([]float64, c*d),
			B:    make([]float64, c),
			Mean: make([]float64, d),
		}
		for j := range model.Mean {
			model.Mean[j] = bk + detmath.Normal(rng)
		}
		for i := range model.W {
			model.W[i] = u + detmath.Normal(rng)
		}
		for i := range model.B {
			model.B[i] = u + detmath.Normal(rng)
		}
	}
	sd := make([]float64, d)
	for j := range sd {
		sd[j] = detmath.Pow(float64(j+1), -0.6) // √(j^{-1.2})
	}
	data := &Dataset{X: make([]float64, n*d), Y: make([]int, n), Dim: d, Classes: c}
	for i := range n {
		x := data.X[i*d : (i+1)*d]
		for j := range x {
			x[j] = model.Mean[j] + float64(sd[j]*detmath.Normal(rng))
		}
		data.Y[i] = argmaxLogits(model.W, model.B, x)
	}
	return syntheticDev{model: model, data: data}
}

// argmaxLogits returns argmax_c (W x + b)_c, the first on ties. Softmax is
// monotone, so this is the argmax of the softmax of the reference script.
func argmaxLogits(w, b, x []float64) int {
	d := len(x)
	best, arg := math.Inf(-1), 0
	for c := range b {
		s := b[c]
		for j, wj := range w[c*d : (c+1)*d] {
			s += float64(wj * x[j]) // rounded: the same labels on every GOARCH
		}
		if s > best {
			best, arg = s, c
		}
	}
	return arg
}
