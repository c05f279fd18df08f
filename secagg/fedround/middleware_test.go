package fedround_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

// recorder keeps the messages each client received, by type, and lets a
// test deliver a crafted message to one client just before a real one.
type recorder struct {
	mu   sync.Mutex
	seen map[string]map[string]*fl.Message // client → type → last message
}

func (r *recorder) last(id, typ string) *fl.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id][typ]
}

func (r *recorder) wrap(h *harness, target, at string, craft func(r *recorder, m *fl.Message) *fl.Message, got *error) {
	r.seen = map[string]map[string]*fl.Message{}
	h.outer = func(id string, next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			if id == target && m.Type == at && craft != nil {
				if c := craft(r, m); c != nil {
					_, *got = next.Handle(ctx, c)
				}
			}
			r.mu.Lock()
			if r.seen[id] == nil {
				r.seen[id] = map[string]*fl.Message{}
			}
			r.seen[id][m.Type] = m
			r.mu.Unlock()
			return next.Handle(ctx, m)
		})
	}
}

func marshal(t interface{ MarshalBinary() ([]byte, error) }) []byte {
	b, err := t.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// A replayed, out-of-order, malformed or wrong-round message is refused
// with the right error and leaves the client's state as it was: the round
// then completes with every client.
func TestMiddlewareRefusesAndRecovers(t *testing.T) {
	const n, dim = 5, 6
	cases := []struct {
		name  string
		at    string
		craft func(r *recorder, m *fl.Message) *fl.Message
		want  error
	}{
		{"replayed train", fedround.TypeShareKeys, func(r *recorder, m *fl.Message) *fl.Message {
			return r.last("c01", fedround.TypeTrain)
		}, fedround.ErrRound},
		{"next round's share-keys", fedround.TypeShareKeys, func(_ *recorder, m *fl.Message) *fl.Message {
			c := *m
			c.Round++
			return &c
		}, fedround.ErrRound},
		{"truncated share-keys", fedround.TypeShareKeys, func(_ *recorder, m *fl.Message) *fl.Message {
			c := *m
			c.Payload = c.Payload[:len(c.Payload)-1]
			return &c
		}, fedround.ErrMalformed},
		{"garbage masked-input", fedround.TypeMaskedInput, func(_ *recorder, m *fl.Message) *fl.Message {
			c := *m
			c.Payload = []byte("not a secagg message")
			return &c
		}, fedround.ErrMalformed},
		{"unmask before share-keys", fedround.TypeShareKeys, func(_ *recorder, m *fl.Message) *fl.Message {
			return &fl.Message{Type: fedround.TypeUnmask, Round: m.Round, Payload: marshal(&secagg.UnmaskRequest{})}
		}, fedround.ErrOrder},
		{"masked-input before share-keys", fedround.TypeShareKeys, func(_ *recorder, m *fl.Message) *fl.Message {
			return &fl.Message{Type: fedround.TypeMaskedInput, Round: m.Round, Payload: marshal(&secagg.SharesBroadcast{To: 2})}
		}, fedround.ErrOrder},
		{"replayed share-keys", fedround.TypeMaskedInput, func(r *recorder, m *fl.Message) *fl.Message {
			return r.last("c01", fedround.TypeShareKeys)
		}, fedround.ErrOrder},
		{"consistency in semi-honest mode", fedround.TypeUnmask, func(_ *recorder, m *fl.Message) *fl.Message {
			return &fl.Message{Type: fedround.TypeConsistency, Round: m.Round, Payload: marshal(&secagg.SurvivorsMsg{})}
		}, fedround.ErrOrder},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(n, 10)
			var got error
			var r recorder
			r.wrap(h, "c01", tc.at, tc.craft, &got)
			mean, acc, st, err := runRound(t, h, testConfig(3, 0), 4, dim)
			if !errors.Is(got, tc.want) {
				t.Fatalf("crafted message: err = %v, want %v", got, tc.want)
			}
			if err != nil || acc != n || st.Failed != 0 {
				t.Fatalf("round after the refusal: accepted %d, failed %d, err %v; want all %d", acc, st.Failed, err, n)
			}
			assertClose(t, mean, wantMean(indices(n), dim, testClip), tol(32, n))
		})
	}
}

