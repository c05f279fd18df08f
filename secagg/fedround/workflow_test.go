package fedround_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
)

const testClip = 0.5

func testConfig(t, k int) fedround.Config {
	cfg := fedround.DefaultConfig()
	cfg.Clip = testClip
	cfg.Threshold, cfg.Neighbors = t, k
	return cfg
}

// tol is the documented error bound of the mean: below one quantization
// step per coordinate (the sum of m inputs is off by less than m steps).
func tol(bits, n int) float64 { return secagg.QuantStep(testClip, bits, n)*(1+1e-9) + 1e-12 }

// The secure round through fl.Server gives the plain unweighted mean of the
// clamped deltas, within one quantization step.
func TestServerMeanEqualsPlainMean(t *testing.T) {
	const n, dim = 6, 37
	h := newHarness(n, 1)
	for id, c := range h.ccfg { // the clients let the server see their example counts
		c.Metrics = []string{fl.KeyLoss, fl.KeyExamples, fl.KeyTrainSeconds}
		h.ccfg[id] = c
	}
	w, err := fedround.New(testConfig(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	scfg := fl.DefaultServerConfig()
	scfg.Rounds, scfg.ClientsPerRound, scfg.Exchange = 1, n, w
	scfg.EvalEvery = 0
	init := make([]float64, dim)
	for j := range init {
		init[j] = float64(j) / 10
	}
	s, err := fl.NewServer(scfg, h.pool(t), init)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Aborted || st.Accepted != n || st.Failed != 0 {
		t.Fatalf("stats %+v, want %d accepted, none failed", st, n)
	}
	want := wantMean(indices(n), dim, testClip)
	for j := range want {
		want[j] += init[j]
	}
	assertClose(t, s.Params(), want, tol(32, n))
	// TrainLoss: mean of loss = idx weighted by examples = idx+1.
	var num, den float64
	for i := range n {
		num += float64(i) * float64(i+1)
		den += float64(i + 1)
	}
	if math.Abs(st.TrainLoss-num/den) > 1e-12 {
		t.Errorf("TrainLoss = %v, want %v", st.TrainLoss, num/den)
	}
}

// The uplink never carries a plain vector: every reply has empty Params,
// and every reply is a secagg message.
func TestUplinkCarriesNoPlainDelta(t *testing.T) {
	const n, dim = 5, 16
	h := newHarness(n, 2)
	if _, _, _, err := runRound(t, h, testConfig(0, 0), 1, dim); err != nil {
		t.Fatal(err)
	}
	if len(h.uplinks) != 4*n {
		t.Fatalf("%d replies, want %d (4 steps × %d clients)", len(h.uplinks), 4*n, n)
	}
	for _, m := range h.uplinks {
		if len(m.Params) != 0 {
			t.Fatalf("reply %q carries %d plain values", m.Type, len(m.Params))
		}
		if !strings.HasPrefix(m.Type, "secagg/") {
			t.Fatalf("reply of type %q", m.Type)
		}
	}
}

// Clients failing at each step: the round gives the survivors' mean while
// at least t remain, and fails with ErrBelowThreshold when fewer do.
func TestDropoutsAtEachStep(t *testing.T) {
	const n, dim, thr = 7, 11, 4
	steps := []string{fedround.TypeTrain, fedround.TypeShareKeys, fedround.TypeMaskedInput, fedround.TypeUnmask}
	for _, step := range steps {
		for _, drop := range []int{2, 3, 4} {
			t.Run(step+"/"+string(rune('0'+drop)), func(t *testing.T) {
				h := newHarness(n, 3)
				var dropped []int
				for i := range drop {
					idx := (2*i + 1) % n // 1, 3, 5, 0
					dropped = append(dropped, idx)
					h.fail(step, h.ids[idx])
				}
				got, acc, st, err := runRound(t, h, testConfig(thr, 0), 1, dim)
				if st.Failed != drop || st.FailedAt[step] != drop {
					t.Errorf("failures %v (total %d), want %d under %q", st.Failures, st.Failed, drop, step)
				}
				if n-drop < thr {
					if !errors.Is(err, secagg.ErrBelowThreshold) {
						t.Fatalf("err = %v, want ErrBelowThreshold", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				survivors := indices(n, dropped...)
				if step == fedround.TypeUnmask {
					survivors = indices(n) // their masked inputs are in the sum
				}
				if acc != len(survivors) {
					t.Fatalf("accepted %d, want %d", acc, len(survivors))
				}
				assertClose(t, got, wantMean(survivors, dim, testClip), tol(32, n))
			})
		}
	}
}

// With WeightCap, the round's update is the capped-weight mean
// Σ wᵢ·clamp(Δᵢ) / Σ wᵢ, wᵢ = min(Weightᵢ/cap, 1), of the survivors
// (clients' weights are idx+1, so with cap 4 clients 3.. count fully),
// whatever step the dropouts happen at; the survivors' Σw is in the stats.
// The sum of m inputs is off by less than m steps per coordinate and Σw by
// less than m·step/clip, so the mean is off by less than 2m·step/Σw.
func TestWeightedMean(t *testing.T) {
	const n, dim, thr, weightCap = 7, 13, 4, 4.0
	cases := []struct {
		step string
		drop []int
	}{{"", nil}, {fedround.TypeTrain, []int{1, 5}}, {fedround.TypeMaskedInput, []int{0, 6}}}
	for _, c := range cases {
		t.Run(c.step, func(t *testing.T) {
			h := newHarness(n, 11)
			for _, i := range c.drop {
				h.fail(c.step, h.ids[i])
			}
			cfg := testConfig(thr, 0)
			cfg.WeightCap = weightCap
			got, acc, st, err := runRound(t, h, cfg, 2, dim)
			if err != nil {
				t.Fatal(err)
			}
			survivors := indices(n, c.drop...)
			if acc != len(survivors) {
				t.Fatalf("accepted %d, want %d", acc, len(survivors))
			}
			want := make([]float64, dim)
			var total float64
			for _, i := range survivors {
				w := math.Min(float64(i+1)/weightCap, 1)
				total += w
				for j, x := range fakeDelta(i, dim) {
					want[j] += w * math.Max(-testClip, math.Min(testClip, x))
				}
			}
			for j := range want {
				want[j] /= total
			}
			m := float64(len(survivors))
			step := secagg.QuantStep(testClip, 32, n)
			assertClose(t, got, want, 2*m*step/total*(1+1e-6)+1e-12)
			if w := st.Extra[fedround.KeyWeight]; math.Abs(w-total) > m*step/testClip*(1+1e-6) {
				t.Errorf("stats weight %v, want %v", w, total)
			}
			// Not the unweighted mean: the weights matter here.
			if unweighted := wantMean(survivors, dim, testClip); math.Abs(unweighted[0]-want[0]) < 1e-3 {
				t.Fatalf("test weights do not change the mean (%v vs %v)", unweighted[0], want[0])
			}
		})
	}
}

// A client asked for a weighted round refuses an update whose weight is
// not finite and positive, and the round goes on without it.
func TestWeightedRefusesBadWeight(t *testing.T) {
	const n, dim = 5, 8
	h := newHarness(n, 12)
	bad := h.ids[2]
	h.inner = func(id string, next fl.Handler) fl.Handler {
		if id != bad {
			return next
		}
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			r, err := next.Handle(ctx, m)
			if err == nil && r != nil && r.Type == fl.TypeUpdate {
				r.Weight = math.NaN()
			}
			return r, err
		})
	}
	cfg := testConfig(3, 0)
	cfg.WeightCap = 2
	_, acc, st, err := runRound(t, h, cfg, 1, dim)
	if err != nil {
		t.Fatal(err)
	}
	if acc != n-1 || st.FailedAt[fedround.TypeTrain] != 1 {
		t.Fatalf("accepted %d, failures %v; want %d accepted and the bad client failed at train", acc, st.Failures, n-1)
	}
}

// An aborted round through fl.Server keeps the parameters.
func TestServerAbortKeepsParams(t *testing.T) {
	const n, dim = 5, 8
	h := newHarness(n, 4)
	h.fail(fedround.TypeMaskedInput, h.ids[0], h.ids[1], h.ids[2])
	w, err := fedround.New(testConfig(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	scfg := fl.DefaultServerConfig()
	scfg.Rounds, scfg.ClientsPerRound, scfg.Exchange, scfg.EvalEvery = 2, n, w, 0
	init := slices.Repeat([]float64{0.25}, dim)
	s, err := fl.NewServer(scfg, h.pool(t), init)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Aborted || st.FailedAt[fedround.TypeMaskedInput] != 3 {
		t.Fatalf("stats %+v, want aborted with 3 masked-input failures", st)
	}
	if !slices.Equal(s.Params(), init) {
		t.Fatal("aborted round changed the parameters")
	}
	// The next round runs without the faults and succeeds: the clients'
	// states moved on.
	clear(h.failAt)
	st, err = s.RunRound(context.Background())
	if err != nil || st.Aborted || st.Accepted != n {
		t.Fatalf("second round: %+v, %v", st, err)
	}
}

// SecAgg+ (sparse graph) and the complete graph, semi-honest and
// malicious, with one dropout after sharing keys.
func TestGraphsAndModes(t *testing.T) {
	cases := []struct {
		name      string
		n, k, thr int
		malicious bool
	}{
		{"complete", 6, 0, 4, false},
		{"secagg+ k=4", 12, 4, 3, false},
		{"secagg+ k=6", 13, 6, 4, false},
		{"complete malicious", 6, 0, 4, true},
		{"secagg+ malicious", 12, 4, 4, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const dim = 9
			h := newHarness(tc.n, 5)
			cfg := testConfig(tc.thr, tc.k)
			if tc.malicious {
				cfg.Malicious = true
				cfg.PeerKeys = h.identities()
			}
			h.fail(fedround.TypeMaskedInput, h.ids[2])
			got, acc, st, err := runRound(t, h, cfg, 3, dim)
			if err != nil {
				t.Fatal(err)
			}
			if acc != tc.n-1 || st.Failed != 1 {
				t.Fatalf("accepted %d failed %d, want %d and 1", acc, st.Failed, tc.n-1)
			}
			assertClose(t, got, wantMean(indices(tc.n, 2), dim, testClip), tol(32, tc.n))
		})
	}
}

// Same seeds, same bits; and the result does not depend on the seeds
// beyond the quantization error.
func TestDeterministic(t *testing.T) {
	const n, dim = 8, 50
	run := func(seed uint64, wseed byte) []float64 {
		h := newHarness(n, seed)
		h.fail(fedround.TypeShareKeys, h.ids[5])
		cfg := testConfig(0, 0)
		cfg.Rand = seeded(wseed)
		got, _, _, err := runRound(t, h, cfg, 2, dim)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b := run(7, 1), run(7, 1)
	if !slices.Equal(a, b) {
		t.Fatal("two runs with the same seeds differ")
	}
	c := run(8, 2)
	if slices.Equal(a, c) {
		t.Fatal("different client seeds gave identical stochastic rounding")
	}
	assertClose(t, c, a, 2*tol(32, n))
}

// A client whose reply is not what the step expects is dropped from the
// round, counted once, and the round goes on.
func TestServerRejectsBadReplies(t *testing.T) {
	const n, dim = 6, 10
	cases := []struct {
		name   string
		step   string
		mangle func(m *fl.Message)
	}{
		{"plain vector in the advertise reply", fedround.TypeTrain, func(m *fl.Message) { m.Params = []float64{1} }},
		{"wrong reply type", fedround.TypeShareKeys, func(m *fl.Message) { m.Type = fedround.TypeMasked }},
		{"wrong round", fedround.TypeMaskedInput, func(m *fl.Message) { m.Round++ }},
		{"truncated payload", fedround.TypeShareKeys, func(m *fl.Message) { m.Payload = m.Payload[:len(m.Payload)/2] }},
		{"another client's id", fedround.TypeMaskedInput, func(m *fl.Message) {
			var mm secagg.MaskedMsg
			if err := mm.UnmarshalBinary(m.Payload); err != nil {
				panic(err)
			}
			mm.Client = mm.Client%n + 1
			m.Payload, _ = mm.MarshalBinary()
		}},
		{"replayed advertise payload at share-keys", fedround.TypeShareKeys, func(m *fl.Message) {
			m.Payload = []byte{1, 1, 2, 3}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(n, 6)
			h.outer = func(id string, next fl.Handler) fl.Handler {
				return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
					r, err := next.Handle(ctx, m)
					if err == nil && id == h.ids[1] && m.Type == tc.step {
						tc.mangle(r)
					}
					return r, err
				})
			}
			got, acc, st, err := runRound(t, h, testConfig(4, 0), 1, dim)
			if err != nil {
				t.Fatal(err)
			}
			if st.Failed != 1 || st.FailedAt[tc.step] != 1 {
				t.Fatalf("failures %v, want one under %q", st.Failures, tc.step)
			}
			if acc != n-1 {
				t.Fatalf("accepted %d, want %d", acc, n-1)
			}
			assertClose(t, got, wantMean(indices(n, 1), dim, testClip), tol(32, n))
		})
	}
}

// With a server Privacy, clients clip their deltas in L2 to its clip norm
// (whatever their own handlers do), and the unmasked sum goes to
// Privacy.NoiseSum: here privacy.CentralDP without noise, which divides by
// qN = n, so the result is the mean of the L2-clipped deltas.
func TestPrivacyRelease(t *testing.T) {
	const n, dim, population = 5, 7, 20
	dp, err := privacy.NewCentralDP(privacy.CentralConfig{
		ClipNorm: testClip, ClientClipped: true, Population: population, SampleRate: float64(n) / population,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := fedround.New(testConfig(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	rc := fl.NewRound(1, make([]float64, dim), fl.Config{fl.KeyRound: 1}, fl.Reachable(newHarness(n, 8).pool(t)), nil)
	rc.Privacy = dp
	got := make([]float64, dim)
	if acc, err := w.Run(context.Background(), rc, got); err != nil || acc != n {
		t.Fatalf("Run = %d, %v", acc, err)
	}
	want := make([]float64, dim)
	for i := range n {
		d := fakeDelta(i, dim)
		f := privacy.ClipFactor(privacy.L2Norm(d), testClip)
		for j := range want {
			want[j] += f * d[j] / n
		}
	}
	assertClose(t, got, want, tol(32, n))
	if dp.Rounds() != 1 {
		t.Errorf("releases accounted = %d, want 1", dp.Rounds())
	}
	// Capped weights, or a quantization range below the clip norm, cannot
	// serve the DP sum: refused before round 1.
	for name, cfg := range map[string]fedround.Config{
		"weight cap": func() fedround.Config { c := testConfig(3, 0); c.WeightCap = 10; return c }(),
		"clip":       func() fedround.Config { c := testConfig(3, 0); c.Clip = testClip / 2; return c }(),
	} {
		w, err := fedround.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Check(&fl.ServerConfig{Privacy: dp}, nil); !errors.Is(err, fl.ErrConfig) {
			t.Errorf("%s: Check = %v, want ErrConfig", name, err)
		}
	}
}

func TestRoundParams(t *testing.T) {
	k100, t100, err := secagg.ChooseParams(100, fedround.DefaultCorrupt, fedround.DefaultDropout, 40, 20)
	if err != nil {
		t.Fatal(err)
	}
	if k100 == 99 {
		k100 = 0
	}
	cases := []struct {
		name    string
		cfg     fedround.Config
		n       int
		k, thr  int
		wantErr error
	}{
		{"search n=100", fedround.DefaultConfig(), 100, k100, t100, nil},
		{"fallback n=3", fedround.DefaultConfig(), 3, 0, 2, nil},
		{"fallback n=4", fedround.DefaultConfig(), 4, 0, 3, nil},
		{"fixed", fedround.Config{Clip: 1, Threshold: 3, Neighbors: 4}, 10, 4, 3, nil},
		{"one client", fedround.DefaultConfig(), 1, 0, 0, secagg.ErrParams},
		{"fixed k too large for n", fedround.Config{Clip: 1, Threshold: 3, Neighbors: 8}, 8, 0, 0, secagg.ErrParams},
		{"too few bits", fedround.Config{Clip: 1, Bits: 2, Threshold: 3}, 5, 0, 0, secagg.ErrRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.cfg.RoundParams(tc.n, 10)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Neighbors != tc.k || p.Threshold != tc.thr || p.N != tc.n || p.Dim != 10 {
				t.Fatalf("params %+v, want k=%d t=%d", p, tc.k, tc.thr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := fedround.DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(c *fedround.Config){
		"zero clip":              func(c *fedround.Config) { c.Clip = 0 },
		"NaN clip":               func(c *fedround.Config) { c.Clip = math.NaN() },
		"Inf clip":               func(c *fedround.Config) { c.Clip = math.Inf(1) },
		"bits":                   func(c *fedround.Config) { c.Bits = 65 },
		"negative threshold":     func(c *fedround.Config) { c.Threshold = -1 },
		"neighbors without t":    func(c *fedround.Config) { c.Neighbors = 4 },
		"odd neighbors":          func(c *fedround.Config) { c.Threshold, c.Neighbors = 2, 3 },
		"malicious 2t ≤ k":       func(c *fedround.Config) { c.Threshold, c.Neighbors, c.Malicious = 2, 4, true },
		"corrupt":                func(c *fedround.Config) { c.Corrupt = 1 },
		"dropout":                func(c *fedround.Config) { c.Dropout = -0.1 },
		"malicious without keys": func(c *fedround.Config) { c.Malicious = true },
		"keys without malicious": func(c *fedround.Config) { c.PeerKeys = map[string]ed25519.PublicKey{} },
		"short key":              func(c *fedround.Config) { c.Malicious, c.PeerKeys = true, map[string]ed25519.PublicKey{"a": {1}} },
		"negative timeout":       func(c *fedround.Config) { c.StepTimeout = -1 },
		"negative workers":       func(c *fedround.Config) { c.Workers = -1 },
		"negative weight cap":    func(c *fedround.Config) { c.WeightCap = -1 },
		"NaN weight cap":         func(c *fedround.Config) { c.WeightCap = math.NaN() },
		"Inf weight cap":         func(c *fedround.Config) { c.WeightCap = math.Inf(1) },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			c := fedround.DefaultConfig()
			mut(&c)
			if err := c.Validate(); !errors.Is(err, fedround.ErrConfig) {
				t.Fatalf("Validate = %v, want ErrConfig", err)
			}
			if _, err := fedround.New(c); !errors.Is(err, fedround.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", err)
			}
		})
	}
}

// A round the workflow cannot run (one client) fails before contacting
// anyone.
func TestRunRefusesSingleClient(t *testing.T) {
	h := newHarness(1, 9)
	_, _, _, err := runRound(t, h, testConfig(0, 0), 1, 4)
	if !errors.Is(err, secagg.ErrParams) {
		t.Fatalf("err = %v, want ErrParams", err)
	}
	if len(h.uplinks) != 0 {
		t.Fatal("a client was contacted")
	}
}
