package secagg

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Drop steps: a client with dropAt = s sends nothing from step s on.
const (
	dropNever     = 0
	dropAdvertise = 1
	dropShare     = 2
	dropMasked    = 3
	dropSign      = 4 // malicious mode: does not sign the survivor list
	dropUnmask    = 5
)

// roundSpec describes one simulated round.
type roundSpec struct {
	p            Params
	dropAt       map[uint32]int
	seed         uint64
	trustDealers bool
	// noReveal (malicious mode) lists clients that advertise keys but do
	// not reveal their graph-seed share (they leave the round there).
	noReveal map[uint32]bool
}

// roundOut is what a simulated round produced.
type roundOut struct {
	sum       []uint64 // Result
	want      []uint64 // naive sum of the inputs of clients whose masked input arrived
	survivors []uint32 // U3: masked input accepted
	shared    []uint32 // U2: shares accepted
	answered  []uint32 // U5: unmask response accepted
	err       error
}

// seededReader returns a deterministic io.Reader.
func seededReader(a, b uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(a >> (8 * i))
		s[8+i] = byte(b >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// identities returns deterministic ed25519 keys for clients 1..n.
func identities(n int) (map[uint32]ed25519.PrivateKey, map[uint32]ed25519.PublicKey) {
	priv := make(map[uint32]ed25519.PrivateKey, n)
	pub := make(map[uint32]ed25519.PublicKey, n)
	for i := 1; i <= n; i++ {
		var seed [32]byte
		seed[0], seed[1], seed[2] = byte(i), byte(i>>8), 0xA5
		k := ed25519.NewKeyFromSeed(seed[:])
		priv[uint32(i)] = k
		pub[uint32(i)] = k.Public().(ed25519.PublicKey)
	}
	return priv, pub
}

// naiveSum adds vectors mod 2^b coordinate by coordinate.
func naiveSum(vs [][]uint64, bits, d int) []uint64 {
	out := make([]uint64, d)
	m := wordMask(bits)
	for _, v := range vs {
		for i := range out {
			out[i] = (out[i] + v[i]) & m
		}
	}
	return out
}

// runRound simulates one round with honest parties and the given dropouts;
// any unexpected *ClientError fails the test.
func runRound(tb testing.TB, spec roundSpec) roundOut {
	tb.Helper()
	p := spec.p
	rng := rand.New(rand.NewPCG(spec.seed, 99))
	privs, pubs := identities(p.N)
	srv, err := NewServer(ServerConfig{Params: p, PeerKeys: pubs, Workers: 2})
	if err != nil {
		tb.Fatal(err)
	}
	clients := make([]*Client, p.N)
	inputs := make([][]uint64, p.N)
	m := wordMask(p.bits())
	for i := range clients {
		id := uint32(i + 1)
		c, err := NewClient(ClientConfig{ID: id, Params: p, Rand: seededReader(spec.seed, uint64(id)),
			Identity: privs[id], PeerKeys: pubs, TrustDealers: spec.trustDealers})
		if err != nil {
			tb.Fatal(err)
		}
		clients[i] = c
		inputs[i] = make([]uint64, p.Dim)
		for j := range inputs[i] {
			inputs[i][j] = rng.Uint64() & m
		}
	}
	alive := func(id uint32, step int) bool {
		d := spec.dropAt[id]
		return d == dropNever || d > step
	}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
	}
	fail := func(err error) roundOut { return roundOut{err: err} }

	for _, c := range clients {
		if !alive(c.id, dropAdvertise) {
			continue
		}
		am, err := c.AdvertiseKeys()
		must(err)
		must(srv.HandleAdvertise(roundTrip(tb, am, &AdvertiseMsg{})))
	}
	kb, err := srv.Keys()
	if err != nil {
		return fail(err)
	}
	kb = roundTrip(tb, kb, &KeysBroadcast{})
	var rb *RevealsBroadcast
	if p.Malicious {
		for _, id := range kb.Keys {
			if spec.noReveal[id.Client] {
				continue
			}
			rm, err := clients[id.Client-1].RevealSeed(kb)
			must(err)
			must(srv.HandleReveal(roundTrip(tb, rm, &RevealMsg{})))
		}
		if rb, err = srv.Reveals(); err != nil {
			return fail(err)
		}
		rb = roundTrip(tb, rb, &RevealsBroadcast{})
	}
	var shared, answered []uint32
	for _, c := range clients {
		if !alive(c.id, dropShare) || spec.noReveal[c.id] {
			continue
		}
		sm, err := shareKeys(c, kb, rb)
		if errors.Is(err, ErrBelowThreshold) {
			continue // the client aborts: it counts as dropped
		}
		must(err)
		must(srv.HandleShares(roundTrip(tb, sm, &SharesMsg{})))
		shared = append(shared, c.id)
	}
	sbs, err := srv.Shares()
	if err != nil {
		return fail(err)
	}
	var sent [][]uint64
	var survivors []uint32
	for _, sb := range sbs {
		sb = roundTrip(tb, sb, &SharesBroadcast{})
		c := clients[sb.To-1]
		if !alive(c.id, dropMasked) {
			continue
		}
		mm, err := c.MaskedInput(sb, inputs[c.id-1])
		if errors.Is(err, ErrBelowThreshold) {
			continue
		}
		must(err)
		must(srv.HandleMasked(roundTrip(tb, mm, &MaskedMsg{})))
		sent = append(sent, inputs[c.id-1])
		survivors = append(survivors, c.id)
	}
	if p.Malicious {
		sv, err := srv.Survivors()
		if err != nil {
			return fail(err)
		}
		sv = roundTrip(tb, sv, &SurvivorsMsg{})
		for _, id := range sv.Survivors {
			if !alive(id, dropSign) {
				continue
			}
			sig, err := clients[id-1].ConsistencyCheck(sv)
			must(err)
			must(srv.HandleSignature(roundTrip(tb, sig, &SignatureMsg{})))
		}
	}
	req, err := srv.UnmaskRequest()
	if err != nil {
		return fail(err)
	}
	req = roundTrip(tb, req, &UnmaskRequest{})
	for _, id := range req.Survivors {
		if !alive(id, dropUnmask) || (p.Malicious && !alive(id, dropSign)) {
			continue
		}
		um, err := clients[id-1].Unmask(req)
		must(err)
		must(srv.HandleUnmask(roundTrip(tb, um, &UnmaskMsg{})))
		answered = append(answered, id)
	}
	sum, err := srv.Result()
	return roundOut{sum: sum, want: naiveSum(sent, p.bits(), p.Dim), survivors: survivors, shared: shared, answered: answered, err: err}
}

type wireMsg interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// roundTrip encodes m and decodes it into fresh, so every test message
// crosses the wire format.
func roundTrip[M wireMsg](tb testing.TB, m M, fresh M) M {
	tb.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatalf("marshal %T: %v", m, err)
	}
	if err := fresh.UnmarshalBinary(b); err != nil {
		tb.Fatalf("unmarshal %T: %v", m, err)
	}
	return fresh
}

