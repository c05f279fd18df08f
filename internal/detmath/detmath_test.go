package detmath

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"testing"
)

// ord maps a float64 to an integer that counts representable values, so
// |ord(a) − ord(b)| is the distance in ulps (across zero included).
func ord(f float64) int64 {
	b := int64(math.Float64bits(f) &^ (1 << 63))
	if math.Signbit(f) {
		return -b
	}
	return b
}

func ulpDist(a, b float64) int64 {
	if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
		return 0
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// TestExpLogAgainstBig: Exp and Log are within one ulp of the correctly
// rounded value (from the big.Float references) on random inputs over
// their whole domain, subnormal results and arguments included; it also
// reports how often they are correctly rounded.
func TestExpLogAgainstBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 14))
	n := 1500
	if os.Getenv("CI") == "true" {
		n = 20000
	}
	var expExact, logExact, total int
	check := func(name string, f func(float64) float64, ref func(float64) float64, x float64, exact *int) {
		got, want := f(x), ref(x)
		switch d := ulpDist(got, want); {
		case d > 1:
			t.Fatalf("%s(%v) = %v (%#x), correctly rounded %v (%#x): %d ulps",
				name, x, got, math.Float64bits(got), want, math.Float64bits(want), d)
		case d == 0:
			*exact++
		}
	}
	for k := range n {
		var x float64
		switch k % 4 {
		case 0:
			x = -746 + 1456*rng.Float64() // the whole range, overflow and underflow
		case 1:
			x = -2 + 4*rng.Float64() // where Normal calls it, and around 0
		case 2:
			x = -745.2 + 37*rng.Float64() // subnormal results
		case 3:
			x = math.Ldexp(rng.Float64()-0.5, -int(rng.IntN(60))) // tiny arguments
		}
		check("Exp", Exp, refExp, x, &expExact)
		var y float64
		switch k % 3 {
		case 0: // any positive finite float64, subnormals included
			y = math.Float64frombits(rng.Uint64N(math.Float64bits(math.MaxFloat64)) + 1)
		case 1:
			y = 0.5 + 1.5*rng.Float64() // around 1
		case 2:
			y = 1 - 0x1p-53*float64(rng.Uint64N(1<<20)) // where Normal calls it: (0, 1]
			if y <= 0 {
				y = 1
			}
		}
		check("Log", Log, refLog, y, &logExact)
		total++
	}
	t.Logf("correctly rounded: Exp %d/%d, Log %d/%d", expExact, total, logExact, total)
}

