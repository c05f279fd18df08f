package robust

import (
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust/internal/gram"
	"github.com/fedgo/fedgo/robust/internal/orderstat"
)

// gramBlock is the number of coordinates of every update copied, centered,
// into a contiguous n×gramBlock matrix for one Gram-matrix update. At
// n = 100 the rows read and the centered copy (2 × 200 KB) stay in L2 with
// room to spare: 256 ran Krum at n = 100, d = 10⁶ in 11% less CPU time than
// 512 and 17% less than 128 (interleaved runs on a loaded 2-core Zen 4).
const gramBlock = 256

// gramSlots is the most slices the coordinates are split into for the Gram
// matrix. Each slice has its own partial Gram matrix, summed in slice order,
// so the distances do not depend on GOMAXPROCS.
const gramSlots = 8

// distScratch holds the buffers of the pairwise distance kernel.
type distScratch struct {
	block  [][]float64 // per slot: n×gramBlock
	center [][]float64 // per slot: gramBlock, the center of a block
	med    []*orderstat.Scratch
	rows   [][]float64 // the deltas
	gram   [][]float64 // per slot: n×n, upper triangle
	bad    []bool      // per slot
	dist   []float64   // n×n squared distances

	// medianRows, if positive and below n, makes the centre of each
	// coordinate the median of the first medianRows updates only (set by
	// the caller that knows F: 2F + 1 rows hold at most F Byzantine ones, so
	// their median lies between two honest values, as the median of all n
	// does); 0 means all n.
	medianRows int

	// The arguments of the running call.
	updates  []fl.Update
	d, slots int
}

// pairwise sets s.dist[i*n+j] to ‖Δᵢ − Δⱼ‖² for the n updates, using the
// Gram matrix G = YYᵀ of the centered deltas: ‖a‖² + ‖b‖² − 2a·b, clamped
// at 0, with an exact 0 on the diagonal. Y is X, the n×d matrix of deltas,
// with every block of gramBlock coordinates centered on its coordinate-wise
// median over the updates, or over the first medianRows of them (distances
// do not change under translation; the median, unlike the mean, stays with
// the majority whatever a few updates hold, and keeps small-integer inputs
// exact): without it, points
// close together far from the origin lose their distances to cancellation
// (points 10⁻³ apart at 10⁶ would need 18 digits). The products are summed
// in a fixed order by robust/internal/gram, the same bits on every path.
// It reports false if a delta holds a NaN or Inf. It needs every delta to
// have the same length.
func (s *distScratch) pairwise(updates []fl.Update) bool {
	n := len(updates)
	d := len(updates[0].Delta)
	slots := min(gramSlots, max(1, d/(4*gramBlock)))
	workers := min(workersFor(d, 4*gramBlock), slots)
	s.block = growRows(s.block, slots, n*min(gramBlock, (d+3)&^3))
	s.center = growRows(s.center, slots, gramBlock)
	s.med = grow(s.med, slots)
	for i, m := range s.med {
		if m == nil {
			s.med[i] = new(orderstat.Scratch)
		}
	}
	s.rows = grow(s.rows, n)
	for i := range updates {
		s.rows[i] = updates[i].Delta
	}
	s.gram = growRows(s.gram, slots, n*n)
	s.bad = grow(s.bad, slots)
	s.dist = grow(s.dist, n*n)
	s.updates, s.d, s.slots = updates, d, slots
	parallel(slots, workers, s)
	s.updates = nil
	clear(s.rows)
	for _, b := range s.bad[:slots] {
		if b {
			return false
		}
	}
	g := s.gram[0]
	for _, h := range s.gram[1:slots] {
		for i := range n {
			for j := i; j < n; j++ {
				g[i*n+j] += h[i*n+j]
			}
		}
	}
	for i := range n {
		s.dist[i*n+i] = 0
		for j := i + 1; j < n; j++ {
			v := max(g[i*n+i]+g[j*n+j]-float64(2*g[i*n+j]), 0)
			s.dist[i*n+j] = v
			s.dist[j*n+i] = v
		}
	}
	return true
}

// medianOf returns how many of the n rows the centre is the median of.
func (s *distScratch) medianOf(n int) int {
	if s.medianRows > 0 && s.medianRows < n {
		return s.medianRows
	}
	return n
}

func (s *distScratch) do(_, lo, hi int) {
	for sl := lo; sl < hi; sl++ {
		s.bad[sl] = !s.gramSlot(s.updates, sl, s.d*sl/s.slots, s.d*(sl+1)/s.slots)
	}
}

// gramSlot sets s.gram[sl] to the upper triangle of the Gram matrix of
// coordinates [lo, hi) of the deltas, each block of gramBlock coordinates
// centered on its coordinate-wise median (robust/internal/gram's Center,
// which also checks that every value is finite).
func (s *distScratch) gramSlot(updates []fl.Update, sl, lo, hi int) bool {
	n := len(updates)
	g := s.gram[sl]
	clear(g)
	buf := s.block[sl]
	for b := lo; b < hi; b += gramBlock {
		e := min(b+gramBlock, hi)
		w := e - b
		w4 := (w + 3) &^ 3 // zero-padded: adding +0 products changes nothing
		center := s.center[sl][:w]
		if !s.med[sl].Median(center, s.rows[:s.medianOf(n)], b) {
			return false
		}
		if !gram.Center(buf[:n*w4], s.rows, b, center, w4) {
			return false
		}
		if e < hi { // the next block's rows come in while this one is summed
			gram.AddPrefetch(g, buf[:n*w4], n, w4, s.rows, e, min(e+gramBlock, hi)-e)
		} else {
			gram.Add(g, buf[:n*w4], n, w4)
		}
	}
	return true
}
