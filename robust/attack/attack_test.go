package attack_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/robust/attack"
)

func honestUpdates(rng *rand.Rand, h, d int) []fl.Update {
	centre := make([]float64, d)
	for j := range centre {
		centre[j] = 1 + rng.NormFloat64()
	}
	ups := make([]fl.Update, h)
	for i := range ups {
		v := make([]float64, d)
		for j := range v {
			v[j] = centre[j] + 0.5*rng.NormFloat64()
		}
		ups[i] = fl.Update{Client: fmt.Sprintf("c%d", i), Delta: v, Weight: 1}
	}
	return ups
}

func meanOf(ups []fl.Update) []float64 {
	m := make([]float64, len(ups[0].Delta))
	for _, u := range ups {
		for j, v := range u.Delta {
			m[j] += v / float64(len(ups))
		}
	}
	return m
}

func sqDist(a, b []float64) float64 {
	var s float64
	for j := range a {
		s += (a[j] - b[j]) * (a[j] - b[j])
	}
	return s
}

func dot(a, b []float64) float64 {
	var s float64
	for j := range a {
		s += a[j] * b[j]
	}
	return s
}

// TestALIEZ checks z_max against values computed by hand: s = ⌊n/2+1⌋ − f,
// z = Φ⁻¹((n−s)/n), with Φ⁻¹ from standard normal tables.
func TestALIEZ(t *testing.T) {
	for _, tc := range []struct {
		n, f int
		want float64
	}{
		{10, 2, 0.2533471031},  // s = 4, Φ⁻¹(0.6)
		{20, 5, 0.5244005127},  // s = 6, Φ⁻¹(0.7)
		{50, 12, 0.5828415072}, // s = 14, Φ⁻¹(0.72)
		{50, 24, 1.7506860713}, // s = 2, Φ⁻¹(0.96)
		{11, 3, 0.6045853466},  // s = 3, Φ⁻¹(8/11)
	} {
		z, err := attack.ALIEZ(tc.n, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(z-tc.want) > 1e-8 {
			t.Errorf("ALIEZ(%d, %d) = %.10f, want %.10f", tc.n, tc.f, z, tc.want)
		}
	}
	for _, bad := range [][2]int{{10, 0}, {10, 10}, {4, 3}} {
		if _, err := attack.ALIEZ(bad[0], bad[1]); !errors.Is(err, attack.ErrParam) {
			t.Errorf("ALIEZ(%d, %d): err = %v, want ErrParam", bad[0], bad[1], err)
		}
	}
}

func TestALIECraft(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	honest := honestUpdates(rng, 8, 5)
	mal, err := attack.ALIE{}.Craft(rng, honest, 2)
	if err != nil {
		t.Fatal(err)
	}
	z, _ := attack.ALIEZ(10, 2)
	mu := meanOf(honest)
	for j := range mu {
		var ss float64
		for _, u := range honest {
			ss += (u.Delta[j] - mu[j]) * (u.Delta[j] - mu[j])
		}
		want := mu[j] - z*math.Sqrt(ss/7)
		for k := range mal {
			if math.Abs(mal[k][j]-want) > 1e-12 {
				t.Fatalf("malicious %d coordinate %d = %v, want %v", k, j, mal[k][j], want)
			}
		}
	}
}

func TestIPMInnerProductNegative(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	honest := honestUpdates(rng, 10, 20)
	mu := meanOf(honest)
	for _, eps := range []float64{0, 0.5, 10} {
		mal, err := attack.IPM{Epsilon: eps}.Craft(rng, honest, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(mal) != 3 {
			t.Fatalf("%d vectors, want 3", len(mal))
		}
		e := eps
		if e == 0 {
			e = 0.1
		}
		if got, want := dot(mal[0], mu), -e*dot(mu, mu); !(got < 0) || math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Errorf("ε = %v: ⟨malicious, μ⟩ = %v, want %v < 0", eps, got, want)
		}
	}
}

// TestMinMaxMinSum checks the constraint at the returned γ, that γ is
// maximal (the closed-form root of the quadratic constraint), and that
// the vector is μ + γ∇p.
func TestMinMaxMinSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, dir := range []attack.Direction{attack.InverseStd, attack.InverseUnit, attack.InverseSign} {
		honest := honestUpdates(rng, 12, 15)
		h := len(honest)
		mu := meanOf(honest)
		var maxPair, maxRow float64
		minRow := math.Inf(1)
		for i := range honest {
			var row float64
			for k := range honest {
				s := sqDist(honest[i].Delta, honest[k].Delta)
				maxPair = max(maxPair, s)
				row += s
			}
			maxRow = max(maxRow, row)
			minRow = min(minRow, row)
		}
		for _, v := range []struct {
			sum   bool
			bound attack.MinSumBound
		}{{false, 0}, {true, attack.MinSumCode}, {true, attack.MinSumPaper}} {
			sum := v.sum
			var atk interface {
				attack.Attack
				Gamma([]fl.Update) (float64, error)
			} = attack.MinMax{Dir: dir}
			rowBound := minRow // the released code's bound
			if v.bound == attack.MinSumPaper {
				rowBound = maxRow // Eq. (5) as printed
			}
			if sum {
				atk = attack.MinSum{Dir: dir, Bound: v.bound}
			}
			mal, err := atk.Craft(rng, honest, 2)
			if err != nil {
				t.Fatal(err)
			}
			gamma, _ := atk.Gamma(honest)
			// ∇p recovered from the output: (m − μ)/γ.
			p := make([]float64, len(mu))
			for j := range p {
				p[j] = (mal[0][j] - mu[j]) / gamma
			}
			// Closed form: each constraint is a quadratic in γ.
			var c float64
			for _, v := range p {
				c += v * v
			}
			gammaStar := math.Inf(1)
			var sa, sb float64
			for _, u := range honest {
				var a, b float64
				for j, v := range u.Delta {
					a += (mu[j] - v) * (mu[j] - v)
					b += (mu[j] - v) * p[j]
				}
				sa += a
				sb += b
				gammaStar = min(gammaStar, (-b+math.Sqrt(b*b-c*(a-maxPair)))/c)
			}
			var spread float64
			if sum {
				hc := float64(h) * c
				gammaStar = (-sb + math.Sqrt(sb*sb-hc*(sa-rowBound))) / hc
				for _, u := range honest {
					spread += sqDist(mal[0], u.Delta)
				}
				if spread > rowBound*(1+1e-9) {
					t.Errorf("dir %d min-sum bound %d: Σ distances² %v > %v", dir, v.bound, spread, rowBound)
				}
			} else {
				for _, u := range honest {
					spread = max(spread, sqDist(mal[0], u.Delta))
				}
				if spread > maxPair*(1+1e-9) {
					t.Errorf("dir %d min-max: max distance² %v > honest max %v", dir, spread, maxPair)
				}
			}
			if !(gamma > 0) || gamma > gammaStar*(1+1e-9) || gamma < gammaStar*(1-1e-10) {
				t.Errorf("dir %d sum=%v bound %d: γ = %v, maximal γ* = %v", dir, sum, v.bound, gamma, gammaStar)
			}
		}
	}
}

