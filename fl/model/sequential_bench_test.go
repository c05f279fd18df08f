package model_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
)

// gemm is one matrix product C (m×n) = op(A) (m×k) · op(B) (k×n).
type gemm struct {
	name    string
	m, n, k int
	tA, tB  blas.Transpose
}

func (g gemm) flops() float64 { return 2 * float64(g.m) * float64(g.n) * float64(g.k) }

// trainingGemms lists the matrix products of one training step of m on a
// minibatch of b examples, as Sequential computes them (whatever the
// chunking): per convolution, the output W·cols, the weight gradient
// dY·colsᵀ and, except for the first layer, the input gradient Wᵀ·dY; per
// dense layer the same three with the minibatch as the columns.
func trainingGemms(m model.Sequential, b int) []gemm {
	var out []gemm
	in := m.Input
	for i, l := range m.Layers {
		o, err := l.OutShape(in)
		if err != nil {
			panic(err)
		}
		var rows, kk, cols int
		switch l := l.(type) {
		case model.Conv2D:
			rows, kk, cols = l.Filters, in.C*l.Kernel*l.Kernel, b*o.H*o.W
		case model.Dense:
			rows, kk, cols = l.Units, in.Size(), b
		default:
			in = o
			continue
		}
		name := fmt.Sprintf("%d-%T", i, l)
		out = append(out,
			gemm{name + "-forward", rows, cols, kk, blas.NoTrans, blas.NoTrans},
			gemm{name + "-dW", rows, kk, cols, blas.NoTrans, blas.Trans})
		if i > 0 {
			out = append(out, gemm{name + "-dX", kk, cols, rows, blas.Trans, blas.NoTrans})
		}
		in = o
	}
	return out
}

func randGeneral(rng *rand.Rand, r, c int) blas64.General {
	g := blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
	for i := range g.Data {
		g.Data[i] = rng.NormFloat64()
	}
	return g
}

// BenchmarkCNNGemmFloor is the floor of BenchmarkCNNTrain: gonum's
// blas64.Gemm on the matrix products of one training step of the
// niid_bench CNN, 28×28×1 inputs, minibatch 64, with operands of the same
// shapes and transposes. Its examples/s counts 64 per iteration.
// blas64.Gemm runs in parallel (GOMAXPROCS goroutines) once a product has
// four 64×64 blocks; compare with -cpu 1 for the serial floor.
func BenchmarkCNNGemmFloor(b *testing.B) {
	const batch = 64
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	gs := trainingGemms(m, batch)
	rng := rand.New(rand.NewPCG(1, 1))
	type ops struct{ a, b, c blas64.General }
	mats := make([]ops, len(gs))
	var flops float64
	for i, g := range gs {
		ar, ac := g.m, g.k
		if g.tA == blas.Trans {
			ar, ac = ac, ar
		}
		br, bc := g.k, g.n
		if g.tB == blas.Trans {
			br, bc = bc, br
		}
		mats[i] = ops{randGeneral(rng, ar, ac), randGeneral(rng, br, bc), randGeneral(rng, g.m, g.n)}
		flops += g.flops()
	}
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, g := range gs {
				blas64.Gemm(g.tA, g.tB, 1, mats[i].a, mats[i].b, 0, mats[i].c)
			}
		}
		report(b, batch, flops)
	})
	for i, g := range gs {
		b.Run(fmt.Sprintf("%s-%dx%dx%d", g.name, g.m, g.n, g.k), func(b *testing.B) {
			for b.Loop() {
				blas64.Gemm(g.tA, g.tB, 1, mats[i].a, mats[i].b, 0, mats[i].c)
			}
			report(b, batch, g.flops())
		})
	}
}

// report adds examples/s and GFLOP/s, for examples and flops per
// iteration.
func report(b *testing.B, examples int, flops float64) {
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(examples)*float64(b.N)/s, "examples/s")
	b.ReportMetric(flops*float64(b.N)/s/1e9, "GFLOP/s")
}

// BenchmarkCNNTrain measures local training of the niid_bench CNN on
// 28×28×1 inputs with minibatches of 64 (SGD with momentum 0.9 and weight
// decay, as niid_bench trains): one epoch of Trainer.Train over 640
// examples, ten steps, per iteration. GFLOP/s counts the flops of the
// matrix products alone (those of BenchmarkCNNGemmFloor), so the two
// benchmarks' GFLOP/s compare directly; the im2col, pooling, ReLU, loss
// and update work is overhead on top.
func BenchmarkCNNTrain(b *testing.B) {
	const batch, n = 64, 640
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	var flops float64
	for _, g := range trainingGemms(m, batch) {
		flops += g.flops()
	}
	d := randomBatch(rand.New(rand.NewPCG(2, 2)), n, 784, 10)
	for i := range d.X {
		d.X[i] = max(d.X[i], 0) // pixel-like: nonnegative
	}
	global := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 1)), global)
	tr, err := model.NewTrainer(model.TrainerConfig{Model: m, Train: d, BatchSize: batch, LR: 0.01, Momentum: 0.9, L2: 1e-5})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cfg := fl.Config{fl.KeyRound: 1}
	if _, err := tr.Train(ctx, global, cfg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n * 784 * 8))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Train(ctx, global, cfg); err != nil {
			b.Fatal(err)
		}
	}
	report(b, n, flops*n/batch)
}

// BenchmarkCNNLossGrad is one minibatch of 64 through the workspace alone:
// forward, loss and backward, no update.
func BenchmarkCNNLossGrad(b *testing.B) {
	const batch = 64
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	var flops float64
	for _, g := range trainingGemms(m, batch) {
		flops += g.flops()
	}
	d := randomBatch(rand.New(rand.NewPCG(2, 2)), batch, 784, 10)
	params := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(1, 1)), params)
	grad := make([]float64, len(params))
	ws := m.NewWorkspace(batch)
	b.ReportAllocs()
	for b.Loop() {
		ws.LossGrad(grad, params, d.X, d.Y)
	}
	report(b, batch, flops)
}
