package robust

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/internal/vec"
	"github.com/fedgo/fedgo/robust/internal/orderstat"
)

// Defaults of [CenteredClipping].
const (
	DefaultCCTau   = 10
	DefaultCCIters = 1
)

// CenteredClipping is the centered clipping rule of Karimireddy, He and
// Jaggi (2021), "Learning from History for Byzantine Robust Optimization",
// ICML, Eq. (CC): starting from a center v, L times
//
//	v ← v + (1/n) Σ (Δᵢ − v)·min(1, τ/‖Δᵢ − v‖).
//
// The paper centers on the previous round's aggregate of worker momenta. The
// center here is Center when the host sets it (its own momentum, say), else
// the aggregate this CenteredClipping returned in the previous round, zero
// in the first round or after [CenteredClipping.Reset] or a change of
// dimension. The defaults are τ = 10 and L = 1 (the paper's analysis needs
// a single iteration when the center is the previous aggregate). It ignores
// Update.Weight. Because it remembers the previous aggregate it is
// stateful: the same updates give a different result in the next round.
//
// Aggregate computes the distances in parallel over updates and the sums in
// parallel over coordinates, each value in a fixed order; it does not
// allocate once its buffers are warm, apart from the goroutines it starts
// and joins. A CenteredClipping is not safe for concurrent use.
type CenteredClipping struct {
	// Tau is the clipping radius τ > 0; 0 means DefaultCCTau.
	Tau float64
	// Iters is the number of clipping iterations L; 0 means DefaultCCIters
	// unless ItersSet.
	Iters int
	// ItersSet makes Iters count as given, 0 included: with no iteration
	// the result is the center itself.
	ItersSet bool
	// Center, if not nil, is the starting point v of every round.
	Center []float64

	prev, v, coef, dist []float64
	vecs                [][]float64
}

var _ fl.Aggregator = (*CenteredClipping)(nil)

func (a *CenteredClipping) params() (float64, int) {
	tau, it := a.Tau, a.Iters
	if tau == 0 {
		tau = DefaultCCTau
	}
	if it == 0 && !a.ItersSet {
		it = DefaultCCIters
	}
	return tau, it
}

// Validate reports an error if Tau or Iters is negative or Tau is not
// finite, or n < 1.
func (a *CenteredClipping) Validate(n int) error {
	tau, it := a.params()
	if !(tau > 0) || math.IsInf(tau, 0) || it < 0 {
		return fmt.Errorf("%w: CenteredClipping: Tau = %v, Iters = %d", ErrParam, a.Tau, a.Iters)
	}
	if n < 1 {
		return tooFew("CenteredClipping", n, "n ≥ 1", 1)
	}
	return nil
}

// Reset forgets the previous aggregate.
func (a *CenteredClipping) Reset() { a.prev = a.prev[:0] }

// MarshalBinary returns the previous aggregate (the state a checkpoint must
// keep for a resumed run to equal an uninterrupted one): a little-endian
// uint64 count, then the values as float64 bits.
func (a *CenteredClipping) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+8*len(a.prev)), uint64(len(a.prev)))
	for _, x := range a.prev {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b, nil
}

// UnmarshalBinary restores the state written by MarshalBinary.
func (a *CenteredClipping) UnmarshalBinary(b []byte) error {
	if len(b) < 8 || uint64(len(b)-8)/8 != binary.LittleEndian.Uint64(b) || (len(b)-8)%8 != 0 {
		return fmt.Errorf("%w: CenteredClipping state of %d bytes", ErrParam, len(b))
	}
	n := int(binary.LittleEndian.Uint64(b))
	prev := make([]float64, n)
	for i := range prev {
		x := math.Float64frombits(binary.LittleEndian.Uint64(b[8+8*i:]))
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: CenteredClipping state holds %v", fl.ErrNotFinite, x)
		}
		prev[i] = x
	}
	a.prev = prev
	return nil
}