// checkOutcome checks a round's result against the survivors' naive sum,
// or that it failed with ErrBelowThreshold when fewer than t were left.
func checkOutcome(t *testing.T, name string, out roundOut) {
	t.Helper()
	if out.err != nil {
		if !errors.Is(out.err, ErrBelowThreshold) {
			t.Fatalf("%s: error %v, want nil or ErrBelowThreshold", name, out.err)
		}
		if out.sum != nil {
			t.Fatalf("%s: failed round returned a sum", name)
		}
		return
	}
	if !slices.Equal(out.sum, out.want) {
		t.Fatalf("%s: sum of %v = %v, want %v", name, out.survivors, out.sum[:min(4, len(out.sum))], out.want[:min(4, len(out.want))])
	}
}

func TestRoundNoDropouts(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"complete n=3", Params{N: 3, Threshold: 2, Bits: 32, Dim: 17}},
		{"complete n=6 b=13", Params{N: 6, Threshold: 3, Bits: 13, Dim: 33}},
		{"complete n=4 b=64", Params{N: 4, Threshold: 2, Bits: 64, Dim: 9}},
		{"complete n=4 b=1", Params{N: 4, Threshold: 2, Bits: 1, Dim: 70}},
		{"secagg+ n=12 k=4", Params{N: 12, Threshold: 3, Neighbors: 4, Bits: 32, Dim: 20}},
		{"secagg+ n=9 k=6 b=20", Params{N: 9, Threshold: 4, Neighbors: 6, Bits: 20, Dim: 11, Seed: [32]byte{7}}},
		{"malicious n=5", Params{N: 5, Threshold: 3, Bits: 16, Dim: 8, Malicious: true}},
		{"malicious secagg+ n=10 k=4", Params{N: 10, Threshold: 4, Neighbors: 4, Bits: 32, Dim: 8, Malicious: true}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := runRound(t, roundSpec{p: tc.p, seed: uint64(i)})
			if out.err != nil {
				t.Fatal(out.err)
			}
			if len(out.survivors) != tc.p.N {
				t.Fatalf("%d survivors, want %d", len(out.survivors), tc.p.N)
			}
			checkOutcome(t, tc.name, out)
		})
	}
}

