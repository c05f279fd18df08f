package orderstat

import (
	"cmp"
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

// refRanks returns the values of ranks k1 and k2 of column c, by sorting.
func refRanks(rows [][]float64, c, k1, k2 int) (float64, float64) {
	col := make([]float64, len(rows))
	for i, r := range rows {
		col[i] = r[c]
	}
	slices.Sort(col)
	return col[k1], col[k2]
}

// refMedian is the package doc's definition of the median, by sorting.
func refMedian(rows [][]float64, c int) float64 {
	n := len(rows)
	if n%2 == 1 {
		x, _ := refRanks(rows, c, n/2, n/2)
		return x + 0
	}
	x, y := refRanks(rows, c, n/2-1, n/2)
	return x/2 + y/2 + 0
}

// refTrimmed is the package doc's definition of the trimmed mean, written
// out with sorting and plain loops over the rows.
func refTrimmed(rows [][]float64, c, f int) float64 {
	n := len(rows)
	if f == 0 {
		s := 0.0
		for _, r := range rows {
			s += r[c]
		}
		return s/float64(n) + 0
	}
	x, y := refRanks(rows, c, f, n-f-1)
	if x == y {
		return x + 0
	}
	s, le, lt := 0.0, 0, 0
	for _, r := range rows {
		v := r[c]
		if x < v && v < y {
			s += v
		}
		if v <= x {
			le++
		}
		if v < y {
			lt++
		}
	}
	return (s+float64(x*float64(le-f))+float64(y*float64(n-f-lt)))/float64(n-2*f) + 0
}

// refAroundMedian is MeanAroundMedian's definition, by sorting: the mean
// of the beta values of column c nearest its median (ties to the lower
// row), summed in row order.
func refAroundMedian(rows [][]float64, c, beta int) float64 {
	n := len(rows)
	med := refMedian(rows, c)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 { return math.Abs(rows[i][c] - med) }
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(key(i), key(j)) })
	sel := slices.Clone(idx[:beta])
	slices.Sort(sel)
	s := 0.0
	for _, i := range sel {
		s += rows[i][c]
	}
	return s / float64(beta)
}

// betasOf returns the counts of values around the median to test for n
// rows: one, Bulyan's and Meamed's typical ones, and all.
func betasOf(n int) []int {
	bs := []int{1}
	for _, b := range []int{n / 3, n - n/10 - 1, n} {
		if b > bs[len(bs)-1] {
			bs = append(bs, b)
		}
	}
	return bs
}

// kinds of test data: every one has ties or signed zeros or wide ranges
// (or distances and sums that overflow) that a careless path would get
// wrong.
var kinds = []string{"uniform", "ints", "zeros", "wide", "sorted", "reversed", "huge"}

func testRows(rng *rand.Rand, kind string, n, d int) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, d)
		for j := range rows[i] {
			var v float64
			switch kind {
			case "uniform":
				v = rng.Float64() - 0.5
			case "ints":
				v = float64(rng.IntN(5) - 2)
			case "zeros": // −0, +0 and a few ±1
				v = []float64{math.Copysign(0, -1), 0, 0, math.Copysign(0, -1), 1, -1}[rng.IntN(6)]
			case "wide":
				v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(600)-300))
			case "sorted":
				v = float64(i) + float64(j)/7
			case "reversed":
				v = float64(n-i) - float64(j)/7
			case "huge": // distances to the median overflow to +Inf
				v = math.MaxFloat64 * (2*rng.Float64() - 1)
			}
			rows[i][j] = v
		}
	}
	return rows
}

func fsOf(n int) []int {
	fs := []int{0}
	for _, f := range []int{1, n / 10, n / 4, (n - 1) / 2} {
		if f > 0 && n > 2*f && f != fs[len(fs)-1] {
			fs = append(fs, f)
		}
	}
	return fs
}

