package compress

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// naiveTopK is the definition: sort all indices by |v_i| descending, ties by
// lowest index, keep the first k, return them in increasing order.
func naiveTopK(v []float64, k int) []uint32 {
	idx := make([]uint32, len(v))
	for i := range idx {
		idx[i] = uint32(i)
	}
	sort.SliceStable(idx, func(a, b int) bool { return math.Abs(v[idx[a]]) > math.Abs(v[idx[b]]) })
	out := idx[:k]
	slices.Sort(out)
	return out
}

// topKInputs returns test vectors: continuous, heavy ties, mostly zeros,
// sorted and reverse-sorted.
func topKInputs(rng *rand.Rand, n int) map[string][]float64 {
	cont := make([]float64, n)
	ties := make([]float64, n)
	sparse := make([]float64, n)
	asc := make([]float64, n)
	for i := range n {
		cont[i] = rng.NormFloat64()
		ties[i] = float64(rng.IntN(5) - 2)
		if rng.IntN(50) == 0 {
			sparse[i] = rng.NormFloat64()
		}
		asc[i] = float64(i)
	}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	return map[string][]float64{"normal": cont, "ties": ties, "sparse": sparse, "asc": asc, "desc": desc}
}

func TestTopKMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s topKSelector
	for _, n := range []int{1, 10, 1000, 9000, 50000} {
		for name, v := range topKInputs(rng, n) {
			for _, k := range []int{1, max(1, n/100), max(1, n/10), n / 2, n - 1, n} {
				if k == 0 {
					continue
				}
				want := naiveTopK(v, k)
				got, bad := s.selectTopK(v, k)
				if bad >= 0 || !slices.Equal(got, want) {
					t.Fatalf("%s n=%d k=%d: got %d indices (bad %d), differ from the reference", name, n, k, len(got), bad)
				}
				// A candidate threshold above every value forces the
				// fallback to all coordinates.
				got, _ = s.selectAbove(v, k, math.Float64bits(math.MaxFloat64))
				if !slices.Equal(got, want) {
					t.Fatalf("%s n=%d k=%d: fallback differs from the reference", name, n, k)
				}
			}
		}
	}
}

// TestTopKCodec checks the decoded vector holds float32(v_i) exactly at the
// reference's indices and zero elsewhere.
func TestTopKCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	v := randVec(rng, 20000)
	for _, cfg := range []TopKConfig{{K: 1}, {K: 37}, {Fraction: 0.01}, {Fraction: 0.25}} {
		c := must(NewTopK(cfg))
		k := c.K(len(v))
		if cfg.Fraction > 0 && k != int(math.Round(cfg.Fraction*20000)) {
			t.Errorf("%s: K(20000) = %d", c.Name(), k)
		}
		got := make([]float64, len(v))
		if err := c.Decode(got, must(c.Encode(nil, v))); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(v))
		for _, i := range naiveTopK(v, k) {
			want[i] = v[i]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: decoded vector differs from the reference top-k", c.Name())
		}
	}
}

func TestNthLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 17, 100, 5000} {
		inputs := [][]uint64{make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)}
		for i := range n {
			inputs[0][i] = rng.Uint64()
			inputs[1][i] = uint64(rng.IntN(3))
			inputs[2][i] = uint64(i)
			inputs[3][i] = uint64(n - i)
			inputs[4][i] = uint64(min(i, n-i)) // organ pipe
		}
		for _, a := range inputs {
			sorted := slices.Clone(a)
			slices.Sort(sorted)
			for _, k := range []int{1, (n + 1) / 2, n} {
				if got, want := nthLargest(slices.Clone(a), k), sorted[n-k]; got != want {
					t.Fatalf("n=%d k=%d: nthLargest = %d, want %d", n, k, got, want)
				}
			}
		}
	}
}

