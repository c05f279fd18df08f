package secagg

import (
	"crypto/ecdh"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

func TestParamsValidate(t *testing.T) {
	ok := Params{N: 10, Threshold: 3, Neighbors: 4, Dim: 5}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Params)
	}{
		{"N=1", func(p *Params) { p.N = 1 }},
		{"N too big", func(p *Params) { p.N = MaxClients + 1 }},
		{"odd k", func(p *Params) { p.Neighbors = 5 }},
		{"k=N-2 odd ok but k>N-1", func(p *Params) { p.Neighbors = 10 }},
		{"t=0", func(p *Params) { p.Threshold = 0 }},
		{"t>k", func(p *Params) { p.Threshold = 5 }},
		{"malicious 2t<=k", func(p *Params) { p.Malicious = true; p.Threshold = 2 }},
		{"bits 65", func(p *Params) { p.Bits = 65 }},
		{"bits -1", func(p *Params) { p.Bits = -1 }},
		{"dim 0", func(p *Params) { p.Dim = 0 }},
		{"dim huge", func(p *Params) { p.Dim = MaxDim + 1 }},
	}
	for _, tc := range tests {
		p := ok
		tc.edit(&p)
		if err := p.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("%s: Validate = %v, want ErrParams", tc.name, err)
		}
	}
	// Defaults: zero Neighbors is the complete graph, zero Bits is 32.
	p := Params{N: 4, Threshold: 3, Dim: 1}
	if err := p.Validate(); err != nil || p.degree() != 3 || p.bits() != 32 {
		t.Fatalf("defaults: %v, k=%d, b=%d", err, p.degree(), p.bits())
	}
	// The round id changes with every field.
	base := ok.RoundID()
	for _, edit := range []func(*Params){
		func(p *Params) { p.N++ }, func(p *Params) { p.Threshold++ }, func(p *Params) { p.Neighbors += 2 },
		func(p *Params) { p.Bits = 31 }, func(p *Params) { p.Dim++ }, func(p *Params) { p.Malicious = true },
		func(p *Params) { p.Round++ }, func(p *Params) { p.Seed[31] = 1 },
	} {
		p := ok
		edit(&p)
		if p.RoundID() == base {
			t.Fatalf("RoundID ignores a field: %+v", p)
		}
	}
}

// naiveHyperTail computes P[X ≥ x] for a hypergeometric law exactly with
// big rationals.
func naiveHyperTail(pop, succ, draws, x int) float64 {
	lo, hi := max(x, 0), min(succ, draws)
	if lo > hi {
		return 0
	}
	// Σ_i C(succ,i)·C(pop-succ,draws-i), exactly: the first term from
	// big.Int binomials, the next ones by the exact ratio
	// term(i+1)/term(i) = (succ-i)(draws-i) / ((i+1)(pop-succ-draws+i+1)).
	num := new(big.Int)
	term := new(big.Int).Binomial(int64(succ), int64(lo))
	term.Mul(term, new(big.Int).Binomial(int64(pop-succ), int64(draws-lo)))
	tmp := new(big.Int)
	for i := lo; i <= hi; i++ {
		if i > lo {
			d := int64(pop - succ - draws + i)
			if d <= 0 { // C(pop-succ, draws-i) was 0 so far: start afresh
				term.Binomial(int64(succ), int64(i))
				term.Mul(term, tmp.Binomial(int64(pop-succ), int64(draws-i)))
			} else {
				term.Mul(term, tmp.SetInt64(int64((succ-i+1)*(draws-i+1))))
				term.Quo(term, tmp.SetInt64(int64(i)*d))
			}
		}
		num.Add(num, term)
	}
	r := new(big.Rat).SetFrac(num, new(big.Int).Binomial(int64(pop), int64(draws)))
	f, _ := r.Float64()
	return f
}