// Across rounds: a stale round's opening and a finished round's messages
// are refused; a new round starts afresh.
func TestMiddlewareAcrossRounds(t *testing.T) {
	const n, dim = 4, 5
	h := newHarness(n, 11)
	var r recorder
	var unused error
	r.wrap(h, "", "", nil, &unused)
	for round := 1; round <= 2; round++ {
		if _, _, _, err := runRound(t, h, testConfig(3, 0), round, dim); err != nil {
			t.Fatal(err)
		}
		if got, ok := h.states["c00"].Round(); !ok || got != round {
			t.Fatalf("state round %d %v, want %d", got, ok, round)
		}
	}
	hd, err := h.handler("c00")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	train := r.last("c00", fedround.TypeTrain) // round 2's
	if _, err := hd.Handle(ctx, train); !errors.Is(err, fedround.ErrRound) {
		t.Errorf("replayed train: %v, want ErrRound", err)
	}
	stale := *train
	stale.Round = 1
	if _, err := hd.Handle(ctx, &stale); !errors.Is(err, fedround.ErrMalformed) {
		t.Errorf("train whose setup names another round: %v, want ErrMalformed", err)
	}
	for _, typ := range []string{fedround.TypeShareKeys, fedround.TypeMaskedInput, fedround.TypeUnmask} {
		if _, err := hd.Handle(ctx, r.last("c00", typ)); !errors.Is(err, fedround.ErrOrder) {
			t.Errorf("%s after the round ended: %v, want ErrOrder", typ, err)
		}
	}
	old := *r.last("c00", fedround.TypeShareKeys)
	old.Round = 1
	if _, err := hd.Handle(ctx, &old); !errors.Is(err, fedround.ErrRound) {
		t.Errorf("round 1's share-keys in round 2: %v, want ErrRound", err)
	}
}

// Stale train: a round-1 opening after round 2 started is refused.
func TestMiddlewareStaleTrain(t *testing.T) {
	const n, dim = 4, 5
	h := newHarness(n, 12)
	var r recorder
	var unused error
	r.wrap(h, "", "", nil, &unused)
	if _, _, _, err := runRound(t, h, testConfig(3, 0), 1, dim); err != nil {
		t.Fatal(err)
	}
	round1 := r.last("c02", fedround.TypeTrain)
	if _, _, _, err := runRound(t, h, testConfig(3, 0), 2, dim); err != nil {
		t.Fatal(err)
	}
	hd, _ := h.handler("c02")
	if _, err := hd.Handle(context.Background(), round1); !errors.Is(err, fedround.ErrRound) {
		t.Fatalf("stale train: %v, want ErrRound", err)
	}
}

func TestMiddlewareFreshState(t *testing.T) {
	st := &fedround.ClientState{}
	hd := fl.Wrap(fl.NewHandler(fakeTrainer{0}, nil), fedround.Middleware(st, fedround.ClientConfig{}))
	ctx := context.Background()
	for _, typ := range []string{fedround.TypeShareKeys, fedround.TypeMaskedInput, fedround.TypeConsistency, fedround.TypeUnmask} {
		if _, err := hd.Handle(ctx, &fl.Message{Type: typ, Round: 1}); !errors.Is(err, fedround.ErrOrder) {
			t.Errorf("%s on a fresh state: %v, want ErrOrder", typ, err)
		}
	}
	if _, err := hd.Handle(ctx, &fl.Message{Type: fedround.TypeTrain, Round: 1, Params: make([]float64, 3)}); !errors.Is(err, fedround.ErrMalformed) {
		t.Errorf("train without setup: %v, want ErrMalformed", err)
	}
	if _, ok := st.Round(); ok {
		t.Error("a refused train started a round")
	}
	// Plain training is refused unless allowed; evaluation passes through.
	plain := &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, 3)}
	if _, err := hd.Handle(ctx, plain); !errors.Is(err, fedround.ErrPlainTrain) {
		t.Errorf("plain train: %v, want ErrPlainTrain", err)
	}
	allow := fl.Wrap(fl.NewHandler(fakeTrainer{0}, nil), fedround.Middleware(st, fedround.ClientConfig{AllowPlainTrain: true}))
	if r, err := allow.Handle(ctx, plain); err != nil || r.Type != fl.TypeUpdate {
		t.Errorf("allowed plain train: %v %v", r, err)
	}
	if _, err := hd.Handle(ctx, &fl.Message{Type: fl.TypeEvaluate, Round: 1}); !errors.Is(err, fedround.ErrPolicy) {
		t.Errorf("evaluate by default: %v, want ErrPolicy", err)
	}
	anyEval := fl.Wrap(fl.NewHandler(fakeTrainer{0}, nil), fedround.Middleware(st, fedround.ClientConfig{Evaluate: fedround.EvaluateAny}))
	if _, err := anyEval.Handle(ctx, &fl.Message{Type: fl.TypeEvaluate, Round: 1}); !errors.Is(err, fl.ErrUnknownType) {
		t.Errorf("evaluate with EvaluateAny did not reach the wrapped handler: %v", err)
	}
}

