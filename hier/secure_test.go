package hier_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/hier"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

// secureClip is the quantization range of the secure tests: the leaves'
// deltas reach ±2⁴·0.5, so some coordinates are clamped.
const secureClip = 2.0

// faults says which client fails at which message type in which round.
type faults map[string]map[int]string

func (f faults) at(id string, round int) string { return f[id][round] }

// secureLeaves builds the leaf clients of one federation: each with its
// own fedround.ClientState, and a client source of randomness keyed by
// (client, round, message type), so that a client quantizes its delta
// with the same stochastic rounding whether its round is flat or inside
// an edge (the key and share draws differ; the sum does not depend on
// them). The clients trust the dealers of shares (no Feldman check:
// fedround tests it; here it would only cost time).
type secureLeaves struct {
	mu     sync.Mutex
	states map[string]*fedround.ClientState
	f      faults
	// sent records every message a leaf sent (checked for plain vectors).
	sent []*fl.Message
	// trained[r][id] is the global parameters client id got in round r;
	// masked[r] lists the clients that sent their masked input in round r.
	trained map[int]map[string][]float64
	masked  map[int][]string
	// keys and pki, if set, give each client an identity (malicious mode).
	keys map[string]ed25519.PrivateKey
	pki  map[string]ed25519.PublicKey
}

// identities gives every leaf an ed25519 identity and the whole PKI, and
// returns the PKI.
func (l *secureLeaves) identities(ids []string) map[string]ed25519.PublicKey {
	l.keys, l.pki = map[string]ed25519.PrivateKey{}, map[string]ed25519.PublicKey{}
	for _, id := range ids {
		seed := sha256.Sum256([]byte("identity/" + id))
		l.keys[id] = ed25519.NewKeyFromSeed(seed[:])
		l.pki[id] = l.keys[id].Public().(ed25519.PublicKey)
	}
	return l.pki
}

func newSecureLeaves(f faults) *secureLeaves {
	return &secureLeaves{states: map[string]*fedround.ClientState{}, f: f, trained: map[int]map[string][]float64{}, masked: map[int][]string{}}
}

func (l *secureLeaves) handler(id string) fl.Handler {
	l.mu.Lock()
	st, ok := l.states[id]
	if !ok {
		st = &fedround.ClientState{}
		l.states[id] = st
	}
	l.mu.Unlock()
	base := leaf(id)
	return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		if t := l.f.at(id, m.Round); t == m.Type || t == "*" {
			return nil, fmt.Errorf("%w: %s at %s", errCrash, id, m.Type)
		}
		key := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%s", id, m.Round, m.Type))
		cc := fedround.ClientConfig{Rand: rand.NewChaCha8(key), TrustDealers: true}
		if l.keys != nil {
			// The tests' rounds are too small for the client's default
			// risk bound; fedround's policy tests check it.
			cc.Identity, cc.PeerKeys, cc.TrustParams = l.keys[id], l.pki, true
		}
		h := fl.Wrap(base, fedround.Middleware(st, cc))
		rep, err := h.Handle(ctx, m)
		l.mu.Lock()
		defer l.mu.Unlock()
		if m.Type == fedround.TypeTrain {
			if l.trained[m.Round] == nil {
				l.trained[m.Round] = map[string][]float64{}
			}
			l.trained[m.Round][id] = slices.Clone(m.Params)
		}
		if rep != nil {
			l.sent = append(l.sent, rep)
			if rep.Type == fedround.TypeMasked {
				l.masked[m.Round] = append(l.masked[m.Round], id)
			}
		}
		return rep, err
	})
}

func (l *secureLeaves) pool(tb testing.TB, ids []string) *transport.Memory {
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Workers: 4, Factory: func(id string) (fl.Handler, error) { return l.handler(id), nil }})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// secureCfg is the protocol's config, for an edge of n clients or the flat
// round: a fixed threshold so that the tests choose which dropouts an
// edge survives.
func secureCfg(threshold int, weightCap float64, seed byte) fedround.Config {
	cfg := fedround.DefaultConfig()
	cfg.Clip, cfg.WeightCap, cfg.Threshold = secureClip, weightCap, threshold
	cfg.Rand = rand.NewChaCha8([32]byte{0x5e, seed})
	return cfg
}