func TestSignFlipGaussianMimic(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	honest := honestUpdates(rng, 6, 8)
	mu := meanOf(honest)
	mal, err := attack.SignFlip{}.Craft(rng, honest, 2)
	if err != nil {
		t.Fatal(err)
	}
	for j := range mu {
		if math.Abs(mal[1][j]+mu[j]) > 1e-12 {
			t.Fatalf("signflip coordinate %d = %v, want %v", j, mal[1][j], -mu[j])
		}
	}
	g, err := attack.Gaussian{Sigma: 2}.Craft(rand.New(rand.NewPCG(9, 9)), honestUpdates(rng, 3, 20000), 1)
	if err != nil {
		t.Fatal(err)
	}
	var s, ss float64
	for _, v := range g[0] {
		s += v
		ss += v * v
	}
	// Mean 0 ± 5 standard errors, variance 4 within 5%.
	if m := s / 20000; math.Abs(m) > 5*2/math.Sqrt(20000) || math.Abs(ss/20000-4) > 0.2 {
		t.Errorf("gaussian: mean %v, variance %v", m, ss/20000)
	}
	mm, err := attack.Mimic{Target: "c3"}.Craft(rng, honest, 2)
	if err != nil || !slices.Equal(mm[0], honest[3].Delta) || !slices.Equal(mm[1], honest[3].Delta) {
		t.Errorf("mimic c3: %v, %v", mm, err)
	}
	mm[0][0] = 1e9 // copies, not aliases
	if honest[3].Delta[0] == 1e9 {
		t.Error("mimic aliases the honest update")
	}
	if _, err := (attack.Mimic{Target: "nobody"}).Craft(rng, honest, 1); !errors.Is(err, attack.ErrUnknownPeer) {
		t.Errorf("unknown target: %v", err)
	}
}

