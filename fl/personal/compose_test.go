package personal_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/personal"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/transport"
)

// Ditto composes with what the plain path composes with, because its
// uplink is the plain update: under central DP (Poisson sampling, seeded
// discrete Gaussian noise) with an int8 uplink codec and a float16
// downlink codec, Ditto's global model equals, bit for bit, the one the
// plain clients reach under the same composition, and every client that
// trained keeps a personal model.
func TestDittoComposesWithPrivacyAndCompression(t *testing.T) {
	run := func(ditto bool) ([]float64, *drift.MemoryStore) {
		m := smallMLP()
		store := &drift.MemoryStore{}
		var conns []fl.Conn
		for _, tr := range trainers(t, m, 6) {
			id := tr.Config().ID
			up, err := compress.Parse("int8")
			if err != nil {
				t.Fatal(err)
			}
			down, _ := compress.Parse("float16")
			var h fl.Handler = fl.NewHandler(tr, tr)
			if ditto {
				h = &personal.DittoClient{ID: id, Global: h, Personal: tr, Evaluator: tr, Store: store, Lambda: 0.1}
			}
			conns = append(conns, conn{id, fl.Wrap(h, transport.DecodeDownlink(down, 0), transport.EncodeUplink(up))})
		}
		up, _ := compress.Parse("int8")
		down, _ := compress.Parse("float16")
		pool := transport.CompressUplink(transport.CompressDownlink(newPool(t, conns...), down), up, 0)
		dp, err := privacy.NewCentralDP(privacy.CentralConfig{
			ClipNorm: 1, NoiseMultiplier: 0.5, Population: 6, SampleRate: 0.5, Rounds: 5,
			Random: rand.NewChaCha8([32]byte{1}),
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Seed, cfg.Privacy = 5, 3, dp
		cfg.MaxAborted = 5
		s, h := runServer(t, cfg, pool, initial(m, 2))
		if eps := h.Rounds[len(h.Rounds)-1].Extra; len(eps) == 0 {
			t.Fatal("no privacy cost recorded")
		}
		return s.Params(), store
	}
	plain, _ := run(false)
	got, store := run(true)
	if !slices.Equal(got, plain) {
		t.Fatal("Ditto's global model differs from the plain clients' under DP and compression")
	}
	if store.Len() == 0 {
		t.Fatal("no personal model kept")
	}
}

// FedPer under central DP: a client that sends a huge base update (norm
// 10⁶) cannot move the base by more than the clip norm allows, because the
// Privacy's aggregator clips every base update before the sum; the
// release is accounted (ε recorded) and the head coordinates stay as
// they were. Without the Privacy the same attack moves the base by about
// 10⁶/3.
func TestFedPerUnderPrivacyClipsTheAttacker(t *testing.T) {
	k := personal.Mask{Dim: 4, Personal: []personal.Range{{3, 4}}}
	attacker := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		return &fl.Message{Type: personal.TypeFedPerUpdate, Round: m.Round, Params: []float64{1e6, -1e6, 1e6}, Weight: 1}, nil
	})
	run := func(dp bool) (base, head []float64, extra fl.Metrics) {
		conns := []fl.Conn{conn{"evil", attacker}}
		for _, id := range []string{"a", "b"} {
			q := &quad{a: []float64{1, 1, 1, 1}, b: []float64{1, 2, 3, 4}, k: 1, lr: 0.1, weight: 1}
			conns = append(conns, conn{id, &personal.FedPerClient{ID: id, Mask: k, Trainer: q, Store: &drift.MemoryStore{}}})
		}
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Seed = 1, 1
		cfg.Exchange = &personal.FedPer{Mask: k}
		if dp {
			p, err := privacy.NewCentralDP(privacy.CentralConfig{
				ClipNorm: 0.1, NoiseMultiplier: 0.01, Population: 3, SampleRate: 1, Rounds: 1,
				Random: rand.NewChaCha8([32]byte{2}),
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Privacy = p
		}
		s, h := runServer(t, cfg, newPool(t, conns...), make([]float64, 4))
		w := s.Params()
		return k.Base(nil, w), k.Head(nil, w), h.Rounds[0].Extra
	}
	norm := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	}
	base, head, extra := run(true)
	t.Logf("under DP: base %v (norm %.4g), ε etc. %v", base, norm(base), extra)
	// Three updates clipped to 0.1, summed, divided by qN = 3, plus noise
	// of standard deviation 0.01·0.1/3 per coordinate: well under 0.11.
	if n := norm(base); n > 0.11 || n == 0 {
		t.Fatalf("under DP the base moved by %v, want in (0, 0.11]", n)
	}
	if head[0] != 0 {
		t.Fatalf("the head coordinate moved to %v", head[0])
	}
	if len(extra) == 0 {
		t.Fatal("no privacy cost recorded")
	}
	if base, _, _ := run(false); norm(base) < 1e5 {
		t.Fatalf("without DP the attack moved the base by %v only: the test mounts no attack", norm(base))
	}
}
