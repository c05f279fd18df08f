package fedround_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// fakeTrainer returns a fixed delta per client: coordinates in (-0.8, 0.8),
// some beyond the tests' clip of 0.5, so clamping is exercised.
type fakeTrainer struct{ idx int }

func fakeDelta(idx, dim int) []float64 {
	d := make([]float64, dim)
	for j := range d {
		d[j] = 0.8 * math.Sin(float64(7*idx+3*j+1))
	}
	return d
}

func (t fakeTrainer) Train(_ context.Context, global []float64, _ fl.Config) (fl.Update, error) {
	return fl.Update{
		Delta:   fakeDelta(t.idx, len(global)),
		Weight:  float64(t.idx + 1),
		Metrics: fl.Metrics{fl.KeyLoss: float64(t.idx), fl.KeyExamples: float64(t.idx + 1)},
	}, nil
}

// errInjected is what a client made to fail returns.
var errInjected = errors.New("test: injected failure")

// harness is a population of clients running the middleware over the
// in-memory transport, with optional fault injection per message type.
type harness struct {
	ids    []string
	states map[string]*fedround.ClientState
	ccfg   map[string]fedround.ClientConfig
	// failAt[type] lists the clients that fail when they receive type.
	failAt map[string]map[string]bool
	// inner, if set, wraps the base client handler (inside the middleware).
	inner func(id string, h fl.Handler) fl.Handler
	// outer, if set, wraps the whole chain (outside the middleware).
	outer func(id string, h fl.Handler) fl.Handler

	mu      sync.Mutex
	uplinks []*fl.Message // every reply a client sent
}

func newHarness(n int, seed uint64) *harness {
	h := &harness{
		states: map[string]*fedround.ClientState{},
		ccfg:   map[string]fedround.ClientConfig{},
		failAt: map[string]map[string]bool{},
	}
	for i := range n {
		id := fmt.Sprintf("c%02d", i)
		h.ids = append(h.ids, id)
		h.states[id] = &fedround.ClientState{}
		var key [32]byte
		key[0], key[1] = byte(i), byte(seed)
		key[2] = byte(seed >> 8)
		h.ccfg[id] = fedround.ClientConfig{Rand: rand.NewChaCha8(key)}
	}
	return h
}

func (h *harness) fail(msgType string, ids ...string) {
	if h.failAt[msgType] == nil {
		h.failAt[msgType] = map[string]bool{}
	}
	for _, id := range ids {
		h.failAt[msgType][id] = true
	}
}

// handler builds client id's handler, as the pool's factory does for every
// message.
func (h *harness) handler(id string) (fl.Handler, error) {
	var idx int
	if _, err := fmt.Sscanf(id, "c%d", &idx); err != nil {
		return nil, err
	}
	var base fl.Handler = fl.NewHandler(fakeTrainer{idx}, nil)
	if h.inner != nil {
		base = h.inner(id, base)
	}
	hd := fl.Wrap(base, fedround.Middleware(h.states[id], h.ccfg[id]))
	if h.outer != nil {
		hd = h.outer(id, hd)
	}
	return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		if h.failAt[m.Type][id] {
			return nil, fmt.Errorf("%w at %s", errInjected, m.Type)
		}
		r, err := hd.Handle(ctx, m)
		if err == nil && r != nil {
			h.mu.Lock()
			h.uplinks = append(h.uplinks, r)
			h.mu.Unlock()
		}
		return r, err
	}), nil
}

func (h *harness) pool(t testing.TB) *transport.Memory {
	t.Helper()
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: h.ids, Factory: h.handler, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seeded returns a seeded reader for the workflow's round seeds.
func seeded(a byte) io.Reader { return rand.NewChaCha8([32]byte{0xfe, a}) }

// runRound runs the workflow once over h's clients (all of them, in the
// order of h.ids) and returns the update written to dst and the stats.
func runRound(t testing.TB, h *harness, cfg fedround.Config, round, dim int) ([]float64, int, *fl.RoundStats, error) {
	t.Helper()
	w, err := fedround.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc := fl.NewRound(round, make([]float64, dim), fl.Config{fl.KeyRound: float64(round)}, fl.Reachable(h.pool(t)), nil)
	dst := make([]float64, dim)
	n, err := w.Run(context.Background(), rc, dst)
	stats := rc.Stats()
	return dst, n, &stats, err
}

// wantMean is the reference: the unweighted mean of the clamped deltas of
// the clients with the given indices, computed from the definition.
func wantMean(idx []int, dim int, clip float64) []float64 {
	out := make([]float64, dim)
	for _, i := range idx {
		for j, x := range fakeDelta(i, dim) {
			out[j] += math.Max(-clip, math.Min(clip, x))
		}
	}
	for j := range out {
		out[j] /= float64(len(idx))
	}
	return out
}

func indices(n int, except ...int) []int {
	var out []int
	for i := range n {
		if !slices.Contains(except, i) {
			out = append(out, i)
		}
	}
	return out
}

func assertClose(t *testing.T, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("len %d, want %d", len(got), len(want))
	}
	for j := range got {
		if math.Abs(got[j]-want[j]) > tol {
			t.Fatalf("coordinate %d = %.12g, want %.12g ± %.3g", j, got[j], want[j], tol)
		}
	}
}

// identities gives every client an ed25519 identity and the whole PKI, and
// returns the PKI for the server.
func (h *harness) identities() map[string]ed25519.PublicKey {
	pki := map[string]ed25519.PublicKey{}
	keys := map[string]ed25519.PrivateKey{}
	for i, id := range h.ids {
		var seed [ed25519.SeedSize]byte
		seed[0], seed[1] = 0x1d, byte(i)
		keys[id] = ed25519.NewKeyFromSeed(seed[:])
		pki[id] = keys[id].Public().(ed25519.PublicKey)
	}
	for _, id := range h.ids {
		c := h.ccfg[id]
		// The protocol tests run rounds too small to be safe for any
		// corrupt fraction; policy_test.go tests the parameter check.
		c.Identity, c.PeerKeys, c.TrustParams = keys[id], pki, true
		h.ccfg[id] = c
	}
	return pki
}
