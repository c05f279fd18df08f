package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkCNNLayers times each layer of the niid_bench CNN (28×28×1
// inputs, minibatch 64) alone, forward and backward, where its input
// gradient is wanted as in training (not for the first layer): where a
// training step spends its time. GFLOP/s counts the layer's matrix
// products (2·rows·cols·inner per product), 0 for layers without any.
func BenchmarkCNNLayers(b *testing.B) {
	const batch = 64
	m := NIIDBenchCNN(Shape{C: 1, H: 28, W: 28}, 10)
	s, err := m.shapes()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	fill := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	for i, l := range m.Layers {
		in, out := s[i], s[i+1]
		k := l.newKernel(in, batch)
		p := fill(l.NumParams(in))
		g := make([]float64, len(p))
		x := fill(batch * in.Size())
		y := make([]float64, batch*out.Size())
		dy := fill(len(y))
		var dx []float64
		if i > 0 {
			dx = make([]float64, len(x))
		}
		var fwd, bwd float64 // flops of the products
		switch l := l.(type) {
		case Conv2D:
			rows, kk, cols := float64(l.Filters), float64(in.C*l.Kernel*l.Kernel), float64(batch*out.H*out.W)
			fwd, bwd = 2*rows*kk*cols, 2*rows*kk*cols
			if dx != nil {
				bwd *= 2
			}
		case Dense:
			rows, kk, cols := float64(l.Units), float64(in.Size()), float64(batch)
			fwd, bwd = 2*rows*kk*cols, 4*rows*kk*cols
		}
		name := fmt.Sprintf("%d-%T", i, l)
		b.Run(name+"/forward", func(b *testing.B) {
			b.SetBytes(int64(8 * len(x)))
			b.ReportAllocs()
			for b.Loop() {
				k.forward(p, x, y, batch)
			}
			b.ReportMetric(fwd*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		k.forward(p, x, y, batch)
		b.Run(name+"/backward", func(b *testing.B) {
			b.SetBytes(int64(8 * len(x)))
			b.ReportAllocs()
			for b.Loop() {
				k.backward(p, g, x, y, dy, dx, batch)
			}
			b.ReportMetric(bwd*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
