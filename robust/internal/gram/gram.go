// Package gram adds the Gram matrix of a block of vectors to an
// accumulator: the kernel behind package robust's pairwise distances.
//
// # Definition (the same bits on every path)
//
// [Add] adds to g[i·n+j], for i ≤ j < n, the dot product of rows i and j
// of x (n rows of w values, w a multiple of 4), computed as four lane sums
// — lane r takes, for k ≡ r (mod 4) in increasing k, the fused
// multiply-add l ← x[i][k]·x[j][k] + l (math.FMA: the exact product plus l,
// rounded once), starting from +0 — then (l₀ + l₁) + (l₂ + l₃). A fused
// multiply-add is exactly defined (IEEE 754 fusedMultiplyAdd), so every
// correct implementation gives the same bits. On amd64 with AVX2 and FMA
// (golang.org/x/sys/cpu; not with the purego build tag) the lanes are those
// of a ymm register and a 3×4 tile of dot products runs at once
// (VFMADD231PD); elsewhere a Go loop computes the same sums in the same
// order with math.FMA, which is one instruction on arm64, ppc64x, s390x,
// riscv64 and amd64 with FMA, and a slower software routine on processors
// without one. Tests compare the two paths bit for bit.
//
// [Center] writes the centered copy of a block that Add then reads (plain
// subtraction, four values at a time on AVX2), and [AddPrefetch] is Add
// that brings the next block's rows into the cache while it runs (a hint:
// the same bits).
package gram

import "math"

// Add adds the dot products of the rows of x (n rows of w values, stored
// row after row) to the upper triangle of g (n×n, row-major), as the
// package doc defines them. It panics unless w is a multiple of 4 and x
// and g are long enough.
func Add(g, x []float64, n, w int) { add(g, x, n, w, !hasFMA, nil, 0, 0) }

// AddPrefetch is [Add] that, while it runs, asks the processor to bring
// rows[i][off:off+nw] into the cache for every row i (the next block the
// caller will read): the memory reads then overlap the arithmetic. It
// computes exactly what Add computes, and panics where Add does or if a
// row is shorter than off+nw.
func AddPrefetch(g, x []float64, n, w int, rows [][]float64, off, nw int) {
	add(g, x, n, w, !hasFMA, rows, off, nw)
}

// prefetcher spreads the cache lines of the next block over the tiles.
type prefetcher struct {
	rows    [][]float64
	off, nw int
	r, k    int // next row, next value in it
	per     int // lines per tile
}

// step asks for the next per lines.
func (p *prefetcher) step() {
	for left := p.per; left > 0 && p.r < len(p.rows); {
		m := min(left, (p.nw-p.k+7)/8)
		prefetchLines(&p.rows[p.r][p.off+p.k], m)
		left -= m
		p.k += 8 * m
		if p.k >= p.nw {
			p.r, p.k = p.r+1, 0
		}
	}
}

func add(g, x []float64, n, w int, portable bool, next [][]float64, off, nw int) {
	if w%4 != 0 || len(x) < n*w || len(g) < n*n {
		panic("gram: w not a multiple of 4, or short x or g")
	}
	if w == 0 {
		return
	}
	var out [12]float64
	if n < 4 {
		tileGo(x, w, 0, n, 0, n, &out)
		put(g, n, &out, 0, 0, 0, 0, n, n)
		return
	}
	// 3×4 tiles of rows [ii, ii+3) × [jj, jj+4); the last tile of a row or
	// column is moved back inside the matrix (ii ≤ i, jj ≤ j) and only its
	// entries that no earlier tile added (rows ≥ i, columns ≥ j) are added:
	// a dot product does not depend on the tile it is computed in.
	var pf prefetcher
	if len(next) > 0 && nw > 0 {
		for _, r := range next {
			_ = r[off+nw-1] // bounds: a hint must not read past a row
		}
		if !portable {
			tiles := ((n + 2) / 3) * ((n+3)/4/2 + 1)
			pf = prefetcher{rows: next, off: off, nw: nw, per: (len(next)*(nw+7)/8 + tiles - 1) / tiles}
		}
	}
	for i := 0; i < n; i += 3 {
		ii := min(i, n-3)
		for j := ii; j < n; j += 4 {
			jj := min(j, n-4)
			if portable {
				tile34Go(x, w, ii, jj, &out)
			} else {
				tileFMA(&x[ii*w], &x[jj*w], w, &out)
				pf.step()
			}
			put(g, n, &out, ii, jj, i, j, ii+3, jj+4)
		}
	}
}

