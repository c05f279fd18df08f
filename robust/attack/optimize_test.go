package attack_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust/attack"
)

// meanRule and medianRule are plain pipelines for the search to attack.
type meanRule struct{}

func (meanRule) Aggregate(dst []float64, ups []fl.Update) error {
	clear(dst)
	for _, u := range ups {
		for j, v := range u.Delta {
			dst[j] += v / float64(len(ups))
		}
	}
	return nil
}

type medianRule struct{}

func (medianRule) Aggregate(dst []float64, ups []fl.Update) error {
	col := make([]float64, len(ups))
	for j := range dst {
		for i, u := range ups {
			col[i] = u.Delta[j]
		}
		slices.Sort(col)
		n := len(col)
		dst[j] = (col[(n-1)/2] + col[n/2]) / 2
	}
	return nil
}

// TestLineMaxMeanClosedForm: against the mean, IPM's damage
// f(1 + ε)‖μ‖/n grows with ε, so every expansion step succeeds: from 0
// with δ = 1 doubling, 16 evaluations end at ε = 2¹⁵ − 1, and the damage
// is the closed form there.
func TestLineMaxMeanClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 11))
	honest := honestUpdates(rng, 8, 5)
	const f = 3
	lm := attack.LineMax{Attack: attack.IPM{}, Rule: meanRule{}}
	s, dmg, err := lm.Best(rng, honest, f)
	if err != nil {
		t.Fatal(err)
	}
	if s != 1<<15-1 {
		t.Fatalf("scale %v, want %v", s, 1<<15-1)
	}
	mu := meanOf(honest)
	var nrm float64
	for _, v := range mu {
		nrm += v * v
	}
	want := f * (1 + s) * math.Sqrt(nrm) / float64(len(honest)+f)
	if math.Abs(dmg-want) > 1e-9*want {
		t.Fatalf("damage %v, want %v", dmg, want)
	}
	if lm.Name() != "opt-ipm" {
		t.Errorf("Name() = %q", lm.Name())
	}
}

// refLineMax is the search of the doc comment written out again, over a
// damage function.
func refLineMax(damage func(float64) float64, evals int, start, delta, ratio float64) float64 {
	bx := start
	by := damage(bx)
	evals--
	px := bx
	for evals > 0 {
		px = bx + delta
		py := damage(px)
		evals--
		if py > by {
			bx, by = px, py
			delta *= 2
			continue
		}
		delta *= ratio
		break
	}
	for ; evals > 0; evals-- {
		if px < bx {
			px += delta
		} else {
			x := px - delta
			for x < 0 {
				x = (x + px) / 2
			}
			px = x
		}
		if py := damage(px); py > by {
			bx, by = px, py
		}
		delta *= ratio
	}
	return bx
}

// TestLineMaxAgainstReference: ALIE and IPM against the median, the
// search's scale equals the reference procedure's, whose damage is
// computed independently.
func TestLineMaxAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 12))
	for trial := range 4 {
		honest := honestUpdates(rng, 9, 6)
		const f = 4
		mu := meanOf(honest)
		for _, atk := range []attack.Scalable{attack.ALIE{}, attack.IPM{}} {
			damage := func(s float64) float64 {
				mal, err := atk.WithScale(s).Craft(nil, honest, f)
				if err != nil {
					t.Fatal(err)
				}
				ups := append([]fl.Update(nil), honest...)
				for _, v := range mal {
					ups = append(ups, fl.Update{Delta: v, Weight: 1})
				}
				dst := make([]float64, len(mu))
				_ = medianRule{}.Aggregate(dst, ups)
				var s2 float64
				for j := range dst {
					s2 += (dst[j] - mu[j]) * (dst[j] - mu[j])
				}
				return math.Sqrt(s2)
			}
			want := refLineMax(damage, 10, 0.5, 0.25, 0.7)
			got, _, err := attack.LineMax{Attack: atk, Rule: medianRule{}, Evals: 10, Start: 0.5, Delta: 0.25, Ratio: 0.7}.Best(rng, honest, f)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("trial %d %s: scale %v, reference %v", trial, atk.Name(), got, want)
			}
		}
	}
	for _, bad := range []attack.LineMax{
		{Attack: attack.IPM{}, Rule: meanRule{}, Ratio: 0.4},
		{Attack: attack.IPM{}, Rule: meanRule{}, Start: -1},
		{Attack: attack.IPM{}},
	} {
		if _, _, err := bad.Best(rng, honestUpdates(rng, 3, 2), 1); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestALIEZSet: with ZSet, z = 0 is meant (the honest mean), not the
// default z_max.
func TestALIEZSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 13))
	honest := honestUpdates(rng, 7, 4)
	mal, err := attack.ALIE{ZSet: true}.Craft(rng, honest, 2)
	if err != nil {
		t.Fatal(err)
	}
	if mu := meanOf(honest); !slices.Equal(mal[0], mu) {
		t.Fatalf("ALIE{ZSet, Z: 0} = %v, want the mean %v", mal[0], mu)
	}
	def, _ := attack.ALIE{}.Craft(rng, honest, 2)
	if slices.Equal(def[0], mal[0]) {
		t.Fatal("ALIE{} also sends the mean: the default z is not applied")
	}
}
