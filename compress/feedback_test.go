package compress

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestErrorFeedbackConservation checks Σ_t decode(payload_t) + e_T = Σ_t v_t
// (Stich et al. 2018; Karimireddy et al. 2019): error feedback loses
// nothing, it only delays.
func TestErrorFeedbackConservation(t *testing.T) {
	inner := map[string]func() Codec{
		"topk":  func() Codec { return must(NewTopK(TopKConfig{Fraction: 0.05})) },
		"randk": func() Codec { return must(NewRandK(RandKConfig{Fraction: 0.05})) },
		"sign":  func() Codec { return Sign{} },
		"qsgd":  func() Codec { return must(NewQSGD(QSGDConfig{S: 2})) },
		"int8":  func() Codec { return must(NewInt8(Int8Config{})) },
		"fp16":  func() Codec { return Float16{} },
	}
	const d, T = 300, 40
	for name, mk := range inner {
		rng := rand.New(rand.NewPCG(1, 2))
		ef := NewErrorFeedback(mk())
		sumIn := make([]float64, d)
		sumOut := make([]float64, d)
		got := make([]float64, d)
		var buf []byte
		for range T {
			v := make([]float64, d)
			for i := range v {
				v[i] = rng.NormFloat64()
				sumIn[i] += v[i]
			}
			buf = must(ef.Encode(buf[:0], v))
			if err := ef.Decode(got, buf); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				sumOut[i] += got[i]
			}
		}
		e := ef.Residual()
		var enorm float64
		for i := range sumIn {
			enorm += e[i] * e[i]
			if diff := math.Abs(sumOut[i] + e[i] - sumIn[i]); diff > 1e-9 {
				t.Fatalf("%s: Σ out + e − Σ in = %v at %d", name, diff, i)
			}
		}
		if name != "fp16" && enorm == 0 {
			t.Errorf("%s: residual is zero; the codec should have lost something", name)
		}
	}
}

// TestErrorFeedbackSignByHand follows EF-signSGD (Karimireddy et al. 2019,
// Algorithm 1) on a two-step example computed by hand.
func TestErrorFeedbackSignByHand(t *testing.T) {
	ef := NewErrorFeedback(Sign{})
	got := make([]float64, 2)
	steps := []struct{ v, out, e []float64 }{
		// p = (3, −1), scale = 2: out (2, −2), e = (1, 1).
		{[]float64{3, -1}, []float64{2, -2}, []float64{1, 1}},
		// p = (1, 1), scale = 1: out (1, 1), e = 0.
		{[]float64{0, 0}, []float64{1, 1}, []float64{0, 0}},
	}
	for s, st := range steps {
		p := must(ef.Encode(nil, st.v))
		if err := ef.Decode(got, p); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != st.out[i] || ef.Residual()[i] != st.e[i] {
				t.Fatalf("step %d: out %v e %v, want %v %v", s, got, ef.Residual(), st.out, st.e)
			}
		}
	}
}

func TestErrorFeedbackLengthAndReset(t *testing.T) {
	ef := NewErrorFeedback(must(NewTopK(TopKConfig{K: 1})))
	if ef.Residual() != nil {
		t.Fatal("residual before the first Encode")
	}
	must(ef.Encode(nil, []float64{1, 2, 3}))
	if _, err := ef.Encode(nil, []float64{1, 2}); !errors.Is(err, ErrLength) {
		t.Fatalf("length change: err = %v, want ErrLength", err)
	}
	before := append([]float64(nil), ef.Residual()...)
	if _, err := ef.Encode(nil, []float64{1, math.NaN(), 3}); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("NaN: err = %v", err)
	}
	for i, x := range ef.Residual() {
		if x != before[i] {
			t.Fatalf("a failed Encode changed the residual: %v, was %v", ef.Residual(), before)
		}
	}
	if want := []float64{1, 2, 0}; before[0] != want[0] || before[1] != want[1] || before[2] != want[2] {
		t.Fatalf("residual after top-1 of (1,2,3) = %v, want %v", before, want)
	}
	ef.Reset()
	if ef.Residual() != nil {
		t.Fatal("residual after Reset")
	}
	p := must(ef.Encode(nil, []float64{5, 4}))
	got := make([]float64, 2)
	if err := ef.Decode(got, p); err != nil || got[0] != 5 || got[1] != 0 {
		t.Fatalf("after Reset: got %v, %v; want (5, 0) with no old residual", got, err)
	}
}