// naiveFloyd is Floyd's algorithm with a map, written independently of
// RandK's bit set, from the same PCG stream.
func naiveFloyd(seed uint64, n, k int) []uint32 {
	r := rand.NewPCG(seed, randKStream)
	set := map[uint64]bool{}
	for j := n - k; j < n; j++ {
		t := mulHi(r.Uint64(), uint64(j+1)) // uniform in [0, j]
		if set[t] {
			t = uint64(j)
		}
		set[t] = true
	}
	out := make([]uint32, 0, k)
	for i := range set {
		out = append(out, uint32(i))
	}
	slices.Sort(out)
	return out
}

// mulHi is the high word of a 128-bit product, schoolbook on 32-bit limbs.
func mulHi(a, b uint64) uint64 {
	a0, a1 := a&0xFFFFFFFF, a>>32
	b0, b1 := b&0xFFFFFFFF, b>>32
	p00, p01, p10, p11 := a0*b0, a0*b1, a1*b0, a1*b1
	mid := p00>>32 + p01&0xFFFFFFFF + p10&0xFFFFFFFF
	return p11 + p01>>32 + p10>>32 + mid>>32
}

// TestRandKIndicesFromSeed checks that the decoder regenerates the sender's
// indices from the seed in the payload, against an independent Floyd.
func TestRandKIndicesFromSeed(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 10, 64, 65, 1000} {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(i + 1) // nonzero, float32-exact
		}
		for _, k := range []int{1, max(1, n/10), n} {
			enc := must(NewRandK(RandKConfig{K: k, Rand: rand.NewPCG(rng.Uint64(), 1)}))
			dec := must(NewRandK(RandKConfig{K: 1})) // a decoder with another config
			for range 5 {
				p := must(enc.Encode(nil, v))
				seed := binary.LittleEndian.Uint64(p[HeaderSize:])
				got := make([]float64, n)
				if err := dec.Decode(got, p); err != nil {
					t.Fatal(err)
				}
				var idx []uint32
				for i, x := range got {
					if x != 0 {
						if x != v[i] {
							t.Fatalf("got[%d] = %v, want %v", i, x, v[i])
						}
						idx = append(idx, uint32(i))
					}
				}
				if want := naiveFloyd(seed, n, k); !slices.Equal(idx, want) {
					t.Fatalf("n=%d k=%d: indices %v, want %v", n, k, idx, want)
				}
			}
		}
	}
}

// TestRandKUniform checks each index is kept with probability k/n.
func TestRandKUniform(t *testing.T) {
	const n, k, T = 50, 5, 4000
	c := must(NewRandK(RandKConfig{K: k, Rand: rand.NewPCG(1, 1)}))
	counts := make([]int, n)
	for range T {
		seed := c.rng.Uint64()
		for _, i := range c.indices(seed, n, k) {
			counts[i]++
		}
	}
	mean := float64(T * k / n) // 400
	sigma := math.Sqrt(mean * (1 - float64(k)/n))
	for i, c := range counts {
		if math.Abs(float64(c)-mean) > 5*sigma {
			t.Errorf("index %d kept %d times, want %v ± %v", i, c, mean, 5*sigma)
		}
	}
}

// TestRandKScaling checks the unbiased variant's mean is v and the default's
// is (k/d)·v.
func TestRandKScaling(t *testing.T) {
	const n, k, T = 20, 5, 8000
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i%7) - 3
	}
	for _, unbiased := range []bool{false, true} {
		c := must(NewRandK(RandKConfig{K: k, Unbiased: unbiased, Rand: rand.NewPCG(2, 2)}))
		sum := make([]float64, n)
		got := make([]float64, n)
		var buf []byte
		for range T {
			buf = must(c.Encode(buf[:0], v))
			if err := c.Decode(got, buf); err != nil {
				t.Fatal(err)
			}
			for i, x := range got {
				sum[i] += x
			}
		}
		p := float64(k) / n
		for i := range v {
			want, amp := p*v[i], v[i]
			if unbiased {
				want, amp = v[i], v[i]/p
			}
			sigma := math.Abs(amp) * math.Sqrt(p*(1-p)/T)
			if mean := sum[i] / T; math.Abs(mean-want) > 5*sigma+1e-12 {
				t.Errorf("unbiased=%v: mean[%d] = %v, want %v ± %v", unbiased, i, mean, want, 5*sigma)
			}
		}
	}
}
