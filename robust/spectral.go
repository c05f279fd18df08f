package robust

import (
	"fmt"
	"math"
	"slices"

	"github.com/fedgo/fedgo/fl"
)

// Meamed is the mean around the median of Xie, Koyejo and Gupta (2018),
// "Generalized Byzantine-tolerant SGD", arXiv:1802.10116, Definition 5:
// coordinate j of the result is the mean of the n − F values of coordinate
// j closest to their median (ties to the lower input index), summed in
// input order. It needs n > 2F and ignores Update.Weight. It shares
// [Bulyan]'s coordinate-wise kernel and runs in parallel over coordinates.
// A Meamed is not safe for concurrent use.
type Meamed struct {
	// F is the number of Byzantine updates tolerated.
	F int

	c coordScratch
}

var _ fl.Aggregator = (*Meamed)(nil)

// Validate reports an error unless F ≥ 0 and n > 2F.
func (a *Meamed) Validate(n int) error {
	if err := checkMajority("Meamed", n, a.F); err != nil {
		return err
	}
	return nil
}

// Aggregate writes the mean around the median to dst. It returns an error,
// leaving dst unspecified, if there are no updates, Validate fails, a
// length differs from len(dst), or a value is NaN or Inf.
func (a *Meamed) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	if err := a.Validate(len(updates)); err != nil {
		return err
	}
	a.c.setRows(updates)
	ok := a.c.run(dst, opAroundMedian, len(updates)-a.F)
	clear(a.c.rows)
	if !ok {
		return checkFinite(updates)
	}
	return checkResult(dst)
}

// MoNNA is the rule of Farhadkhani, Guerraoui, Gupta, Hoang, Pinot and
// Stephan (2023), "Robust Collaborative Learning with Linear Gradient
// Overhead", ICML, Algorithm 1: the mean of the n − F updates nearest
// (Euclidean) to the update at index Pivot, itself included (ties to the
// lower index), summed in index order. In the peer-to-peer setting of the
// paper the pivot is the aggregating node's own, trusted, update. It
// needs n > 2F and 0 ≤ Pivot < n, and ignores Update.Weight. A MoNNA is
// not safe for concurrent use.
type MoNNA struct {
	// F is the number of Byzantine updates tolerated.
	F int
	// Pivot is the index of the trusted update.
	Pivot int

	dist []float64
	idx  []int32
	sel  []int
	rj   rowsJob
	ups  []fl.Update // during Aggregate
}

// do sets the squared distances of updates [lo, hi) to the pivot.
func (a *MoNNA) do(_, lo, hi int) {
	p := a.ups[a.Pivot].Delta
	for i := lo; i < hi; i++ {
		a.dist[i] = sqDist(p, a.ups[i].Delta)
	}
}

var (
	_ fl.Aggregator = (*MoNNA)(nil)
	_ Explainer     = (*MoNNA)(nil)
)

// Validate reports an error unless F ≥ 0, n > 2F and 0 ≤ Pivot < n.
func (a *MoNNA) Validate(n int) error {
	if err := checkMajority("MoNNA", n, a.F); err != nil {
		return err
	}
	if a.Pivot < 0 || a.Pivot >= n {
		return fmt.Errorf("%w: MoNNA: Pivot = %d not in [0, %d)", ErrParam, a.Pivot, n)
	}
	return nil
}

// Aggregate writes the mean of the pivot's n − F nearest updates to dst. It
// returns an error, leaving dst unspecified, if there are no updates,
// Validate fails, a length differs from len(dst), or a value is NaN or Inf.
func (a *MoNNA) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkInput(dst, updates); err != nil {
		return err
	}
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return err
	}
	a.dist = grow(a.dist, n)
	a.ups = updates
	parallel(n, min(workersFor(n*len(dst), 1<<16), n), a)
	a.ups = nil
	a.idx = grow(a.idx, n)
	for i := range a.idx {
		a.idx[i] = int32(i)
	}
	// Insertion sort by (distance, index): stable, n is small, and it
	// allocates nothing.
	for i := 1; i < n; i++ {
		v := a.idx[i]
		j := i - 1
		for ; j >= 0 && a.dist[a.idx[j]] > a.dist[v]; j-- {
			a.idx[j+1] = a.idx[j]
		}
		a.idx[j+1] = v
	}
	a.sel = a.sel[:0]
	for _, i := range a.idx[:n-a.F] {
		a.sel = append(a.sel, int(i))
	}
	slices.Sort(a.sel)
	a.rj.mean(dst, updates, a.sel)
	return checkResult(dst)
}