// TestRoundEveryDropoutPattern runs a 5-client round (t = 3) for every way
// of assigning each client the step at which it drops (or none): 5^5
// patterns, each checked against the survivors' naive sum, or against
// ErrBelowThreshold when fewer than t clients remain.
func TestRoundEveryDropoutPattern(t *testing.T) {
	p := Params{N: 5, Threshold: 3, Bits: 32, Dim: 3}
	steps := []int{dropNever, dropAdvertise, dropShare, dropMasked, dropUnmask}
	total := 1
	for range p.N {
		total *= len(steps)
	}
	stride := 1 // every pattern with CI=true; a sample (every 23rd) by default
	if !longTests {
		stride = 23
	}
	if raceEnabled && stride < 7 {
		stride = 7 // the race detector makes the full sweep too slow
	}
	ok, below := 0, 0
	for code := 0; code < total; code += stride {
		drops := make(map[uint32]int)
		c := code
		for id := 1; id <= p.N; id++ {
			drops[uint32(id)] = steps[c%len(steps)]
			c /= len(steps)
		}
		out := runRound(t, roundSpec{p: p, dropAt: drops, seed: uint64(code), trustDealers: true})
		checkOutcome(t, fmt.Sprintf("pattern %v", drops), out)
		// Recovery must succeed exactly when t clients answer the unmask request.
		answered := 0
		for id := 1; id <= p.N; id++ {
			if drops[uint32(id)] == dropNever {
				answered++
			}
		}
		if (out.err == nil) != (answered >= p.Threshold) {
			t.Fatalf("pattern %v: err = %v with %d clients answering", drops, out.err, answered)
		}
		if out.err == nil {
			ok++
		} else {
			below++
		}
	}
	t.Logf("%d patterns recovered, %d below threshold", ok, below)
}

// recoverable is the naive rule for when the server can finish: at least
// t clients answered, every survivor's b has t shares among the answering
// clients in its closed neighbourhood, and every dropped client that a
// survivor masked with has t shares of s among its answering neighbours.
func recoverable(p Params, out roundOut) bool {
	g := newGraph(&p)
	t := p.Threshold
	if len(out.answered) < t {
		return false
	}
	count := func(u uint32, self bool) int {
		n := 0
		for _, v := range out.answered {
			if (self && v == u) || (v != u && g.adjacent(u, v)) {
				n++
			}
		}
		return n
	}
	for _, u := range out.survivors {
		if count(u, true) < t {
			return false
		}
	}
	for _, u := range out.shared {
		if slices.Contains(out.survivors, u) {
			continue
		}
		masked := false
		for _, v := range out.survivors {
			masked = masked || g.adjacent(u, v)
		}
		if masked && count(u, false) < t {
			return false
		}
	}
	return true
}

