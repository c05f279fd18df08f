package dataset

import (
	"errors"
	"slices"
	"testing"
)

// SyntheticClient(cfg, k) is Synthetic(cfg)[k], bit for bit, IID or not.
func TestSyntheticClientEqualsSynthetic(t *testing.T) {
	for _, iid := range []bool{false, true} {
		cfg := SyntheticConfig{Alpha: 0.5, Beta: 0.5, Clients: 12, IID: iid, MaxSamples: 300, Seed: 7}
		all, err := Synthetic(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{0, 5, 11} {
			s, err := SyntheticClient(cfg, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][2]*Dataset{{s.Train, all[k].Train}, {s.Test, all[k].Test}} {
				if !slices.Equal(p[0].X, p[1].X) || !slices.Equal(p[0].Y, p[1].Y) || p[0].Dim != p[1].Dim || p[0].Classes != p[1].Classes {
					t.Fatalf("iid=%v device %d differs from Synthetic's", iid, k)
				}
			}
		}
		if _, err := SyntheticClient(cfg, cfg.Clients); !errors.Is(err, ErrInvalid) {
			t.Errorf("device N: %v", err)
		}
	}
}