// Explain reports the updates the last Aggregate call averaged (Selected,
// ascending) and their squared distances to the pivot (Scores, by index).
// It allocates.
func (a *MoNNA) Explain() Explanation {
	return Explanation{Rule: "MoNNA", Selected: slices.Clone(a.sel), Scores: slices.Clone(a.dist)}
}

// DefaultSMEAMaxSubsets is the default of SMEA.MaxSubsets.
const DefaultSMEAMaxSubsets = 10_000

// SMEA is smallest-maximum-eigenvalue averaging, Allouah, Guerraoui, Gupta,
// Pinot and Stephan (2023), "On the Privacy-Robustness-Utility Trilemma in
// Distributed Learning", ICML, Section 4: among all subsets S of n − F
// updates, the one whose empirical covariance
// Σ_S = (1/|S|) Σ_{i∈S} (Δᵢ − μ_S)(Δᵢ − μ_S)ᵀ has the smallest largest
// eigenvalue (the first in lexicographic order of indices on a tie), and
// the result is its mean μ_S. It needs n > 2F and ignores Update.Weight.
//
// λ_max(Σ_S) is computed exactly (to rounding) as the largest eigenvalue
// of the |S|×|S| centered Gram matrix divided by |S|, by the cyclic Jacobi
// method; ByzFL instead runs one power-method step from a random vector,
// an estimate. The Gram matrix comes from the kernel shared with [Krum].
// The search visits C(n, F) subsets: Aggregate refuses, with
// [ErrTooManySubsets], rounds where that exceeds MaxSubsets. An SMEA is
// not safe for concurrent use.
type SMEA struct {
	// F is the number of Byzantine updates tolerated.
	F int
	// MaxSubsets bounds C(n, F); 0 means DefaultSMEAMaxSubsets.
	MaxSubsets int

	d         distScratch
	cur, best []int
	k, w      []float64
	lambda    float64
	rj        rowsJob
}

var (
	_ fl.Aggregator = (*SMEA)(nil)
	_ Explainer     = (*SMEA)(nil)
)

// Validate reports an error unless F ≥ 0, MaxSubsets ≥ 0, n > 2F and
// C(n, F) ≤ MaxSubsets.
func (a *SMEA) Validate(n int) error {
	return validateSubsets("SMEA", n, a.F, a.MaxSubsets, DefaultSMEAMaxSubsets)
}

// Aggregate writes the mean of the subset of smallest covariance spectral
// norm to dst. It returns an error, leaving dst unspecified, if there are
// no updates, Validate fails, a length differs from len(dst), or a value
// is NaN or Inf.
func (a *SMEA) Aggregate(dst []float64, updates []fl.Update) error {
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
	g := a.d.gram[0]
	m := n - a.F
	a.k = grow(a.k, m*m+m) // the matrix, then centeredGram's row means
	a.w = grow(a.w, m)
	a.cur = grow(a.cur, m)
	a.best = grow(a.best, m)
	a.lambda = math.Inf(1)
	for i := range a.cur {
		a.cur[i] = i
	}
	for {
		centeredGram(a.k, g, n, a.cur, nil)
		if l := maxEigen(a.k, m, a.w, nil) / float64(m); l < a.lambda {
			a.lambda = l
			copy(a.best, a.cur)
		}
		if !nextSubset(a.cur, n) {
			break
		}
	}
	a.rj.mean(dst, updates, a.best)
	return checkResult(dst)
}

// Explain reports the subset the last Aggregate call averaged (Selected,
// ascending). It allocates.
func (a *SMEA) Explain() Explanation {
	return Explanation{Rule: "SMEA", Selected: slices.Clone(a.best)}
}

// nextSubset advances c, a k-subset of [0, n) in increasing order, to the
// next one in lexicographic order, and reports false after the last.
func nextSubset(c []int, n int) bool {
	k := len(c)
	i := k - 1
	for i >= 0 && c[i] == n-k+i {
		i--
	}
	if i < 0 {
		return false
	}
	c[i]++
	for j := i + 1; j < k; j++ {
		c[j] = c[j-1] + 1
	}
	return true
}

// gramAt returns G[i][j] from the upper triangle g of an n×n Gram matrix.
func gramAt(g []float64, n, i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return g[i*n+j]
}