func TestHypergeometricTail(t *testing.T) {
	for _, c := range [][4]int{{10, 3, 4, 1}, {10, 3, 4, 3}, {99, 10, 20, 5}, {999, 100, 36, 19}, {999, 50, 40, 3}, {20, 0, 5, 1}} {
		got := math.Exp2(log2HyperTail(c[0], c[1], c[2], c[3]))
		want := naiveHyperTail(c[0], c[1], c[2], c[3])
		if want == 0 && got == 0 {
			continue
		}
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("tail%v = %g, want %g", c, got, want)
		}
	}
}

func TestChooseParams(t *testing.T) {
	for _, c := range []struct {
		n          int
		corr, drop float64
	}{{5, 0.1, 0.1}, {50, 0.05, 0.1}, {100, 1.0 / 3, 0.1}, {1000, 0.05, 0.1}, {1000, 0.1, 0.05}, {10000, 0.05, 0.1}} {
		k, th, err := ChooseParams(c.n, c.corr, c.drop, 40, 20)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		p := Params{N: c.n, Threshold: th, Neighbors: k, Dim: 1}
		if err := p.Validate(); err != nil {
			t.Fatalf("%+v: k=%d t=%d invalid: %v", c, k, th, err)
		}
		// Re-check the bounds with the exact tails.
		nc := int(math.Ceil(c.corr * float64(c.n)))
		nd := int(math.Ceil(c.drop * float64(c.n)))
		sec := float64(c.n) * naiveHyperTail(c.n-1, nc, k, th)
		cor := float64(c.n) * naiveHyperTail(c.n-1, nd, k, k-th+1)
		if sec > math.Exp2(-40) || cor > math.Exp2(-20) {
			t.Fatalf("%+v: k=%d t=%d gives security %g, correctness %g", c, k, th, sec, cor)
		}
		// Minimality: the next smaller even degree admits no threshold.
		if k >= 4 && k < c.n-1 {
			kk := k - 2
			okAny := false
			for tt := kk/2 + 1; tt <= kk; tt++ {
				s := float64(c.n)*naiveHyperTail(c.n-1, nc, kk, tt) + math.Exp2(log2GraphBound(c.n, nc+nd, kk))
				r := float64(c.n) * naiveHyperTail(c.n-1, nd, kk, kk-tt+1)
				okAny = okAny || (s <= math.Exp2(-40) && r <= math.Exp2(-20))
			}
			if okAny {
				t.Fatalf("%+v: k=%d is not the smallest degree", c, k)
			}
		}
		t.Logf("n=%d γ=%.2f δ=%.2f: k=%d t=%d", c.n, c.corr, c.drop, k, th)
	}
	for _, bad := range [][5]float64{{1, 0.1, 0.1, 40, 20}, {10, -0.1, 0.1, 40, 20}, {10, 0.1, 1, 40, 20}, {10, math.NaN(), 0.1, 40, 20}, {10, 0.1, 0.1, 0, 20}} {
		if _, _, err := ChooseParams(int(bad[0]), bad[1], bad[2], bad[3], bad[4]); !errors.Is(err, ErrParams) {
			t.Errorf("ChooseParams%v = %v, want ErrParams", bad, err)
		}
	}
	for _, n := range []int{5, 10, 100, 1000} {
		p, err := DefaultParams(n, 7)
		if err != nil || p.Validate() != nil || p.N != n || p.Dim != 7 {
			t.Fatalf("DefaultParams(%d) = %+v, %v", n, p, err)
		}
	}
	// Impossible targets: half corrupt and half dropping out.
	if _, _, err := ChooseParams(20, 0.5, 0.5, 40, 20); !errors.Is(err, ErrParams) {
		t.Errorf("impossible targets: %v", err)
	}
}

