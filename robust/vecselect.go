package robust

// This file holds the selection used by Median and TrimmedMean where the
// processor has vector instructions for it (AVX-512 on amd64): quickselect
// whose partition step copies a column out of place, the values below the
// pivot to one buffer and the others to another, eight at a time with the
// compress instruction. The column itself is only read. Elsewhere the
// in-place scalar selection of selection.go runs; both return the same
// values.

// vecSmall is the length at and below which a rank is found by counting,
// for every candidate, the values below it and the values not above it.
const vecSmall = 16

// vecSel is the scratch of one worker's vectorised selection: four buffers
// of len(column)+8 values (the kernels store eight values at a time), and
// the partition and summation kernels, which tests replace by the portable
// versions.
type vecSel struct {
	buf        [4][]float64
	part       func(src, lt, ge []float64, p float64, orEqual bool) int
	sumBetween func(src []float64, a, b float64) (sum float64, leA, ltB int)
	ranksSmall func(a []float64, k1, k2 int) (float64, float64)
}

// newVecSel returns the scratch for columns of n values, with the
// vectorised kernels if simd, the portable ones otherwise.
func newVecSel(n int, simd bool) *vecSel {
	s := &vecSel{part: partGo, sumBetween: sumBetweenGo, ranksSmall: ranksSmallGo}
	if simd {
		s.part, s.sumBetween, s.ranksSmall = partSIMD, sumBetweenSIMD, ranksSmallSIMD
	}
	for i := range s.buf {
		s.buf[i] = make([]float64, n+8)
	}
	return s
}

// others returns two buffers that are neither cur nor avoid (either may be
// −1, for none).
func others(cur, avoid int) (l, g int) {
	l, g = -1, -1
	for i := range 4 {
		if i == cur || i == avoid {
			continue
		}
		if l < 0 {
			l = i
		} else if g < 0 {
			g = i
		}
	}
	return l, g
}

// pivotFor returns a pivot for finding rank k of a (len(a) > vecSmall):
// of the three values at a quarter, a half and three quarters of a, the
// least if k is in the lowest quarter of the ranks, the greatest if in the
// highest, the middle one otherwise, so that extreme ranks shrink the range
// faster than a median pivot would. (The ends of a are not sampled, so that
// a sorted range does not give its extreme as the pivot.) No branch
// depends on the values.
func pivotFor(a []float64, k int) float64 {
	m := len(a)
	x, y, z := a[m/4], a[m/2], a[m-1-m/4]
	s, t := min(x, y), max(x, y)
	switch {
	case 4*k < m:
		return min(s, z)
	case 4*k >= 3*m:
		return max(t, z)
	}
	return max(s, min(t, z))
}

// rank returns the value of rank k (0-based) of a, which lives in buffer
// cur (−1: in none of them). It does not touch buffer avoid or modify a.
func (s *vecSel) rank(a []float64, cur, avoid, k int) float64 {
	for {
		m := len(a)
		switch {
		case m <= vecSmall:
			x, _ := s.ranksSmall(a, k, k)
			return x
		case k == 0:
			return minOf(a)
		case k == m-1:
			return maxOf(a)
		}
		l, g := others(cur, avoid)
		p := pivotFor(a, k)
		nl := s.part(a, s.buf[l], s.buf[g], p, false)
		switch {
		case k < nl:
			a, cur = s.buf[l][:nl], l
		case nl > 0:
			a, cur, k = s.buf[g][:m-nl], g, k-nl
		default: // nothing below p: set the values equal to p apart
			ne := s.part(a, s.buf[l], s.buf[g], p, true)
			if k < ne {
				return p
			}
			a, cur, k = s.buf[g][:m-ne], g, k-ne
		}
	}
}