// centeredGram sets k (m×m, m = len(set)) to the Gram matrix of the
// members of set centered on their mean, weighted by alpha (Σα = 1; nil
// means 1/m each): K_ab = G_ab − r_a − r_b + t with r_a = Σ_c α_c G_ac and
// t = Σ_a α_a r_a, each sum in index order. k needs m×m + m values.
func centeredGram(k, g []float64, n int, set []int, alpha []float64) {
	m := len(set)
	r := k[m*m : m*m+m] // the row means live after the matrix
	var t float64
	for a, i := range set {
		var s float64
		for c, j := range set {
			if alpha == nil {
				s += gramAt(g, n, i, j)
			} else {
				s += float64(alpha[c] * gramAt(g, n, i, j))
			}
		}
		if alpha == nil {
			s /= float64(m)
			t += s
		} else {
			t += float64(alpha[a] * s)
		}
		r[a] = s
	}
	if alpha == nil {
		t /= float64(m)
	}
	for a, i := range set {
		for b, j := range set {
			k[a*m+b] = gramAt(g, n, i, j) - r[a] - r[b] + t
		}
	}
}

// maxEigen returns the largest eigenvalue of the symmetric m×m matrix a
// (destroyed) by the cyclic Jacobi method (Golub and Van Loan, Matrix
// Computations, 8.5), sweeping until the off-diagonal mass is below 10⁻³⁰
// of the diagonal's. If vec is not nil it must hold m×m values: the
// rotations are accumulated in it, and on return vec[:m] is a unit
// eigenvector for the eigenvalue. w is scratch of m values. The rotations
// run in a fixed order with every product rounded, so the result is the
// same on every processor.
func maxEigen(a []float64, m int, w, vec []float64) float64 {
	if vec != nil {
		clear(vec[:m*m])
		for i := range m {
			vec[i*m+i] = 1
		}
	}
	for sweep := 0; sweep < 100; sweep++ {
		var off, diag float64
		for p := range m {
			diag += float64(a[p*m+p] * a[p*m+p])
			for q := p + 1; q < m; q++ {
				off += float64(a[p*m+q] * a[p*m+q])
			}
		}
		if off <= 1e-30*diag || off == 0 {
			break
		}
		for p := range m {
			for q := p + 1; q < m; q++ {
				apq := a[p*m+q]
				if apq == 0 {
					continue
				}
				// The rotation that zeroes a[p][q] (Golub and Van Loan,
				// Algorithm 8.5.1, with the smaller angle).
				theta := (a[q*m+q] - a[p*m+p]) / float64(2*apq)
				tt := 1 / (math.Abs(theta) + math.Sqrt(float64(theta*theta)+1))
				if theta < 0 {
					tt = -tt
				}
				c := 1 / math.Sqrt(float64(tt*tt)+1)
				s := float64(tt * c)
				for r := range m {
					arp, arq := a[r*m+p], a[r*m+q]
					a[r*m+p] = float64(c*arp) - float64(s*arq)
					a[r*m+q] = float64(s*arp) + float64(c*arq)
				}
				for r := range m {
					apr, aqr := a[p*m+r], a[q*m+r]
					a[p*m+r] = float64(c*apr) - float64(s*aqr)
					a[q*m+r] = float64(s*apr) + float64(c*aqr)
				}
				if vec != nil {
					for r := range m {
						vrp, vrq := vec[r*m+p], vec[r*m+q]
						vec[r*m+p] = float64(c*vrp) - float64(s*vrq)
						vec[r*m+q] = float64(s*vrp) + float64(c*vrq)
					}
				}
			}
		}
	}
	best := 0
	for i := 1; i < m; i++ {
		if a[i*m+i] > a[best*m+best] {
			best = i
		}
	}
	if vec != nil { // column best, to the front
		for r := range m {
			w[r] = vec[r*m+best]
		}
		copy(vec[:m], w[:m])
	}
	return a[best*m+best]
}