// secureTree builds a root pool over the edges of t: the edges whose
// members are leaves run secure aggregation over them with threshold
// tEdge; edges of edges add their members' secure sums.
func secureTree(tb testing.TB, t tree, l *secureLeaves, tEdge int, weightCap float64) *transport.Memory {
	return t.securePool(tb, "root", l, tEdge, weightCap)
}

func (t tree) securePool(tb testing.TB, id string, l *secureLeaves, tEdge int, weightCap float64) *transport.Memory {
	handlers := map[string]fl.Handler{}
	for k, e := range t[id] {
		kids := t[e]
		var cfg hier.EdgeConfig
		if _, ok := t[kids[0]]; ok {
			cfg = hier.EdgeConfig{Pool: t.securePool(tb, e, l, tEdge, weightCap), Size: t.size}
		} else {
			sc := secureCfg(tEdge, weightCap, byte(k))
			cfg = hier.EdgeConfig{Pool: l.pool(tb, kids), Secure: &sc}
		}
		edge, err := hier.NewEdge(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		handlers[e] = edge
	}
	p, err := transport.NewMemory(transport.MemoryConfig{IDs: t[id], Factory: func(id string) (fl.Handler, error) { return handlers[id], nil }})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestSecureThreeLevels: regions of secure edges (edges of edges add the
// secure sums of theirs) give the bits of one flat secure round over the
// 20 clients, with dropouts that secagg recovers from.
func TestSecureThreeLevels(t *testing.T) {
	tr := threeLevel()
	f := faults{"c007": {1: fedround.TypeMaskedInput, 2: fedround.TypeMaskedInput}, "c013": {1: fedround.TypeTrain, 2: fedround.TypeTrain}}
	rounds := 2
	if testing.Short() {
		rounds = 1
	}
	hcfg := serverConfig(rounds, 5)
	hcfg.Exchange = &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip}}
	hs, hh := run(t, hcfg, secureTree(t, tr, newSecureLeaves(f), 3, 0))
	flat, err := fedround.New(secureCfg(10, 0, 9))
	if err != nil {
		t.Fatal(err)
	}
	fcfg := serverConfig(rounds, 5)
	fcfg.Exchange = flat
	fs, fh := run(t, fcfg, newSecureLeaves(f).pool(t, tr.leaves("root")))
	sameBits(t, "three-level secure tree vs flat secure round", hs.Params(), fs.Params())
	for i, hr := range hh.Rounds {
		if fr := fh.Rounds[i]; hr.Accepted != 18 || fr.Accepted != 18 || hr.Extra[hier.KeyDepth] != 3 || hr.Failed != fr.Failed || hr.Sampled != 20 {
			t.Errorf("round %d: tree accepted %d failed %d sampled %d depth %v, flat accepted %d failed %d", i+1, hr.Accepted, hr.Failed, hr.Sampled, hr.Extra[hier.KeyDepth], fr.Accepted, fr.Failed)
		}
	}
}

// secureFaults: dropouts inside the edges that secagg recovers from (a
// client gone before advertising, one after sharing its keys, whose masks
// the survivors unmask), and in round 2 edge e2 losing 4 of its 6 clients
// after sharing keys, below its threshold 4: the edge fails its secure
// round and the root counts its 6 clients as failed. edgeDown lists the
// rounds in which an edge fails as a whole, for the flat reference.
func secureFaults() (f faults, flat faults) {
	f = faults{
		"c001": {1: fedround.TypeTrain},
		"c008": {1: fedround.TypeMaskedInput, 3: fedround.TypeMaskedInput},
		"c015": {3: fedround.TypeTrain},
		"c020": {2: fedround.TypeMaskedInput},
	}
	for _, c := range []string{"c012", "c013", "c014", "c016"} {
		f[c] = map[int]string{2: fedround.TypeMaskedInput}
	}
	// The flat round loses the same clients' inputs: the dropouts, and
	// the whole of e2 in round 3.
	flat = faults{}
	for id, m := range f {
		flat[id] = map[int]string{}
		for r, t := range m {
			flat[id][r] = t
		}
	}
	for _, c := range twoLevel()["e2"] {
		if flat[c] == nil {
			flat[c] = map[int]string{}
		}
		flat[c][2] = fedround.TypeMaskedInput
	}
	return f, flat
}

// TestSecureTreeEqualsFlatSecure: a two-level tree whose edges run secure
// aggregation ends with the bits of one flat secure round per round over
// the same 24 clients, unweighted and with capped weights, with dropouts
// inside the edges (secagg recovery) and an edge that fails its secure
// round (its clients counted as failed, the round going on under quorum).
//
// With -short (the race step) it runs the capped-weight variant for the
// two rounds that hold every kind of fault; the unweighted path is also checked
// bit for bit by TestSecureThreeLevels and TestSecureResumeAtRoot.
func TestSecureTreeEqualsFlatSecure(t *testing.T) {
	caps, rounds := []float64{0, 4}, 4
	if testing.Short() {
		caps, rounds = []float64{4}, 2
	}
	for _, weightCap := range caps {
		t.Run(fmt.Sprintf("weight cap %v", weightCap), func(t *testing.T) {
			tr := twoLevel()
			f, ff := secureFaults()
			const quorum = 10
			treeLeaves := newSecureLeaves(f)
			hcfg := serverConfig(rounds, quorum)
			hcfg.Exchange = &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip, WeightCap: weightCap}}
			hs, hh := run(t, hcfg, secureTree(t, tr, treeLeaves, 4, weightCap))

			flat, err := fedround.New(secureCfg(12, weightCap, 99))
			if err != nil {
				t.Fatal(err)
			}
			fcfg := serverConfig(rounds, quorum)
			fcfg.Exchange = flat
			fs, fh := run(t, fcfg, newSecureLeaves(ff).pool(t, tr.leaves("root")))

			sameBits(t, "secure tree vs flat secure round", hs.Params(), fs.Params())
			for i, hr := range hh.Rounds {
				fr := fh.Rounds[i]
				if hr.Aborted || fr.Aborted || hr.Accepted != fr.Accepted {
					t.Errorf("round %d: tree aborted=%v accepted=%d, flat aborted=%v accepted=%d", i+1, hr.Aborted, hr.Accepted, fr.Aborted, fr.Accepted)
				}
				if hr.Failed != fr.Failed {
					t.Errorf("round %d: tree counts %d failed clients, flat %d", i+1, hr.Failed, fr.Failed)
				}
				if hr.Sampled != 24 || hr.Failed != hr.Sampled-hr.Accepted {
					t.Errorf("round %d: tree sampled %d failed %d accepted %d, want 24 leaf clients, failed = sampled − accepted", i+1, hr.Sampled, hr.Failed, hr.Accepted)
				}
			}
			if got := hh.Rounds[1]; got.Accepted != 17 || got.Failures[fl.FailError] < 6 {
				t.Errorf("round 2: accepted %d, failures %v; want 17 (e2 failed, 6 clients, and c020 dropped)", got.Accepted, got.Failures)
			}
			if slices.Equal(hs.Params(), make([]float64, dim)) {
				t.Error("parameters did not move")
			}
			for _, m := range treeLeaves.sent {
				if len(m.Params) != 0 {
					t.Fatalf("a leaf sent a plain vector of %d values (%s)", len(m.Params), m.Type)
				}
			}
		})
	}
}

