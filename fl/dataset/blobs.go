package dataset

import (
	"fmt"
	"math"

	"github.com/fedgo/fedgo/internal/detmath"
)

// tagBlobs keeps the stream of [Blobs] apart from the others.
const tagBlobs = 3

// BlobsConfig configures [Blobs]. Zero fields mean the defaults noted on
// them.
type BlobsConfig struct {
	// Samples is the number of examples; 0 means 300.
	Samples int
	// Dim is the number of features; 0 means 2.
	Dim int
	// Classes is the number of clusters; 0 means 3.
	Classes int
	// Std is the standard deviation of each cluster per coordinate; 0
	// means 1.
	Std float64
	// Box is the half-width of the cube [−Box, Box]^Dim the cluster
	// centres are drawn from uniformly; 0 means 10.
	Box float64
	// Seed selects the random stream.
	Seed uint64
}

// DefaultBlobsConfig returns 300 examples in 3 clusters in the plane.
func DefaultBlobsConfig() BlobsConfig {
	return BlobsConfig{Samples: 300, Dim: 2, Classes: 3, Std: 1, Box: 10}
}

// Validate reports whether c is usable; the error wraps [ErrInvalid].
func (c BlobsConfig) Validate() error {
	switch {
	case c.Samples < 0 || c.Dim < 0 || c.Classes < 0:
		return fmt.Errorf("%w: BlobsConfig Samples, Dim, Classes = %d, %d, %d, want ≥ 0", ErrInvalid, c.Samples, c.Dim, c.Classes)
	case !(c.Std >= 0) || math.IsInf(c.Std, 0):
		return fmt.Errorf("%w: BlobsConfig.Std = %v, want finite ≥ 0", ErrInvalid, c.Std)
	case !(c.Box >= 0) || math.IsInf(c.Box, 0):
		return fmt.Errorf("%w: BlobsConfig.Box = %v, want finite ≥ 0", ErrInvalid, c.Box)
	case c.Samples > maxSyntheticFloats/max(c.Dim, 1):
		return fmt.Errorf("%w: BlobsConfig %d×%d features", ErrTooLarge, c.Samples, c.Dim)
	}
	return nil
}

func (c BlobsConfig) withDefaults() BlobsConfig {
	d := DefaultBlobsConfig()
	if c.Samples == 0 {
		c.Samples = d.Samples
	}
	if c.Dim == 0 {
		c.Dim = d.Dim
	}
	if c.Classes == 0 {
		c.Classes = d.Classes
	}
	if c.Std == 0 {
		c.Std = d.Std
	}
	if c.Box == 0 {
		c.Box = d.Box
	}
	return c
}

// Blobs generates isotropic Gaussian clusters, a small and easy data set
// for tests and examples: Classes centres uniform in [−Box, Box]^Dim, then
// example i has label i mod Classes (balanced classes) and features
// centre + Std·N(0, I); the examples are then shuffled.
func Blobs(cfg BlobsConfig) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	centres := blobCentres(cfg)
	rng := streamRand(cfg.Seed, tagBlobs, 1)
	n, d := cfg.Samples, cfg.Dim
	perm := rng.Perm(n)
	out := &Dataset{X: make([]float64, n*d), Y: make([]int, n), Dim: d, Classes: cfg.Classes}
	for i, p := range perm {
		y := i % cfg.Classes
		out.Y[p] = y
		x := out.Row(p)
		for j := range x {
			x[j] = centres[y*d+j] + float64(cfg.Std*detmath.Normal(rng))
		}
	}
	return out, nil
}

// blobCentres returns the Classes×Dim centres of cfg (defaults applied).
func blobCentres(cfg BlobsConfig) []float64 {
	rng := streamRand(cfg.Seed, tagBlobs, 0)
	c := make([]float64, cfg.Classes*cfg.Dim)
	for i := range c {
		c[i] = cfg.Box * (2*rng.Float64() - 1)
	}
	return c
}
