package attack_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/robust/attack"
)

func ExampleALIEZ() {
	z, _ := attack.ALIEZ(50, 12) // s = 26 − 12 = 14, z = Φ⁻¹(36/50)
	fmt.Printf("%.4f\n", z)
	// Output: 0.5828
}

func ExampleIPM() {
	honest := []fl.Update{
		{Client: "a", Delta: []float64{1, 2}},
		{Client: "b", Delta: []float64{3, 2}},
	}
	mal, _ := attack.IPM{Epsilon: 0.5}.Craft(rand.New(rand.NewPCG(1, 2)), honest, 2)
	fmt.Println(mal)
	// Output: [[-1 -1] [-1 -1]]
}

func ExampleMinMax() {
	honest := []fl.Update{
		{Delta: []float64{0, 0}},
		{Delta: []float64{2, 0}},
		{Delta: []float64{0, 2}},
	}
	atk := attack.MinMax{Dir: attack.InverseUnit}
	g, _ := atk.Gamma(honest)
	mal, _ := atk.Craft(rand.New(rand.NewPCG(1, 2)), honest, 1)
	// μ = (2/3, 2/3) and ∇p = −(1, 1)/√2, so the malicious update is t·(1, 1)
	// with the smallest t such that (t−2)² + t² ≤ 8, the largest honest
	// distance², (2,0)–(0,2): t = 1 − √3, γ = √2·(2/3 − t).
	fmt.Printf("γ = %.4f, malicious = [%.4f %.4f]\n", g, mal[0][0], mal[0][1])
	// Output: γ = 1.9781, malicious = [-0.7321 -0.7321]
}

func ExampleFlipLabels() {
	d := &dataset.Dataset{X: []float64{0.1, 0.2, 0.3}, Y: []int{0, 1, 9}, Dim: 1, Classes: 10}
	p, _ := attack.FlipLabels(d)
	fmt.Println(p.Y)
	// Output: [9 8 0]
}