// TestRoundRandomDropouts runs n = 50 SecAgg+ rounds with random dropouts
// at every step; each must give the survivors' sum exactly when the naive
// share-counting rule says the secrets are recoverable.
func TestRoundRandomDropouts(t *testing.T) {
	p := Params{N: 50, Threshold: 6, Neighbors: 12, Bits: 32, Dim: 16}
	rng := rand.New(rand.NewPCG(5, 6))
	okCount := 0
	for trial := range 4 {
		p.Seed = [32]byte{byte(trial), 1}
		rate := []float64{0.05, 0.1, 0.2, 0.4}[trial]
		drops := make(map[uint32]int)
		for id := 1; id <= p.N; id++ {
			if rng.Float64() < rate {
				drops[uint32(id)] = 1 + rng.IntN(5)
			}
		}
		out := runRound(t, roundSpec{p: p, dropAt: drops, seed: uint64(trial), trustDealers: trial > 0})
		checkOutcome(t, fmt.Sprintf("trial %d", trial), out)
		if want := recoverable(p, out); (out.err == nil) != want {
			t.Fatalf("trial %d: err = %v, recoverable = %v", trial, out.err, want)
		}
		if out.err == nil {
			okCount++
		}
	}
	if okCount < 2 {
		t.Fatalf("only %d of 4 trials recovered; the low-dropout ones should", okCount)
	}
}

// TestRoundMaliciousDropouts covers the signing step's dropouts.
func TestRoundMaliciousDropouts(t *testing.T) {
	p := Params{N: 6, Threshold: 4, Bits: 32, Dim: 5, Malicious: true}
	for _, tc := range []struct {
		drops   map[uint32]int
		wantErr bool
	}{
		{map[uint32]int{2: dropSign}, false},
		{map[uint32]int{2: dropSign, 3: dropMasked}, false},
		{map[uint32]int{2: dropSign, 3: dropSign, 4: dropUnmask}, true},
		{map[uint32]int{1: dropSign, 2: dropSign, 3: dropSign}, true},
	} {
		out := runRound(t, roundSpec{p: p, dropAt: tc.drops, seed: 3, trustDealers: true})
		if (out.err != nil) != tc.wantErr {
			t.Fatalf("drops %v: err = %v, want error %v", tc.drops, out.err, tc.wantErr)
		}
		checkOutcome(t, fmt.Sprint(tc.drops), out)
	}
}

// TestRoundEveryDropoutPatternSparse does the same on a SecAgg+ ring
// (n = 6, k = 2, t = 2) for every assignment of {no drop, drop before the
// masked input, drop before unmasking} to the clients, checking the
// outcome against the naive share-counting rule.
func TestRoundEveryDropoutPatternSparse(t *testing.T) {
	p := Params{N: 6, Threshold: 2, Neighbors: 2, Bits: 32, Dim: 3, Seed: [32]byte{42}}
	steps := []int{dropNever, dropMasked, dropUnmask}
	total := 1
	for range p.N {
		total *= len(steps)
	}
	stride := 1
	if raceEnabled || !longTests {
		stride = 5
	}
	ok := 0
	for code := 0; code < total; code += stride {
		drops := make(map[uint32]int)
		c := code
		for id := 1; id <= p.N; id++ {
			drops[uint32(id)] = steps[c%len(steps)]
			c /= len(steps)
		}
		out := runRound(t, roundSpec{p: p, dropAt: drops, seed: uint64(code), trustDealers: true})
		checkOutcome(t, fmt.Sprintf("pattern %v", drops), out)
		if want := recoverable(p, out); (out.err == nil) != want {
			t.Fatalf("pattern %v: err = %v, recoverable = %v", drops, out.err, want)
		}
		if out.err == nil {
			ok++
		}
	}
	if ok == 0 || ok == total {
		t.Fatalf("%d of %d patterns recovered: the sweep should see both outcomes", ok, total)
	}
}