// TestGraph checks the SecAgg+ graph: a permutation, k-regular, symmetric,
// neighbors and adjacent agree, deterministic in the seed, and the
// position of a client is uniform over seeds.
func TestGraph(t *testing.T) {
	for _, c := range [][2]int{{10, 2}, {11, 4}, {50, 12}, {7, 6}} {
		p := Params{N: c[0], Threshold: 1, Neighbors: c[1], Dim: 1, Seed: [32]byte{byte(c[0])}}
		g := newGraph(&p)
		if g.perm != nil {
			sorted := slices.Clone(g.perm)
			slices.Sort(sorted)
			for i, v := range sorted {
				if v != uint32(i+1) {
					t.Fatalf("%v: not a permutation of 1..n", c)
				}
			}
		}
		for u := uint32(1); u <= uint32(c[0]); u++ {
			nb := g.neighbors(nil, u)
			if len(nb) != p.degree() || slices.Contains(nb, u) || !slices.IsSorted(nb) {
				t.Fatalf("%v: neighbours of %d = %v", c, u, nb)
			}
			for v := uint32(1); v <= uint32(c[0]); v++ {
				if g.adjacent(u, v) != slices.Contains(nb, v) || g.adjacent(u, v) != g.adjacent(v, u) {
					t.Fatalf("%v: adjacency of %d,%d inconsistent", c, u, v)
				}
			}
		}
	}
	p := Params{N: 30, Threshold: 1, Neighbors: 4, Dim: 1}
	a := HararyPermutation(p.Seed, p.RoundID(), 30)
	if !slices.Equal(a, HararyPermutation(p.Seed, p.RoundID(), 30)) {
		t.Fatal("not deterministic")
	}
	p.Seed[0] = 1
	if slices.Equal(a, HararyPermutation(p.Seed, p.RoundID(), 30)) {
		t.Fatal("seed ignored")
	}
	// Uniformity: where client 1 lands among 5 positions over 5000 seeds.
	var counts [5]float64
	for s := range 5000 {
		var seed [32]byte
		seed[0], seed[1] = byte(s), byte(s>>8)
		perm := HararyPermutation(seed, [32]byte{}, 5)
		counts[slices.Index(perm, 1)]++
	}
	chi := 0.0
	for _, c := range counts {
		chi += (c - 1000) * (c - 1000) / 1000
	}
	if chi > 18.47 { // 4 dof, p = 0.001
		t.Fatalf("positions not uniform: %v (χ² = %.1f)", counts, chi)
	}
}

// TestMaskCancellation: on random graphs, the pairwise masks of all
// clients, with sign(u,v), sum to zero, computed through real X25519
// agreements and the PRG.
func TestMaskCancellation(t *testing.T) {
	for trial, c := range [][3]int{{8, 2, 13}, {12, 6, 32}, {9, 8, 64}, {20, 4, 7}} {
		p := Params{N: c[0], Threshold: 1, Neighbors: c[1], Bits: c[2], Dim: 257, Seed: [32]byte{byte(trial)}}
		g := newGraph(&p)
		r := seededReader(uint64(trial), 4)
		privs := make([]*ecdh.PrivateKey, p.N)
		for i := range privs {
			s, _ := randomScalar(r)
			privs[i], _ = ecdh.X25519().NewPrivateKey(s.Bytes())
		}
		session := [32]byte{9}
		acc := make([]uint64, p.Dim)
		single := make([]uint64, p.Dim)
		gen := newMaskGen()
		nonzero := false
		for u := uint32(1); u <= uint32(p.N); u++ {
			for _, v := range g.neighbors(nil, u) {
				shared, err := privs[u-1].ECDH(privs[v-1].PublicKey())
				if err != nil {
					t.Fatal(err)
				}
				gen.add(acc, PairwiseSeed(shared, session, u, v), p.bits(), u > v)
				if u == 1 {
					gen.Expand(single, PairwiseSeed(shared, session, u, v), p.bits())
					nonzero = nonzero || slices.ContainsFunc(single, func(x uint64) bool { return x != 0 })
				}
			}
		}
		m := wordMask(p.bits())
		for i, x := range acc {
			if x&m != 0 {
				t.Fatalf("trial %d: masks do not cancel at %d: %d", trial, i, x&m)
			}
		}
		if !nonzero {
			t.Fatal("masks are all zero")
		}
	}
}

