package robust_test

import (
	"encoding"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust"
)

// TestStatefulRulesResume: a stateful rule restored from its state after
// k rounds gives the same bits in the next rounds as one that ran through.
func TestStatefulRulesResume(t *testing.T) {
	for _, name := range []string{"cc", "bucketing+cc", "bucketing+krum", "nnm+cc"} {
		mk := func() fl.Aggregator {
			a, err := robust.New(name, 2, 5)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		rng := rand.New(rand.NewPCG(3, 3))
		rounds := make([][]fl.Update, 5)
		for r := range rounds {
			rounds[r] = make([]fl.Update, 16)
			for i := range rounds[r] {
				v := make([]float64, 30)
				for j := range v {
					v[j] = rng.NormFloat64() * 20
				}
				rounds[r][i] = fl.Update{Client: fmt.Sprint(i), Delta: v, Weight: 1}
			}
		}
		through := mk()
		var want []float64
		resumedFrom := mk()
		var state []byte
		for r, us := range rounds {
			dst := make([]float64, 30)
			if err := through.Aggregate(dst, us); err != nil {
				t.Fatal(err)
			}
			want = dst
			if r < 2 {
				if err := resumedFrom.Aggregate(make([]float64, 30), us); err != nil {
					t.Fatal(err)
				}
			}
			if r == 1 {
				var err error
				state, err = resumedFrom.(encoding.BinaryMarshaler).MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		resumed := mk()
		if err := resumed.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []float64
		for _, us := range rounds[2:] {
			got = make([]float64, 30)
			if err := resumed.Aggregate(got, us); err != nil {
				t.Fatal(err)
			}
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("%s: resumed run differs at %d: %v vs %v", name, j, got[j], want[j])
			}
		}
		// Corrupt state is refused.
		if len(state) > 0 {
			if err := mk().(encoding.BinaryUnmarshaler).UnmarshalBinary(state[:len(state)-1]); err == nil {
				t.Errorf("%s: truncated state accepted", name)
			}
		}
	}
}

// FuzzStateDecoders: the checkpoint decoders of the stateful pipelines
// (Pre, Chain, CenteredClipping, Bucketing) refuse garbage with an error,
// never a panic, and what they accept marshals back to the same bytes.
func FuzzStateDecoders(f *testing.F) {
	mk := func() []encoding.BinaryUnmarshaler {
		return []encoding.BinaryUnmarshaler{
			&robust.Pre{Step: robust.Chain{&robust.Bucketing{Seed: 1}, &robust.ARC{F: 1}}, Rule: &robust.CenteredClipping{}},
			robust.Chain{&robust.Bucketing{Seed: 1}, &robust.NNM{F: 1}},
			&robust.CenteredClipping{},
			&robust.Bucketing{},
		}
	}
	ups := randUpdates(rand.New(rand.NewPCG(1, 1)), 6, 3, 1)
	for _, d := range mk() {
		if a, ok := d.(fl.Aggregator); ok {
			_ = a.Aggregate(make([]float64, 3), ups)
		}
		if s, ok := d.(robust.Step); ok {
			_, _ = s.Apply(ups)
		}
		b, err := d.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range mk() {
			if d.UnmarshalBinary(b) != nil {
				continue
			}
			again, err := d.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				t.Fatalf("%T: accepted state does not marshal: %v", d, err)
			}
			e := mk()
			var d2 encoding.BinaryUnmarshaler
			for _, x := range e {
				if fmt.Sprintf("%T", x) == fmt.Sprintf("%T", d) {
					d2 = x
				}
			}
			if err := d2.UnmarshalBinary(again); err != nil {
				t.Fatalf("%T: re-marshalled state refused: %v", d, err)
			}
			third, _ := d2.(encoding.BinaryMarshaler).MarshalBinary()
			if string(third) != string(again) {
				t.Fatalf("%T: state does not round-trip", d)
			}
		}
	})
}
