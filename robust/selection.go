package robust

// selectK reorders a so that a[k] holds the value it would hold if a were
// sorted, every a[i] with i < k is ≤ a[k] and every a[i] with i > k is
// ≥ a[k] (Hoare's quickselect with a median-of-three pivot). The values
// must not be NaN.
func selectK(a []float64, k int) {
	lo, hi := 0, len(a)-1
	for hi-lo > 16 {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return // j < k < i: a[k] equals the pivot and is in place
		}
	}
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

// selectIdx reorders idx so that its first k entries are the k indices with
// the smallest (key, index), in no particular order.
func selectIdx(idx []int32, key []float64, k int) {
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

// sortIdx sorts idx by (key, index) with insertion sort; idx is short.
func sortIdx(idx []int32, key []float64) {
	for i := 1; i < len(idx); i++ {
		v := idx[i]
		j := i - 1
		for ; j >= 0 && keyLess(key, v, idx[j]); j-- {
			idx[j+1] = idx[j]
		}
		idx[j+1] = v
	}
}