// ranks2 returns the values of ranks k1 ≤ k2 of a, without modifying a.
func (s *vecSel) ranks2(a []float64, k1, k2 int) (float64, float64) {
	cur := -1
	for {
		m := len(a)
		if m <= vecSmall {
			return s.ranksSmall(a, k1, k2)
		}
		l, g := others(cur, -1)
		p := pivotFor(a, k1+(k2-k1)/2)
		nl := s.part(a, s.buf[l], s.buf[g], p, false)
		switch {
		case k2 < nl:
			a, cur = s.buf[l][:nl], l
		case k1 >= nl && nl > 0:
			a, cur, k1, k2 = s.buf[g][:m-nl], g, k1-nl, k2-nl
		case k1 >= nl: // nothing below p: set the values equal to p apart
			ne := s.part(a, s.buf[l], s.buf[g], p, true)
			switch {
			case k2 < ne:
				return p, p
			case k1 < ne:
				return p, s.rank(s.buf[g][:m-ne], g, -1, k2-ne)
			}
			a, cur, k1, k2 = s.buf[g][:m-ne], g, k1-ne, k2-ne
		default: // k1 < nl ≤ k2: the ranks part ways
			x1 := s.rank(s.buf[l][:nl], l, g, k1)
			return x1, s.rank(s.buf[g][:m-nl], g, -1, k2-nl)
		}
	}
}

// median returns the median of a (the mean of the two middle values for
// even len(a)), as the package-level median does, without modifying a.
func (s *vecSel) median(a []float64) float64 {
	n := len(a)
	h := n / 2
	if n%2 == 1 {
		return s.rank(a, -1, -1, h)
	}
	x, y := s.ranks2(a, h-1, h)
	return x/2 + y/2
}

// trimmedMean returns the mean of a without its f smallest and f largest
// values (len(a) > 2f), without modifying a. With x and y the values of
// ranks f and n−f−1, the kept values are those strictly between x and y,
// plus the copies of x and of y whose ranks fall within [f, n−f−1].
func (s *vecSel) trimmedMean(a []float64, f int) float64 {
	n := len(a)
	if f == 0 {
		return sum4(a) / float64(n)
	}
	x, y := s.ranks2(a, f, n-f-1)
	if x == y {
		return x
	}
	sum, leX, ltY := s.sumBetween(a, x, y)
	return trimmedFromParts(n, f, x, y, sum, leX, ltY)
}

// trimmedFromParts returns the mean of n values without the f smallest and
// f largest, given x < y, the values of ranks f and n−f−1, the sum of the
// values strictly between them, and the counts of values ≤ x and < y: the
// kept copies of x are those of rank ≥ f (leX − f of them), the kept
// copies of y those of rank ≤ n−f−1 (n − f − ltY of them).
func trimmedFromParts(n, f int, x, y, between float64, leX, ltY int) float64 {
	return (between + x*float64(leX-f) + y*float64(n-f-ltY)) / float64(n-f-f)
}

func minOf(a []float64) float64 {
	m := a[0]
	for _, v := range a[1:] {
		m = min(m, v)
	}
	return m
}

func maxOf(a []float64) float64 {
	m := a[0]
	for _, v := range a[1:] {
		m = max(m, v)
	}
	return m
}

// ranksSmallGo is the portable ranksSmallAVX512: the value of rank k of a
// is the first a[i] with fewer than k+1 values below it and more than k
// not above it.
func ranksSmallGo(a []float64, k1, k2 int) (x1, x2 float64) {
	found := 0
	for _, x := range a {
		lt, le := 0, 0
		for _, y := range a {
			if y < x {
				lt++
			}
			if y <= x {
				le++
			}
		}
		if lt <= k1 && k1 < le && found&1 == 0 {
			x1, found = x, found|1
		}
		if lt <= k2 && k2 < le && found&2 == 0 {
			x2, found = x, found|2
		}
	}
	if found != 3 {
		panic("robust: rank out of range")
	}
	return x1, x2
}

// partGo is the portable partAVX512: the values of src below p (or equal
// to it, if orEqual) go to lt, the others to ge, both in input order; it
// returns how many went to lt.
func partGo(src, lt, ge []float64, p float64, orEqual bool) int {
	nl, ng := 0, 0
	for _, x := range src {
		if x < p || orEqual && x == p {
			lt[nl] = x
			nl++
		} else {
			ge[ng] = x
			ng++
		}
	}
	return nl
}

// sumBetweenGo is the portable sumBetweenAVX512, adding in the same order:
// eight lanes, lane r taking positions i ≡ r (mod 8) in order, then
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
func sumBetweenGo(src []float64, a, b float64) (sum float64, leA, ltB int) {
	var l [8]float64
	for i, x := range src {
		if x <= a {
			leA++
		}
		if x < b {
			ltB++
			if x > a {
				l[i%8] += x
			}
		}
	}
	return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])), leA, ltB
}
