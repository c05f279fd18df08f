package ddp

import (
	"runtime"
	"slices"
	"testing"
)

// TestNoiseWorkers: the noise is drawn in chunks on GOMAXPROCS
// goroutines; a seeded encoder gives the same shares with 1 and 2
// workers, and no two chunks repeat one stream.
func TestNoiseWorkers(t *testing.T) {
	for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
		c := testConfig(m, 16, 3*noiseChunk+5)
		d := mustNew(t, c)
		p := d.Params()
		var outs [][]uint64
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			e, err := d.Encoder(seedReader(3))
			if err != nil {
				t.Fatal(err)
			}
			in := make([]uint64, p.Padded)
			err = e.Encode(in, make([]float64, c.Dim), [32]byte{2})
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, in)
		}
		if !slices.Equal(outs[0], outs[1]) {
			t.Errorf("%v: the shares depend on the number of workers", m)
		}
		in := outs[0]
		for c := 1; (c+1)*noiseChunk <= len(in); c++ {
			if slices.Equal(in[:64], in[c*noiseChunk:c*noiseChunk+64]) {
				t.Errorf("%v: chunk %d repeats chunk 0", m, c)
			}
		}
	}
}
