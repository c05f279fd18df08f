package secagg

import "runtime"

// A client's blocking calls (ShareKeys, MaskedInput) fan their
// independent work out to up to ClientConfig.Workers goroutines
// (GOMAXPROCS by default) and join them before returning; small work runs
// on the calling goroutine. The results do not depend on the number of
// workers: every job writes its own output slot, errors are reported in
// job order (the first failing job wins, whichever goroutine ran it), and
// the masks are added to disjoint ranges of the accumulator.

const (
	// minCryptoJobs is the least number of public-key jobs (X25519
	// agreements, base-point multiplications, Feldman checks: 10 to
	// 70 µs each) worth starting goroutines for.
	minCryptoJobs = 4
	// minLightJobs is the same for light jobs (a key derivation and a
	// 64-byte AES-GCM seal or open: a few µs each).
	minLightJobs = 8
	// minMaskWords is the least number of accumulator words per goroutine
	// in the mask expansion (64 KiB of keystream per seed).
	minMaskWords = 8192
)

// workers returns the number of goroutines a blocking call may use.
func (c *Client) workers() int {
	if c.cfg.Workers > 0 {
		return c.cfg.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// fanOut runs fn(i) for every i in [0, n), on the calling goroutine when
// workers ≤ 1 or n < minJobs, else on up to workers goroutines; it
// returns when all calls have returned.
func fanOut(n, minJobs, workers int, fn func(i int)) {
	if n < minJobs {
		workers = 1
	}
	parallelFor(n, workers, func(_, i int) { fn(i) })
}

// firstErr returns the index and value of the first non-nil error, or
// (-1, nil).
func firstErr(errs []error) (int, error) {
	for i, err := range errs {
		if err != nil {
			return i, err
		}
	}
	return -1, nil
}

// maskRanges splits an accumulator of n words into at most workers
// ranges of at least minMaskWords words each (one range when that is not
// possible), at even offsets as addMasksAt requires. bounds[i] and
// bounds[i+1] delimit range i.
func maskRanges(n, workers int) []int {
	r := max(1, min(workers, n/minMaskWords))
	bounds := make([]int, r+1)
	for i := 1; i < r; i++ {
		bounds[i] = (n * i / r) &^ 1
	}
	bounds[r] = n
	return bounds
}