// TestSecureTreeMean checks the tree's first round against the definition
// (the mean of the survivors' clamped deltas), within the documented bound
// of one quantization step: the tree and the flat round could agree on a
// wrong answer; this cannot.
func TestSecureTreeMean(t *testing.T) {
	tr := twoLevel()
	l := newSecureLeaves(faults{"c003": {1: fedround.TypeMaskedInput}})
	cfg := serverConfig(1, 1)
	cfg.Exchange = &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip}}
	s, h := run(t, cfg, secureTree(t, tr, l, 4, 0))
	want := make([]float64, dim)
	n := 0
	for _, id := range tr.leaves("root") {
		if id == "c003" {
			continue
		}
		m, err := leaf(id).Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, dim)})
		if err != nil {
			t.Fatal(err)
		}
		for j, x := range m.Params {
			want[j] += max(-secureClip, min(secureClip, x))
		}
		n++
	}
	step := secagg.QuantStep(secureClip, fedround.DefaultBits, 24)
	got := s.Params()
	for j := range want {
		want[j] /= float64(n)
		if math.Abs(got[j]-want[j]) > step {
			t.Errorf("coordinate %d = %v, want %v ± %v", j, got[j], want[j], step)
		}
	}
	if h.Rounds[0].Accepted != 23 {
		t.Errorf("accepted %d, want 23", h.Rounds[0].Accepted)
	}
}

