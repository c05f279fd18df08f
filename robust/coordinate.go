package robust

import (
	"sync"
	"sync/atomic"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust/internal/orderstat"
)

// coordBlock is the number of coordinates a worker takes at a time: the
// most that one orderstat call handles. (At n = 100 its transposed buffer,
// 512 × 104 values, 416 KiB, stays in L2 while every row is read in runs
// of 4 KiB.)
const coordBlock = orderstat.MaxBlock

// coordGrain is the least number of coordinates worth a goroutine.
const coordGrain = coordBlock

// Kinds of coordinate-wise statistics.
const (
	opMedian       = iota
	opTrimmed      // parameter: f
	opAroundMedian // parameter: how many values around the median
)

// coordScratch holds the buffers of the coordinate-wise rules.
type coordScratch struct {
	rows [][]float64          // the vectors being aggregated
	ws   []*orderstat.Scratch // per worker
	bad  []bool               // per worker: saw a NaN or Inf

	// The running call: its arguments, the next block to take, the next
	// worker number, and the helpers to wait for. work is made once, so
	// that starting a helper allocates nothing.
	dst    []float64
	op, p  int
	next   atomic.Int64
	nextW  atomic.Int32
	wg     sync.WaitGroup
	work   func()
	self   *coordScratch // the s that work belongs to
	blocks int
}

// setRows points s.rows at the updates' deltas.
func (s *coordScratch) setRows(updates []fl.Update) {
	s.rows = grow(s.rows, len(updates))
	for i := range updates {
		s.rows[i] = updates[i].Delta
	}
}

// run writes the statistic op (with parameter p) of every coordinate of
// s.rows to dst. It reports false if it met a NaN or Inf, leaving dst
// unspecified.
//
// The coordinates are cut into blocks of coordBlock, which the workers
// take in turn from a shared counter, so that a worker whose core is busy
// with something else takes fewer blocks instead of delaying the call.
// Every block's results depend only on its coordinates (orderstat gives
// the same bits on every path), so they do not depend on which worker
// computes them, on GOMAXPROCS or on the processor.
func (s *coordScratch) run(dst []float64, op, p int) bool {
	d := len(dst)
	workers := workersFor(d, coordGrain)
	s.ws = grow(s.ws, workers)
	for w, x := range s.ws {
		if x == nil {
			s.ws[w] = new(orderstat.Scratch)
		}
	}
	s.bad = grow(s.bad, workers)
	clear(s.bad)
	s.dst, s.op, s.p = dst, op, p
	s.blocks = (d + coordBlock - 1) / coordBlock
	s.next.Store(0)
	s.nextW.Store(0)
	if workers > 1 && s.self != s { // first use, or s was copied
		s.self = s
		s.work = func() {
			defer s.wg.Done()
			s.takeBlocks(int(s.nextW.Add(1)))
		}
	}
	for range workers - 1 {
		s.wg.Add(1)
		go s.work()
	}
	s.takeBlocks(0)
	s.wg.Wait()
	s.dst = nil
	for _, b := range s.bad {
		if b {
			return false
		}
	}
	return true
}

// takeBlocks computes blocks as worker w until none is left.
func (s *coordScratch) takeBlocks(w int) {
	d := len(s.dst)
	sc := s.ws[w]
	for {
		b := int(s.next.Add(1)) - 1
		if b >= s.blocks {
			return
		}
		lo, hi := b*coordBlock, min((b+1)*coordBlock, d)
		var ok bool
		switch s.op {
		case opMedian:
			ok = sc.Median(s.dst[lo:hi], s.rows, lo)
		case opTrimmed:
			ok = sc.TrimmedMean(s.dst[lo:hi], s.rows, lo, s.p)
		default:
			ok = sc.MeanAroundMedian(s.dst[lo:hi], s.rows, lo, s.p)
		}
		if !ok {
			s.bad[w] = true
			s.next.Store(int64(s.blocks)) // stop the others early
			return
		}
	}
}