// CAF is the covariance-bound agnostic filter of Allouah, Guerraoui and
// Stephan (2025), "Towards Trustworthy Federated Learning with Untrusted
// Participants", ICML, Algorithm 2. With weights cᵢ = 1 to start, while
// Σc > n − 2F:
//
//	μ_c = Σ cᵢΔᵢ / Σc,  Σ_c = Σ cᵢ(Δᵢ − μ_c)(Δᵢ − μ_c)ᵀ / Σc,
//	(λ, v) the largest eigenvalue of Σ_c and a unit eigenvector,
//	τᵢ = ((Δᵢ − μ_c)·v)²,  cᵢ ← cᵢ(1 − τᵢ / maxⱼ τⱼ);
//
// the result is the μ_c of the smallest λ met (the first on a tie). If
// every τ is 0 (the weighted updates coincide, λ = 0) the loop stops there.
// It needs n > 2F and ignores Update.Weight.
//
// Everything runs on n×n matrices from the Gram matrix shared with [Krum]:
// λ and v come from the largest eigenpair (λ_M, u) of M = D K D, with K
// the centered Gram matrix and D = diag(√cᵢ) (λ = λ_M/Σc, and
// τᵢ = ((K D u)ᵢ)²/λ_M), by the cyclic Jacobi method, exactly to rounding;
// ByzFL runs one power-method step from a random vector instead. Each
// iteration zeroes at least one weight, so there are at most n. A CAF is
// not safe for concurrent use.
type CAF struct {
	// F is the number of Byzantine updates tolerated.
	F int

	d                   distScratch
	c, alpha, best, tau []float64
	k, vec, w, all      []float64
	set                 []int
	vecs                [][]float64
	rj                  rowsJob
}

var (
	_ fl.Aggregator = (*CAF)(nil)
	_ Explainer     = (*CAF)(nil)
)

// Validate reports an error unless F ≥ 0 and n > 2F.
func (a *CAF) Validate(n int) error {
	if err := checkMajority("CAF", n, a.F); err != nil {
		return err
	}
	return nil
}

// Aggregate writes the filtered mean to dst. It returns an error, leaving
// dst unspecified, if there are no updates, Validate fails, a length
// differs from len(dst), or a value is NaN or Inf.
func (a *CAF) Aggregate(dst []float64, updates []fl.Update) error {
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
	g := a.d.gram[0]
	a.c, a.alpha, a.best, a.tau = grow(a.c, n), grow(a.alpha, n), grow(a.best, n), grow(a.tau, n)
	a.k, a.vec, a.w = grow(a.k, n*n+n), grow(a.vec, n*n), grow(a.w, n)
	a.set = grow(a.set, n)
	for i := range n {
		a.c[i], a.set[i] = 1, i
	}
	bestLambda := math.Inf(1)
	for {
		var sum float64
		for _, ci := range a.c {
			sum += ci
		}
		if !(sum > float64(n-2*a.F)) {
			break
		}
		for i, ci := range a.c {
			a.alpha[i] = ci / sum
		}
		centeredGram(a.k, g, n, a.set, a.alpha)
		// ku = K D u needs K after the eigen-solver destroys its copy.
		a.all = append(a.all[:0], a.k[:n*n]...)
		for i := range n {
			for j := range n {
				a.k[i*n+j] = float64(math.Sqrt(a.c[i])*a.all[i*n+j]) * math.Sqrt(a.c[j])
			}
		}
		lm := maxEigen(a.k, n, a.w, a.vec)
		if lambda := lm / sum; lambda < bestLambda {
			bestLambda = lambda
			copy(a.best, a.alpha)
		}
		if !(lm > 0) {
			break // the weighted updates coincide: nothing to filter
		}
		var tmax float64
		for i := range n {
			var s float64
			for j := range n {
				s += float64(a.all[i*n+j] * float64(math.Sqrt(a.c[j])*a.vec[j]))
			}
			a.tau[i] = float64(s*s) / lm
			tmax = max(tmax, a.tau[i])
		}
		if !(tmax > 0) {
			break
		}
		for i := range a.c {
			a.c[i] *= 1 - a.tau[i]/tmax
		}
	}
	a.vecs = grow(a.vecs, n)
	for i := range updates {
		a.vecs[i] = updates[i].Delta
	}
	a.rj.weighted(dst, a.vecs, a.best)
	clear(a.vecs)
	return checkResult(dst)
}

// Explain reports the weights of the mean the last Aggregate call returned
// (Scores, by index: c_i/Σc) and the updates with positive weight
// (Selected). It allocates.
func (a *CAF) Explain() Explanation {
	e := Explanation{Rule: "CAF", Scores: slices.Clone(a.best)}
	for i, w := range a.best {
		if w > 0 {
			e.Selected = append(e.Selected, i)
		}
	}
	return e
}