func sameBits(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// checkAgainstDefinition runs Median, TrimmedMean and MeanAroundMedian
// with s over columns [lo, lo+nc) and compares every result bit for bit
// with the definitions.
func checkAgainstDefinition(t *testing.T, s *Scratch, what string, rows [][]float64, lo, nc int) {
	t.Helper()
	dst := make([]float64, nc)
	cols := func(stat string, ok bool, ref func(c int) float64) {
		t.Helper()
		if !ok {
			t.Fatalf("%s: %s reports a non-finite value", what, stat)
		}
		for c := range dst {
			if want := ref(lo + c); !sameBits(dst[c], want) {
				t.Fatalf("%s: %s of column %d = %v, want %v", what, stat, lo+c, dst[c], want)
			}
		}
	}
	cols("median", s.Median(dst, rows, lo), func(c int) float64 { return refMedian(rows, c) })
	for _, f := range fsOf(len(rows)) {
		cols(fmt.Sprintf("trimmed mean f=%d", f), s.TrimmedMean(dst, rows, lo, f), func(c int) float64 { return refTrimmed(rows, c, f) })
	}
	for _, beta := range betasOf(len(rows)) {
		cols(fmt.Sprintf("mean around the median beta=%d", beta), s.MeanAroundMedian(dst, rows, lo, beta), func(c int) float64 { return refAroundMedian(rows, c, beta) })
	}
}

var testNs = []int{1, 2, 3, 5, 8, 9, 10, 15, 16, 17, 24, 31, 32, 33, 50, 63, 64, 65, 100, 127, 128, 129, 150}

// TestDefinition checks both paths (the networks only where the processor
// has AVX2) bit for bit against the package doc's definitions over many
// shapes: every n around the network sizes, column counts that leave 0 to
// 3 columns to the portable rest, and offsets.
func TestDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 16))
	for _, portable := range []bool{true, false} {
		s := &Scratch{portable: portable}
		for k, n := range testNs {
			if testing.Short() && k%2 == 1 { // every other n (the race step)
				continue
			}
			for _, kind := range kinds {
				for _, sh := range []struct{ lo, nc int }{{0, 1}, {3, 4}, {1, 7}, {5, 13}, {0, 64}} {
					rows := testRows(rng, kind, n, sh.lo+sh.nc+2)
					checkAgainstDefinition(t, s, fmt.Sprintf("portable=%v n=%d %s lo=%d nc=%d", portable, n, kind, sh.lo, sh.nc), rows, sh.lo, sh.nc)
				}
			}
		}
	}
}

// TestPathsSameBits runs the AVX2 path and the portable path on the same
// inputs over many shapes and compares the bits of every result.
func TestPathsSameBits(t *testing.T) {
	if !hasAVX2 {
		t.Skip("needs AVX2 (amd64 without the purego tag) to compare the network path with the portable one")
	}
	rng := rand.New(rand.NewPCG(2, 16))
	fast, port := &Scratch{}, &Scratch{portable: true}
	shapes := []int{1, 4, 5, 127, MaxBlock}
	step := 1
	if testing.Short() { // every third n (the race step)
		step = 3
	}
	for n := 1; n <= 140; n += step {
		for _, kind := range kinds {
			nc := shapes[rng.IntN(len(shapes))]
			lo := rng.IntN(3)
			rows := testRows(rng, kind, n, lo+nc)
			a, b := make([]float64, nc), make([]float64, nc)
			same := func(stat string, run func(s *Scratch, dst []float64) bool) {
				t.Helper()
				run(fast, a)
				run(port, b)
				for c := range a {
					if !sameBits(a[c], b[c]) {
						t.Fatalf("n=%d %s: %s of column %d: AVX2 %v (%#x), portable %v (%#x)", n, kind, stat, c, a[c], math.Float64bits(a[c]), b[c], math.Float64bits(b[c]))
					}
				}
			}
			same("median", func(s *Scratch, dst []float64) bool { return s.Median(dst, rows, lo) })
			for _, f := range fsOf(n) {
				same(fmt.Sprintf("trimmed mean f=%d", f), func(s *Scratch, dst []float64) bool { return s.TrimmedMean(dst, rows, lo, f) })
			}
			beta := []int{1 + rng.IntN(n), max(1, n-n/10-1)}[n%2]
			same(fmt.Sprintf("mean around the median beta=%d", beta), func(s *Scratch, dst []float64) bool { return s.MeanAroundMedian(dst, rows, lo, beta) })
		}
	}
}

