package personal_test

import (
	"context"
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
		s, err := fl.NewServer(cfg, pool, initial(m, 2))
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
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
