package model

import (
	"fmt"
	"math"
)

// Padding is the padding of a [Conv2D].
type Padding int

const (
	// Valid convolves only where the kernel fits inside the image: the
	// output is ⌊(H−K)/S⌋+1 high (PyTorch's padding=0).
	Valid Padding = iota
	// Same pads with zeros so that the output is ⌈H/S⌉ high, putting the
	// odd one of the padding at the bottom and right (TensorFlow's
	// padding="SAME"; with stride 1 and an odd kernel, PyTorch's
	// padding=(K−1)/2).
	Same
)

// pad returns the output length and the padding before the first input,
// for an input of length n.
func (p Padding) pad(n, k, s int) (out, before int) {
	if p == Same {
		out = (n + s - 1) / s
		total := max((out-1)*s+k-n, 0)
		return out, total / 2
	}
	return (n-k)/s + 1, 0
}

// maxKernel bounds a convolution's or a pooling window's side and stride.
const maxKernel = 1 << 12

// Conv2D is a two-dimensional convolution (strictly, a cross-correlation,
// as in every deep-learning framework) of Filters kernels of Kernel×Kernel
// over all input channels, plus a bias per filter.
//
// Its parameters are the weights, Filters×C×Kernel×Kernel (filter, input
// channel, kernel row, kernel column; PyTorch's Conv2d.weight), followed by
// the Filters biases. Output pixel (f, y, x) is
//
//	bias[f] + Σ_{c,i,j} w[f,c,i,j] · in[c, y·S+i−P, x·S+j−P]
//
// with S the stride, P the padding before the first row (column) and the
// input taken as 0 outside the image.
type Conv2D struct {
	Filters int     // output channels, ≥ 1
	Kernel  int     // side of the square kernel, ≥ 1
	Stride  int     // ≥ 1; 0 means 1
	Padding Padding // Valid or Same
}

func (l Conv2D) stride() int { return max(l.Stride, 1) }

// OutShape returns {Filters, H', W'}, with H' and W' as the [Padding]
// documents.
func (l Conv2D) OutShape(in Shape) (Shape, error) {
	s := l.stride()
	switch {
	case l.Filters < 1 || l.Kernel < 1:
		return Shape{}, fmt.Errorf("%w: Conv2D Filters %d and Kernel %d must be ≥ 1", ErrInvalidModel, l.Filters, l.Kernel)
	case l.Kernel > maxKernel || l.Stride < 0 || l.Stride > maxKernel:
		return Shape{}, fmt.Errorf("%w: Conv2D Kernel %d or Stride %d out of range", ErrInvalidModel, l.Kernel, l.Stride)
	case l.Padding != Valid && l.Padding != Same:
		return Shape{}, fmt.Errorf("%w: Conv2D Padding %d", ErrInvalidModel, l.Padding)
	case l.Padding == Valid && (in.H < l.Kernel || in.W < l.Kernel):
		return Shape{}, fmt.Errorf("%w: Conv2D kernel %d×%d larger than its input %v", ErrInvalidModel, l.Kernel, l.Kernel, in)
	case float64(l.Filters)*float64(in.C)*float64(l.Kernel*l.Kernel) > maxParams:
		return Shape{}, fmt.Errorf("%w: Conv2D has too many parameters", ErrInvalidModel)
	}
	oh, _ := l.Padding.pad(in.H, l.Kernel, s)
	ow, _ := l.Padding.pad(in.W, l.Kernel, s)
	return Shape{l.Filters, oh, ow}, nil
}

// NumParams returns Filters·(C·Kernel² + 1).
func (l Conv2D) NumParams(in Shape) int { return l.Filters * (in.C*l.Kernel*l.Kernel + 1) }

func (l Conv2D) newKernel(in Shape, maxBatch int) kernel {
	s := l.stride()
	k := &convKernel{
		cin: in.C, h: in.H, w: in.W,
		cout: l.Filters, k: l.Kernel, s: s,
		kk: in.C * l.Kernel * l.Kernel,
	}
	k.oh, k.padT = l.Padding.pad(in.H, l.Kernel, s)
	k.ow, k.padL = l.Padding.pad(in.W, l.Kernel, s)
	k.cols = make([]float64, k.kk*colChunk)
	k.dcols = make([]float64, k.kk*colChunk)
	k.off = make([]int, 0, k.kk)
	k.grp = make([]int, 0, colChunk/4)
	k.dchunk = make([]float64, k.cout*doutLd)
	k.inPlace = s == 1 && k.padT == 0 && k.padL == 0 && k.oh+k.k-1 <= k.h && k.ow+k.k-1 <= k.w
	return k
}

