package robust

import (
	"slices"

	"github.com/fedgo/fedgo/fl"
)

// Bulyan is the rule of El Mhamdi, Guerraoui and Rouault (2018), "The Hidden
// Vulnerability of Distributed Learning in Byzantium", ICML, Section 4. It
// needs n ≥ 4F + 3 and ignores Update.Weight.
//
//  1. Selection: θ = n − 2F updates are chosen by repeated Krum: starting
//     from all updates, the one with the lowest Krum score within the
//     remaining set R (sum of squared distances to its max(|R| − F − 2, 1)
//     nearest others in R; ties to the lower index) moves to the
//     selection, until θ are selected.
//  2. Aggregation: for each coordinate, the mean of the β = θ − 2F selected
//     values closest to the median of the θ selected values (ties to the
//     lower input index).
//
// In the last steps |R| − F − 2 falls to 1 or below (|R| ends at 2F + 1),
// and Krum then scores by the single nearest neighbour in R, as the paper's
// recursive use of Krum does (a score over no neighbour would be 0 for
// every update and pick the lowest index whatever the distances). Two
// mutually nearest updates then tie and the lower index wins: the result
// can depend on the input order.
//
// The pairwise distances are computed once per call (see [Krum]) and reused
// by every Krum iteration; the coordinate-wise step runs in parallel over
// coordinates like [Median]. Aggregate does not allocate once its scratch
// buffers are warm, apart from the goroutines it starts and joins. A Bulyan
// is not safe for concurrent use.
type Bulyan struct {
	// F is the number of Byzantine updates tolerated.
	F int

	k     krumScratch
	c     coordScratch
	r     []int
	order []int // the last selection, in selection order
}

// Explain reports the θ updates the last Aggregate call selected by
// repeated Krum, in selection order. It allocates.
func (a *Bulyan) Explain() Explanation {
	return Explanation{Rule: "Bulyan", Selected: append([]int(nil), a.order...)}
}

var _ fl.Aggregator = (*Bulyan)(nil)

// Validate reports an error unless F ≥ 0 and n ≥ 4F + 3.
func (a *Bulyan) Validate(n int) error {
	if err := checkF("Bulyan", a.F); err != nil {
		return err
	}
	if n < 4*a.F+3 {
		return tooFew("Bulyan", n, "n ≥ 4f+3", 4*a.F+3)
	}
	return nil
}

// Aggregate writes the Bulyan aggregate of the updates to dst. It returns an
// error, leaving dst unspecified, if there are no updates, Validate fails, a
// length differs from len(dst), or a value is NaN or Inf.
func (a *Bulyan) Aggregate(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	n := len(updates)
	if err := a.Validate(n); err != nil {
		return err
	}
	sel := a.selection(updates)
	if sel == nil {
		return checkFinite(updates)
	}
	a.order = append(a.order[:0], sel...)
	slices.Sort(sel) // gather in input order: ties go to the lower index
	a.c.rows = grow(a.c.rows, len(sel))
	for p, i := range sel {
		a.c.rows[p] = updates[i].Delta
	}
	theta := n - 2*a.F
	ok := a.c.run(dst, opAroundMedian, theta-2*a.F)
	clear(a.c.rows)
	if !ok {
		return checkFinite(updates)
	}
	return checkResult(dst)
}

// selection returns the θ = n − 2F indices chosen by repeated Krum, or nil
// if a value is NaN or Inf.
func (a *Bulyan) selection(updates []fl.Update) []int {
	n := len(updates)
	k := &a.k
	if !k.d.pairwise(updates) {
		return nil
	}
	theta := n - 2*a.F
	a.r = grow(a.r, n) // remaining, in index order
	for i := range a.r {
		a.r[i] = i
	}
	rem := a.r
	k.set = grow(k.set, n)[:0] // selected
	k.score = grow(k.score, n)
	k.tmp = grow(k.tmp, n)
	for len(k.set) < theta {
		krumScores(k.d.dist, n, rem, max(len(rem)-a.F-2, 1), k.score, k.tmp)
		best := 0
		for p := range rem {
			if k.score[p] < k.score[best] {
				best = p
			}
		}
		k.set = append(k.set, rem[best])
		rem = append(rem[:best], rem[best+1:]...)
	}
	return k.set
}
