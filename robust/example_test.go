package robust_test

import (
	"fmt"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

// exampleUpdates are four honest updates near (1, 1) and one Byzantine
// update far away.
func exampleUpdates() []fl.Update {
	return []fl.Update{
		{Client: "a", Delta: []float64{1.0, 0.9}, Weight: 1},
		{Client: "b", Delta: []float64{1.1, 1.0}, Weight: 1},
		{Client: "c", Delta: []float64{0.9, 1.1}, Weight: 1},
		{Client: "d", Delta: []float64{1.0, 1.0}, Weight: 1},
		{Client: "evil", Delta: []float64{100, -100}, Weight: 1},
	}
}

func ExampleMedian() {
	dst := make([]float64, 2)
	if err := (&robust.Median{}).Aggregate(dst, exampleUpdates()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(dst)
	// Output: [1 1]
}

func ExampleTrimmedMean() {
	dst := make([]float64, 2)
	_ = (&robust.TrimmedMean{F: 1}).Aggregate(dst, exampleUpdates())
	// Coordinate 0 keeps 1.0, 1.0, 1.1; coordinate 1 keeps 0.9, 1.0, 1.0.
	fmt.Printf("%.4f\n", dst)
	// Output: [1.0333 0.9667]
}

func ExampleKrum() {
	dst := make([]float64, 2)
	_ = (&robust.Krum{F: 1}).Aggregate(dst, exampleUpdates())
	// d has the smallest sum of squared distances to its 2 nearest others.
	fmt.Println(dst)
	// Output: [1 1]
}

func ExampleKrum_validate() {
	err := (&robust.Krum{F: 2}).Validate(5)
	fmt.Println(err)
	// Output: robust: too few updates for the number of Byzantine clients: Krum needs n > 2f+2 = 7 updates, got 5
}

func ExamplePre() {
	agg := &robust.Pre{Step: &robust.NNM{F: 1}, Rule: &robust.Median{}}
	dst := make([]float64, 2)
	if err := agg.Aggregate(dst, exampleUpdates()); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%.4f\n", dst)
	// Each honest update is mixed with its 3 nearest others, all honest, to
	// the honest mean (1, 1); evil's mix stays far off, and the median of the
	// five mixed vectors is the honest mean.
	// Output: [1.0000 1.0000]
}

func ExampleNew() {
	agg, err := robust.New("bucketing+krum", 1, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T\n", agg)
	_, err = robust.New("fedavg", 1, 42)
	fmt.Println(err)
	// Output:
	// *robust.Pre
	// robust: unknown aggregator name: "fedavg"
}

func ExampleFLTrust() {
	root := []float64{1, 1} // the server's own update on its root data
	agg := &robust.FLTrust{Root: func() ([]float64, error) { return root, nil }}
	dst := make([]float64, 2)
	_ = agg.Aggregate(dst, exampleUpdates())
	// evil is orthogonal to the root (cosine 0): trust 0. The others are
	// rescaled to norm √2 and averaged with their cosines as weights.
	fmt.Printf("%.3f\n", dst)
	// Output: [0.998 0.998]
}

func ExampleKrum_Explain() {
	k := &robust.Krum{F: 1}
	_ = k.Aggregate(make([]float64, 2), exampleUpdates())
	e := k.Explain()
	// Scores: sums of squared distances to the 2 nearest others.
	fmt.Printf("chose %v, scores %.2f\n", e.Selected, e.Scores[:4])
	// Output: chose [3], scores [0.03 0.03 0.07 0.02]
}

func ExampleMeamed() {
	dst := make([]float64, 2)
	_ = (&robust.Meamed{F: 1}).Aggregate(dst, exampleUpdates())
	// The 4 values of each coordinate closest to its median (1), averaged.
	fmt.Printf("%.3f\n", dst)
	// Output: [1.000 1.000]
}

func ExampleChain() {
	// ARC clips the largest ⌊2·(1/5)·4⌋ = 1 norm to the next one, then NNM
	// mixes, then the median aggregates.
	agg := &robust.Pre{Step: robust.Chain{&robust.ARC{F: 1}, &robust.NNM{F: 1}}, Rule: &robust.Median{}}
	dst := make([]float64, 2)
	if err := agg.Aggregate(dst, exampleUpdates()); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%.3f\n", dst)
	// Output: [1.000 1.000]
}