// naivePack writes bits one at a time, LSB first.
func naivePack(v []uint64, bits int) []byte {
	out := make([]byte, (len(v)*bits+7)/8)
	pos := 0
	for _, x := range v {
		for j := range bits {
			if x>>uint(j)&1 == 1 {
				out[pos/8] |= 1 << uint(pos%8)
			}
			pos++
		}
	}
	return out
}

func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for bits := 1; bits <= 64; bits++ {
		for _, d := range []int{0, 1, 7, 8, 9, 65} {
			v := make([]uint64, d)
			for i := range v {
				v[i] = rng.Uint64() & wordMask(bits)
			}
			got := Pack(nil, v, bits)
			if want := naivePack(v, bits); !slices.Equal(got, want) {
				t.Fatalf("bits %d d %d: Pack = %x, want %x", bits, d, got, want)
			}
			if len(got) != PackedLen(d, bits) || !paddingClean(got, d, bits) {
				t.Fatalf("bits %d d %d: length %d or padding wrong", bits, d, len(got))
			}
			back := make([]uint64, d)
			unpackAdd(back, got, bits)
			if !slices.Equal(back, v) {
				t.Fatalf("bits %d d %d: round trip %v, want %v", bits, d, back, v)
			}
			// Pack appends.
			if pre := Pack([]byte{0xEE}, v, bits); pre[0] != 0xEE || !slices.Equal(pre[1:], got) {
				t.Fatalf("bits %d: Pack does not append", bits)
			}
		}
	}
}

// TestShamir: any t of n shares reconstruct the secret; Lagrange
// coefficients match a big.Int computation.
func TestShamir(t *testing.T) {
	r := seededReader(8, 8)
	for _, tt := range []int{1, 2, 3, 7} {
		secret, _ := randomScalar(r)
		xs := []uint32{1, 2, 3, 5, 8, 13, 21, 34}
		ys := make([]edwards25519.Scalar, len(xs))
		if err := Deal(ys, make([]Commitment, tt), secret, tt, xs, r); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(tt), 1))
		for range 10 {
			idx := rng.Perm(len(xs))[:tt]
			var shares []Share
			for _, i := range idx {
				shares = append(shares, Share{X: xs[i], Y: ys[i]})
			}
			got, err := Combine(shares, tt)
			if err != nil || got.Equal(secret) != 1 {
				t.Fatalf("t=%d: Combine(%v) wrong: %v", tt, idx, err)
			}
		}
		if tt > 1 {
			var shares []Share
			for i := range tt - 1 {
				shares = append(shares, Share{X: xs[i], Y: ys[i]})
			}
			if _, err := Combine(shares, tt); !errors.Is(err, ErrBelowThreshold) {
				t.Fatalf("t-1 shares: %v", err)
			}
		}
	}
	xs := []uint32{3, 9, 1000, 7}
	lambda := make([]edwards25519.Scalar, len(xs))
	lagrangeAtZero(lambda, xs)
	for i := range xs {
		num, den := big.NewInt(1), big.NewInt(1)
		for j := range xs {
			if j != i {
				num.Mul(num, big.NewInt(int64(xs[j])))
				den.Mul(den, big.NewInt(int64(xs[j])-int64(xs[i])))
			}
		}
		den.Mod(den, ell)
		want := new(big.Int).Mul(num, new(big.Int).ModInverse(den, ell))
		want.Mod(want, ell)
		if leToBig(lambda[i].Bytes()).Cmp(want) != 0 {
			t.Fatalf("λ_%d wrong", i)
		}
	}
	if _, err := Combine([]Share{{X: 2}, {X: 2}}, 2); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate x: %v", err)
	}
}

func TestQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const clip = 2.5
	for _, c := range [][2]int{{32, 100}, {16, 10}, {8, 3}, {64, 1000}, {20, 1}} {
		bits, n := c[0], c[1]
		step := QuantStep(clip, bits, n)
		v := make([]float64, 200)
		for i := range v {
			v[i] = (rng.Float64()*2 - 1) * 3 // some beyond clip
		}
		v[0], v[1] = clip, -clip
		q := make([]uint64, len(v))
		if _, err := Quantize(q, v, clip, bits, n, rng); err != nil {
			t.Fatal(err)
		}
		l := QuantLevels(bits, n)
		if l*uint64(n) > wordMask(bits) {
			t.Fatalf("bits %d n %d: n·L overflows", bits, n)
		}
		for i, x := range q {
			if x > l {
				t.Fatalf("q[%d] = %d > L = %d", i, x, l)
			}
		}
		back := make([]float64, len(v))
		if _, err := Dequantize(back, q, clip, bits, n, 1); err != nil {
			t.Fatal(err)
		}
		for i := range v {
			want := max(-clip, min(clip, v[i]))
			if math.Abs(back[i]-want) >= step*(1+1e-9)+4*clip*0x1p-52 { // step + float64 rounding
				t.Fatalf("bits %d: v=%v decoded %v, error ≥ step %v", bits, v[i], back[i], step)
			}
		}
		// n copies of +clip sum to n·L without wrapping mod 2^b.
		top := make([]float64, 1)
		top[0] = clip
		sum := make([]uint64, 1)
		for range n {
			qq, _ := Quantize(make([]uint64, 1), top, clip, bits, n, rng)
			sum[0] = (sum[0] + qq[0]) & wordMask(bits)
		}
		out, _ := Dequantize(make([]float64, 1), sum, clip, bits, n, n)
		if math.Abs(out[0]-float64(n)*clip) > 1e-6*float64(n)*clip {
			t.Fatalf("bits %d: sum of %d × clip decoded as %v", bits, n, out[0])
		}
	}
	// Unbiased: the mean of many stochastic roundings of one value.
	x := []float64{0.123456}
	const reps = 20000
	total := 0.0
	for range reps {
		q, _ := Quantize(make([]uint64, 1), x, 1, 8, 1, rng)
		d, _ := Dequantize(make([]float64, 1), q, 1, 8, 1, 1)
		total += d[0]
	}
	step := QuantStep(1, 8, 1)
	if mean := total / reps; math.Abs(mean-x[0]) > 5*step/math.Sqrt(reps) {
		t.Fatalf("mean %v, want %v (±%v)", mean, x[0], 5*step/math.Sqrt(reps))
	}
	for _, bad := range []struct {
		v    float64
		clip float64
		bits int
		n    int
	}{{math.NaN(), 1, 8, 1}, {math.Inf(1), 1, 8, 1}, {0, 0, 8, 1}, {0, math.Inf(1), 8, 1}, {0, 1, 0, 1}, {0, 1, 8, 0}, {0, 1, 2, 4}} {
		if _, err := Quantize(make([]uint64, 1), []float64{bad.v}, bad.clip, bad.bits, bad.n, rng); !errors.Is(err, ErrRange) {
			t.Errorf("Quantize(%+v) = %v, want ErrRange", bad, err)
		}
	}
	if _, err := Dequantize(make([]float64, 1), []uint64{0}, 1, 8, 2, 3); !errors.Is(err, ErrRange) {
		t.Errorf("count > n: %v", err)
	}
	// Degenerate clips: the 1e-300 (the scale L/2c overflows) and
	// MaxFloat64 (2c overflows), and the edges of the accepted range.
	for _, c := range []struct {
		clip   float64
		bits   int
		n      int
		wantOK bool
	}{
		{1e-300, 32, 10, false}, {math.MaxFloat64, 32, 10, false}, {math.MaxFloat64 / 4, 8, 1, true}, {math.MaxFloat64 / 2, 8, 1, false},
		{math.MaxFloat64 / 4, 8, 3, false}, {0x1p-1022 * float64(QuantLevels(16, 2)) / 2, 16, 2, true},
		{0x1p-1023 * float64(QuantLevels(16, 2)) / 2, 16, 2, false}, {math.SmallestNonzeroFloat64, 8, 1, false},
	} {
		q, qerr := Quantize(make([]uint64, 2), []float64{c.clip, -c.clip}, c.clip, c.bits, c.n, rng)
		d, derr := Dequantize(make([]float64, 2), []uint64{QuantLevels(c.bits, c.n) * uint64(c.n), 0}, c.clip, c.bits, c.n, c.n)
		if !c.wantOK {
			if !errors.Is(qerr, ErrRange) || !errors.Is(derr, ErrRange) || !math.IsNaN(QuantStep(c.clip, c.bits, c.n)) {
				t.Errorf("clip %v, %d bits, n %d: Quantize %v, Dequantize %v, want ErrRange", c.clip, c.bits, c.n, qerr, derr)
			}
			continue
		}
		if qerr != nil || derr != nil {
			t.Fatalf("clip %v, %d bits, n %d: %v %v", c.clip, c.bits, c.n, qerr, derr)
		}
		for _, x := range d {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Errorf("clip %v: decoded %v", c.clip, d)
			}
		}
		if q[0] != QuantLevels(c.bits, c.n) || q[1] != 0 {
			t.Errorf("clip %v: ±clip encoded as %v", c.clip, q)
		}
	}
}

