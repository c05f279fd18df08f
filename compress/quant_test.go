package compress

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestInt8DeterministicError checks |decoded − v| <= scale/2 where scale is
// max|v|/127 over each block, taken from the definition.
func TestInt8DeterministicError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bs := range []int{0, 1, 7, 64, 1000} {
		c := must(NewInt8(Int8Config{BlockSize: bs}))
		for _, n := range []int{1, 5, 100, 3001} {
			v := make([]float64, n)
			for i := range v {
				v[i] = rng.NormFloat64() * math.Exp(3*rng.NormFloat64())
			}
			got := make([]float64, n)
			if err := c.Decode(got, must(c.Encode(nil, v))); err != nil {
				t.Fatal(err)
			}
			b := bs
			if b == 0 {
				b = n
			}
			for lo := 0; lo < n; lo += b {
				hi := min(n, lo+b)
				m := 0.0
				for _, x := range v[lo:hi] {
					m = max(m, math.Abs(x))
				}
				scale := m / 127
				for i := lo; i < hi; i++ {
					if e := math.Abs(got[i] - v[i]); e > scale/2*(1+1e-9) {
						t.Fatalf("bs=%d n=%d: |err[%d]| = %v > scale/2 = %v", bs, n, i, e, scale/2)
					}
					q := got[i] / scale
					if math.Abs(q-math.Round(q)) > 1e-6 || math.Abs(q) > 127+1e-9 {
						t.Fatalf("bs=%d: got[%d]/scale = %v, not an integer in [-127, 127]", bs, i, q)
					}
				}
			}
		}
	}
}

// TestInt8StochasticUnbiased averages many seeded stochastic roundings. The
// vector's largest magnitude is 127, so scale = 1 and y = v; a rounder to
// nearest is off by up to 0.5 and a floor by up to 1, far outside the
// 5σ band (σ <= 0.5/√T).
func TestInt8StochasticUnbiased(t *testing.T) {
	v := []float64{127, 0.1, 0.3, 0.5, -0.7, 2.25, -3.9, 0.02}
	c := must(NewInt8(Int8Config{Stochastic: true, Rand: rand.NewPCG(7, 8)}))
	const T = 20000
	sum := make([]float64, len(v))
	got := make([]float64, len(v))
	var buf []byte
	for range T {
		buf = must(c.Encode(buf[:0], v))
		if err := c.Decode(got, buf); err != nil {
			t.Fatal(err)
		}
		for i, x := range got {
			if x != math.Floor(v[i]) && x != math.Ceil(v[i]) {
				t.Fatalf("got[%d] = %v, not a neighbour of %v", i, x, v[i])
			}
			sum[i] += x
		}
	}
	for i := range v {
		f := v[i] - math.Floor(v[i])
		sigma := math.Sqrt(f * (1 - f) / T)
		if mean := sum[i] / T; math.Abs(mean-v[i]) > 5*sigma+1e-12 {
			t.Errorf("mean of v[%d] = %v, want %v ± %v", i, mean, v[i], 5*sigma)
		}
	}
}

// qsgdStats returns the closed-form per-coordinate variance of QSGD from
// Alistarh et al. (2017), eq. (1): with r = s|v_i|/‖v‖ and p = r − ⌊r⌋,
// Var Q_i = (‖v‖/s)² p(1−p).
func qsgdVar(v []float64, s int) []float64 {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	norm := math.Sqrt(ss)
	out := make([]float64, len(v))
	for i, x := range v {
		r := float64(s) * math.Abs(x) / norm
		p := r - math.Floor(r)
		out[i] = (norm / float64(s)) * (norm / float64(s)) * p * (1 - p)
	}
	return out
}