// colChunk is the number of output pixels (columns of the im2col matrix)
// a convolution processes at a time: the chunk of the unrolled input, up to
// K²·C×colChunk values, stays in cache for the matrix product that follows.
const colChunk = 256

// doutLd is the distance between the rows of a chunk of a convolution's
// output gradient copied for the input gradient: colChunk plus one cache
// line, so that the rows fall in different sets of the cache.
const doutLd = colChunk + 8

// convKernel computes a Conv2D as im2col followed by a matrix product
// (Chellapilla, Puri and Simard 2006), over the whole minibatch at once:
// the input C×b×H×W is unrolled into the matrix cols of kk = C·K² rows and
// b·H'·W' columns, one per output pixel, and the output Cout×(b·H'·W') is
// W·cols plus the biases, already in the C×b×H×W layout. The columns are
// processed colChunk at a time, so cols is never materialised whole.
//
// With stride 1 and every tap inside the image (inPlace), row l of cols
// is the input shifted by the tap's offset, so the products read it in
// place: the forward pass one output row at a time (mulAddRowsOff), the
// weight gradient four columns at a time when W' is a multiple of four
// (dotRowsGrp), and the input gradient scatters back the same way
// (col2imGrp). They compute the same axpys and dots in the same order as
// the im2col path, so the bits do not depend on the path
// (TestConvInPlaceSameBits).
type convKernel struct {
	cin, h, w   int // input
	cout, k, s  int
	oh, ow      int // output
	padT, padL  int
	kk          int       // cin·k·k, the rows of cols
	cols, dcols []float64 // kk×colChunk
	off         []int     // kk offsets of the taps in the input, if inPlace
	grp         []int     // colChunk/4 offsets of a chunk's groups of columns
	dchunk      []float64 // a chunk of dout, cout rows doutLd apart
	inPlace     bool      // stride 1, every tap inside the image
}

// groups sets c.grp[q], for the columns j0+4q … j0+4q+3 of a chunk of n
// (n and j0 multiples of four, W' too), to the offset r·H·W + y·W + x of
// the input that the first of them, output pixel (r, y, x), sees through
// the tap (0, 0, 0): the four columns are the next four values.
func (c *convKernel) groups(j0, n int) {
	grp := c.grp[:0]
	ohw := c.oh * c.ow
	r, rem := j0/ohw, j0%ohw
	y, x := rem/c.ow, rem%c.ow
	for range n / 4 {
		grp = append(grp, (r*c.h+y)*c.w+x)
		if x += 4; x == c.ow {
			x = 0
			if y++; y == c.oh {
				y = 0
				r++
			}
		}
	}
	c.grp = grp
}

// tapOffsets sets c.off[l], for the tap l = (ci, i, jj), to the offset
// ci·b·H·W + i·W + jj of the input that output pixel (0, 0, 0) sees
// through it; pixel (r, y, x) sees it at r·H·W + y·W + x further on.
func (c *convKernel) tapOffsets(b int) []int {
	off := c.off[:0]
	for ci := range c.cin {
		for i := range c.k {
			for jj := range c.k {
				off = append(off, ci*b*c.h*c.w+i*c.w+jj)
			}
		}
	}
	return off
}

// im2col writes the columns j0 ≤ j < j0+n of the unrolled input to
// cols (kk×n, row-major). Column j is the output pixel (r, y, x) with
// j = (r·H' + y)·W' + x; row l is the kernel tap (ci, i, jj) with
// l = (ci·K + i)·K + jj; the entry is in[ci, r, y·S+i−P, x·S+jj−P], or 0
// in the padding.
func (c *convKernel) im2col(cols, in []float64, b, j0, n int) {
	hw := c.h * c.w
	l := 0
	for ci := range c.cin {
		plane := in[ci*b*hw : (ci+1)*b*hw]
		for i := range c.k {
			for jj := range c.k {
				c.walk(cols[l*n:(l+1)*n], plane, j0, i, jj, false)
				l++
			}
		}
	}
}

