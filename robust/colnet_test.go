//go:build amd64 && !purego

package robust

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// The generated networks load the n updates' values (padding with +Inf)
// and sort the first half of every lane ascending and the second
// descending: random normal values, values in {0, 1, 2} (ties) and random
// 0/1 inputs (by the 0/1 principle, a comparator network that sorts every
// 0/1 input sorts every input; 300 trials × 8 lanes sample them), for
// n from 1 to the network's size, at a nonzero offset in the rows.
func TestHalvesNetworks(t *testing.T) {
	if !hasAVX512 {
		t.Log("no AVX-512 here: the networks cannot run")
		return
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, size := range []int{32, 64, 128} {
		var w [128][8]float64
		for trial := range 300 {
			n := size/2 + 1 + rng.IntN(size/2)
			if trial%5 == 0 {
				n = 1 + rng.IntN(size)
			}
			rows := make([][]float64, n)
			var vals [128][8]float64
			for i := range size {
				for l := range 8 {
					switch {
					case i >= n:
						vals[i][l] = math.Inf(1)
					case trial%3 == 0:
						vals[i][l] = rng.NormFloat64()
					case trial%3 == 1:
						vals[i][l] = float64(rng.IntN(3))
					default:
						vals[i][l] = float64(rng.IntN(2))
					}
				}
				if i < n {
					rows[i] = make([]float64, 16)
					copy(rows[i][3:], vals[i][:]) // at offset 3 values
				}
			}
			var finite bool
			switch size {
			case 32:
				finite = halves32AVX512(&rows[0], n, 24, (*[32][8]float64)(w[:32]))
			case 64:
				finite = halves64AVX512(&rows[0], n, 24, (*[64][8]float64)(w[:64]))
			default:
				finite = halves128AVX512(&rows[0], n, 24, &w)
			}
			if !finite {
				t.Fatalf("size %d n %d: finite values reported as not finite", size, n)
			}
			for l := range 8 {
				for h := range 2 {
					var got, want []float64
					for i := h * size / 2; i < (h+1)*size/2; i++ {
						got = append(got, w[i][l])
						want = append(want, vals[i][l])
					}
					slices.Sort(want)
					if h == 1 {
						slices.Reverse(want)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("size %d n %d trial %d lane %d half %d: %v, want %v", size, n, trial, l, h, got, want)
					}
				}
			}
			rows[rng.IntN(n)][3+rng.IntN(8)] = math.NaN()
			if halves128AVX512(&rows[0], n, 24, &w) {
				t.Fatalf("n %d: a NaN not reported", n)
			}
		}
	}
}

// kthAVX512 gives the k-th smallest of an ascending and a descending run,
// for every k, against a sort of both.
func TestKthOfTwoRuns(t *testing.T) {
	if !hasAVX512 {
		t.Log("no AVX-512 here")
		return
	}
	rng := rand.New(rand.NewPCG(23, 24))
	for _, half := range []int{1, 2, 3, 16, 64} {
		w := make([][8]float64, 2*half)
		for range 20 {
			var all [8][]float64
			for l := range 8 {
				a := make([]float64, 2*half)
				for i := range a {
					a[i] = float64(rng.IntN(4*half)) - float64(half)
				}
				slices.Sort(a[:half])
				slices.Sort(a[half:])
				slices.Reverse(a[half:])
				for i := range a {
					w[i][l] = a[i]
				}
				all[l] = slices.Clone(a)
				slices.Sort(all[l])
			}
			for k1 := 1; k1 <= 2*half; k1++ {
				var out [8]float64
				kthAVX512(&w[0], half, k1, &out)
				for l := range 8 {
					if out[l] != all[l][k1-1] {
						t.Fatalf("half %d k1 %d lane %d: %v, want %v", half, k1, l, out[l], all[l][k1-1])
					}
				}
			}
		}
	}
}

// Median and TrimmedMean through the networks (17 ≤ n ≤ 128, columns in
// whole eights, the rest through the selection) equal the references, for
// sizes around the networks' widths.
func TestNetworkRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, n := range []int{17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129} {
		const d = 8*9 + 5
		ups := make([][]float64, n)
		for i := range ups {
			ups[i] = make([]float64, d)
			for j := range ups[i] {
				if j%3 == 0 {
					ups[i][j] = float64(rng.IntN(3)) // ties
				} else {
					ups[i][j] = rng.NormFloat64() * math.Exp(3*rng.NormFloat64())
				}
			}
		}
		for _, f := range []int{0, 1, n / 4, (n - 1) / 2} {
			for _, op := range []int{opMedian, opTrimmed} {
				var s coordScratch
				s.rows = ups
				got := make([]float64, d)
				if !s.run(got, op, f) {
					t.Fatal("non-finite reported")
				}
				for j := range got {
					col := sortedColumn(ups, j)
					if op == opMedian {
						if want := sortedMedian(col); got[j] != want {
							t.Fatalf("n=%d: median of column %d = %v, want %v", n, j, got[j], want)
						}
						continue
					}
					want := sortedTrimmedMean(col, f)
					if math.Abs(got[j]-want) > 1e-12*(math.Abs(want)+math.Abs(col[0])+math.Abs(col[n-1])) {
						t.Fatalf("n=%d f=%d: trimmed mean of column %d = %v, want %v", n, f, j, got[j], want)
					}
				}
			}
		}
	}
}

