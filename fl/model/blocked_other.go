//go:build !amd64 || noasm || gccgo || safe || purego

package model

// Without the assembly, the blocked products are their definitions.

func mulAddRows(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	mulAddRowsGo(o, ldo, a, ars, acs, x, ldx, rows, k, n)
}

func dotRows(g []float64, ldg int, d []float64, ldd int, x []float64, ldx int, fr, lr, n int, add bool) {
	dotRowsGo(g, ldg, d, ldd, x, ldx, fr, lr, n, add)
}

func mulAddRowsOff(o []float64, ldo int, a []float64, ars, acs int, x []float64, off []int, rows, k, n int) {
	mulAddRowsOffGo(o, ldo, a, ars, acs, x, off, rows, k, n)
}

func dotRowsGrp(g []float64, ldg int, d []float64, ldd int, x []float64, off, grp []int, fr, lr int, add bool) {
	dotRowsGrpGo(g, ldg, d, ldd, x, off, grp, fr, lr, add)
}

func col2imGrp(din, dcols []float64, off, grp []int) { col2imGrpGo(din, dcols, off, grp) }

func mulAddRowsSkip(o []float64, ldo int, a []float64, ars, acs int, x []float64, ldx int, rows, k, n int) {
	mulAddRowsSkipGo(o, ldo, a, ars, acs, x, ldx, rows, k, n)
}
