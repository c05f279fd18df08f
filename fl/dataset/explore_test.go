package dataset

import "testing"

func TestExplore(t *testing.T) {
	for _, ab := range [][2]float64{{0, 0}, {0.5, 0.5}, {1, 1}, {1, 0}, {0, 1}} {
		for _, iid := range []bool{false, true} {
			sp, err := Synthetic(SyntheticConfig{Alpha: ab[0], Beta: ab[1], Clients: 200, MaxSamples: 200, IID: iid, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			sumMax, sumDistinct := 0.0, 0.0
			for _, s := range sp {
				cnt := make([]int, 10)
				for _, y := range s.Train.Y {
					cnt[y]++
				}
				m, dd := 0, 0
				for _, c := range cnt {
					m = max(m, c)
					if c > 0 {
						dd++
					}
				}
				sumMax += float64(m) / float64(s.Train.Len())
				sumDistinct += float64(dd)
			}
			t.Logf("ab=%v iid=%v maxfrac=%.3f distinct=%.2f", ab, iid, sumMax/200, sumDistinct/200)
		}
	}
}