// put adds to g[a·n+b], for a in [i, i2) and b in [max(j, a), j2), the
// dot product out[(a−ii)·4+b−jj] of a tile whose first row is ii and first
// column jj.
func put(g []float64, n int, out *[12]float64, ii, jj, i, j, i2, j2 int) {
	for a := i; a < i2; a++ {
		for b := max(j, a); b < j2; b++ {
			g[a*n+b] += out[(a-ii)*4+b-jj]
		}
	}
}

// tile34Go is tileGo for a whole 3×4 tile: lane by lane (positions
// r, r+4, r+8, … in order), twelve dot products at once, so that each value
// loaded serves three or four products.
func tile34Go(x []float64, w, i, j int, out *[12]float64) {
	a0, a1, a2 := x[i*w:i*w+w], x[(i+1)*w:(i+1)*w+w], x[(i+2)*w:(i+2)*w+w]
	b0, b1, b2, b3 := x[j*w:j*w+w], x[(j+1)*w:(j+1)*w+w], x[(j+2)*w:(j+2)*w+w], x[(j+3)*w:(j+3)*w+w]
	var lanes [12][4]float64
	for r := range 4 {
		var s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23 float64
		for k := r; k < w; k += 4 {
			u0, u1, u2 := a0[k], a1[k], a2[k]
			v0, v1, v2, v3 := b0[k], b1[k], b2[k], b3[k]
			s00 = math.FMA(u0, v0, s00)
			s01 = math.FMA(u0, v1, s01)
			s02 = math.FMA(u0, v2, s02)
			s03 = math.FMA(u0, v3, s03)
			s10 = math.FMA(u1, v0, s10)
			s11 = math.FMA(u1, v1, s11)
			s12 = math.FMA(u1, v2, s12)
			s13 = math.FMA(u1, v3, s13)
			s20 = math.FMA(u2, v0, s20)
			s21 = math.FMA(u2, v1, s21)
			s22 = math.FMA(u2, v2, s22)
			s23 = math.FMA(u2, v3, s23)
		}
		lanes[0][r], lanes[1][r], lanes[2][r], lanes[3][r] = s00, s01, s02, s03
		lanes[4][r], lanes[5][r], lanes[6][r], lanes[7][r] = s10, s11, s12, s13
		lanes[8][r], lanes[9][r], lanes[10][r], lanes[11][r] = s20, s21, s22, s23
	}
	for p, l := range &lanes {
		out[p] = (l[0] + l[1]) + (l[2] + l[3])
	}
}

// tileGo sets out[(a−i)·4+b−j] to the dot product of rows a and b of x,
// for a in [i, i2) and b in [j, j2): four lane sums folded as
// (l₀ + l₁) + (l₂ + l₃).
func tileGo(x []float64, w, i, i2, j, j2 int, out *[12]float64) {
	for a := i; a < i2; a++ {
		ra := x[a*w : a*w+w]
		for b := j; b < j2; b++ {
			rb := x[b*w : b*w+w]
			var l0, l1, l2, l3 float64
			for k := 0; k < w; k += 4 {
				l0 = math.FMA(ra[k], rb[k], l0)
				l1 = math.FMA(ra[k+1], rb[k+1], l1)
				l2 = math.FMA(ra[k+2], rb[k+2], l2)
				l3 = math.FMA(ra[k+3], rb[k+3], l3)
			}
			out[(a-i)*4+b-j] = (l0 + l1) + (l2 + l3)
		}
	}
}
