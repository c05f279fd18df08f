//go:build !amd64 || purego

package gram

const hasFMA = false

func tileFMA(xi, xj *float64, w int, out *[12]float64) {
	panic("gram: no AVX2+FMA kernel on this build")
}

func subFMA(y, x, c *float64, n int, bad *[4]float64) {
	panic("gram: no AVX2+FMA kernel on this build")
}

func prefetchLines(p *float64, n int) {}
