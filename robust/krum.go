package robust

import (
	"fmt"
	"slices"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust/internal/orderstat"
)

// Krum is the rule of Blanchard et al. (2017), "Machine Learning with
// Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS, Section 4:
// the score of update i is Σ ‖Δᵢ − Δⱼ‖² over the n − F − 2 updates j ≠ i
// closest to it, and the result is the update with the lowest score (the
// lowest index on a tie). It needs n > 2F + 2 and ignores Update.Weight.
// Neighbours sets the number of neighbours apart from F: ByzFL, and papers
// that follow it, sum over the n − F − 1 nearest others ([NeighboursNF1]).
//
// The pairwise distances are computed once per call from the Gram matrix of
// the deltas, centered block by block on the coordinate-wise median of the
// first 2F + 1 updates (at most F of them Byzantine, so each centre lies
// between two honest values, as the median of all n would: for honest i
// and j the rounding error of ‖Δᵢ − Δⱼ‖² is then of the order of
// (d/4)·2⁻⁵³·(‖Δᵢ − c‖² + ‖Δⱼ − c‖²), bounded by the honest spread, not by
// the distance to the origin), on 8 fixed slices of the coordinates run in
// parallel, with a 3×4-tile AVX2+FMA kernel where the processor has it
// (robust/internal/gram; the same bits as its portable loop, which uses
// math.FMA). Each score sums its distances
// in ascending order, so the result does not depend on the input order.
// Aggregate does not allocate once its scratch buffers are warm, apart from
// the goroutines it starts and joins. A Krum is not safe for concurrent use.
type Krum struct {
	// F is the number of Byzantine updates tolerated.
	F int
	// Neighbours is the number q of nearest other updates a score sums:
	// 0 means n − F − 2, the paper's; [NeighboursNF1] means n − F − 1; a
	// positive value is used as is (it must be at most n − 1).
	Neighbours int

	k krumScratch
}

// NeighboursNF1, as [Krum].Neighbours or [MultiKrum].Neighbours, makes
// every score sum over the n − F − 1 nearest other updates, as ByzFL's
// Krum does (it sorts each row of distances, drops the zero to itself and
// keeps n − F − 1 entries).
const NeighboursNF1 = -1

// neighbours returns the q a Krum score sums over for n updates.
func neighbours(q, n, f int) int {
	switch {
	case q == 0:
		return n - f - 2
	case q == NeighboursNF1:
		return n - f - 1
	}
	return q
}

func validateNeighbours(rule string, q, n int) error {
	if q < NeighboursNF1 || q > n-1 {
		return fmt.Errorf("%w: %s: Neighbours = %d not in [−1, n − 1 = %d]", ErrParam, rule, q, n-1)
	}
	return nil
}

// MultiKrum is Multi-Krum, from the same paper as [Krum] (Section 4,
// "Multi-Krum"): the mean of the M updates with the lowest Krum scores
// (ties to the lower index), summed in order of score. M = 0 means n − F.
// With M = n it is the mean of all updates, up to rounding. It needs
// n > 2F + 2 and M ≤ n, and ignores Update.Weight.
//
// It shares Krum's kernel and its notes on cost and concurrency.
type MultiKrum struct {
	// F is the number of Byzantine updates tolerated.
	F int
	// M is the number of updates averaged; 0 means n − F.
	M int
	// Neighbours is as for [Krum].
	Neighbours int

	k  krumScratch
	rj rowsJob
}

var (
	_ fl.Aggregator = (*Krum)(nil)
	_ fl.Aggregator = (*MultiKrum)(nil)
)

type krumScratch struct {
	d     distScratch
	set   []int
	score []float64
	tmp   []float64
	m     int // how many of set the last call selected
}

func validateKrum(rule string, f, n int) error {
	if err := checkF(rule, f); err != nil {
		return err
	}
	if n <= 2*f+2 {
		return tooFew(rule, n, "n > 2f+2", 2*f+3)
	}
	return nil
}

// Validate reports an error unless F ≥ 0, n > 2F + 2 and Neighbours is
// NeighboursNF1 or in [0, n − 1].
func (a *Krum) Validate(n int) error {
	if err := validateKrum("Krum", a.F, n); err != nil {
		return err
	}
	return validateNeighbours("Krum", a.Neighbours, n)
}

