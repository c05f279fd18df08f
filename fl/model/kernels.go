package model

// The matrix products of an MLP minibatch. They run serially, in the
// caller's goroutine, on gonum's assembly dot and axpy kernels.
// blas64.Gemm starts goroutines (and allocates) once a product has four or
// more 64×64 blocks, as the weight gradient of a 784→128 layer does; a
// trainer is one of many running side by side in a simulation, so the
// parallelism belongs there. BenchmarkMatmul compares the two.
//
// Matrices are row-major and dense (the stride is the number of columns).

// mulABtBias sets c (m×n) to a (m×k) times wᵀ (w is n×k) plus bias (n) on
// every row.
//
// The loop over w's rows is outermost, so that each row of w is read from
// memory once per minibatch rather than once per example: the weights of a
// wide layer do not fit in cache, the minibatch does.
func mulABtBias(c, a, w, bias []float64, m, n, k int) {
	c = c[:m*n]
	for j := range n {
		wj := w[j*k : (j+1)*k]
		bj := bias[j]
		for r := range m {
			c[r*n+j] = bj + dot(a[r*k:(r+1)*k], wj)
		}
	}
}

// addAtB adds dzᵀ·a to g (n×k) and the column sums of dz to gb (n), where
// dz is m×n and a is m×k. Zero entries of dz (ReLU units that were off) are
// skipped.
func addAtB(g, gb, dz, a []float64, m, n, k int) {
	for r := range m {
		ar := a[r*k : (r+1)*k]
		for j, v := range dz[r*n : (r+1)*n] {
			if v != 0 {
				gb[j] += v
				axpy(v, ar, g[j*k:(j+1)*k])
			}
		}
	}
}

// mulAB sets c (m×k) to dz (m×n) times w (n×k).
func mulAB(c, dz, w []float64, m, n, k int) {
	for r := range m {
		cr := c[r*k : (r+1)*k]
		clear(cr)
		for j, v := range dz[r*n : (r+1)*n] {
			if v != 0 {
				axpy(v, w[j*k:(j+1)*k], cr)
			}
		}
	}
}
