package robust

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/fedgo/fedgo/fl"
)

// gramBlock is the number of coordinates of every update copied into a
// contiguous n×gramBlock matrix for one symmetric rank-k update.
const gramBlock = 512

// gramSlots is the most slices the coordinates are split into for the Gram
// matrix. Each slice has its own partial Gram matrix, summed in slice order,
// so the distances do not depend on GOMAXPROCS.
const gramSlots = 8

// distScratch holds the buffers of the pairwise distance kernel.
type distScratch struct {
	block [][]float64 // per slot: n×gramBlock
	gram  [][]float64 // per slot: n×n, upper triangle
	bad   []bool      // per slot
	dist  []float64   // n×n squared distances

	// The arguments of the running call.
	updates  []fl.Update
	d, slots int
}

// pairwise sets s.dist[i*n+j] to ‖Δᵢ − Δⱼ‖² for the n updates, using the
// Gram matrix G = XXᵀ of the n×d matrix X of deltas: ‖a‖² + ‖b‖² − 2a·b,
// clamped at 0, with an exact 0 on the diagonal. It reports false if a
// delta holds a NaN or Inf. It needs every delta to have the same length.
func (s *distScratch) pairwise(updates []fl.Update) bool {
	n := len(updates)
	d := len(updates[0].Delta)
	slots := min(gramSlots, max(1, d/(4*gramBlock)))
	workers := min(workersFor(d, 4*gramBlock), slots)
	s.block = growRows(s.block, slots, n*min(gramBlock, d))
	s.gram = growRows(s.gram, slots, n*n)
	s.bad = grow(s.bad, slots)
	s.dist = grow(s.dist, n*n)
	s.updates, s.d, s.slots = updates, d, slots
	parallel(slots, workers, s)
	s.updates = nil
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
			v := max(g[i*n+i]+g[j*n+j]-2*g[i*n+j], 0)
			s.dist[i*n+j] = v
			s.dist[j*n+i] = v
		}
	}
	return true
}

func (s *distScratch) do(_, lo, hi int) {
	for sl := lo; sl < hi; sl++ {
		s.bad[sl] = !s.gramSlot(s.updates, sl, s.d*sl/s.slots, s.d*(sl+1)/s.slots)
	}
}

// gramSlot sets s.gram[sl] to the upper triangle of the Gram matrix of
// coordinates [lo, hi) of the deltas.
func (s *distScratch) gramSlot(updates []fl.Update, sl, lo, hi int) bool {
	n := len(updates)
	g := s.gram[sl]
	clear(g)
	buf := s.block[sl]
	var acc float64
	for b := lo; b < hi; b += gramBlock {
		e := min(b+gramBlock, hi)
		w := e - b
		for i := range updates {
			row := buf[i*w : (i+1)*w]
			copy(row, updates[i].Delta[b:e])
			for _, v := range row {
				acc += v - v
			}
		}
		if acc != 0 {
			return false
		}
		blas64.Syrk(blas.NoTrans, 1,
			blas64.General{Rows: n, Cols: w, Stride: w, Data: buf[:n*w]},
			1, blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: g})
	}
	return true
}
