package robust_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

// TestKrumNumpy checks Krum and Multi-Krum against the known answer of
// testdata/krum_numpy.json, written by testdata/krum_numpy.py: numpy's
// squared distances summed from the differences (no Gram matrix), for
// updates 1000 away from the origin, two of them far off, and several F
// and neighbour counts. Scores must agree to 1e-12 relative (fedgo sums a
// centered Gram matrix, numpy the differences), choices exactly.
func TestKrumNumpy(t *testing.T) {
	raw, err := os.ReadFile("testdata/krum_numpy.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		Updates [][]float64
		Cases   []struct {
			F, Neighbours, Q int
			Scores           []float64
			Krum             int
			MultiKrumOrder   []int `json:"multikrum_order"`
		}
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	n := len(kat.Updates)
	ups := make([]fl.Update, n)
	for i, v := range kat.Updates {
		ups[i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
	}
	if len(kat.Cases) == 0 {
		t.Fatal("no cases")
	}
	dst := make([]float64, len(kat.Updates[0]))
	for _, c := range kat.Cases {
		name := fmt.Sprintf("F=%d Neighbours=%d", c.F, c.Neighbours)
		k := &robust.Krum{F: c.F, Neighbours: c.Neighbours}
		if err := k.Aggregate(dst, ups); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e := k.Explain()
		if !slices.Equal(e.Selected, []int{c.Krum}) || !slices.Equal(dst, kat.Updates[c.Krum]) {
			t.Errorf("%s: Krum chose %v, numpy %d", name, e.Selected, c.Krum)
		}
		for i, s := range e.Scores {
			if want := c.Scores[i]; math.Abs(s-want) > 1e-12*want {
				t.Errorf("%s: score of %d = %v, numpy %v", name, i, s, want)
			}
		}
		for _, m := range []int{1, 3, n} {
			mk := &robust.MultiKrum{F: c.F, M: m, Neighbours: c.Neighbours}
			if err := mk.Aggregate(dst, ups); err != nil {
				t.Fatalf("%s M=%d: %v", name, m, err)
			}
			if got := mk.Explain().Selected; !slices.Equal(got, c.MultiKrumOrder[:m]) {
				t.Errorf("%s M=%d: Multi-Krum chose %v, numpy %v", name, m, got, c.MultiKrumOrder[:m])
			}
		}
	}
}
