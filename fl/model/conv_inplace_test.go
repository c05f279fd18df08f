package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestConvInPlaceSameBits: a convolution that reads its unrolled input in
// place (stride 1, no padding used) gives the bits of the one that unrolls
// it chunk by chunk (im2col), forward and backward, on random shapes,
// minibatches that end inside a chunk, and special values.
func TestConvInPlaceSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	shapes := []struct {
		in   Shape
		conv Conv2D
		b    int
	}{
		{Shape{1, 28, 28}, Conv2D{Filters: 6, Kernel: 5}, 5},
		{Shape{6, 12, 12}, Conv2D{Filters: 16, Kernel: 5}, 7},
		{Shape{2, 9, 13}, Conv2D{Filters: 3, Kernel: 1}, 3},
		{Shape{3, 7, 7}, Conv2D{Filters: 5, Kernel: 3, Padding: Same}, 2}, // pads: not in place
		{Shape{1, 5, 5}, Conv2D{Filters: 1, Kernel: 1, Padding: Same}, 1}, // no padding needed: in place
	}
	for range 12 {
		in := Shape{1 + rng.IntN(3), 1 + rng.IntN(20), 1 + rng.IntN(20)}
		k := 1 + rng.IntN(min(in.H, in.W))
		shapes = append(shapes, struct {
			in   Shape
			conv Conv2D
			b    int
		}{in, Conv2D{Filters: 1 + rng.IntN(9), Kernel: k}, 1 + rng.IntN(9)})
	}
	for _, s := range shapes {
		name := fmt.Sprintf("%v %+v b=%d", s.in, s.conv, s.b)
		out, err := s.conv.OutShape(s.in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v := blockedValues(rng, true, false)
		p := fillWith(v, s.conv.NumParams(s.in))
		x := fillWith(v, s.b*s.in.Size())
		dy := fillWith(v, s.b*out.Size())
		fast := s.conv.newKernel(s.in, s.b).(*convKernel)
		slow := s.conv.newKernel(s.in, s.b).(*convKernel)
		slow.inPlace = false
		for _, kern := range []*convKernel{fast, slow} {
			if kern.inPlace && (s.conv.stride() != 1 || kern.padT != 0 || kern.padL != 0) {
				t.Fatalf("%s: in place with stride or padding", name)
			}
		}
		y1, y2 := make([]float64, len(dy)), make([]float64, len(dy))
		fast.forward(p, x, y1, s.b)
		slow.forward(p, x, y2, s.b)
		if i := firstDiff(y1, y2); i >= 0 {
			t.Fatalf("%s (in place %v): forward[%d] = %v, im2col gives %v", name, fast.inPlace, i, y1[i], y2[i])
		}
		g1, g2 := fillWith(v, len(p)), make([]float64, len(p))
		d1, d2 := fillWith(v, len(x)), make([]float64, len(x))
		fast.backward(p, g1, x, y1, dy, d1, s.b)
		slow.backward(p, g2, x, y2, dy, d2, s.b)
		if i := firstDiff(g1, g2); i >= 0 {
			t.Fatalf("%s (in place %v): weight gradient[%d] = %v, im2col gives %v", name, fast.inPlace, i, g1[i], g2[i])
		}
		if i := firstDiff(d1, d2); i >= 0 {
			t.Fatalf("%s (in place %v): input gradient[%d] = %v, im2col gives %v", name, fast.inPlace, i, d1[i], d2[i])
		}
	}
}
