package ddp

import (
	"errors"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/privacy"
)

// roundFixture is a quiet (noise-free) seeded encoder on 3 chunks and 5
// values, a delta, and the sequential reference of the values it rounds:
// f·H·S·x/√D with the textbook transform.
func roundFixture(t *testing.T, norm float64) (*DDP, []float64, []float64) {
	c := testConfig(DiscreteGaussian, 16, 3*noiseChunk+5)
	d := mustNew(t, c)
	p := d.Params()
	delta := randVec(mrand.New(mrand.NewPCG(9, 9)), c.Dim, norm)
	x := make([]float64, p.Padded)
	copy(x, delta)
	applySignsRef(x, [32]byte{4})
	fwhtRef(x)
	f := privacy.ClipFactor(privacy.L2Norm(delta), c.ClipNorm) / p.Gamma
	for i := range x {
		x[i] *= f
	}
	return d, delta, x
}

func encodeWith(t *testing.T, d *DDP, procs int, delta []float64, mod func(*Encoder)) ([]uint64, error) {
	t.Helper()
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	e, err := d.Encoder(seedReader(3))
	if err != nil {
		t.Fatal(err)
	}
	quiet(e)
	if mod != nil {
		mod(e)
	}
	out := make([]uint64, d.Params().Padded)
	return out, e.Encode(out, delta, [32]byte{4})
}

// boundRounding gives e a private copy of its parameters with the norm
// bound normSquaredMax, and tries rounding attempts.
func boundRounding(e *Encoder, normSquaredMax uint64, tries int) {
	p := *e.p
	p.NormSquaredMax = normSquaredMax
	e.p = &p
	e.tries = tries
}

// signed16 is the centred value of u mod 2^16 (the quiet encoder still
// reduces modulo 2^b; the rounded values are far below 2^15).
func signed16(u uint64) int64 { return int64(int16(uint16(u))) }

func normSquared(z []uint64) uint64 {
	var n uint64
	for _, u := range z {
		v := signed16(u)
		n += uint64(v * v)
	}
	return n
}

