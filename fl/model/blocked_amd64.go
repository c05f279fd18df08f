//go:build !noasm && !gccgo && !safe && !purego

package model

import "golang.org/x/sys/cpu"

// hasAVX2 reports whether the blocked kernels of blocked_amd64.s can run
// (AVX and AVX2, with the OS saving the YMM registers, as x/sys/cpu
// checks). It is set once, at initialisation, and never changed.
var hasAVX2 = cpu.X86.HasAVX && cpu.X86.HasAVX2

// mulAddRows is mulAddRowsGo, on the AVX2 blocks where the CPU has them.
func mulAddRows(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	if hasAVX2 {
		mulAddRowsAVX2(o, ldo, a, ars, acs, x, ldx, rows, k, n)
		return
	}
	mulAddRowsGo(o, ldo, a, ars, acs, x, ldx, rows, k, n)
}

// mulAddRowsOff is mulAddRowsOffGo, on the AVX2 blocks where the CPU has
// them.
func mulAddRowsOff(o []float64, ldo int, a []float64, ars, acs int, x []float64, off []int, rows, k, n int) {
	if hasAVX2 {
		mulAddRowsOffAVX2(o, ldo, a, ars, acs, x, off, rows, k, n)
		return
	}
	mulAddRowsOffGo(o, ldo, a, ars, acs, x, off, rows, k, n)
}

// mulAddRowsSkip is mulAddRowsSkipGo, on the AVX2 blocks where the CPU
// has them.
func mulAddRowsSkip(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	if hasAVX2 {
		mulAddRowsSkipAVX2(o, ldo, a, ars, acs, x, ldx, rows, k, n)
		return
	}
	mulAddRowsSkipGo(o, ldo, a, ars, acs, x, ldx, rows, k, n)
}

// mulAddRowsSkipAVX2 is mulAddRowsAVX2 for mulAddRowsSkipGo.
func mulAddRowsSkipAVX2(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	mulAddRowsBlocks(o, ldo, a, ars, acs, x, ldx, rows, k, n, mulAddSkip4x8, mulAddSkip2x8, mulAddRowsSkipGo)
}

// dotRows is dotRowsGo, on the AVX2 blocks where the CPU has them.
func dotRows(g []float64, ldg int, d []float64, ldd int, x []float64, ldx int, fr, lr, n int, add bool) {
	if hasAVX2 {
		dotRowsAVX2(g, ldg, d, ldd, x, ldx, fr, lr, n, add)
		return
	}
	dotRowsGo(g, ldg, d, ldd, x, ldx, fr, lr, n, add)
}

//go:noescape
func mulAdd4x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)

//go:noescape
func mulAdd2x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)

//go:noescape
func mulAdd4x8Off(o *float64, ldo int, a *float64, ars, acs int, x *float64, off *int, k, nb int)

//go:noescape
func mulAdd2x8Off(o *float64, ldo int, a *float64, ars, acs int, x *float64, off *int, k, nb int)

//go:noescape
func dot2x4Grp(gp *float64, ldg int, d *float64, ldd int, x *float64, off, grp *int, ngb, nlb, add int)

//go:noescape
func col2imGrpAVX2(din, dcols *float64, off, grp *int, nl, ng int)

//go:noescape
func mulAddSkip4x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)

//go:noescape
func mulAddSkip2x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)

//go:noescape
func dot2x4(gp *float64, ldg int, d *float64, ldd int, x *float64, ldx int, n4b, nb, nlb, add int)

// mulAddRowsAVX2 computes mulAddRowsGo with mulAdd4x8 and mulAdd2x8 on the
// leading multiple of eight columns, rows four (then two) at a time; a
// last odd row and the last one to seven columns go through
// mulAddRowsGo. It must only be called where hasAVX2.
func mulAddRowsAVX2(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	mulAddRowsBlocks(o, ldo, a, ars, acs, x, ldx, rows, k, n, mulAdd4x8, mulAdd2x8, mulAddRowsGo)
}

// mulAddRowsBlocks runs the 4×8 and 2×8 blocks k4 and k2 over the rows and
// columns they cover and the portable twin tail over the rest (the last
// one to seven columns, the last odd row).
func mulAddRowsBlocks(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int,
	k4, k2 func(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int),
	tail func(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int)) {
	checkMulAddRows(o, ldo, a, ars, acs, x, ldx, rows, k, n)
	if rows == 0 || k == 0 || n == 0 {
		return
	}
	nb := n / 8
	i := 0
	if nb > 0 {
		for ; i+4 <= rows; i += 4 {
			k4(&o[i*ldo], ldo, &a[i*ars], ars, acs, &x[0], ldx, k, nb)
		}
		if i+2 <= rows {
			k2(&o[i*ldo], ldo, &a[i*ars], ars, acs, &x[0], ldx, k, nb)
			i += 2
		}
	}
	if c := nb * 8; c < n {
		tail(o[c:], ldo, a, ars, acs, x[c:], ldx, i, k, n-c)
	}
	if i < rows {
		tail(o[i*ldo:], ldo, a[i*ars:], ars, acs, x, ldx, rows-i, k, n)
	}
}