// TestNonFinite puts one NaN or ±Inf at every position in turn (within
// the network columns and the portable rest) and expects both statistics,
// on both paths, to report it.
func TestNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 16))
	for _, portable := range []bool{true, false} {
		s := &Scratch{portable: portable}
		for _, n := range []int{3, 9, 20, 100, 130} {
			const nc = 6
			for i := range n {
				for c := range nc {
					bad := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[(i+c)%3]
					rows := testRows(rng, "uniform", n, nc)
					rows[i][c] = bad
					dst := make([]float64, nc)
					if s.Median(dst, rows, 0) {
						t.Fatalf("portable=%v n=%d: Median accepts %v at row %d column %d", portable, n, bad, i, c)
					}
					if s.MeanAroundMedian(dst, rows, 0, n/2+1) {
						t.Fatalf("portable=%v n=%d: MeanAroundMedian accepts %v at row %d column %d", portable, n, bad, i, c)
					}
					for _, f := range fsOf(n) {
						if s.TrimmedMean(dst, rows, 0, f) {
							t.Fatalf("portable=%v n=%d f=%d: TrimmedMean accepts %v at row %d column %d", portable, n, f, bad, i, c)
						}
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
	cmd := exec.Command("go", "run", "../sortnetgen", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("sortnet_amd64.s is stale: run go generate ./robust/internal/orderstat")
	}
}

// TestNoAllocations: warm calls allocate nothing.
func TestNoAllocations(t *testing.T) {
	rows := testRows(rand.New(rand.NewPCG(5, 16)), "uniform", 100, MaxBlock)
	dst := make([]float64, MaxBlock)
	var s Scratch
	s.Median(dst, rows, 0)
	s.MeanAroundMedian(dst, rows, 0, 80)
	if a := testing.AllocsPerRun(5, func() {
		s.Median(dst, rows, 0)
		s.TrimmedMean(dst, rows, 0, 10)
		s.MeanAroundMedian(dst, rows, 0, 80)
	}); a != 0 {
		t.Fatalf("%v allocations a call", a)
	}
}

// FuzzPaths: any values (bytes read as float64s; NaN and ±Inf replaced)
// for n = 1..150 rows of five columns give, on both paths, the bits of the
// definitions.
func FuzzPaths(f *testing.F) {
	f.Add(make([]byte, 8*5*17), uint8(2))
	seed := make([]byte, 8*5*100)
	for i := range 5 * 100 {
		binary.LittleEndian.PutUint64(seed[8*i:], math.Float64bits(float64(i%5)-2))
	}
	f.Add(seed, uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, fb uint8) {
		n := len(data) / 40
		if n < 1 || n > 150 {
			return
		}
		rows := make([][]float64, n)
		for i := range rows {
			rows[i] = make([]float64, 5)
			for j := range rows[i] {
				v := math.Float64frombits(binary.LittleEndian.Uint64(data[40*i+8*j:]))
				if math.IsNaN(v) || math.IsInf(v, 0) {
					v = float64(i - j)
				}
				rows[i][j] = v
			}
		}
		fv := int(fb) % ((n + 1) / 2)
		for _, portable := range []bool{true, false} {
			s := &Scratch{portable: portable}
			dst := make([]float64, 5)
			if !s.Median(dst, rows, 0) || !s.TrimmedMean(dst[:0], rows, 0, fv) {
				t.Fatal("finite input reported as not finite")
			}
			s.Median(dst, rows, 0)
			for c := range dst {
				if want := refMedian(rows, c); !sameBits(dst[c], want) {
					t.Fatalf("portable=%v n=%d column %d: median %v, want %v", portable, n, c, dst[c], want)
				}
			}
			s.TrimmedMean(dst, rows, 0, fv)
			for c := range dst {
				if want := refTrimmed(rows, c, fv); !sameBits(dst[c], want) {
					t.Fatalf("portable=%v n=%d f=%d column %d: trimmed mean %v, want %v", portable, n, fv, c, dst[c], want)
				}
			}
			beta := 1 + int(fb)%n
			if !s.MeanAroundMedian(dst, rows, 0, beta) {
				t.Fatal("finite input reported as not finite")
			}
			for c := range dst {
				if want := refAroundMedian(rows, c, beta); !sameBits(dst[c], want) {
					t.Fatalf("portable=%v n=%d beta=%d column %d: mean around the median %v, want %v", portable, n, beta, c, dst[c], want)
				}
			}
		}
	})
}