// TestMimicHeuristic: honest updates spread along one axis; the heuristic
// picks an extreme one along it.
func TestMimicHeuristic(t *testing.T) {
	honest := make([]fl.Update, 7)
	for i := range honest {
		x := float64(i - 3)
		honest[i] = fl.Update{Delta: []float64{5 * x, 0.01 * float64(i%2), 1}}
	}
	got := attack.MimicChoice(rand.New(rand.NewPCG(1, 2)), honest, 3)
	if got != 0 && got != 6 {
		t.Errorf("MimicChoice = %d, want an extreme of the main axis (0 or 6)", got)
	}
}

func TestFlipLabels(t *testing.T) {
	d := &dataset.Dataset{X: []float64{1, 2, 3, 4, 5, 6}, Y: []int{0, 2, 1}, Dim: 2, Classes: 3}
	p, err := attack.LabelFlip{}.Poison(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 0, 1}; !slices.Equal(p.Y, want) || !slices.Equal(d.Y, []int{0, 2, 1}) {
		t.Errorf("flipped %v (original %v), want %v", p.Y, d.Y, want)
	}
	if &p.X[0] != &d.X[0] || p.Dim != 2 || p.Classes != 3 {
		t.Error("features or shape not kept")
	}
	for _, bad := range []*dataset.Dataset{
		{Y: []int{3}, Dim: 1, X: []float64{0}, Classes: 3},
		{Y: []int{-1}, Dim: 1, X: []float64{0}, Classes: 3},
		{Classes: 0},
	} {
		if _, err := attack.FlipLabels(bad); !errors.Is(err, attack.ErrBadDataset) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
	if _, err := (attack.LabelFlip{}).Craft(nil, nil, 1); !errors.Is(err, attack.ErrDataLevel) {
		t.Errorf("labelflip Craft: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, name := range attack.Names {
		atk, err := attack.New(name)
		if err != nil {
			t.Fatal(err)
		}
		if atk.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, atk.Name())
		}
		if name == "none" || name == "labelflip" {
			continue
		}
		honest := honestUpdates(rng, 5, 4)
		if _, err := atk.Craft(rng, nil, 1); !errors.Is(err, attack.ErrNoHonest) {
			t.Errorf("%s, no honest: %v", name, err)
		}
		if _, err := atk.Craft(rng, honest, -1); !errors.Is(err, attack.ErrParam) {
			t.Errorf("%s, f < 0: %v", name, err)
		}
		honest[2].Delta = honest[2].Delta[:3]
		if _, err := atk.Craft(rng, honest, 1); !errors.Is(err, attack.ErrLength) {
			t.Errorf("%s, short: %v", name, err)
		}
		honest = honestUpdates(rng, 5, 4)
		honest[4].Delta[1] = math.NaN()
		if _, err := atk.Craft(rng, honest, 1); !errors.Is(err, attack.ErrNotFinite) {
			t.Errorf("%s, NaN: %v", name, err)
		}
		honest = honestUpdates(rng, 5, 4)
		orig := make([][]float64, 5)
		for i := range honest {
			orig[i] = slices.Clone(honest[i].Delta)
		}
		mal, err := atk.Craft(rng, honest, 3)
		if err != nil || len(mal) != 3 || len(mal[2]) != 4 {
			t.Errorf("%s: %d vectors, err %v", name, len(mal), err)
		}
		for i := range honest {
			if !slices.Equal(honest[i].Delta, orig[i]) {
				t.Errorf("%s modified honest update %d", name, i)
			}
		}
	}
	if _, err := attack.New("krum"); !errors.Is(err, attack.ErrUnknown) {
		t.Errorf("unknown: %v", err)
	}
	if m, err := (attack.None{}).Craft(rng, nil, 4); err != nil || len(m) != 0 {
		t.Errorf("none: %v, %v", m, err)
	}
}
