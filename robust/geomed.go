package robust

import (
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
)

// Defaults of [GeoMed].
const (
	DefaultGeoMedNu      = 1e-6
	DefaultGeoMedTol     = 1e-10
	DefaultGeoMedMaxIter = 1000
)

// GeoMed is the geometric median of RFA, Pillutla, Kakade and Harchaoui
// (2022), "Robust Aggregation for Federated Learning", IEEE Transactions on
// Signal Processing 70, computed by their smoothed Weiszfeld algorithm
// (Algorithm 2): with weights αᵢ = wᵢ/Σw from Update.Weight (RFA weights
// clients by their number of examples) and v⁰ the weighted mean (or Start),
//
//	βᵢ = αᵢ / max(ν, ‖v − Δᵢ‖),  v ← Σ βᵢΔᵢ / Σ βᵢ,
//
// which decreases the smoothed objective g(v) = Σ αᵢ‖v − Δᵢ‖. The iteration
// stops when |g(vᵗ) − g(vᵗ⁻¹)| ≤ Tol·max(g(vᵗ), ν) (ν sets the scale below
// which the objective is flat), or fails with [ErrNotConverged] after
// MaxIter updates, leaving the last iterate in dst.
//
// Aggregate computes the n distances and each weighted sum in parallel
// (each value by one goroutine, in a fixed order, so the result does not
// depend on GOMAXPROCS); it does not allocate once its scratch buffers are
// warm, apart from the goroutines it starts and joins. A GeoMed is not safe
// for concurrent use.
type GeoMed struct {
	// Nu is the smoothing ν > 0; 0 means DefaultGeoMedNu.
	Nu float64
	// Tol is the relative tolerance on the objective; 0 means
	// DefaultGeoMedTol.
	Tol float64
	// MaxIter bounds the Weiszfeld updates; 0 means DefaultGeoMedMaxIter.
	MaxIter int
	// Start, if not nil, is the first iterate v⁰ (of the updates'
	// dimension), such as the previous round's aggregate; nil means the
	// weighted mean, the paper's start.
	Start []float64

	alpha, coef, dist []float64
	vecs              [][]float64
}

var _ fl.Aggregator = (*GeoMed)(nil)

func (a *GeoMed) params() (nu, tol float64, iters int) {
	nu, tol, iters = a.Nu, a.Tol, a.MaxIter
	if nu == 0 {
		nu = DefaultGeoMedNu
	}
	if tol == 0 {
		tol = DefaultGeoMedTol
	}
	if iters == 0 {
		iters = DefaultGeoMedMaxIter
	}
	return nu, tol, iters
}

// Validate reports an error if a parameter is negative or not finite, or
// n < 1.
func (a *GeoMed) Validate(n int) error {
	nu, tol, iters := a.params()
	if !(nu > 0) || math.IsInf(nu, 0) || !(tol > 0) || math.IsInf(tol, 0) || iters < 0 {
		return fmt.Errorf("%w: GeoMed: Nu = %v, Tol = %v, MaxIter = %d", ErrParam, a.Nu, a.Tol, a.MaxIter)
	}
	if n < 1 {
		return tooFew("GeoMed", n, "n ≥ 1", 1)
	}
	return nil
}

// Aggregate writes the smoothed geometric median of the updates to dst. It
// returns an error, leaving dst unspecified, if there are no updates,
// Validate fails, a length differs from len(dst), a value is NaN or Inf, or
// a weight is not finite and positive; it returns an error wrapping
// [ErrNotConverged], with the last iterate in dst, if MaxIter updates do not
// reach the tolerance.
func (a *GeoMed) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkInput(dst, updates); err != nil {
		return err
	}
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return err
	}
	if err := checkWeights(updates); err != nil {
		return err
	}
	nu, tol, iters := a.params()
	a.alpha = grow(a.alpha, n)
	a.coef = grow(a.coef, n)
	a.dist = grow(a.dist, n)
	a.vecs = grow(a.vecs, n)
	defer clear(a.vecs)
	var total float64
	for i := range updates {
		a.vecs[i] = updates[i].Delta
		total += updates[i].Weight
	}
	for i := range updates {
		a.alpha[i] = updates[i].Weight / total
	}
	d := len(dst)
	if a.Start != nil {
		if len(a.Start) != d {
			return fmt.Errorf("%w: GeoMed: len(Start) = %d, want %d", fl.ErrLength, len(a.Start), d)
		}
		if err := checkResult(a.Start); err != nil {
			return fmt.Errorf("GeoMed: Start: %w", err)
		}
		copy(dst, a.Start)
	} else {
		weightedRows(dst, a.vecs, a.alpha)
	}
	var prev float64
	for t := 0; ; t++ {
		perRow(n, d, func(i int) { a.dist[i] = math.Sqrt(sqDist(dst, a.vecs[i])) })
		var obj float64
		for i, r := range a.dist {
			obj += float64(a.alpha[i] * r)
		}
		if t > 0 && math.Abs(prev-obj) <= tol*max(obj, nu) {
			return checkResult(dst)
		}
		if t == iters {
			return fmt.Errorf("%w: GeoMed: objective changed by %g after %d iterations", ErrNotConverged, math.Abs(prev-obj), iters)
		}
		var sum float64
		for i, r := range a.dist {
			a.coef[i] = a.alpha[i] / max(nu, r)
			sum += a.coef[i]
		}
		for i := range a.coef {
			a.coef[i] /= sum
		}
		weightedRows(dst, a.vecs, a.coef)
		prev = obj
	}
}
