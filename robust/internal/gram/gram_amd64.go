//go:build !purego

package gram

import "golang.org/x/sys/cpu"

// hasAVX2 reports whether tileAVX2 can run.
var hasAVX2 = cpu.X86.HasAVX2

// tileAVX2 sets out[a·4+b], for a < 2 and b < 4, to the four lane sums of
// the dot product of rows a of xi and b of xj (rows w values apart).
//
//go:noescape
func tileAVX2(xi, xj *float64, w int, out *[8][4]float64)
