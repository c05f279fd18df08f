package model

// The vector kernels every model in this package computes with. Each has a
// portable Go definition (the *Go functions) whose order of operations is
// fixed, with every product rounded before it is added (the explicit
// float64 conversions forbid the compiler to fuse a multiply and an add,
// which Go allows on arm64, ppc64le and s390x). On amd64 they run on
// gonum's assembly, which computes exactly the same: TestVecFastEqualsGo
// checks it bit for bit. So a model gives the same bits on every GOARCH.

// axpyGo adds alpha·x to y: y[i] += alpha·x[i], the product rounded first.
// It panics if len(y) < len(x).
func axpyGo(alpha float64, x, y []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += float64(alpha * v)
	}
}

// dotGo returns Σ x[i]·y[i] in gonum's amd64 order: four partial sums,
// s_j over the indices i ≡ j (mod 4) of the leading multiple of four, the
// remaining one to three products added to s₀, and (s₀+s₂) + (s₁+s₃).
// It panics if len(y) < len(x).
func dotGo(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i] * y[i])
		s1 += float64(x[i+1] * y[i+1])
		s2 += float64(x[i+2] * y[i+2])
		s3 += float64(x[i+3] * y[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i] * y[i])
	}
	return (s0 + s2) + (s1 + s3)
}

// sum returns Σ x[i], added in order. (No fast path: it is cheap where it
// is used.)
func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

// addRowSums adds to g[f] the sum of d[f·ld : f·ld+n], added in order
// from 0 as [sum] does, for f < rows. Four rows are summed side
// by side: four independent chains of additions instead of one, each in
// its own order. It panics if d is too short.
func addRowSums(g, d []float64, ld, rows, n int) {
	need("addRowSums d", len(d), rows, ld, n)
	g = g[:rows]
	f := 0
	for ; f+4 <= rows; f += 4 {
		r0, r1, r2, r3 := d[f*ld:f*ld+n], d[(f+1)*ld:(f+1)*ld+n], d[(f+2)*ld:(f+2)*ld+n], d[(f+3)*ld:(f+3)*ld+n]
		var s0, s1, s2, s3 float64
		for t := range r0 {
			s0 += r0[t]
			s1 += r1[t]
			s2 += r2[t]
			s3 += r3[t]
		}
		g[f] += s0
		g[f+1] += s1
		g[f+2] += s2
		g[f+3] += s3
	}
	for ; f < rows; f++ {
		g[f] += sum(d[f*ld : f*ld+n])
	}
}

// addTo adds x to y: y[i] += x[i]. It panics if len(y) < len(x).
func addTo(y, x []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += v
	}
}
