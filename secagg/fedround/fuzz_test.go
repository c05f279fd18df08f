package fedround_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// FuzzSetup: the setup decoder never panics, and what it accepts
// re-encodes to the same bytes.
func FuzzSetup(f *testing.F) {
	for _, s := range []fedround.Setup{
		{Params: secagg.Params{N: 2, Threshold: 1, Bits: 32, Dim: 1}, ID: 1, Clip: 1},
		{Params: secagg.Params{N: 12, Threshold: 3, Neighbors: 4, Bits: 20, Dim: 100, Round: 3}, ID: 5, Clip: 0.25},
		{Params: secagg.Params{N: 3, Threshold: 2, Bits: 32, Dim: 2, Malicious: true}, ID: 3, Clip: 2, Names: []string{"x", "y", "z"}},
		{Params: secagg.Params{N: 4, Threshold: 3, Bits: 32, Dim: 9}, ID: 2, Clip: 1, WeightCap: 50},
	} {
		b, err := s.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("FRS\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s fedround.Setup
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, fedround.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b, data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzMiddleware: arbitrary secagg/* messages, in any order, never panic
// the client middleware.
func FuzzMiddleware(f *testing.F) {
	setup := fedround.Setup{Params: secagg.Params{N: 3, Threshold: 2, Bits: 16, Dim: 2, Round: 1}, ID: 2, Clip: 1}
	sb, _ := setup.MarshalBinary()
	kb, _ := (&secagg.KeysBroadcast{}).MarshalBinary()
	ub, _ := (&secagg.UnmaskRequest{}).MarshalBinary()
	f.Add(uint8(0), 1, sb)
	f.Add(uint8(1), 1, kb)
	f.Add(uint8(4), 1, ub)
	f.Add(uint8(2), 0, []byte{1, 2, 3})
	rb, _ := (&secagg.RevealsBroadcast{}).MarshalBinary()
	f.Add(uint8(5), 1, rb)
	types := []string{fedround.TypeTrain, fedround.TypeShareKeys, fedround.TypeMaskedInput, fedround.TypeConsistency, fedround.TypeUnmask, fedround.TypeSeed, fl.TypeEvaluate}
	f.Fuzz(func(t *testing.T, typ uint8, round int, payload []byte) {
		st := &fedround.ClientState{}
		hd := fl.Wrap(fl.NewHandler(fakeTrainer{1}, nil), fedround.Middleware(st, fedround.ClientConfig{}))
		ctx := context.Background()
		// Open a valid round first, so later steps reach the decoders.
		if _, err := hd.Handle(ctx, &fl.Message{Type: fedround.TypeTrain, Round: 1, Params: make([]float64, 2), Payload: sb}); err != nil {
			t.Fatal(err)
		}
		m := &fl.Message{Type: types[int(typ)%len(types)], Round: round, Payload: payload, Params: make([]float64, 2)}
		_, _ = hd.Handle(ctx, m)
	})
}
