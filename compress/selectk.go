package compress

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// topKSelector finds the k coordinates of largest magnitude, ties broken by
// the lowest index, in index order. It keeps its scratch buffers.
//
// It estimates a threshold t from a random sample of magnitudes such that,
// with overwhelming probability, at least k and not many more than k
// coordinates reach it; one pass collects the candidates |v_i| >= t in index
// order; a quickselect among the candidates finds the k-th largest magnitude
// T; a last pass over the candidates keeps those above T and the
// lowest-index ones equal to T. If fewer than k candidates reach t, it
// falls back to all coordinates, so the result is always exact.
type topKSelector struct {
	cand   []uint32
	keys   []uint64
	work   []uint64
	sample []uint64
	sel    []uint32
	pcg    rand.PCG
}

const (
	sampleSize     = 4096
	directSelectAt = 8192 // below this many coordinates, skip sampling
)

// key returns the magnitude of x as ordered bits: for non-NaN values the
// order of keys is the order of |x|, and every NaN or infinity has a key
// of at least expMask64.
func key(x float64) uint64 { return math.Float64bits(x) &^ signBit64 }

// selectTopK returns the sorted indices of the k largest |v_i| (ties by
// lowest index), or the index of a non-finite value as bad >= 0. The
// returned slice is scratch, valid until the next call.
func (s *topKSelector) selectTopK(v []float64, k int) (sel []uint32, bad int) {
	n := len(v)
	s.sel = s.sel[:0]
	if k <= 0 || n == 0 {
		return s.sel, finiteAt(v)
	}
	t := uint64(0)
	if n >= directSelectAt && k < n/4 {
		t = s.estimateThreshold(v, k)
	}
	return s.selectAbove(v, k, t)
}

// selectAbove is selectTopK given the candidate threshold t (1 <= k <= n).
func (s *topKSelector) selectAbove(v []float64, k int, t uint64) (sel []uint32, bad int) {
	s.sel = s.sel[:0]
	s.cand, s.keys, bad = collect(s.cand[:0], s.keys[:0], v, t)
	if bad >= 0 {
		return nil, bad
	}
	if len(s.cand) < k {
		s.cand, s.keys, bad = collect(s.cand[:0], s.keys[:0], v, 0)
		if bad >= 0 {
			return nil, bad
		}
	}
	var T uint64
	if k < len(s.keys) {
		s.work = append(s.work[:0], s.keys...)
		T = nthLargest(s.work, k)
	}
	above := 0
	for _, kk := range s.keys {
		if kk > T {
			above++
		}
	}
	ties := k - above
	for j, kk := range s.keys {
		if kk > T || (kk == T && ties > 0) {
			if kk == T {
				ties--
			}
			s.sel = append(s.sel, s.cand[j])
		}
	}
	return s.sel, -1
}

// collect appends to cand the indices i with key(v[i]) >= t, in order, and
// their keys to keys, and reports the first non-finite value among them.
func collect(cand []uint32, keys []uint64, v []float64, t uint64) ([]uint32, []uint64, int) {
	t = min(t, expMask64) // every non-finite value is a candidate
	for i, x := range v {
		if a := key(x); a >= t {
			if a >= expMask64 {
				return cand, keys, i
			}
			cand = append(cand, uint32(i))
			keys = append(keys, a)
		}
	}
	return cand, keys, -1
}

// estimateThreshold returns a magnitude key that about 1.5k+O(√k)
// coordinates reach, estimated from a seeded random sample. The margin
// makes the count fall below k only with negligible probability (about six
// standard deviations for k = 1% of n).
func (s *topKSelector) estimateThreshold(v []float64, k int) uint64 {
	n := len(v)
	m := min(sampleSize, n/8)
	s.pcg.Seed(0x746f706b, uint64(n)) // deterministic per length
	s.sample = s.sample[:0]
	for range m {
		hi, _ := bits.Mul64(s.pcg.Uint64(), uint64(n))
		s.sample = append(s.sample, key(v[hi]))
	}
	q := float64(k) / float64(n) * float64(m)
	r := int(1.5*q + 6*math.Sqrt(q) + 4) // rank from the top, 0-based
	if r >= m {
		return 0
	}
	return nthLargest(s.sample, r+1)
}

// nthLargest returns the k-th largest value of a (1 <= k <= len(a)),
// reordering a. It is a three-way quickselect with median-of-three pivots
// that falls back to sorting after too many rounds, so it is O(len(a))
// expected and O(len(a) log len(a)) worst case.
func nthLargest(a []uint64, k int) uint64 {
	// Work with the (len-k)-th smallest (0-based).
	want := len(a) - k
	lo, hi := 0, len(a) // a[lo:hi] holds position want
	budget := 2*bits.Len(uint(len(a))) + 8
	for hi-lo > 16 {
		if budget == 0 {
			slices.Sort(a[lo:hi])
			return a[want]
		}
		budget--
		m := lo + (hi-lo)/2
		p := median3(a[lo], a[m], a[hi-1])
		// Three-way partition: [lo,lt) < p, [lt,gt) == p, [gt,hi) > p.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch x := a[i]; {
			case x < p:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case x > p:
				gt--
				a[gt], a[i] = a[i], a[gt]
			default:
				i++
			}
		}
		switch {
		case want < lt:
			hi = lt
		case want >= gt:
			lo = gt
		default:
			return p
		}
	}
	slices.Sort(a[lo:hi])
	return a[want]
}

func median3(a, b, c uint64) uint64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}
