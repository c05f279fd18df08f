package model

// The blocked products of the convolutional and dense layers of a
// Sequential network. Each is a set of the vector kernels of vec.go whose
// results do not depend on one another, so any loop order around them, and
// any register blocking, computes the same bits:
//
//   - mulAddRows is a sequence of axpys per output row. Output element
//     o[i, c] goes through o ← round(a[i,l]·x[l,c]) + o for l = 0, 1, …, k−1,
//     in that order, whatever else is computed in between. A blocked kernel
//     keeps a block of o in registers across all l and loads each x[l, ·]
//     once for all the rows of the block: fewer loads and stores, the same
//     roundings.
//   - dotRows is a set of dots, each summed in dotGo's order (four partial
//     sums by index mod 4, the tail into the first, then (s₀+s₂)+(s₁+s₃)).
//     A blocked kernel keeps the four partial sums of several dots in the
//     four lanes of a register each, and loads each vector once for the dots
//     of the block that share it.
//
// Their variants read the rows of x through a table of offsets
// (mulAddRowsOff; a convolution's unrolled input read in place), gather
// the columns of a dot in groups of four (dotRowsGrp; col2imGrp is its
// adjoint scatter), or skip the axpys of zero weights (mulAddRowsSkip; the
// MLP's gradients).
//
// The *Go functions are the definitions, written on axpy and dot; on amd64
// with AVX2 the layers run the assembly blocks of blocked_amd64.s (VMULPD
// then VADDPD, never a fused multiply-add), and TestBlockedFastEqualsGo
// checks them bit for bit against the definitions. The build tags noasm
// and purego (and a CPU without AVX2) select the definitions.

// mulAddRowsGo adds to each output row i < rows, o[i·ldo : i·ldo+n], the
// products a[i·ars + l·acs] · x[l·ldx : l·ldx+n] for l = 0, …, k−1 in that
// order, each an [axpy]: the matrix product O += A·X with A addressed
// through its row and column strides (ars, acs), so that A or Aᵀ of a
// row-major weight matrix serve alike. o must not overlap a or x. It
// panics if a slice is too short for the shapes or the rows of o overlap.
func mulAddRowsGo(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	checkMulAddRows(o, ldo, a, ars, acs, x, ldx, rows, k, n)
	for i := range rows {
		oi := o[i*ldo : i*ldo+n]
		for l := range k {
			axpy(a[i*ars+l*acs], x[l*ldx:l*ldx+n], oi)
		}
	}
}

// mulAddRowsSkipGo is mulAddRowsGo with the axpys of zero weights (±0)
// skipped, as the MLP's kernels skip the zero entries of their gradient
// (units that were off): skipping leaves −0 and the products 0·±Inf and
// 0·NaN out, where adding them would not. A NaN weight is not skipped.
func mulAddRowsSkipGo(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	checkMulAddRows(o, ldo, a, ars, acs, x, ldx, rows, k, n)
	// The shorter of the two loops outermost (the MLP's weight gradient
	// has few rows of x, its input gradient few rows of o, the minibatch):
	// every output value takes its axpys in the order of l either way.
	if k <= rows {
		for l := range k {
			xl := x[l*ldx : l*ldx+n]
			for i := range rows {
				if v := a[i*ars+l*acs]; v != 0 {
					axpy(v, xl, o[i*ldo:i*ldo+n])
				}
			}
		}
		return
	}
	for i := range rows {
		oi := o[i*ldo : i*ldo+n]
		for l := range k {
			if v := a[i*ars+l*acs]; v != 0 {
				axpy(v, x[l*ldx:l*ldx+n], oi)
			}
		}
	}
}

// mulAddRowsOffGo is mulAddRowsGo with row l of x at x[off[l] : off[l]+n]
// instead of ldx apart: a convolution's unrolled input, read in place
// from its input image. It panics if an offset is out of range.
func mulAddRowsOffGo(o []float64, ldo int, a []float64, ars, acs int, x []float64, off []int, rows, k, n int) {
	checkMulAddRowsOff(o, ldo, a, ars, acs, x, off, rows, k, n)
	for i := range rows {
		oi := o[i*ldo : i*ldo+n]
		for l := range k {
			axpy(a[i*ars+l*acs], x[off[l]:off[l]+n], oi)
		}
	}
}

// dotRowsGo sets (add false) or adds to (add true) g[f·ldg + l] the [dot]
// of d[f·ldd : f·ldd+n] and x[l·ldx : l·ldx+n], for f < fr and l < lr: the
// matrix product D·Xᵀ. An added dot is added last: g ← g + dot. It panics
// if a slice is too short for the shapes.
func dotRowsGo(g []float64, ldg int, d []float64, ldd int, x []float64, ldx int, fr, lr, n int, add bool) {
	checkDotRows(g, ldg, d, ldd, x, ldx, fr, lr, n)
	// The rows of x outermost, each read from memory once for all the rows
	// of d (the order of independent dots does not change their bits).
	for l := range lr {
		xl := x[l*ldx : l*ldx+n]
		for f := range fr {
			v := dot(d[f*ldd:f*ldd+n], xl)
			if add {
				v = g[f*ldg+l] + v
			}
			g[f*ldg+l] = v
		}
	}
}