// TestQSGDUnbiasedAndVariance checks E Q(v) = v coordinate-wise, that the
// mean squared error matches the closed form, and Lemma 3.1's bound
// E‖Q(v)−v‖² <= min(d/s², √d/s)‖v‖².
func TestQSGDUnbiasedAndVariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const T = 4000
	for _, s := range []int{1, 4, 15} {
		const d = 32
		v := make([]float64, d)
		var ss float64
		for i := range v {
			v[i] = rng.NormFloat64()
			ss += v[i] * v[i]
		}
		norm := math.Sqrt(ss)
		c := must(NewQSGD(QSGDConfig{S: s, Rand: rand.NewPCG(uint64(s), 9)}))
		sum := make([]float64, d)
		got := make([]float64, d)
		sqErr := make([]float64, T)
		var buf []byte
		for trial := range T {
			buf = must(c.Encode(buf[:0], v))
			if err := c.Decode(got, buf); err != nil {
				t.Fatal(err)
			}
			for i, x := range got {
				l := math.Abs(x) / norm * float64(s)
				if math.Abs(l-math.Round(l)) > 1e-9 || l > float64(s)+1e-9 || (x != 0 && math.Signbit(x) != math.Signbit(v[i])) {
					t.Fatalf("s=%d: got[%d] = %v is not ±‖v‖·l/s with the sign of %v", s, i, x, v[i])
				}
				sum[i] += x
				sqErr[trial] += (x - v[i]) * (x - v[i])
			}
		}
		vars := qsgdVar(v, s)
		var wantMSE float64
		for i := range v {
			wantMSE += vars[i]
			if mean := sum[i] / T; math.Abs(mean-v[i]) > 5*math.Sqrt(vars[i]/T)+1e-12 {
				t.Errorf("s=%d: mean of Q(v)[%d] = %v, want %v", s, i, mean, v[i])
			}
		}
		var mse, mse2 float64
		for _, e := range sqErr {
			mse += e / T
			mse2 += e * e / T
		}
		se := math.Sqrt((mse2 - mse*mse) / T)
		if math.Abs(mse-wantMSE) > 5*se {
			t.Errorf("s=%d: E‖Q(v)−v‖² = %v, closed form %v ± %v", s, mse, wantMSE, 5*se)
		}
		bound := math.Min(d/float64(s*s), math.Sqrt(d)/float64(s)) * ss
		if wantMSE > bound || mse > bound {
			t.Errorf("s=%d: E‖Q(v)−v‖² = %v (closed form %v) exceeds Lemma 3.1's %v", s, mse, wantMSE, bound)
		}
	}
}

// TestQSGDZeroVector checks the zero vector (norm 0) encodes and decodes.
func TestQSGDZeroVector(t *testing.T) {
	c := must(NewQSGD(QSGDConfig{}))
	got := []float64{1, 1, 1}
	if err := c.Decode(got, must(c.Encode(nil, make([]float64, 3)))); err != nil {
		t.Fatal(err)
	}
	for i, x := range got {
		if x != 0 {
			t.Errorf("got[%d] = %v, want 0", i, x)
		}
	}
}

func TestSignKnownAnswer(t *testing.T) {
	tests := []struct {
		v, want []float64
	}{
		{[]float64{1, -2, 3, -4, 0}, []float64{2, -2, 2, -2, 2}},
		{[]float64{0, 0}, []float64{0, 0}},
		{[]float64{-1, -1, -1, -1, -1, -1, -1, -1, 7}, []float64{-15.0 / 9, -15.0 / 9, -15.0 / 9, -15.0 / 9, -15.0 / 9, -15.0 / 9, -15.0 / 9, -15.0 / 9, 15.0 / 9}},
	}
	for _, tt := range tests {
		p := must(Sign{}.Encode(nil, tt.v))
		if want := HeaderSize + 8 + (len(tt.v)+7)/8; len(p) != want {
			t.Errorf("%v: %d bytes, want %d", tt.v, len(p), want)
		}
		got := make([]float64, len(tt.v))
		if err := (Sign{}).Decode(got, p); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-15 {
				t.Errorf("sign(%v) = %v, want %v", tt.v, got, tt.want)
				break
			}
		}
	}
}

func TestSignScaleRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	v := randVec(rng, 1001)
	var l1 float64
	for _, x := range v {
		l1 += math.Abs(x)
	}
	got := make([]float64, len(v))
	if err := (Sign{}).Decode(got, must(Sign{}.Encode(nil, v))); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		want := math.Copysign(l1/float64(len(v)), v[i])
		if math.Abs(got[i]-want) > 1e-12*math.Abs(want) {
			t.Fatalf("got[%d] = %v, want %v", i, got[i], want)
		}
	}
}
