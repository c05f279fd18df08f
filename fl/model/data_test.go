package model_test

import (
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/internal/detmath"
)

// blobs returns n examples of classes Gaussian blobs in dim dimensions:
// class c is centred at a point drawn from N(0, sep²) per coordinate (the
// same centres for the same seed) and its examples add N(0, 1) noise.
// Labels cycle through the classes.
func blobs(seed uint64, n, dim, classes int, sep float64) *dataset.Dataset {
	centres := rand.New(rand.NewPCG(seed, 0))
	c := make([]float64, classes*dim)
	for i := range c {
		c[i] = sep * centres.NormFloat64()
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &dataset.Dataset{X: make([]float64, n*dim), Y: make([]int, n), Dim: dim, Classes: classes}
	for i := range n {
		y := i % classes
		d.Y[i] = y
		for j := range dim {
			d.X[i*dim+j] = c[y*dim+j] + rng.NormFloat64()
		}
	}
	return d
}

// xor returns n two-dimensional examples around the four corners (±1, ±1)
// with noise N(0, 0.25²); the label is 1 when the coordinates have the same
// sign. No line separates the classes: the best linear rule gets three of
// the four clusters right.
func xor(seed uint64, n int) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 2))
	d := &dataset.Dataset{X: make([]float64, 2*n), Y: make([]int, n), Dim: 2, Classes: 2}
	for i := range n {
		a, b := float64(2*(i%2)-1), float64(2*((i/2)%2)-1)
		d.X[2*i] = a + 0.25*rng.NormFloat64()
		d.X[2*i+1] = b + 0.25*rng.NormFloat64()
		if a == b {
			d.Y[i] = 1
		}
	}
	return d
}

// naiveScores computes the output scores of a model with layer sizes
// sizes (the Softmax/MLP layout: per layer W out×in row-major, then b) on
// one example, straight from the definition, with ReLU between layers.
func naiveScores(sizes []int, params, x []float64) []float64 {
	a := x
	off := 0
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		z := make([]float64, out)
		for j := 0; j < out; j++ {
			s := params[off+out*in+j]
			for i := 0; i < in; i++ {
				s += params[off+j*in+i] * a[i]
			}
			if l+2 < len(sizes) && s < 0 {
				s = 0
			}
			z[j] = s
		}
		off += out*in + out
		a = z
	}
	return a
}

// naiveLoss is the cross-entropy −log softmax(z)[y] = log Σ exp z − z[y].
func naiveLoss(z []float64, y int) float64 {
	var s float64
	for _, v := range z {
		s += math.Exp(v)
	}
	return math.Log(s) - z[y]
}

// naiveArgmax is the first index of the largest score.
func naiveArgmax(z []float64) int {
	best := 0
	for j := range z {
		if z[j] > z[best] {
			best = j
		}
	}
	return best
}

// naiveEvaluate is Evaluate from the definition.
func naiveEvaluate(sizes []int, params []float64, d *dataset.Dataset) (loss, acc float64) {
	for i := range d.Len() {
		z := naiveScores(sizes, params, d.Row(i))
		loss += naiveLoss(z, d.Y[i])
		if naiveArgmax(z) == d.Y[i] {
			acc++
		}
	}
	return loss / float64(d.Len()), acc / float64(d.Len())
}

// naiveMeanLoss is the mean cross-entropy over d.
func naiveMeanLoss(sizes []int, params []float64, d *dataset.Dataset) float64 {
	l, _ := naiveEvaluate(sizes, params, d)
	return l
}

// randomParams returns n values drawn from N(0, scale²).
func randomParams(rng *rand.Rand, n int, scale float64) []float64 {
	p := make([]float64, n)
	for i := range p {
		p[i] = scale * detmath.Normal(rng)
	}
	return p
}

// norm2 is the Euclidean norm.
func norm2(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// split returns the first k examples of d and the rest, aliasing d.
func split(d *dataset.Dataset, k int) (*dataset.Dataset, *dataset.Dataset) {
	a := &dataset.Dataset{X: d.X[:k*d.Dim], Y: d.Y[:k], Dim: d.Dim, Classes: d.Classes}
	b := &dataset.Dataset{X: d.X[k*d.Dim:], Y: d.Y[k:], Dim: d.Dim, Classes: d.Classes}
	return a, b
}