// The checked-in networks are what the generator writes.
func TestSortNetGenerated(t *testing.T) {
	want, err := os.ReadFile("sortnet_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sortnet_amd64.s")
	if err := runGenerator(out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("sortnet_amd64.s is stale: run go generate ./robust")
	}
}

func runGenerator(out string) error {
	cmd := exec.Command("go", "run", "./internal/sortnetgen", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	return nil
}

// FuzzNetworkRules: any finite values (bytes read as float64s, non-finite
// replaced) for n = 17..128 updates of eight coordinates give, through the
// networks, the medians and trimmed means of the definitions.
func FuzzNetworkRules(f *testing.F) {
	f.Add(make([]byte, 8*8*17), uint8(2))
	seed := make([]byte, 8*8*100)
	for i := range 8 * 100 {
		binary.LittleEndian.PutUint64(seed[8*i:], math.Float64bits(float64(i%5)-2))
	}
	f.Add(seed, uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, fb uint8) {
		n := len(data) / 64
		if n < netMin || n > netMax {
			return
		}
		rows := make([][]float64, n)
		for i := range rows {
			rows[i] = make([]float64, 8)
			for j := range rows[i] {
				v := math.Float64frombits(binary.LittleEndian.Uint64(data[64*i+8*j:]))
				if math.IsNaN(v) || math.IsInf(v, 0) {
					v = float64(i - j)
				}
				rows[i][j] = v
			}
		}
		f := int(fb) % ((n + 1) / 2)
		for _, op := range []int{opMedian, opTrimmed} {
			var s coordScratch
			s.rows = rows
			got := make([]float64, 8)
			if !s.run(got, op, f) {
				t.Fatal("finite input reported as not finite")
			}
			for j := range got {
				col := sortedColumn(rows, j)
				if op == opMedian {
					if want := sortedMedian(col); got[j] != want {
						t.Fatalf("n=%d column %d: median %v, want %v", n, j, got[j], want)
					}
					continue
				}
				tol := 1e-9*math.Max(math.Abs(col[0]), math.Abs(col[n-1])) + 1e-300
				if got[j] < col[f]-tol || got[j] > col[n-f-1]+tol {
					t.Fatalf("n=%d f=%d column %d: trimmed mean %v outside [%v, %v]", n, f, j, got[j], col[f], col[n-f-1])
				}
				if want := sortedTrimmedMean(col, f); !math.IsInf(want, 0) && math.Abs(got[j]-want) > tol {
					t.Fatalf("n=%d f=%d column %d: trimmed mean %v, want %v", n, f, j, got[j], want)
				}
			}
		}
	})
}
