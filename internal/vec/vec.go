// Package vec holds the small dense float64 kernels that fedgo's packages
// share: a NaN/Inf scan and axpy. They are dst-first and do not allocate;
// they panic if dst is longer than an input (a programmer error).
package vec

import "unsafe"

// FirstNonFinite returns the index of the first NaN or ±Inf in v, or -1.
func FirstNonFinite(v []float64) int {
	// x−x is 0 for finite x and NaN for NaN and ±Inf, so one branch per
	// four elements suffices on the common, all-finite path.
	i := 0
	for ; i+4 <= len(v); i += 4 {
		if s := (v[i] - v[i]) + (v[i+1] - v[i+1]) + (v[i+2] - v[i+2]) + (v[i+3] - v[i+3]); s != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
		if v[i]-v[i] != 0 {
			return i
		}
	}
	return -1
}

// Axpy sets dst += a·x over len(dst) coordinates. Each product is
// rounded before it is added (float64(a*x)): Go lets a compiler fuse a*x+y
// into one FMA (arm64 does, and amd64 with GOAMD64=v3), which rounds once
// and would give other bits on other machines.
func Axpy(dst []float64, a float64, x []float64) {
	x = x[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		dst[i] += float64(a * x[i])
		dst[i+1] += float64(a * x[i+1])
		dst[i+2] += float64(a * x[i+2])
		dst[i+3] += float64(a * x[i+3])
	}
	for ; i < len(dst); i++ {
		dst[i] += float64(a * x[i])
	}
}

// Overlap reports whether a and b share memory.
func Overlap(a, b []float64) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	const size = unsafe.Sizeof(float64(0))
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b))*size && b0 < a0+uintptr(len(a))*size
}