// Validate reports an error unless F ≥ 0, n > 2F + 2, 0 ≤ M ≤ n and
// Neighbours is NeighboursNF1 or in [0, n − 1].
func (a *MultiKrum) Validate(n int) error {
	if err := validateKrum("MultiKrum", a.F, n); err != nil {
		return err
	}
	if err := validateNeighbours("MultiKrum", a.Neighbours, n); err != nil {
		return err
	}
	if a.M < 0 || a.M > n {
		return fmt.Errorf("%w: MultiKrum: M = %d not in [0, n = %d]", ErrParam, a.M, n)
	}
	return nil
}

// Aggregate copies the update with the lowest Krum score to dst. It returns
// an error, leaving dst unspecified, if there are no updates, Validate
// fails, a length differs from len(dst), or a value is NaN or Inf.
func (a *Krum) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	if err := a.Validate(len(updates)); err != nil {
		return err
	}
	sel, err := a.k.best(updates, a.F, neighbours(a.Neighbours, len(updates), a.F), 1)
	if err != nil {
		return err
	}
	copy(dst, updates[sel[0]].Delta)
	return nil
}

// Aggregate writes the mean of the M best-scored updates to dst. It returns
// an error, leaving dst unspecified, if there are no updates, Validate
// fails, a length differs from len(dst), or a value is NaN or Inf.
func (a *MultiKrum) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return err
	}
	m := a.M
	if m == 0 {
		m = n - a.F
	}
	sel, err := a.k.best(updates, a.F, neighbours(a.Neighbours, n, a.F), m)
	if err != nil {
		return err
	}
	a.rj.mean(dst, updates, sel)
	return checkResult(dst)
}

// best returns the indices of the m updates with the lowest Krum scores
// over q neighbours, in order of (score, index), with at most f of the
// updates Byzantine.
func (k *krumScratch) best(updates []fl.Update, f, q, m int) ([]int, error) {
	n := len(updates)
	k.d.medianRows = 2*f + 1 // at most f Byzantine: the median stays between honest values
	if !k.d.pairwise(updates) {
		return nil, checkFinite(updates)
	}
	k.set = grow(k.set, n)
	for i := range k.set {
		k.set[i] = i
	}
	k.score = grow(k.score, n)
	k.tmp = grow(k.tmp, n)
	krumScores(k.d.dist, n, k.set, q, k.score, k.tmp)
	// Order positions by (score, index); k.set holds indices 0..n-1.
	sc := k.score
	slices.SortFunc(k.set, func(x, y int) int {
		switch {
		case sc[x] < sc[y]:
			return -1
		case sc[x] > sc[y]:
			return 1
		}
		return x - y
	})
	k.m = m
	return k.set[:m], nil
}

// explain reports the last selection: k.set[:k.m], and the scores by input
// index (k.set holds every index, ordered by score).
func (k *krumScratch) explain(rule string) Explanation {
	e := Explanation{Rule: rule, Selected: append([]int(nil), k.set[:k.m]...)}
	e.Scores = append([]float64(nil), k.score[:len(k.set)]...) // by index: krumScores ran on 0..n−1
	return e
}

// Explain reports the update the last Aggregate call chose (Selected) and
// every update's Krum score (Scores, by input index). It allocates.
func (a *Krum) Explain() Explanation { return a.k.explain("Krum") }

// Explain reports the updates the last Aggregate call averaged (Selected,
// in order of score) and every update's Krum score (Scores, by input
// index). It allocates.
func (a *MultiKrum) Explain() Explanation { return a.k.explain("MultiKrum") }

// krumScores sets score[p], for each position p of set, to the sum of the q
// smallest squared distances from set[p] to the other members of set,
// summed in ascending order (0 when q ≤ 0). dist is n×n; tmp has room for
// len(set) values.
func krumScores(dist []float64, n int, set []int, q int, score, tmp []float64) {
	for p, i := range set {
		if q <= 0 {
			score[p] = 0
			continue
		}
		t := tmp[:0]
		row := dist[i*n : (i+1)*n]
		for _, j := range set {
			if j != i {
				t = append(t, row[j])
			}
		}
		q := min(q, len(t))
		if q < len(t) {
			orderstat.SelectK(t, q-1)
		}
		t = t[:q]
		slices.Sort(t)
		var s float64
		for _, v := range t {
			s += v
		}
		score[p] = s
	}
}
