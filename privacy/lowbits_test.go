package privacy

import (
	"fmt"
	"math"
	"testing"
)

// lowBitEvents releases the one-coordinate sums 0 and 1 n times each
// through a CentralDP with σ = 1 (z = 1, C = 1, q = 1 over N = 2, so the
// denominator is 2) and classifies each output x in [2^-3, 1) by its binade
// and the position of its lowest set bit. It returns the classes that
// occur at least 50 times under one sum and never under the other: events
// whose probability ratio the accounted ε cannot explain — and the
// frequency of issue 13's event: the noised sum (the output times the
// denominator 2) is an odd multiple of 2^-54 in [0.25, 0.5), 4.61% of the
// time under sum 0 and never under sum 1.
func lowBitEvents(t *testing.T, mech Mechanism, n int) (found []string, issueFreq [2]float64) {
	t.Helper()
	type class struct{ binade, low int }
	var counts [2]map[class]int
	for s := range 2 {
		counts[s] = map[class]int{}
		d := mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 2, SampleRate: 1,
			ClientClipped: true, Mechanism: mech, Random: seeded(uint64(100 + s))})
		v := make([]float64, 1)
		for range n {
			v[0] = float64(s)
			if err := d.NoiseSum(v); err != nil {
				t.Fatal(err)
			}
			x := v[0]
			if !(x >= 0.125 && x < 1) {
				continue
			}
			_, e := math.Frexp(x) // binade [2^(e-1), 2^e)
			low := 0              // x = odd·2^-low
			for y := x; y != math.Trunc(y); y *= 2 {
				low++
			}
			counts[s][class{e, low}]++
			if e == -2 && low == 55 { // 2x in [0.25, 0.5), an odd multiple of 2^-54
				issueFreq[s]++
			}
		}
		issueFreq[s] /= float64(n)
	}
	for s := range 2 {
		for c, k := range counts[s] {
			if k >= 50 && counts[1-s][c] == 0 {
				found = append(found, fmt.Sprintf("sum %d: %d outputs in binade 2^%d with lowest bit 2^-%d, none under sum %d",
					s, k, c.binade-1, c.low, 1-s))
			}
		}
	}
	return found, issueFreq
}

// The low-bit distinguisher of issue 13 finds impossible events against
// the floating-point mechanism and none against the fixed-point discrete
// Gaussian, whose every output is a multiple of γ/2 that both sums can
// produce.
func TestLowBitDistinguisher(t *testing.T) {
	const n = 100_000
	found, freq := lowBitEvents(t, MechanismGaussian, n)
	if len(found) == 0 || freq[0] < 0.04 || freq[1] != 0 {
		t.Errorf("float mechanism: the distinguisher should find events (it does on this mechanism): %v, issue event %v", found, freq)
	}
	t.Logf("float: %d distinguishing classes, issue event frequency %.4f under sum 0, %v under sum 1", len(found), freq[0], freq[1])

	found, freq = lowBitEvents(t, MechanismDiscreteGaussian, n)
	if len(found) > 0 || freq != [2]float64{} {
		t.Errorf("discrete mechanism: distinguishing events %v, issue event %v", found, freq)
	}
}

// Every output of the discrete mechanism lies on the grid γ/(qW), and a
// grid value is reachable from either neighbouring sum.
func TestDiscreteReleaseIsOnTheGrid(t *testing.T) {
	d := mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 2, SampleRate: 1,
		ClientClipped: true, Random: seeded(3)})
	unit := GridStep(0, 1, 3) / d.Denominator()
	for range 1000 {
		v := []float64{0.3, -0.7, 1e-9}
		if err := d.NoiseSum(v); err != nil {
			t.Fatal(err)
		}
		for j, x := range v {
			if k := x / unit; k != math.Trunc(k) || math.Abs(k) > 1<<52 {
				t.Fatalf("coordinate %d = %v is %v grid units", j, x, k)
			}
		}
	}
}