// TestLanes checks the two-lane (SWAR) arithmetic against per-lane
// arithmetic, and the lane mask path against the one-word-per-coordinate
// path and the KAT-checked Expand.
func TestLanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 7))
	edge := []uint64{0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF}
	for i := range 20000 {
		a, b := rng.Uint64(), rng.Uint64()
		if i < 25*25 {
			a = edge[i%5] | edge[(i/5)%5]<<32
			b = edge[(i/25)%5] | edge[(i/125)%5]<<32
		}
		lo := func(x uint64) uint32 { return uint32(x) }
		hi := func(x uint64) uint32 { return uint32(x >> 32) }
		sum, diff := laneAdd(a, b), laneSub(a, b)
		if lo(sum) != lo(a)+lo(b) || hi(sum) != hi(a)+hi(b) {
			t.Fatalf("laneAdd(%x, %x) = %x", a, b, sum)
		}
		if lo(diff) != lo(a)-lo(b) || hi(diff) != hi(a)-hi(b) {
			t.Fatalf("laneSub(%x, %x) = %x", a, b, diff)
		}
	}
	g := newMaskGen()
	for _, d := range []int{1, 2, 7, 4096, 5001} {
		for _, bits := range []int{5, 32} {
			input := make([]uint64, d)
			for i := range input {
				input[i] = rng.Uint64() & wordMask(bits)
			}
			ref := slices.Clone(input)
			g.add(ref, [32]byte{1}, bits, false)
			g.add(ref, [32]byte{2}, bits, true)
			lanes := make([]uint64, laneLen(d))
			lanesFrom(lanes, input)
			g.addLanes(lanes, [32]byte{1}, false)
			g.addLanes(lanes, [32]byte{2}, true)
			got := make([]uint64, d)
			lanesTo(got, lanes, bits)
			for i := range ref {
				if got[i] != ref[i]&wordMask(bits) {
					t.Fatalf("d=%d bits=%d: coordinate %d: %d, want %d", d, bits, i, got[i], ref[i]&wordMask(bits))
				}
			}
			// Pack / unpack through lanes.
			packed := packLanes(nil, lanes, d, bits, make([]uint64, d))
			if want := Pack(nil, got, bits); !slices.Equal(packed, want) {
				t.Fatalf("d=%d bits=%d: packLanes differs from Pack", d, bits)
			}
			back := make([]uint64, laneLen(d))
			unpackAddLanes(back, packed, d, bits, make([]uint64, d))
			again := make([]uint64, d)
			lanesTo(again, back, bits)
			if !slices.Equal(again, got) {
				t.Fatalf("d=%d bits=%d: unpackAddLanes round trip", d, bits)
			}
		}
	}
}