// TestSecureResumeAtRoot: a root of secure edges that stops after round 2
// and resumes from its checkpoint ends with the bits of an uninterrupted
// run (the root keeps no secure state; the clients' rounds keep
// increasing).
func TestSecureResumeAtRoot(t *testing.T) {
	tr := twoLevel()
	f, _ := secureFaults()
	const rounds = 3
	ex := func() *hier.Exchange {
		return &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip}}
	}
	full := serverConfig(rounds, 4)
	full.Exchange = ex()
	ref, _ := run(t, full, secureTree(t, tr, newSecureLeaves(f), 4, 0))

	l := newSecureLeaves(f)
	s2, h := resumeAfterTwo(t, rounds, 4,
		func() fl.Exchange { return ex() },
		func() fl.Pool { return secureTree(t, tr, l, 4, 0) })
	sameBits(t, "resumed vs uninterrupted", s2.Params(), ref.Params())
	if r := h.Rounds[2]; r.Failed != 2 || r.Accepted != 22 {
		t.Errorf("round 3 after resume: %d failed, %d accepted, want 2 and 22 (c008 and c015 drop)", r.Failed, r.Accepted)
	}
}

// TestSecureRefusals mounts the misconfigurations and lies a secure tree
// must refuse: a plain leaf under a secure root (its update would reach
// the root unmasked and off the grid), an edge on another grid, a secure
// edge under a plain root, and partial sums that claim more inputs than
// the grid holds or values no honest inputs reach.
func TestSecureRefusals(t *testing.T) {
	tr := twoLevel()
	l := newSecureLeaves(nil)
	good := secureTree(t, tr, l, 4, 0)
	other := secureCfg(4, 0, 7)
	other.Clip = 1 // not the root's grid
	odd, err := hier.NewEdge(hier.EdgeConfig{Pool: l.pool(t, []string{"c100", "c101", "c102"}), Secure: &other})
	if err != nil {
		t.Fatal(err)
	}
	lie := func(count, summands uint64, value uint64) fl.Handler {
		return fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
			b := []byte("FGHQ\x01\x20")
			b = appendUvarint(b, count)
			b = appendUvarint(b, summands)
			b = appendU64(b, math.Float64bits(secureClip))
			b = appendU64(b, 0)
			b = appendUvarint(b, dim)
			for range dim {
				b = appendU64(b, value)
			}
			return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Weight: 1, Payload: b}, nil
		})
	}
	const summands = 24 + 1 + 3 + 1 + 1 + 1 // the edges, the plain leaf, odd, and three liars
	levels := secagg.QuantLevels(32, summands)
	members := map[string]fl.Handler{
		"plain":      leaf("c200"),
		"odd":        odd,
		"liar-count": lie(summands+1, summands, 0),
		"liar-value": lie(1, summands, levels+1),
		"liar-grid":  lie(1, summands+1, 0),
	}
	ids := append(slices.Clone(tr["root"]), "plain", "odd", "liar-count", "liar-value", "liar-grid")
	slices.Sort(ids)
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Factory: func(id string) (fl.Handler, error) {
		if h, ok := members[id]; ok {
			return h, nil
		}
		c, _ := good.Conn(id)
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) { return c.Send(ctx, m) }), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	size := func(id string) int {
		if id == "odd" {
			return 3
		}
		return tr.size(id)
	}
	cfg := serverConfig(1, 1)
	cfg.Exchange = &hier.Exchange{Size: size, Secure: &hier.Secure{Clip: secureClip}}
	_, h := run(t, cfg, pool)
	r := h.Rounds[0]
	// plain and the three liars are rejected (1 client each), odd fails
	// with its 3 clients.
	if r.Aborted || r.Accepted != 24 || r.Failures[fl.FailRejected] != 4 || r.Failures[fl.FailError] != 3 {
		t.Fatalf("round: aborted=%v accepted=%d failures=%v, want the 24 honest clients in, 4 members rejected, odd's 3 clients failed", r.Aborted, r.Accepted, r.Failures)
	}

	// A secure edge under a plain root refuses the round.
	sc := secureCfg(4, 0, 1)
	e, err := hier.NewEdge(hier.EdgeConfig{Pool: l.pool(t, tr["e0"]), Secure: &sc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 9, Params: make([]float64, dim)}); !errors.Is(err, hier.ErrGrid) {
		t.Errorf("secure edge under a plain root: err = %v, want ErrGrid", err)
	}
	// A grid too small for the edge's clients (a root whose Size
	// undercounts them): the sum could wrap, so the edge refuses.
	small := fl.Config{hier.KeySecureClip: secureClip, hier.KeySecureBits: 32, hier.KeySecureWeightCap: 0, fedround.KeySummands: 3}
	if _, err := e.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 10, Params: make([]float64, dim), Config: small}); !errors.Is(err, hier.ErrGrid) {
		t.Errorf("grid of 3 for an edge of 6: err = %v, want ErrGrid", err)
	}
	if _, err := hier.NewEdge(hier.EdgeConfig{Pool: l.pool(t, tr["e0"]), Secure: &sc, Size: tr.size}); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("secure edge with a Size: err = %v, want ErrConfig", err)
	}
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendU64(b []byte, v uint64) []byte {
	for i := range 8 {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// TestSecureMaliciousEdges: edges that run the malicious-server variant
// (signed keys, consistency check, six steps sharing the edge's time) give
// the bits of one flat malicious-mode round, with the dropouts and the
// failed edge of the first two rounds of secureFaults.
func TestSecureMaliciousEdges(t *testing.T) {
	tr := twoLevel()
	f, ff := secureFaults()
	const quorum = 10
	rounds := 2
	if testing.Short() {
		rounds = 1 // the dropouts; the failed edge is round 2's
	}
	l := newSecureLeaves(f)
	pki := l.identities(tr.leaves("root"))
	handlers := map[string]fl.Handler{}
	for k, e := range tr["root"] {
		sc := secureCfg(4, 0, byte(k))
		sc.Malicious, sc.PeerKeys = true, map[string]ed25519.PublicKey{}
		for _, c := range tr[e] {
			sc.PeerKeys[c] = pki[c]
		}
		edge, err := hier.NewEdge(hier.EdgeConfig{Pool: l.pool(t, tr[e]), Secure: &sc})
		if err != nil {
			t.Fatal(err)
		}
		handlers[e] = edge
	}
	root, err := transport.NewMemory(transport.MemoryConfig{IDs: tr["root"], Factory: func(id string) (fl.Handler, error) { return handlers[id], nil }})
	if err != nil {
		t.Fatal(err)
	}
	hcfg := serverConfig(rounds, quorum)
	hcfg.Exchange, hcfg.RoundTimeout = &hier.Exchange{Size: tr.size, Secure: &hier.Secure{Clip: secureClip}}, time.Minute
	hs, hh := run(t, hcfg, root)

	fl2 := newSecureLeaves(ff)
	fc := secureCfg(13, 0, 99)
	fc.Malicious, fc.PeerKeys = true, fl2.identities(tr.leaves("root"))
	flat, err := fedround.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	fcfg := serverConfig(rounds, quorum)
	fcfg.Exchange = flat
	fs, fh := run(t, fcfg, fl2.pool(t, tr.leaves("root")))
	sameBits(t, "malicious-mode secure tree vs flat", hs.Params(), fs.Params())
	for i, hr := range hh.Rounds {
		if fr := fh.Rounds[i]; hr.Aborted || hr.Accepted != fr.Accepted || hr.Failed != fr.Failed {
			t.Errorf("round %d: tree accepted %d failed %d, flat accepted %d failed %d", i+1, hr.Accepted, hr.Failed, fr.Accepted, fr.Failed)
		}
	}
}
