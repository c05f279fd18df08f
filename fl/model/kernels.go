package model

// The matrix products of an MLP minibatch. They run serially, in the
// caller's goroutine, on the blocked kernels of blocked.go (dotRows,
// mulAddRowsSkip): the dots and axpys they always were, in the same order
// per output value, so the bits are the same.
// blas64.Gemm starts goroutines (and allocates) once a product has four or
// more 64×64 blocks, as the weight gradient of a 784→128 layer does; a
// trainer is one of many running side by side in a simulation, so the
// parallelism belongs there. BenchmarkMatmul compares the two.
//
// Matrices are row-major and dense (the stride is the number of columns).

// mulABtBias sets c (m×n) to a (m×k) times wᵀ (w is n×k) plus bias (n) on
// every row: c[r, j] = bias[j] + dot(a[r, :], w[j, :]), each dot added
// to the bias last.
func mulABtBias(c, a, w, bias []float64, m, n, k int) {
	c = c[:m*n]
	for r := range m {
		copy(c[r*n:(r+1)*n], bias[:n])
	}
	// c[r, j] = bias[j] + dot(a[r, :], w[j, :]).
	dotRows(c, n, a, k, w, k, m, n, k, true)
}

// addAtB adds dzᵀ·a to g (n×k) and the column sums of dz to gb (n), where
// dz is m×n and a is m×k. Zero entries of dz (ReLU units that were off) are
// skipped.
func addAtB(g, gb, dz, a []float64, m, n, k int) {
	for r := range m {
		for j, v := range dz[r*n : (r+1)*n] {
			if v != 0 {
				gb[j] += v
			}
		}
	}
	// g[j, :] += dz[r, j]·a[r, :] for r = 0, 1, …, the zero ones skipped.
	mulAddRowsSkip(g, k, dz, 1, n, a, k, n, m, k)
}

// mulAB sets c (m×k) to dz (m×n) times w (n×k).
func mulAB(c, dz, w []float64, m, n, k int) {
	c = c[:m*k]
	clear(c)
	// c[r, :] += dz[r, j]·w[j, :] for j = 0, 1, …, the zero ones skipped.
	mulAddRowsSkip(c, k, dz, n, 1, w, k, m, n, k)
}
