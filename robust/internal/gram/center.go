package gram

import "math"

// Center writes the block [off, off+len(c)) of the n = len(rows) rows,
// centered on c, to dst as n rows of w4 values: dst[i·w4+k] = rows[i][off+k]
// − c[k] (one rounded subtraction) for k < len(c), and +0 for len(c) ≤ k <
// w4 (adding +0 products leaves [Add]'s lane sums unchanged). It reports
// whether every value it read from rows was finite (dst is then
// unspecified). On amd64 with AVX2 and FMA four values run at a time; both
// paths write the same bits. It panics unless len(c) ≤ w4, w4 is a
// multiple of 4, dst holds n·w4 values and every row reaches off+len(c).
func Center(dst []float64, rows [][]float64, off int, c []float64, w4 int) bool {
	return center(dst, rows, off, c, w4, !hasFMA)
}

func center(dst []float64, rows [][]float64, off int, c []float64, w4 int, portable bool) bool {
	w := len(c)
	if w > w4 || w4%4 != 0 || len(dst) < len(rows)*w4 {
		panic("gram: Center: len(c) > w4, w4 not a multiple of 4, or short dst")
	}
	ok := true
	for i, r := range rows {
		x := r[off : off+w]
		y := dst[i*w4 : (i+1)*w4]
		k := 0
		if !portable {
			k = w &^ 3
			if k > 0 {
				var bad [4]float64
				subFMA(&y[0], &x[0], &c[0], k, &bad)
				// bad holds ±0 lanes unless x held an Inf or a NaN: x·0 is
				// NaN exactly for those, and NaN stays.
				ok = ok && bad[0] == 0 && bad[1] == 0 && bad[2] == 0 && bad[3] == 0
			}
		}
		for ; k < w; k++ {
			v := x[k]
			ok = ok && !math.IsNaN(v) && !math.IsInf(v, 0)
			y[k] = v - c[k]
		}
		clear(y[w:])
	}
	return ok
}