// col2im adds the columns j0 ≤ j < j0+n of dcols (kk×n) back into the
// positions of din they were read from: the adjoint of im2col.
func (c *convKernel) col2im(din, dcols []float64, b, j0, n int) {
	hw := c.h * c.w
	l := 0
	for ci := range c.cin {
		plane := din[ci*b*hw : (ci+1)*b*hw]
		for i := range c.k {
			for jj := range c.k {
				c.walk(dcols[l*n:(l+1)*n], plane, j0, i, jj, true)
				l++
			}
		}
	}
}

// walk visits the output pixels j0, j0+1, … for the kernel tap (i, jj)
// of one input channel plane (b×H×W): it sets row[t] to the input value
// the pixel j0+t sees through that tap (0 in the padding), or, if add,
// adds row[t] to that input value instead.
func (c *convKernel) walk(row, plane []float64, j0, i, jj int, add bool) {
	n := len(row)
	ohw := c.oh * c.ow
	r, rem := j0/ohw, j0%ohw
	y, x := rem/c.ow, rem%c.ow
	for t := 0; t < n; {
		// One run along an output row: y fixed, x from x to ow-1.
		run := min(c.ow-x, n-t)
		seg := row[t : t+run]
		iy := y*c.s + i - c.padT
		if iy < 0 || iy >= c.h {
			if !add {
				clear(seg)
			}
		} else {
			src := plane[(r*c.h+iy)*c.w : (r*c.h+iy+1)*c.w]
			ix := x*c.s + jj - c.padL
			if c.s == 1 {
				// Inputs ix … ix+run−1, of which [lo, hi) are inside.
				lo := min(max(0, -ix), run)
				hi := max(min(run, c.w-ix), lo)
				if add {
					if lo < hi {
						addTo(src[ix+lo:ix+hi], seg[lo:hi])
					}
				} else {
					clear(seg[:lo])
					if lo < hi {
						copy(seg[lo:hi], src[ix+lo:ix+hi])
					}
					clear(seg[hi:])
				}
			} else {
				for u := range seg {
					if ix >= 0 && ix < c.w {
						if add {
							src[ix] += seg[u]
						} else {
							seg[u] = src[ix]
						}
					} else if !add {
						seg[u] = 0
					}
					ix += c.s
				}
			}
		}
		t += run
		x = 0
		if y++; y == c.oh {
			y = 0
			r++
		}
	}
}

// forward computes out = W·cols + bias, colChunk columns at a time, or,
// if inPlace, one output row at a time with cols read in place from the
// input (the same axpys in the same order: the bits do not change).
func (c *convKernel) forward(p, in, out []float64, b int) {
	wts, bias := p[:c.cout*c.kk], p[c.cout*c.kk:]
	m := b * c.oh * c.ow
	if c.inPlace {
		for f := range c.cout {
			o := out[f*m : (f+1)*m]
			for t := range o {
				o[t] = bias[f]
			}
		}
		off := c.tapOffsets(b)
		hw := c.h * c.w
		for r := range b {
			for y := range c.oh {
				j := (r*c.oh + y) * c.ow
				// out[f, j:j+ow] += Σ_l wts[f, l]·in[r·hw + y·w + off[l] : …+ow].
				mulAddRowsOff(out[j:], m, wts, c.kk, 1, in[r*hw+y*c.w:], off, c.cout, c.kk, c.ow)
			}
		}
		return
	}
	for j0 := 0; j0 < m; j0 += colChunk {
		n := min(colChunk, m-j0)
		cols := c.cols[:c.kk*n]
		c.im2col(cols, in, b, j0, n)
		for f := range c.cout {
			o := out[f*m+j0 : f*m+j0+n]
			for t := range o {
				o[t] = bias[f]
			}
		}
		// out[f, j0:j0+n] += Σ_l wts[f, l]·cols[l, :], an axpy per l.
		mulAddRows(out[j0:], m, wts, c.kk, 1, cols, n, c.cout, c.kk, n)
	}
}