// TestExpLogSpecial: the special values, and agreement with the math
// package within two ulps (its amd64 assembly included).
func TestExpLogSpecial(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Exp(0)", Exp(0), 1}, {"Exp(+Inf)", Exp(math.Inf(1)), math.Inf(1)}, {"Exp(-Inf)", Exp(math.Inf(-1)), 0},
		{"Exp(710)", Exp(710), math.Inf(1)}, {"Exp(-746)", Exp(-746), 0}, {"Exp(1)", Exp(1), math.E},
		{"Log(1)", Log(1), 0}, {"Log(0)", Log(0), math.Inf(-1)}, {"Log(+Inf)", Log(math.Inf(1)), math.Inf(1)},
		{"Log(e)", Log(math.E), 1}, {"Log(2)", Log(2), math.Ln2}, {"Log(0.5)", Log(0.5), -math.Ln2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !math.IsNaN(Exp(math.NaN())) || !math.IsNaN(Log(-1)) || !math.IsNaN(Log(math.NaN())) || !math.IsNaN(Log(math.Inf(-1))) {
		t.Error("NaN cases")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for range 100000 {
		x := (rng.Float64() - 0.5) * 1400
		if d := ulpDist(Exp(x), math.Exp(x)); d > 2 {
			t.Fatalf("Exp(%v) = %v, math.Exp %v: %d ulps", x, Exp(x), math.Exp(x), d)
		}
		y := math.Exp((rng.Float64() - 0.5) * 1400)
		if d := ulpDist(Log(y), math.Log(y)); d > 2 {
			t.Fatalf("Log(%v) = %v, math.Log %v: %d ulps", y, Log(y), math.Log(y), d)
		}
	}
}

// TestPow: math.Pow's special cases bit for bit, its exact paths (integer
// and half-integer y) bit for bit where the build does not fuse, and
// elsewhere within the error of math.Pow's algorithm of the correctly
// rounded x^y = e^(y·ln x) (the big.Float references at 320 bits): the
// absolute error of yf·Log(x), up to 2·|y·ln x|·2⁻⁵³ and twice that with
// Log's ulp, becomes the relative error of e^(yf·ln x), so the bound is
// 4·|y·ln x| ulps, plus four for Exp and the division and two for each
// squaring of the integer part.
// math.Pow itself is compared within two ulps (eight where the build fuses
// its squarings), except at subnormal x where
// amd64's math.Log is wrong (golang/go#56600: math.Log(5e-324) =
// −709.09, not −744.44) and Pow is not.
func TestPow(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	special := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 2, -2, 3, -3, 0.25, 1e300, -1e300, 1 << 63, 1 << 64, inf, -inf, nan, 1.5, -1.5, 5e-324}
	for _, x := range special {
		for _, y := range special {
			got, want := Pow(x, y), math.Pow(x, y)
			exactPath := y == math.Trunc(y) || math.Abs(y) == 0.5
			switch {
			case math.IsNaN(want) || math.IsInf(want, 0) || want == 0 || math.Abs(want) == 1 || (exactPath && !stdlibFused):
				if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("Pow(%v, %v) = %v, math.Pow %v", x, y, got, want)
				}
			case exactPath: // math.Pow's squarings are fused in this build
				if d := ulpDist(got, want); d > 2 {
					t.Errorf("Pow(%v, %v) = %v, math.Pow %v: %d ulps", x, y, got, want, d)
				}
			default:
				checkPowRef(t, x, y)
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for k := range 600 {
		x := 100 * rng.Float64()
		y := -8 + 16*rng.Float64()
		switch k % 3 {
		case 0:
			x, y = float64(1+rng.IntN(5000)), -0.6 // synthetic.go's (j+1)^-0.6
		case 1:
			x = math.Float64frombits(rng.Uint64N(1<<52) + 1) // subnormal
			y = 0.01 + rng.Float64()
		}
		if x >= 0x1p-1022 {
			if d := ulpDist(Pow(x, y), math.Pow(x, y)); (!stdlibFused && d > 2) || d > 8 {
				t.Fatalf("Pow(%v, %v) = %v, math.Pow %v: %d ulps", x, y, Pow(x, y), math.Pow(x, y), d)
			}
		}
		checkPowRef(t, x, y)
	}
}

// checkPowRef checks Pow(x, y), x > 0, against the big.Float x^y within
// the error bound of the algorithm (see TestPow).
func checkPowRef(t *testing.T, x, y float64) {
	t.Helper()
	if !(x > 0) || math.IsInf(x, 0) || math.IsInf(y, 0) || math.IsNaN(y) {
		t.Fatalf("checkPowRef(%v, %v): outside its domain", x, y)
	}
	l := bigLn(x)
	l.Mul(l, newRef().SetFloat64(y))
	lf, _ := l.Float64()
	if lf > 700 || lf < -700 {
		return // the reference's exp is for moderate arguments
	}
	want, _ := bigExpBig(l).Float64()
	yi, _ := math.Modf(math.Abs(y))
	bound := 4 + int64(4*math.Abs(lf)) + 2*int64(bits.Len64(uint64(yi)+1))
	if d := ulpDist(Pow(x, y), want); d > bound {
		t.Fatalf("Pow(%v, %v) = %v, correctly rounded %v: %d ulps > %d", x, y, Pow(x, y), want, d, bound)
	}
}

// counter counts the words drawn from a PCG.
type counter struct {
	p rand.PCG
	n int
}

func (c *counter) Uint64() uint64 { c.n++; return c.p.Uint64() }

// stdlibFused reports whether the build lets the compiler fuse
// multiply-adds in math/rand/v2 itself (see fused_*.go): then
// NormFloat64's tail values are other bits than on a plain amd64 build.

// TestNormalMatchesStdlib: from the same words, Normal returns what
// rand.Rand.NormFloat64 returns and consumes as many words, on 10^6 draws
// (10^7 with CI=true), each from fresh random PCG state so that a
// disagreement does not shift the draws after it. The draws where they
// differ are counted: a rejection test that fell the other way (the
// number of words differs) or another value from the same words. On a
// build where the standard library is not fused (amd64 v1/v2, 386) the
// port's arithmetic is the stdlib's and only math's exp and log differ,
// so values must agree wherever the words do.
func TestNormalMatchesStdlib(t *testing.T) {
	n := 1000000
	if os.Getenv("CI") == "true" {
		n = 10000000
	}
	seeds := rand.New(rand.NewPCG(20, 26))
	var a, b counter
	std := rand.New(&a)
	var flips, values int
	for range n {
		s1, s2 := seeds.Uint64(), seeds.Uint64()
		a.p.Seed(s1, s2)
		b.p.Seed(s1, s2)
		a.n, b.n = 0, 0
		x, y := std.NormFloat64(), Normal(&b)
		switch {
		case a.n != b.n:
			flips++
		case math.Float64bits(x) != math.Float64bits(y):
			values++
			if !stdlibFused {
				t.Errorf("same %d words, NormFloat64 %v (%#x), Normal %v (%#x)", a.n, x, math.Float64bits(x), y, math.Float64bits(y))
			}
		}
	}
	t.Logf("%d draws: %d rejection tests fell the other way, %d other values from the same words (stdlib fused: %v)", n, flips, values, stdlibFused)
	// Each flip needs math's exp or log to straddle a float32 (wedge) or
	// float64 (tail) comparison by its last bit: rarer than 1 in 10^5.
	if flips > n/100000 {
		t.Errorf("%d of %d draws took another path than NormFloat64", flips, n)
	}
	if stdlibFused && values > n/1000 {
		t.Errorf("%d of %d draws differ from a fused NormFloat64; only tail draws (≈3e-4) may", values, n)
	}
}

// normalDigest is the SHA-256 of the bits of the first 10^5 draws of
// Normal from rand.NewPCG(1, 2), as refNormal (big.Float exp and log)
// computes them; TestNormalDigest recomputes it both ways.
const normalDigest = "acb19d254c98a151c1b8117f33a82d383df5f5bd010b5ab4e787bb76ddd956a5"

func digest(n int, f func(rand.Source) float64) string {
	src := rand.NewPCG(1, 2)
	h := sha256.New()
	var buf [8]byte
	for range n {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(f(src)))
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestNormalDigest pins Normal's bits: the digest of 10^5 draws equals the
// one the slow reference computes from the same words, and both equal the
// recorded one, on every machine.
func TestNormalDigest(t *testing.T) {
	const n = 100000
	ref := digest(n, func(r rand.Source) float64 { return refNormal(r) })
	got := digest(n, Normal)
	if ref != normalDigest {
		t.Errorf("reference digest %s, recorded %s", ref, normalDigest)
	}
	if got != ref {
		t.Errorf("Normal digest %s, reference %s", got, ref)
	}
}

func BenchmarkNormal(b *testing.B) {
	b.Run("detmath", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		b.SetBytes(8)
		b.ReportAllocs()
		s := 0.0
		for b.Loop() {
			s += Normal(r)
		}
		sink = s
	})
	b.Run("stdlib", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		b.SetBytes(8)
		b.ReportAllocs()
		s := 0.0
		for b.Loop() {
			s += r.NormFloat64()
		}
		sink = s
	})
}

func BenchmarkExpLog(b *testing.B) {
	xs := make([]float64, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range xs {
		xs[i] = -5 + 10*rng.Float64()
	}
	for _, c := range []struct {
		name string
		f    func(float64) float64
	}{{"Exp/detmath", Exp}, {"Exp/math", math.Exp}, {"Log/detmath", Log}, {"Log/math", math.Log}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(8 * int64(len(xs)))
			b.ReportAllocs()
			s := 0.0
			for b.Loop() {
				for _, x := range xs {
					s += c.f(math.Abs(x))
				}
			}
			sink = s
		})
	}
}

var sink float64