// dotRowsGrpGo is dotRowsGo on columns of x gathered in groups of four:
// value t of column l is x[grp[t/4] + off[l] + t%4], for t < n = 4·len(grp)
// (a convolution's unrolled input read in place, for an output width that
// is a multiple of four). Each dot is dotGo's on the gathered column: four
// partial sums by t mod 4, then (s₀+s₂) + (s₁+s₃). It panics if an offset
// is out of range.
func dotRowsGrpGo(g []float64, ldg int, d []float64, ldd int, x []float64, off, grp []int, fr, lr int, add bool) {
	checkDotRowsGrp(g, ldg, d, ldd, x, off, grp, fr, lr)
	n := 4 * len(grp)
	for f := range fr {
		df := d[f*ldd : f*ldd+n]
		gf := g[f*ldg : f*ldg+lr]
		for l := range gf {
			var s0, s1, s2, s3 float64
			for q, base := range grp {
				p, dq := x[base+off[l]:base+off[l]+4], df[4*q:4*q+4]
				s0 += float64(dq[0] * p[0])
				s1 += float64(dq[1] * p[1])
				s2 += float64(dq[2] * p[2])
				s3 += float64(dq[3] * p[3])
			}
			v := (s0 + s2) + (s1 + s3)
			if add {
				v = gf[l] + v
			}
			gf[l] = v
		}
	}
}

// col2imGrpGo is col2im for a chunk of n = 4·len(grp) columns read in
// place (off, grp, as dotRowsGrpGo reads them): din[grp[q] + off[l] + u] +=
// dcols[l·n + 4q + u] for the taps l < len(off) in order. The values a tap
// adds go to different inputs, and the taps go in col2im's order, so every
// input takes its additions in col2im's order. It panics if an offset is
// out of range.
func col2imGrpGo(din, dcols []float64, off, grp []int) {
	checkCol2imGrp(din, dcols, off, grp)
	n := 4 * len(grp)
	for l, o := range off {
		row := dcols[l*n : l*n+n]
		for q, base := range grp {
			d, s := din[base+o:base+o+4], row[4*q:4*q+4]
			d[0] += s[0]
			d[1] += s[1]
			d[2] += s[2]
			d[3] += s[3]
		}
	}
}

// need panics unless a slice of length have holds rows rows of n values
// stride apart (the last row ending at (rows−1)·stride + n).
func need(what string, have, rows, stride, n int) {
	if rows < 0 || n < 0 || stride < 0 {
		panic("model: negative shape for " + what)
	}
	if rows == 0 || n == 0 {
		return
	}
	if rows > 1 && stride < 1 {
		panic("model: stride < 1 for " + what)
	}
	// (rows−1)·stride + n ≤ have, without overflow.
	if stride > 0 && rows-1 > (have-n)/stride || n > have {
		panic("model: " + what + " too short for its shape")
	}
}

func checkMulAddRows(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	need("mulAddRows o", len(o), rows, ldo, n)
	if rows > 1 && ldo < n {
		panic("model: mulAddRows output rows overlap")
	}
	need("mulAddRows x", len(x), k, ldx, n)
	if rows == 0 || k == 0 || n == 0 {
		return
	}
	// The last entry of a is a[(rows−1)·ars + (k−1)·acs]: the rows of a
	// are one value long, ars apart, each followed by k−1 more acs apart.
	if ars < 0 || acs < 0 {
		panic("model: negative stride for mulAddRows a")
	}
	need("mulAddRows a", len(a)-(k-1)*acs, rows, ars, 1)
	if k > 1 && acs < 1 {
		panic("model: stride < 1 for mulAddRows a")
	}
}

func checkMulAddRowsOff(o []float64, ldo int, a []float64, ars, acs int, x []float64, off []int, rows, k, n int) {
	checkMulAddRows(o, ldo, a, ars, acs, x, 0, rows, 0, n)
	if rows == 0 || n == 0 || k == 0 {
		return
	}
	need("mulAddRowsOff a", len(a)-(k-1)*acs, rows, ars, 1)
	if k > 1 && acs < 1 || ars < 0 {
		panic("model: bad stride for mulAddRowsOff a")
	}
	if len(off) < k {
		panic("model: mulAddRowsOff: fewer offsets than rows of x")
	}
	for _, v := range off[:k] {
		if v < 0 || v > len(x)-n {
			panic("model: mulAddRowsOff: offset out of range")
		}
	}
}

func checkDotRows(g []float64, ldg int, d []float64, ldd int, x []float64, ldx int, fr, lr, n int) {
	need("dotRows g", len(g), fr, ldg, lr)
	if fr > 1 && ldg < lr {
		panic("model: dotRows output rows overlap")
	}
	need("dotRows d", len(d), fr, ldd, n)
	need("dotRows x", len(x), lr, ldx, n)
}

func checkDotRowsGrp(g []float64, ldg int, d []float64, ldd int, x []float64, off, grp []int, fr, lr int) {
	n := 4 * len(grp)
	checkDotRows(g, ldg, d, ldd, x, 0, fr, lr, 0)
	need("dotRowsGrp d", len(d), fr, ldd, n)
	if fr == 0 || lr == 0 || n == 0 {
		return
	}
	if len(off) < lr {
		panic("model: dotRowsGrp: fewer offsets than columns")
	}
	checkGathered("dotRowsGrp", x, off[:lr], grp)
}

// checkGathered panics unless x[g + o + u] is inside x for every g in grp,
// o in off and u < 4.
func checkGathered(what string, x []float64, off, grp []int) {
	if len(off) == 0 || len(grp) == 0 {
		return
	}
	lo, hi := grp[0], grp[0]
	for _, v := range grp {
		lo, hi = min(lo, v), max(hi, v)
	}
	olo, ohi := off[0], off[0]
	for _, v := range off {
		olo, ohi = min(olo, v), max(ohi, v)
	}
	if lo < 0 || olo < 0 || hi > len(x)-4-ohi {
		panic("model: " + what + ": offset out of range")
	}
}

func checkCol2imGrp(din, dcols []float64, off, grp []int) {
	if len(off)*4*len(grp) > len(dcols) {
		panic("model: col2imGrp: dcols too short")
	}
	checkGathered("col2imGrp", din, off, grp)
}