// backward computes, chunk by chunk of columns (cols recomputed from in
// rather than kept from the forward pass, which keeps the workspace
// small), the weight gradient dout·colsᵀ, the bias gradient (the row sums
// of dout) and, when din is wanted, dcols = Wᵀ·dout, scattered back into
// din by col2im.
func (c *convKernel) backward(p, g, in, _, dout, din []float64, b int) {
	wts := p[:c.cout*c.kk]
	gw, gb := g[:c.cout*c.kk], g[c.cout*c.kk:]
	clear(g)
	if din != nil {
		clear(din)
	}
	m := b * c.oh * c.ow
	// In place, the columns of a chunk are read from the input in groups
	// of four (an output row holds whole groups: W' is a multiple of four,
	// and so are the chunks' starts), without im2col.
	inPlace := c.inPlace && c.ow%4 == 0
	var off []int
	if inPlace {
		off = c.tapOffsets(b)
	}
	for j0 := 0; j0 < m; j0 += colChunk {
		n := min(colChunk, m-j0)
		addRowSums(gb, dout[j0:], m, c.cout, n)
		// gw[f, l] += dot(dout[f, j0:j0+n], cols[l, :]).
		if inPlace {
			c.groups(j0, n)
			dotRowsGrp(gw, c.kk, dout[j0:], m, in, off, c.grp, c.cout, c.kk, true)
		} else {
			cols := c.cols[:c.kk*n]
			c.im2col(cols, in, b, j0, n)
			dotRows(gw, c.kk, dout[j0:], m, cols, n, c.cout, c.kk, n, true)
		}
		if din == nil {
			continue
		}
		// The rows of dout are m values apart, a multiple of 4 KB in the
		// layers that matter, whose lines would all fall in one set of
		// the L1 cache: the chunk is copied to rows doutLd apart first.
		dch := c.dchunk[:(c.cout-1)*doutLd+n]
		for f := range c.cout {
			copy(dch[f*doutLd:f*doutLd+n], dout[f*m+j0:f*m+j0+n])
		}
		// dcols[l, :] = Σ_f wts[f, l]·dout[f, j0:j0+n] from +0, an axpy
		// per f.
		dcols := c.dcols[:c.kk*n]
		clear(dcols)
		mulAddRows(dcols, n, wts, 1, c.kk, dch, doutLd, c.kk, c.cout, n)
		if inPlace {
			col2imGrp(din, dcols, off, c.grp)
		} else {
			c.col2im(din, dcols, b, j0, n)
		}
	}
}

// MaxPool2D takes the maximum of each channel over Size×Size windows
// moved by Stride, without padding: the output is ⌊(H−Size)/Stride⌋+1
// high. Of equal values in a window, the first (in row-major order) is the
// one the gradient flows to. It has no parameters.
type MaxPool2D struct {
	Size   int // window side, ≥ 1
	Stride int // ≥ 1; 0 means Size
}

func (l MaxPool2D) stride() int {
	if l.Stride == 0 {
		return l.Size
	}
	return l.Stride
}

// OutShape returns {C, ⌊(H−Size)/Stride⌋+1, ⌊(W−Size)/Stride⌋+1}.
func (l MaxPool2D) OutShape(in Shape) (Shape, error) {
	switch {
	case l.Size < 1 || l.Size > maxKernel || l.Stride < 0 || l.Stride > maxKernel:
		return Shape{}, fmt.Errorf("%w: MaxPool2D Size %d or Stride %d out of range", ErrInvalidModel, l.Size, l.Stride)
	case in.H < l.Size || in.W < l.Size:
		return Shape{}, fmt.Errorf("%w: MaxPool2D window %d×%d larger than its input %v", ErrInvalidModel, l.Size, l.Size, in)
	}
	s := l.stride()
	return Shape{in.C, (in.H-l.Size)/s + 1, (in.W-l.Size)/s + 1}, nil
}

// NumParams returns 0.
func (MaxPool2D) NumParams(Shape) int { return 0 }