// TestRoundingWorkers: the rounding is drawn in chunks on GOMAXPROCS
// goroutines; a seeded encoder gives the same integers with 1 and 2
// workers, every integer is ⌊v⌋ or ⌈v⌉ of the sequential reference v, and
// the rounding is unbiased: Σ(z − v) is within 6 standard deviations
// (√Σ p(1−p)) of 0.
func TestRoundingWorkers(t *testing.T) {
	d, delta, v := roundFixture(t, 0.9)
	z1, err := encodeWith(t, d, 1, delta, nil)
	if err != nil {
		t.Fatal(err)
	}
	z2, err := encodeWith(t, d, 2, delta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(z1, z2) {
		t.Fatal("the rounding depends on the number of workers")
	}
	var bias, vr float64
	for i, u := range z1 {
		z := float64(signed16(u))
		fl := math.Floor(v[i])
		if z != fl && z != fl+1 {
			t.Fatalf("z[%d] = %v, v = %v", i, z, v[i])
		}
		p := v[i] - fl
		bias += z - v[i]
		vr += p * (1 - p)
	}
	if math.Abs(bias) > 6*math.Sqrt(vr) {
		t.Errorf("Σ(z − v) = %v, sd %v", bias, math.Sqrt(vr))
	}
}

// TestRoundingNormCombined: the norm bound is checked on the whole
// vector, not per chunk: with a bound that every chunk meets alone but
// their sum cannot, Encode fails with ErrRounding (with 1 and 2 workers).
func TestRoundingNormCombined(t *testing.T) {
	d, delta, v := roundFixture(t, 1)
	var maxChunk, minTotal uint64
	for lo := 0; lo < len(v); lo += noiseChunk {
		var hi uint64
		for _, x := range v[lo:min(lo+noiseChunk, len(v))] {
			a, b := math.Abs(math.Floor(x)), math.Abs(math.Ceil(x))
			lo2, hi2 := min(a, b), max(a, b)
			if math.Floor(x) < 0 && math.Ceil(x) > 0 {
				lo2 = 0
			}
			hi += uint64(hi2 * hi2)
			minTotal += uint64(lo2 * lo2)
		}
		maxChunk = max(maxChunk, hi)
	}
	if minTotal <= maxChunk {
		t.Fatalf("fixture: least total %d ≤ largest chunk %d", minTotal, maxChunk)
	}
	for _, procs := range []int{1, 2} {
		_, err := encodeWith(t, d, procs, delta, func(e *Encoder) { boundRounding(e, maxChunk, 3) })
		if !errors.Is(err, ErrRounding) {
			t.Errorf("%d workers: err = %v, want ErrRounding", procs, err)
		}
	}
}

// TestRoundingRetriesWorkers: with a bound that about half the attempts
// meet (the norm of one attempt under another seed), a seeded encoder's
// accepted rounding, after its retries, is the same with 1 and 2 workers
// and meets the bound.
func TestRoundingRetriesWorkers(t *testing.T) {
	d, delta, _ := roundFixture(t, 1)
	e, err := d.Encoder(seedReader(77))
	if err != nil {
		t.Fatal(err)
	}
	probe := make([]uint64, d.Params().Padded)
	if err := quiet(e).Encode(probe, delta, [32]byte{4}); err != nil {
		t.Fatal(err)
	}
	limit := normSquared(probe)
	var outs [][]uint64
	for _, procs := range []int{1, 2} {
		z, err := encodeWith(t, d, procs, delta, func(e *Encoder) { boundRounding(e, limit, 40) })
		if err != nil {
			t.Fatal(err)
		}
		if n := normSquared(z); n > limit {
			t.Fatalf("accepted a rounding of squared norm %d > %d", n, limit)
		}
		outs = append(outs, z)
	}
	if !slices.Equal(outs[0], outs[1]) {
		t.Error("the retried rounding depends on the number of workers")
	}
}

// TestChunkSourcesDistinct: a seeded encoder's chunk sources are distinct
// streams, so no two chunks share their rounding or noise draws.
func TestChunkSourcesDistinct(t *testing.T) {
	d := mustNew(t, testConfig(Skellam, 16, 64))
	e, err := d.Encoder(seedReader(5))
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := e.chunkSources(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i, s := range srcs {
		w := s.Uint64()
		if seen[w] {
			t.Fatalf("source %d repeats an earlier stream", i)
		}
		seen[w] = true
	}
}

// roundRef is the sequential conditional rounding the chunked one
// replaced (one source, early exit on the bound).
func roundRef(dst []uint64, x []float64, f float64, s *privacy.Source, limit uint64) bool {
	var norm2 uint64
	for i, v := range x {
		v *= f
		fl := math.Floor(v)
		if float64(s.Uint64()>>11)*0x1p-53 < v-fl {
			fl++
		}
		z := int64(fl)
		dst[i] = uint64(z)
		a := uint64(z)
		if z < 0 {
			a = uint64(-z)
		}
		norm2 += a * a
		if norm2 > limit {
			return false
		}
	}
	return true
}

// BenchmarkRound is the conditional rounding of D = 2^20 values at
// b = 16, n = 10: "ref" the sequential loop, "chunked" Encoder.round on
// GOMAXPROCS goroutines (run with -cpu 1,2).
func BenchmarkRound(b *testing.B) {
	const dim = 1 << 20
	d := mustNew(b, Config{Mechanism: Skellam, Bits: 16, ClipNorm: 1, Dim: dim, Clients: 10, Threshold: 6,
		NoiseMultiplier: 1, Population: 1000, SampleRate: 0.01})
	p := d.Params()
	x := randVec(mrand.New(mrand.NewPCG(1, 2)), dim, 0.9)
	rotate(x, [32]byte{})
	f := 1 / p.Gamma
	dst := make([]uint64, dim)
	b.Run("ref", func(b *testing.B) {
		s := seeded(b, 1)
		b.SetBytes(8 * dim)
		for b.Loop() {
			if !roundRef(dst, x, f, s, p.NormSquaredMax) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("chunked", func(b *testing.B) {
		e, err := d.Encoder(seedReader(1))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(8 * dim)
		b.ReportAllocs()
		for b.Loop() {
			if err := e.round(dst, x, f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestEncodeWorkers: the whole seeded pipeline (rotation, rounding, noise)
// on a non-zero delta gives the same output with 1 and 2 workers.
func TestEncodeWorkers(t *testing.T) {
	for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
		c := testConfig(m, 16, 2*noiseChunk+3)
		d := mustNew(t, c)
		delta := randVec(mrand.New(mrand.NewPCG(3, 1)), c.Dim, 2)
		var outs [][]uint64
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			e, err := d.Encoder(seedReader(6))
			if err != nil {
				t.Fatal(err)
			}
			out := make([]uint64, d.Params().Padded)
			err = e.Encode(out, delta, [32]byte{8})
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
		}
		if !slices.Equal(outs[0], outs[1]) {
			t.Errorf("%v: the encoding depends on the number of workers", m)
		}
	}
}