// mulAddRowsOffAVX2 is mulAddRowsAVX2 for mulAddRowsOffGo.
func mulAddRowsOffAVX2(o []float64, ldo int, a []float64, ars, acs int, x []float64, off []int, rows, k, n int) {
	checkMulAddRowsOff(o, ldo, a, ars, acs, x, off, rows, k, n)
	if rows == 0 || k == 0 || n == 0 {
		return
	}
	nb := n / 8
	i := 0
	if nb > 0 {
		for ; i+4 <= rows; i += 4 {
			mulAdd4x8Off(&o[i*ldo], ldo, &a[i*ars], ars, acs, &x[0], &off[0], k, nb)
		}
		if i+2 <= rows {
			mulAdd2x8Off(&o[i*ldo], ldo, &a[i*ars], ars, acs, &x[0], &off[0], k, nb)
			i += 2
		}
	}
	if c := nb * 8; c < n {
		mulAddRowsOffGo(o[c:], ldo, a, ars, acs, x[c:], off, i, k, n-c)
	}
	if i < rows {
		mulAddRowsOffGo(o[i*ldo:], ldo, a[i*ars:], ars, acs, x, off, rows-i, k, n)
	}
}

// dotRowsGrp is dotRowsGrpGo, on the AVX2 blocks where the CPU has them.
func dotRowsGrp(g []float64, ldg int, d []float64, ldd int, x []float64, off, grp []int, fr, lr int, add bool) {
	if hasAVX2 {
		dotRowsGrpAVX2(g, ldg, d, ldd, x, off, grp, fr, lr, add)
		return
	}
	dotRowsGrpGo(g, ldg, d, ldd, x, off, grp, fr, lr, add)
}

// dotRowsGrpAVX2 is dotRowsAVX2 for dotRowsGrpGo, with dot2x4Grp.
func dotRowsGrpAVX2(g []float64, ldg int, d []float64, ldd int, x []float64, off, grp []int, fr, lr int, add bool) {
	checkDotRowsGrp(g, ldg, d, ldd, x, off, grp, fr, lr)
	if fr < 2 || lr < 4 || len(grp) == 0 {
		dotRowsGrpGo(g, ldg, d, ldd, x, off, grp, fr, lr, add)
		return
	}
	flag := 0
	if add {
		flag = 1
	}
	nlb := lr / 4
	f := 0
	for ; f+2 <= fr; f += 2 {
		dot2x4Grp(&g[f*ldg], ldg, &d[f*ldd], ldd, &x[0], &off[0], &grp[0], 32*len(grp), nlb, flag)
	}
	if l := nlb * 4; l < lr {
		// The last one to three columns: one more block over the last
		// four columns into tmp, of which the new ones are kept (a dot
		// is the same wherever it is computed).
		var tmp [8]float64
		for f := 0; f+2 <= fr; f += 2 {
			dot2x4Grp(&tmp[0], 4, &d[f*ldd], ldd, &x[0], &off[lr-4], &grp[0], 32*len(grp), 1, 0)
			keepTail(g[f*ldg:], ldg, tmp, l, lr, add)
		}
	}
	if f < fr {
		dotRowsGrpGo(g[f*ldg:], ldg, d[f*ldd:], ldd, x, off, grp, fr-f, lr, add)
	}
}

// col2imGrp is col2imGrpGo, in AVX2 where the CPU has it.
func col2imGrp(din, dcols []float64, off, grp []int) {
	checkCol2imGrp(din, dcols, off, grp)
	if !hasAVX2 {
		col2imGrpGo(din, dcols, off, grp)
		return
	}
	if len(off) > 0 && len(grp) > 0 {
		col2imGrpAVX2(&din[0], &dcols[0], &off[0], &grp[0], len(off), len(grp))
	}
}

// dotRowsAVX2 computes dotRowsGo with dot2x4 on pairs of rows of d and
// blocks of four rows of x; a last odd row of d and the last one to three
// rows of x go through dotRowsGo. It must only be called where hasAVX2.
func dotRowsAVX2(g []float64, ldg int, d []float64, ldd int, x []float64, ldx int, fr, lr, n int, add bool) {
	checkDotRows(g, ldg, d, ldd, x, ldx, fr, lr, n)
	if fr == 0 || lr == 0 {
		return
	}
	if n == 0 || fr < 2 || lr < 4 {
		dotRowsGo(g, ldg, d, ldd, x, ldx, fr, lr, n, add)
		return
	}
	flag := 0
	if add {
		flag = 1
	}
	nlb := lr / 4
	f := 0
	for ; f+2 <= fr; f += 2 {
		dot2x4(&g[f*ldg], ldg, &d[f*ldd], ldd, &x[0], ldx, (n&^3)*8, n*8, nlb, flag)
	}
	if l := nlb * 4; l < lr {
		var tmp [8]float64
		for f := 0; f+2 <= fr; f += 2 {
			dot2x4(&tmp[0], 4, &d[f*ldd], ldd, &x[(lr-4)*ldx], ldx, (n&^3)*8, n*8, 1, 0)
			keepTail(g[f*ldg:], ldg, tmp, l, lr, add)
		}
	}
	if f < fr {
		dotRowsGo(g[f*ldg:], ldg, d[f*ldd:], ldd, x, ldx, fr-f, lr, n, add)
	}
}

// keepTail sets or adds to g[ff·ldg + c], for the two rows ff < 2 and the
// columns l ≤ c < lr, the dot tmp[ff·4 + c − (lr−4)] of a block computed
// over the columns lr−4 … lr−1.
func keepTail(g []float64, ldg int, tmp [8]float64, l, lr int, add bool) {
	for ff := range 2 {
		for c := l; c < lr; c++ {
			v := tmp[ff*4+c-(lr-4)]
			if add {
				v = g[ff*ldg+c] + v
			}
			g[ff*ldg+c] = v
		}
	}
}