func (l MaxPool2D) newKernel(in Shape, maxBatch int) kernel {
	out, _ := l.OutShape(in)
	return &poolKernel{
		h: in.H, w: in.W, oh: out.H, ow: out.W, size: l.Size, s: l.stride(), c: in.C,
		arg: make([]int32, maxBatch*out.Size()),
	}
}

// poolKernel keeps, for every output value, the index in its input plane
// of the value it took.
type poolKernel struct {
	c, h, w, oh, ow, size, s int
	arg                      []int32
}

func (k *poolKernel) forward(_, in, out []float64, b int) {
	hw, ohw := k.h*k.w, k.oh*k.ow
	for pl := range k.c * b {
		src := in[pl*hw : (pl+1)*hw]
		dst := out[pl*ohw : (pl+1)*ohw]
		arg := k.arg[pl*ohw : (pl+1)*ohw]
		if k.size == 2 {
			k.forward2(src, dst, arg)
		} else {
			k.forwardPlane(src, dst, arg)
		}
	}
}

// forwardPlane is forward on one plane: dst and arg take the maximum of
// each window and its index in the plane, the first of equal values (in
// row-major order) winning.
func (k *poolKernel) forwardPlane(src, dst []float64, arg []int32) {
	for y := range k.oh {
		for x := range k.ow {
			at := y*k.s*k.w + x*k.s
			best, bi := src[at], at
			for i := range k.size {
				row := at + i*k.w
				for j, v := range src[row : row+k.size] {
					if v > best {
						best, bi = v, row+j
					}
				}
			}
			dst[y*k.ow+x] = best
			arg[y*k.ow+x] = int32(bi)
		}
	}
}

// forward2 is forwardPlane for 2×2 windows: the same comparisons in the
// same order, unrolled and without branches.
func (k *poolKernel) forward2(src, dst []float64, arg []int32) {
	w := k.w
	for y := range k.oh {
		for x := range k.ow {
			at := y*k.s*w + x*k.s
			win := src[at : at+w+2]
			best, bi := win[0], 0
			best, bi = takeGreater(best, bi, win[1], 1)
			best, bi = takeGreater(best, bi, win[w], w)
			best, bi = takeGreater(best, bi, win[w+1], w+1)
			dst[y*k.ow+x] = best
			arg[y*k.ow+x] = int32(at + bi)
		}
	}
}

// takeGreater returns (v, vi) if v > best, else (best, bi), without a
// branch on the comparison: the bits of one or the other.
func takeGreater(best float64, bi int, v float64, vi int) (float64, int) {
	var m uint64
	if v > best {
		m = ^uint64(0)
	}
	b := math.Float64bits(best)
	return math.Float64frombits(b ^ (b^math.Float64bits(v))&m), bi ^ (bi^vi)&int(m)
}

func (k *poolKernel) backward(_, _, _, _, dout, din []float64, b int) {
	if din == nil {
		return
	}
	clear(din)
	hw, ohw := k.h*k.w, k.oh*k.ow
	for pl := range k.c * b {
		dst := din[pl*hw : (pl+1)*hw]
		for t, a := range k.arg[pl*ohw : (pl+1)*ohw] {
			dst[a] += dout[pl*ohw+t]
		}
	}
}

// ReLU is the rectifier max(x, 0), applied to every value. Its gradient
// at 0 is taken as 0. It has no parameters.
type ReLU struct{}

// OutShape returns in.
func (ReLU) OutShape(in Shape) (Shape, error) { return in, nil }

// NumParams returns 0.
func (ReLU) NumParams(Shape) int { return 0 }

func (ReLU) newKernel(Shape, int) kernel { return reluKernel{} }

type reluKernel struct{}

func (reluKernel) forward(_, in, out []float64, _ int) {
	for i, v := range in {
		out[i] = max(v, 0)
	}
}

func (reluKernel) backward(_, _, in, _, dout, din []float64, _ int) {
	if din == nil {
		return
	}
	din, dout = din[:len(in)], dout[:len(in)]
	for i, v := range in {
		// dout[i] where v > 0, else +0, without a branch to mispredict:
		// the bits of dout[i] or none of them.
		var keep uint64
		if v > 0 {
			keep = ^uint64(0)
		}
		din[i] = math.Float64frombits(math.Float64bits(dout[i]) & keep)
	}
}