// Aggregate writes the centered-clipping aggregate to dst and remembers it
// as the next round's center. It returns an error, leaving dst unspecified
// and the remembered center unchanged, if there are no updates, Validate
// fails, a length differs from len(dst) or len(Center) does, or a value is
// NaN or Inf.
func (a *CenteredClipping) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkInput(dst, updates); err != nil {
		return err
	}
	n, d := len(updates), len(dst)
	if err := a.Validate(n); err != nil {
		return err
	}
	tau, iters := a.params()
	a.v = grow(a.v, d)
	switch {
	case a.Center != nil:
		if len(a.Center) != d {
			return fmt.Errorf("%w: CenteredClipping: len(Center) = %d, want %d", fl.ErrLength, len(a.Center), d)
		}
		if j := vec.FirstNonFinite(a.Center); j >= 0 {
			return fmt.Errorf("%w: CenteredClipping: Center[%d] = %v", fl.ErrNotFinite, j, a.Center[j])
		}
		copy(a.v, a.Center)
	case len(a.prev) == d:
		copy(a.v, a.prev)
	default:
		clear(a.v)
	}
	a.vecs = append(a.vecs[:0], a.v)
	for i := range updates {
		a.vecs = append(a.vecs, updates[i].Delta)
	}
	defer clear(a.vecs)
	a.coef = grow(a.coef, n+1)
	a.dist = grow(a.dist, n)
	for range iters {
		perRow(n, d, func(i int) { a.dist[i] = math.Sqrt(sqDist(a.v, updates[i].Delta)) })
		var keep float64 = 1
		for i, r := range a.dist {
			c := 1.0
			if r > tau {
				c = tau / r
			}
			a.coef[i+1] = c / float64(n)
			keep -= c / float64(n)
		}
		a.coef[0] = keep
		weightedRows(dst, a.vecs, a.coef)
		copy(a.v, dst)
	}
	if iters == 0 {
		copy(dst, a.v)
	}
	if err := checkResult(dst); err != nil {
		return err
	}
	a.prev = append(a.prev[:0], dst...)
	return nil
}

// NormBound is the norm-bounding defence of Sun et al. (2019), "Can You
// Really Backdoor Federated Learning?", arXiv:1911.07963, Section 4: every
// update is scaled to norm at most M, Δᵢ/max(1, ‖Δᵢ‖/M), and the results
// are averaged with equal weights (the paper's clients hold equal amounts of
// data; Update.Weight is ignored). M = 0 means the median of the round's
// update norms, a data-driven bound for hosts that have none (the paper
// fixes M beforehand).
//
// Aggregate computes the norms in parallel over updates and the sum in
// parallel over coordinates, each value in a fixed order; it does not
// allocate once its buffers are warm, apart from the goroutines it starts
// and joins. A NormBound is not safe for concurrent use.
type NormBound struct {
	// M is the norm bound; 0 means the median norm of the round.
	M float64

	norm, tmp, coef []float64
	vecs            [][]float64
}

var _ fl.Aggregator = (*NormBound)(nil)

// Validate reports an error if M is negative or not finite, or n < 1.
func (a *NormBound) Validate(n int) error {
	if !(a.M >= 0) || math.IsInf(a.M, 0) {
		return fmt.Errorf("%w: NormBound: M = %v", ErrParam, a.M)
	}
	if n < 1 {
		return tooFew("NormBound", n, "n ≥ 1", 1)
	}
	return nil
}

// Aggregate writes the mean of the norm-bounded updates to dst. It returns
// an error, leaving dst unspecified, if there are no updates, Validate
// fails, a length differs from len(dst), or a value is NaN or Inf.
func (a *NormBound) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkInput(dst, updates); err != nil {
		return err
	}
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return err
	}
	a.norm = grow(a.norm, n)
	a.coef = grow(a.coef, n)
	a.vecs = grow(a.vecs, n)
	defer clear(a.vecs)
	for i := range updates {
		a.vecs[i] = updates[i].Delta
	}
	perRow(n, len(dst), func(i int) { a.norm[i] = math.Sqrt(dot(a.vecs[i], a.vecs[i])) })
	m := a.M
	if m == 0 {
		a.tmp = append(a.tmp[:0], a.norm...)
		m = orderstat.MedianInPlace(a.tmp)
	}
	for i, r := range a.norm {
		c := 1.0
		if r > m {
			c = m / r
		}
		a.coef[i] = c / float64(n)
	}
	weightedRows(dst, a.vecs, a.coef)
	return checkResult(dst)
}

