//go:build !amd64 || purego

package gram

const hasAVX2 = false

func tileAVX2(xi, xj *float64, w int, out *[8][4]float64) {
	panic("gram: no AVX2 kernel on this build")
}