func TestMulSmallVarTime(t *testing.T) {
	g := edwards25519.NewGeneratorPoint()
	xs := []uint32{1000, 1 << 20, 0x55555555, 0xAAAAAAAA, math.MaxUint32 - 1, math.MaxUint32}
	for x := range uint32(600) { // every id of a 600-client round: all NAF patterns of 10 bits
		xs = append(xs, x)
	}
	for _, x := range xs {
		var got, want edwards25519.Point
		mulSmallVarTime(&got, g, x)
		want.ScalarMult(scalarFromUint(x), g)
		if got.Equal(&want) != 1 {
			t.Fatalf("mulSmallVarTime(%d) wrong", x)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	p := Params{N: 4, Threshold: 3, Dim: 2}
	mal := p
	mal.Malicious = true
	privs, pubs := identities(4)
	for _, tc := range []struct {
		name string
		cfg  ClientConfig
		ok   bool
	}{
		{"ok", ClientConfig{ID: 1, Params: p}, true},
		{"id 0", ClientConfig{ID: 0, Params: p}, false},
		{"id > N", ClientConfig{ID: 5, Params: p}, false},
		{"bad params", ClientConfig{ID: 1, Params: Params{N: 4, Threshold: 9, Dim: 2}}, false},
		{"malicious without identity", ClientConfig{ID: 1, Params: mal, PeerKeys: pubs}, false},
		{"malicious without peers", ClientConfig{ID: 1, Params: mal, Identity: privs[1]}, false},
		{"malicious ok", ClientConfig{ID: 1, Params: mal, Identity: privs[1], PeerKeys: pubs}, true},
		{"negative workers", ClientConfig{ID: 1, Params: p, Workers: -1}, false},
		{"two workers", ClientConfig{ID: 1, Params: p, Workers: 2}, true},
	} {
		_, err := NewClient(tc.cfg)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrParams)) {
			t.Errorf("%s: NewClient error %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  ServerConfig
		ok   bool
	}{
		{"ok", ServerConfig{Params: p}, true},
		{"malicious without peers", ServerConfig{Params: mal}, false},
		{"negative workers", ServerConfig{Params: p, Workers: -1}, false},
	} {
		_, err := NewServer(tc.cfg)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrParams)) {
			t.Errorf("%s: NewServer error %v", tc.name, err)
		}
	}
}

// TestHotPathAllocs: packing, unpacking and lane arithmetic do not
// allocate once buffers exist.
func TestHotPathAllocs(t *testing.T) {
	const d = 1001
	v := make([]uint64, d)
	lanes := make([]uint64, laneLen(d))
	tmp := make([]uint64, d)
	for _, bits := range []int{32, 20, 64} {
		buf := make([]byte, 0, PackedLen(d, bits))
		packed := Pack(nil, v, bits)
		if n := testing.AllocsPerRun(10, func() { buf = Pack(buf[:0], v, bits) }); n != 0 {
			t.Errorf("Pack b=%d: %v allocs", bits, n)
		}
		if bits <= 32 {
			if n := testing.AllocsPerRun(10, func() { unpackAddLanes(lanes, packed, d, bits, tmp) }); n != 0 {
				t.Errorf("unpackAddLanes b=%d: %v allocs", bits, n)
			}
			if n := testing.AllocsPerRun(10, func() { buf = packLanes(buf[:0], lanes, d, bits, tmp) }); n != 0 {
				t.Errorf("packLanes b=%d: %v allocs", bits, n)
			}
		}
	}
}