// FLTrust is the rule of Cao, Fang, Liu and Gong (2021), "FLTrust:
// Byzantine-robust Federated Learning via Trust Bootstrapping", NDSS,
// Eq. (2)–(4): with g₀ the server's own update on its small root data set,
//
//	TSᵢ = ReLU(cos(gᵢ, g₀)),  ḡᵢ = (‖g₀‖/‖gᵢ‖)·gᵢ,  g = Σ TSᵢḡᵢ / Σ TSᵢ.
//
// An update of norm 0 gets trust 0. When every trust score is 0 the paper's
// formula is undefined; Aggregate then writes the zero vector (the round
// does not move the model) and returns nil. It ignores Update.Weight.
//
// The host supplies g₀ through Root, which Aggregate calls once per round;
// the slice it returns is read, never kept or modified.
//
// Aggregate computes norms and inner products in parallel over updates and
// the sum in parallel over coordinates, each value in a fixed order; it does
// not allocate once its buffers are warm, apart from the goroutines it
// starts and joins and whatever Root allocates. An FLTrust is not safe for
// concurrent use.
type FLTrust struct {
	// Root returns the server's update of this round on its root data.
	Root func() ([]float64, error)

	cos, norm, coef []float64
	vecs            [][]float64
}

var _ fl.Aggregator = (*FLTrust)(nil)

// Validate reports an error if n < 1.
func (a *FLTrust) Validate(n int) error {
	if n < 1 {
		return tooFew("FLTrust", n, "n ≥ 1", 1)
	}
	return nil
}

// Aggregate writes the FLTrust aggregate of the updates to dst. It returns
// an error, leaving dst unspecified, if there are no updates, a length
// differs from len(dst), a value is NaN or Inf, or Root is nil, fails, or
// returns a vector of the wrong length, with NaN or Inf, or of norm 0
// (wrapping [ErrNoRoot]).
func (a *FLTrust) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkInput(dst, updates); err != nil {
		return err
	}
	if a.Root == nil {
		return fmt.Errorf("%w: Root is nil", ErrNoRoot)
	}
	g0, err := a.Root()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoRoot, err)
	}
	if len(g0) != len(dst) {
		return fmt.Errorf("%w: length %d, want %d", ErrNoRoot, len(g0), len(dst))
	}
	if j := vec.FirstNonFinite(g0); j >= 0 {
		return fmt.Errorf("%w: coordinate %d is %v", ErrNoRoot, j, g0[j])
	}
	n := len(updates)
	a.cos = grow(a.cos, n)
	a.norm = grow(a.norm, n)
	a.coef = grow(a.coef, n)
	a.vecs = grow(a.vecs, n)
	defer clear(a.vecs)
	for i := range updates {
		a.vecs[i] = updates[i].Delta
	}
	n0 := math.Sqrt(dot(g0, g0))
	if n0 == 0 || math.IsInf(n0, 0) {
		return fmt.Errorf("%w: norm is %v", ErrNoRoot, n0)
	}
	perRow(n, 2*len(dst), func(i int) {
		a.norm[i] = math.Sqrt(dot(a.vecs[i], a.vecs[i]))
		a.cos[i] = dot(a.vecs[i], g0)
	})
	var total float64
	for i, r := range a.norm {
		ts := 0.0
		if r > 0 && !math.IsInf(r, 0) {
			ts = max(0, a.cos[i]/(r*n0))
		}
		a.coef[i] = ts
		total += ts
	}
	if total == 0 {
		clear(dst)
		return nil
	}
	for i, r := range a.norm {
		if a.coef[i] > 0 {
			a.coef[i] = a.coef[i] / total * (n0 / r)
		}
	}
	weightedRows(dst, a.vecs, a.coef)
	return checkResult(dst)
}