// A train message whose setup does not match the message (dimension) is
// refused; so is, in malicious mode, a setup that lists the client under a
// name whose key is not its own.
func TestMiddlewareChecksSetup(t *testing.T) {
	ctx := context.Background()
	p := secagg.Params{N: 3, Threshold: 2, Bits: 32, Dim: 4, Round: 1}
	setup := fedround.Setup{Params: p, ID: 1, Clip: 1}
	st := &fedround.ClientState{}
	hd := fl.Wrap(fl.NewHandler(fakeTrainer{0}, nil), fedround.Middleware(st, fedround.ClientConfig{}))
	m := &fl.Message{Type: fedround.TypeTrain, Round: 1, Params: make([]float64, 5), Payload: marshal(&setup)}
	if _, err := hd.Handle(ctx, m); !errors.Is(err, fedround.ErrMalformed) {
		t.Errorf("dimension mismatch: %v, want ErrMalformed", err)
	}

	h := newHarness(3, 13)
	h.identities()
	p.Malicious = true
	setup = fedround.Setup{Params: p, ID: 1, Clip: 1, Names: []string{"c01", "c00", "c02"}}
	hd, _ = h.handler("c00")
	m = &fl.Message{Type: fedround.TypeTrain, Round: 1, Params: make([]float64, 4), Payload: marshal(&setup)}
	if _, err := hd.Handle(ctx, m); !errors.Is(err, fedround.ErrMalformed) {
		t.Errorf("listed under another client's name: %v, want ErrMalformed", err)
	}
	setup.Names = []string{"c00", "c01", "c02"}
	m.Payload = marshal(&setup)
	r, err := hd.Handle(ctx, m)
	if err != nil || r.Type != fedround.TypeAdvertise {
		t.Fatalf("good malicious setup: %v %v", r, err)
	}
	var adv secagg.AdvertiseMsg
	if err := adv.UnmarshalBinary(r.Payload); err != nil || len(adv.Sig) != 64 || adv.Client != 1 {
		t.Fatalf("advertise %+v %v, want a signed message of client 1", adv, err)
	}
}

func TestSetupRoundTrip(t *testing.T) {
	cases := []fedround.Setup{
		{Params: secagg.Params{N: 2, Threshold: 1, Bits: 32, Dim: 1}, ID: 2, Clip: 0.5},
		{Params: secagg.Params{N: 10, Threshold: 3, Neighbors: 4, Bits: 16, Dim: 1000, Round: 7, Seed: [32]byte{9}}, ID: 10, Clip: 3},
		{Params: secagg.Params{N: 3, Threshold: 2, Bits: 64, Dim: 5, Malicious: true}, ID: 1, Clip: 1, Names: []string{"a", "", "ccc"}},
		{Params: secagg.Params{N: 7, Threshold: 4, Bits: 32, Dim: 5, Malicious: true, MaxUnrevealed: 3}, ID: 2, Clip: 1, Names: []string{"a", "b", "c", "d", "e", "f", "g"}},
		{Params: secagg.Params{N: 4, Threshold: 3, Bits: 32, Dim: 6}, ID: 3, Clip: 0.5, WeightCap: 600},
	}
	for _, s := range cases {
		b := marshal(&s)
		var got fedround.Setup
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got.Params != s.Params || got.ID != s.ID || got.Clip != s.Clip || got.WeightCap != s.WeightCap || !slices.Equal(got.Names, s.Names) {
			t.Fatalf("round trip: got %+v, want %+v", got, s)
		}
		for cut := range len(b) {
			if err := got.UnmarshalBinary(b[:cut]); !errors.Is(err, fedround.ErrMalformed) {
				t.Fatalf("truncated to %d bytes: %v, want ErrMalformed", cut, err)
			}
		}
	}
	bad := []fedround.Setup{
		{Params: secagg.Params{N: 3, Threshold: 2, Dim: 5}, ID: 4, Clip: 1},                   // id out of range
		{Params: secagg.Params{N: 3, Threshold: 2, Dim: 5}, ID: 1, Clip: -1},                  // clip
		{Params: secagg.Params{N: 3, Threshold: 4, Dim: 5}, ID: 1, Clip: 1},                   // t > k
		{Params: secagg.Params{N: 3, Threshold: 2, Dim: 5, Malicious: true}, ID: 1, Clip: 1},  // no names
		{Params: secagg.Params{N: 3, Threshold: 2, Dim: 0}, ID: 1, Clip: 1},                   // dim
		{Params: secagg.Params{N: 3, Threshold: 2, Dim: 5, MaxUnrevealed: 1}, ID: 1, Clip: 1}, // unrevealed outside malicious mode
	}
	// Version 1 (no weight cap) and version 2 (a cap, which must be finite
	// and positive) by their bytes.
	v1 := marshal(&cases[0])
	if v1[3] != 1 {
		t.Fatalf("unweighted setup has version %d, want 1", v1[3])
	}
	v2 := marshal(&cases[len(cases)-1])
	if v2[3] != 2 || len(v2) != len(marshal(&fedround.Setup{Params: cases[len(cases)-1].Params, ID: 3, Clip: 0.5}))+8 {
		t.Fatalf("weighted setup: version %d, %d bytes", v2[3], len(v2))
	}
	capAt := len(v2) - 4 - 8 // before the name count
	for _, c := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		b := slices.Clone(v2)
		binary.BigEndian.PutUint64(b[capAt:], math.Float64bits(c))
		var got fedround.Setup
		if err := got.UnmarshalBinary(b); !errors.Is(err, fedround.ErrMalformed) {
			t.Errorf("weight cap %v decoded: %v", c, err)
		}
	}
	for i, s := range bad {
		b, err := s.MarshalBinary()
		if err != nil {
			continue
		}
		var got fedround.Setup
		if err := got.UnmarshalBinary(b); !errors.Is(err, fedround.ErrMalformed) {
			t.Errorf("bad setup %d decoded: %v", i, err)
		}
	}
}