// Flatten turns a C×H×W tensor into the flat vector of its C·H·W values,
// in that order (PyTorch's flatten), for a [Dense] layer. It has no
// parameters.
type Flatten struct{}

// OutShape returns {C·H·W, 1, 1}.
func (Flatten) OutShape(in Shape) (Shape, error) { return Shape{in.Size(), 1, 1}, nil }

// NumParams returns 0.
func (Flatten) NumParams(Shape) int { return 0 }

func (Flatten) newKernel(in Shape, _ int) kernel { return flattenKernel{c: in.C, hw: in.H * in.W} }

// flattenKernel moves value p of channel c of example r from
// (c·b + r)·HW + p, in the C×b×H×W layout, to (c·HW + p)·b + r, in the
// (C·H·W)×b layout.
type flattenKernel struct{ c, hw int }

func (k flattenKernel) forward(_, in, out []float64, b int) {
	for c := range k.c {
		for r := range b {
			src := in[(c*b+r)*k.hw : (c*b+r+1)*k.hw]
			for p, v := range src {
				out[(c*k.hw+p)*b+r] = v
			}
		}
	}
}

func (k flattenKernel) backward(_, _, _, _, dout, din []float64, b int) {
	if din == nil {
		return
	}
	for c := range k.c {
		for r := range b {
			dst := din[(c*b+r)*k.hw : (c*b+r+1)*k.hw]
			for p := range dst {
				dst[p] = dout[(c*k.hw+p)*b+r]
			}
		}
	}
}

// Dense is a fully connected layer of Units outputs on a flat input of n
// features ([Flatten] a spatial tensor first): out = W·in + bias. Its
// parameters are W, Units×n row-major (the weights into unit j are
// W[j·n:(j+1)·n], PyTorch's Linear.weight), followed by the Units biases.
type Dense struct {
	Units int // ≥ 1
}

// OutShape returns {Units, 1, 1}.
func (l Dense) OutShape(in Shape) (Shape, error) {
	switch {
	case l.Units < 1:
		return Shape{}, fmt.Errorf("%w: Dense Units %d < 1", ErrInvalidModel, l.Units)
	case in.H != 1 || in.W != 1:
		return Shape{}, fmt.Errorf("%w: Dense on a %v tensor: Flatten it first", ErrInvalidModel, in)
	case float64(l.Units)*float64(in.C+1) > maxParams:
		return Shape{}, fmt.Errorf("%w: Dense has too many parameters", ErrInvalidModel)
	}
	return Shape{l.Units, 1, 1}, nil
}

// NumParams returns Units·(n+1) for n input features.
func (l Dense) NumParams(in Shape) int { return l.Units * (in.Size() + 1) }

func (l Dense) newKernel(in Shape, _ int) kernel { return denseKernel{in: in.Size(), out: l.Units} }

// denseKernel works on the feature-major layout: in is n×b, out Units×b,
// so that each step of the product is an axpy over the minibatch.
type denseKernel struct{ in, out int }

func (k denseKernel) forward(p, in, out []float64, b int) {
	wts, bias := p[:k.out*k.in], p[k.out*k.in:]
	for j := range k.out {
		o := out[j*b : (j+1)*b]
		for r := range o {
			o[r] = bias[j]
		}
	}
	// out[j, :] += Σ_l wts[j, l]·in[l, :], an axpy per l.
	mulAddRows(out, b, wts, k.in, 1, in, b, k.out, k.in, b)
}

func (k denseKernel) backward(p, g, in, _, dout, din []float64, b int) {
	wts := p[:k.out*k.in]
	gw, gb := g[:k.out*k.in], g[k.out*k.in:]
	for j := range k.out {
		gb[j] = sum(dout[j*b : (j+1)*b])
	}
	// gw[j, l] = dot(dout[j, :], in[l, :]).
	dotRows(gw, k.in, dout, b, in, b, k.out, k.in, b, false)
	if din == nil {
		return
	}
	// din[l, :] = Σ_j wts[j, l]·dout[j, :] from +0, an axpy per j.
	din = din[:k.in*b]
	clear(din)
	mulAddRows(din, b, wts, 1, k.in, dout, b, k.in, k.out, b)
}