// MDA is minimum-diameter averaging, from El Mhamdi, Guerraoui and Rouault
// (2021), "Distributed Momentum for Byzantine-resilient Stochastic Gradient
// Descent", ICLR, Section 3: among all subsets of n − F updates, the one of
// smallest diameter max ‖Δᵢ − Δⱼ‖ (the first in lexicographic order of
// indices on a tie), averaged. It needs n > 2F and ignores Update.Weight.
//
// The search is exact: a depth-first enumeration of subsets in
// lexicographic order, pruning branches whose diameter already reaches the
// best found. Its cost grows as C(n, F), so Aggregate refuses, with
// [ErrTooManySubsets], rounds where C(n, F) exceeds MaxSubsets (default
// 10⁶: fine for n = 30, F = 5 or n = 100, F = 3). The pairwise distances
// come from the Gram-matrix kernel shared with [Krum].
//
// An MDA is not safe for concurrent use.
type MDA struct {
	// F is the number of Byzantine updates tolerated.
	F int
	// MaxSubsets bounds C(n, F); 0 means DefaultMDAMaxSubsets.
	MaxSubsets int

	d         distScratch
	rj        rowsJob
	cur, best []int
	bestDiam  float64
	n, k      int
}

// DefaultMDAMaxSubsets is the default of MDA.MaxSubsets.
const DefaultMDAMaxSubsets = 1_000_000

var _ fl.Aggregator = (*MDA)(nil)

// Validate reports an error unless F ≥ 0, MaxSubsets ≥ 0, n > 2F and
// C(n, F) ≤ MaxSubsets.
func (a *MDA) Validate(n int) error {
	return validateSubsets("MDA", n, a.F, a.MaxSubsets, DefaultMDAMaxSubsets)
}

// validateSubsets holds the rules of the rules that search the subsets of
// n − f updates: f ≥ 0, maxSubsets ≥ 0 (0: def), n > 2f and C(n, f) ≤ the
// limit.
func validateSubsets(rule string, n, f, maxSubsets, def int) error {
	if maxSubsets < 0 {
		return fmt.Errorf("%w: %s: MaxSubsets = %d", ErrParam, rule, maxSubsets)
	}
	if err := checkMajority(rule, n, f); err != nil {
		return err
	}
	limit := maxSubsets
	if limit == 0 {
		limit = def
	}
	if c := binomial(n, f); c > float64(limit) {
		return fmt.Errorf("%w: %s: C(%d, %d) = %.3g > %d", ErrTooManySubsets, rule, n, f, c, limit)
	}
	return nil
}

// binomial returns C(n, k) as a float64.
func binomial(n, k int) float64 {
	c := 1.0
	for i := range k {
		c = c * float64(n-i) / float64(i+1)
	}
	return math.Round(c)
}

// Aggregate writes the mean of the minimum-diameter subset to dst. It
// returns an error, leaving dst unspecified, if there are no updates,
// Validate fails, a length differs from len(dst), or a value is NaN or Inf.
func (a *MDA) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return err
	}
	if !a.d.pairwise(updates) {
		return checkFinite(updates)
	}
	a.n, a.k = n, n-a.F
	a.cur = grow(a.cur, a.k)[:0]
	a.best = grow(a.best, a.k)[:0]
	a.bestDiam = math.Inf(1)
	a.search(0, 0)
	a.rj.mean(dst, updates, a.best)
	return checkResult(dst)
}

// Explain reports the subset the last Aggregate call averaged (Selected,
// ascending). It allocates.
func (a *MDA) Explain() Explanation {
	return Explanation{Rule: "MDA", Selected: append([]int(nil), a.best...)}
}

func (a *MDA) search(start int, diam float64) {
	if len(a.cur) == a.k {
		if diam < a.bestDiam {
			a.bestDiam = diam
			a.best = append(a.best[:0], a.cur...)
		}
		return
	}
	n := a.n
	for i := start; i <= n-(a.k-len(a.cur)); i++ {
		dm := diam
		for _, j := range a.cur {
			dm = max(dm, a.d.dist[i*n+j])
		}
		if dm >= a.bestDiam {
			continue
		}
		a.cur = append(a.cur, i)
		a.search(i+1, dm)
		a.cur = a.cur[:len(a.cur)-1]
	}
}
