package secagg

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"testing"
)

// splitAttack mounts the split-survivor-list attack of a malicious server
// on the target client of a round run honestly up to the masked inputs.
// The server shows list L1 (everyone, the target alive) to the honest
// clients for which inL1 is true and L2 (the target dropped) to the
// others; the corrupt clients sign both lists and hand over their shares
// of both secrets of the target. Each honest client is then asked to
// unmask under the list it signed, with every signature of that list. It
// reports whether the server recovered the target's input exactly.
func splitAttack(t *testing.T, p Params, target uint32, corrupt []uint32, inL1 func(id uint32) bool) bool {
	t.Helper()
	return splitAttackOn(t, newFixture(t, p, true), target, corrupt, inL1)
}

// splitAttackOn is splitAttack on a prepared fixture.
func splitAttackOn(t *testing.T, f *fixture, target uint32, corrupt []uint32, inL1 func(id uint32) bool) bool {
	t.Helper()
	p := f.p
	f.advertise()
	f.share()
	f.mask()
	session := f.srv.Session()
	privs, _ := identities(p.N)
	var l1, l2 []uint32
	for id := uint32(1); id <= uint32(p.N); id++ {
		l1 = append(l1, id)
		if id != target {
			l2 = append(l2, id)
		}
	}
	req1 := &UnmaskRequest{Session: session, Survivors: l1}
	req2 := &UnmaskRequest{Session: session, Survivors: l2, Dropped: []uint32{target}}
	isCorrupt := func(id uint32) bool { return slices.Contains(corrupt, id) }
	for _, c := range f.clients {
		switch {
		case isCorrupt(c.id):
			for _, r := range []*UnmaskRequest{req1, req2} {
				s := SignatureMsg{Session: session, Client: c.id}
				copy(s.Sig[:], ed25519.Sign(privs[c.id], survivorsDigest(session, r.Survivors)))
				r.Signatures = append(r.Signatures, s)
			}
		case inL1(c.id):
			s, err := c.ConsistencyCheck(&SurvivorsMsg{Session: session, Survivors: l1})
			f.must(err)
			req1.Signatures = append(req1.Signatures, *s)
		case c.id != target:
			s, err := c.ConsistencyCheck(&SurvivorsMsg{Session: session, Survivors: l2})
			f.must(err)
			req2.Signatures = append(req2.Signatures, *s)
		}
	}
	var bs, ss []Share
	for _, c := range f.clients {
		if isCorrupt(c.id) {
			if i, ok := slices.BinarySearch(c.senders, target); ok {
				bs = append(bs, Share{X: c.id, Y: c.recvB[i]})
				ss = append(ss, Share{X: c.id, Y: c.recvS[i]})
			}
			continue
		}
		req := req2
		if inL1(c.id) || c.id == target {
			req = req1
		}
		um, err := c.Unmask(req)
		if err != nil {
			if !errors.Is(err, ErrInconsistent) {
				t.Fatalf("client %d refused with %v, want ErrInconsistent", c.id, err)
			}
			continue
		}
		for _, r := range um.Shares {
			if r.Of != target {
				continue
			}
			var sh Share
			sh.X = c.id
			if _, err := sh.Y.SetCanonicalBytes(r.Value[:]); err != nil {
				t.Fatal(err)
			}
			if r.Kind == KindSelf {
				bs = append(bs, sh)
			} else {
				ss = append(ss, sh)
			}
		}
	}
	t.Logf("target %d, %d corrupt: %d shares of b, %d of s, threshold %d", target, len(corrupt), len(bs), len(ss), p.Threshold)
	if len(bs) < p.Threshold || len(ss) < p.Threshold {
		return false
	}
	return unmaskOne(t, f, target, bs, ss)
}

// unmaskOne removes every mask from the target's masked input with both of
// its secrets and reports whether the result is the target's input.
func unmaskOne(t *testing.T, f *fixture, target uint32, bs, ss []Share) bool {
	t.Helper()
	b, err := Combine(bs[:f.p.Threshold], f.p.Threshold)
	f.must(err)
	s, err := Combine(ss[:f.p.Threshold], f.p.Threshold)
	f.must(err)
	priv, err := ecdh.X25519().NewPrivateKey(s.Bytes())
	f.must(err)
	var y *MaskedMsg
	for _, m := range f.masked {
		if m.Client == target {
			y = m
		}
	}
	if f.p.bits() != 64 {
		t.Fatal("unmaskOne works on 64-bit inputs")
	}
	acc := make([]uint64, f.p.Dim)
	unpackAdd(acc, y.Data, 64)
	g := newMaskGen()
	session := f.srv.Session()
	g.add(acc, SelfSeed(b.Bytes(), session, target), 64, true)
	for _, v := range f.clients[target-1].senders {
		k := f.kb.Keys[v-1].SKey
		pub, err := ecdh.X25519().NewPublicKey(k[:])
		f.must(err)
		shared, err := priv.ECDH(pub)
		f.must(err)
		g.add(acc, PairwiseSeed(shared, session, target, v), 64, target < v)
	}
	return slices.Equal(acc, f.inputs[target-1])
}

// TestSplitSurvivorListComplete mounts the split-list attack on the
// complete graph (SecAgg) with a target whose holders are split between
// the two lists as well as the server can (t - c of them see L1, the
// rest L2). It succeeds exactly when the number of corrupt clients exceeds
// Params.Tolerance (2t - N - 1), so the rule is tight; N = 6, t = 3 (the
// issue's configuration, where the attack needed no corrupt client) is
// refused by Validate.
func TestSplitSurvivorListComplete(t *testing.T) {
	old := Params{N: 6, Threshold: 3, Bits: 64, Dim: 3, Malicious: true}
	if err := old.Validate(); !errors.Is(err, ErrParams) {
		t.Fatalf("N=6, t=3 malicious: Validate = %v, want ErrParams", err)
	}
	// The attack, on parameters forced past Validate (t = 3 dealt
	// and checked everywhere): with no corrupt client at all, the split
	// lists give the server both secrets of client 1.
	f := newFixture(t, Params{N: 6, Threshold: 4, Bits: 64, Dim: 3, Malicious: true}, true)
	f.p.Threshold, f.srv.t, f.srv.p.Threshold = 3, 3, 3
	for _, c := range f.clients {
		c.t, c.p.Threshold = 3, 3
	}
	if !splitAttackOn(t, f, 1, nil, func(id uint32) bool { return id <= 3 }) {
		t.Fatal("the split-list attack failed on N=6, t=3: the harness cannot demonstrate the issue")
	}
	for _, c := range []struct {
		n, t, corrupt int
		want          bool
	}{
		{6, 4, 1, false}, {6, 4, 2, true},
		{7, 4, 0, false}, {7, 4, 1, true},
		{7, 5, 2, false}, {7, 5, 3, true},
	} {
		p := Params{N: c.n, Threshold: c.t, Bits: 64, Dim: 3, Malicious: true}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		tol := p.Tolerance()
		target := uint32(1)
		var corrupt []uint32
		for i := range c.corrupt {
			corrupt = append(corrupt, uint32(c.n-i))
		}
		// Holders of the target's shares: everyone. The target and the
		// first t-c-1 honest others see L1.
		inL1 := func(id uint32) bool { return int(id) <= c.t-c.corrupt }
		got := splitAttack(t, p, target, corrupt, inL1)
		if got != (c.corrupt > tol) || got != c.want {
			t.Errorf("N=%d t=%d, %d corrupt (tolerance %d): input recovered = %v, want %v", c.n, c.t, c.corrupt, tol, got, c.want)
		}
	}
}

// TestSplitSurvivorListSparse mounts the split-list attack on SecAgg+
// (N = 30, k = 8, t = 6, so 2t-k-2 = 2) against a target with c corrupt
// neighbours, with two ways of splitting the honest clients: the target
// and t-c holders see L1 and the other holders L2, while the clients that
// hold none of the target's shares see L1 (strategy 0) or L2 (strategy
// 1). Up to the tolerance of the split rule the server never gets both
// secrets. The SecAgg+ parameters (k = 36, t = 19, where one
// corrupt neighbour sufficed) are refused by Validate.
func TestSplitSurvivorListSparse(t *testing.T) {
	old := Params{N: 1000, Threshold: 19, Neighbors: 36, Bits: 64, Dim: 3, Malicious: true}
	if err := old.Validate(); !errors.Is(err, ErrParams) {
		t.Fatalf("k=36, t=19 malicious: Validate = %v, want ErrParams", err)
	}
	p := Params{N: 30, Threshold: 6, Neighbors: 8, Bits: 64, Dim: 3, Malicious: true, Seed: [32]byte{3}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	g := newGraph(&p)
	const target = 5
	nb := g.neighbors(nil, target)
	split := 2*p.Threshold - p.Neighbors - 2
	counts := []int{0, split} // with CI=true: every count up to k
	if longTests {
		counts = counts[:0]
		for c := 0; c <= p.Neighbors; c++ {
			counts = append(counts, c)
		}
	}
	for _, c := range counts {
		corrupt := nb[:c]
		holders := append(slices.Clone(nb[c:]), target)
		slices.Sort(holders)
		a := map[uint32]bool{target: true}
		for _, h := range holders {
			if len(a) < p.Threshold-c {
				a[h] = true
			}
		}
		for strategy := range 2 {
			inL1 := func(id uint32) bool {
				if slices.Contains(holders, id) {
					return a[id]
				}
				return strategy == 0
			}
			got := splitAttack(t, p, target, corrupt, inL1)
			if got && c <= split {
				t.Errorf("%d corrupt neighbours (split tolerance %d), strategy %d: the server recovered the input", c, split, strategy)
			}
			t.Logf("%d corrupt neighbours, strategy %d: recovered = %v", c, strategy, got)
		}
	}
}

// TestUnmaskCountsOnlyHolders: in SecAgg+, t signatures of the survivor
// list from clients that hold none of a neighbour's shares do not let a
// client reveal that neighbour's share.
func TestUnmaskCountsOnlyHolders(t *testing.T) {
	p := Params{N: 30, Threshold: 6, Neighbors: 8, Bits: 64, Dim: 3, Malicious: true, Seed: [32]byte{4}}
	f := newFixture(t, p, true)
	f.advertise()
	f.share()
	f.mask()
	sv, err := f.srv.Survivors()
	f.must(err)
	const asked = 1
	near := map[uint32]bool{asked: true}
	for _, v := range f.clients[asked-1].Neighbors() {
		near[v] = true
		for _, w := range f.clients[v-1].Neighbors() {
			near[w] = true
		}
	}
	req := &UnmaskRequest{Session: sv.Session, Survivors: sv.Survivors}
	for _, c := range f.clients {
		s, err := c.ConsistencyCheck(sv)
		f.must(err)
		if !near[c.id] || c.id == asked {
			req.Signatures = append(req.Signatures, *s)
		}
	}
	if len(req.Signatures) < p.Threshold+1 {
		t.Fatalf("only %d far signatures", len(req.Signatures))
	}
	if _, err := f.clients[asked-1].Unmask(req); !errors.Is(err, ErrInconsistent) || !errors.Is(err, ErrBelowThreshold) {
		t.Fatalf("Unmask with %d signatures from non-holders: %v, want ErrInconsistent and ErrBelowThreshold", len(req.Signatures), err)
	}
}

// exactMaliciousBound is the security bound of ChooseMaliciousParams
// computed with exact hypergeometric tails (big.Int binomials).
func exactMaliciousBound(n, nc, k, t int) float64 {
	if k == n-1 {
		if 2*t > n+nc {
			return 0
		}
		return float64(n)
	}
	return float64(n)*naiveHyperTail(n-1, nc, k, 2*t-k-1) + 2*float64(n)*naiveHyperTail(n-1, nc, k/2, t-k/2-1)
}

// TestChooseMaliciousParams re-checks the malicious search with exact
// tails: the chosen (k, t) meet 2^-40 security and 2^-20 correctness,
// t+1 breaks correctness, and at k-2 the largest threshold that meets
// correctness misses the security target (so no threshold works there).
func TestChooseMaliciousParams(t *testing.T) {
	for _, c := range []struct {
		n          int
		corr, drop float64
	}{{10, 0.1, 0.1}, {100, 0.05, 0.1}, {100, 1.0 / 3, 0.1}, {1000, 0.05, 0.1}, {1000, 1.0 / 3, 0.1}} {
		k, th, err := ChooseMaliciousParams(c.n, c.corr, c.drop, 40, 20)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		p := Params{N: c.n, Threshold: th, Neighbors: k, Dim: 1, Malicious: true}
		if err := p.Validate(); err != nil {
			t.Fatalf("%+v: k=%d t=%d invalid: %v", c, k, th, err)
		}
		nc := int(math.Ceil(c.corr * float64(c.n)))
		nd := int(math.Ceil(c.drop * float64(c.n)))
		sec := exactMaliciousBound(c.n, nc, k, th)
		cor := float64(c.n) * naiveHyperTail(c.n-1, nd, k, k-th+1)
		if sec > math.Exp2(-40) || cor > math.Exp2(-20) {
			t.Fatalf("%+v: k=%d t=%d gives security %g, correctness %g", c, k, th, sec, cor)
		}
		if th < k && float64(c.n)*naiveHyperTail(c.n-1, nd, k, k-th) <= math.Exp2(-20) {
			t.Errorf("%+v: t=%d+1 also meets correctness", c, th)
		}
		// At k-2: the security bound falls and the correctness bound rises
		// with t, so no t works iff at the largest t meeting correctness
		// (found in log space, confirmed exactly) security fails.
		if kk := k - 2; kk >= 4 && k < c.n-1 {
			corr := func(tt int) float64 { return float64(c.n) * naiveHyperTail(c.n-1, nd, kk, kk-tt+1) }
			tmax := 0
			for tt := kk; tt >= kk/2+2; tt-- {
				if math.Log2(float64(c.n))+log2HyperTail(c.n-1, nd, kk, kk-tt+1) <= -20 {
					tmax = tt
					break
				}
			}
			if tmax > 0 {
				if corr(tmax) > math.Exp2(-20) || (tmax < kk && corr(tmax+1) <= math.Exp2(-20)) {
					t.Fatalf("%+v: k=%d: the log-space and exact correctness bounds disagree at t=%d", c, kk, tmax)
				}
				if exactMaliciousBound(c.n, nc, kk, tmax) <= math.Exp2(-40) {
					t.Errorf("%+v: k=%d, t=%d would do", c, kk, tmax)
				}
			}
		}
		semiK, semiT, _ := ChooseParams(c.n, c.corr, c.drop, 40, 20)
		t.Logf("n=%d γ=%.2f δ=%.2f: malicious k=%d t=%d (tolerance %d; semi-honest k=%d t=%d)", c.n, c.corr, c.drop, k, th, p.Tolerance(), semiK, semiT)
	}
	if _, _, err := ChooseMaliciousParams(20, 0.5, 0.5, 40, 20); !errors.Is(err, ErrParams) {
		t.Errorf("impossible targets: %v", err)
	}
}

// revealRound runs the advertise and reveal steps of a malicious round in
// which the server controls the clients in corrupt: their graph-seed
// shares are chosen by pick, which sees every commitment of the keys
// broadcast (but, commitments being hiding, not the honest shares). It
// returns the server and the honest clients.
func revealRound(t *testing.T, p Params, seed uint64, corrupt []uint32, pick func(kb *KeysBroadcast, id uint32) [32]byte) (*Server, []*Client) {
	t.Helper()
	privs, pubs := identities(p.N)
	srv, err := NewServer(ServerConfig{Params: p, PeerKeys: pubs})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*Client
	shares := map[uint32][32]byte{}
	for id := uint32(1); id <= uint32(p.N); id++ {
		c, err := NewClient(ClientConfig{ID: id, Params: p, Rand: seededReader(seed, uint64(id)), Identity: privs[id], PeerKeys: pubs})
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.AdvertiseKeys()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(corrupt, id) {
			// The server's own client commits to a share of its choice,
			// before it sees any honest share.
			var r [32]byte
			r[0], r[1] = byte(seed), byte(id)
			shares[id] = r
			m.Commit = SeedCommit(m.Round, id, r)
			m.Sig = ed25519.Sign(privs[id], advertiseDigest(m.Round, &m.PublicKeys, m.Commit))
		} else {
			cs = append(cs, c)
		}
		if err := srv.HandleAdvertise(m); err != nil {
			t.Fatal(err)
		}
	}
	kb, err := srv.Keys()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		m, err := c.RevealSeed(kb)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.HandleReveal(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range corrupt {
		r := shares[id]
		if pick != nil {
			r = pick(kb, id)
		}
		// A share other than the committed one is refused.
		if err := srv.HandleReveal(&RevealMsg{Session: srv.Session(), Client: id, Reveal: r}); err != nil && r == shares[id] {
			t.Fatal(err)
		}
	}
	return srv, cs
}

// TestGraphSeedCannotBeGround: a malicious server that controls two
// clients and wants one of them next to a target. It can only choose its
// clients' commitments before any honest share is revealed; a share that
// does not open its commitment, a broadcast that leaves a client out or
// replaces a share are refused by the clients; so over many rounds its
// client is a neighbour of the target at the rate of a uniform graph,
// k/(N-1). For contrast, grinding the public Params.Seed of the
// semi-honest graph succeeds within a few tries.
func TestGraphSeedCannotBeGround(t *testing.T) {
	p := Params{N: 10, Threshold: 4, Neighbors: 4, Bits: 16, Dim: 1, Malicious: true}
	const target, mine = 1, 10
	corrupt := []uint32{9, 10}

	// Semi-honest: the seed is the server's, and a few tries suffice.
	sp := p
	sp.Malicious, sp.Threshold = false, 3
	tries := 0
	for ; tries < 100; tries++ {
		sp.Seed[0] = byte(tries)
		if newGraph(&sp).adjacent(target, mine) {
			break
		}
	}
	if tries > 20 {
		t.Fatalf("grinding Params.Seed took %d tries", tries)
	}

	// Malicious: cheating at the reveal step is refused.
	srv, _ := revealRound(t, p, 1, corrupt, func(kb *KeysBroadcast, id uint32) [32]byte { return [32]byte{0xEE} })
	if _, err := srv.Reveals(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Reveals without the corrupt shares: %v, want ErrIncomplete", err)
	}
	srv, cs := revealRound(t, p, 2, corrupt, nil)
	rb, err := srv.Reveals()
	if err != nil {
		t.Fatal(err)
	}
	short := &RevealsBroadcast{Session: rb.Session, Reveals: rb.Reveals[:len(rb.Reveals)-1]}
	if _, err := cs[0].ShareKeysRevealed(short); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("broadcast without one share: %v, want ErrIncomplete", err)
	}
	swapped := &RevealsBroadcast{Session: rb.Session, Reveals: slices.Clone(rb.Reveals)}
	swapped.Reveals[len(swapped.Reveals)-1].Reveal[0] ^= 1
	wantClientErr(t, func() error { _, err := cs[1].ShareKeysRevealed(swapped); return err }(), mine, ErrInconsistent)
	if _, err := cs[2].ShareKeysRevealed(rb); err != nil {
		t.Fatal(err)
	}
	if got, want := cs[2].Neighbors(), srv.Neighbors(cs[2].id); !slices.Equal(got, want) {
		t.Fatalf("client and server graphs differ: %v vs %v", got, want)
	}

	// Over many rounds the adjacency rate is that of a uniform graph.
	rounds := 60
	if longTests {
		rounds = 1000
	}
	hits := 0
	for r := range rounds {
		q := p
		q.Round = uint64(r)
		srv, _ := revealRound(t, q, uint64(100+r), corrupt, nil)
		if _, err := srv.Reveals(); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(srv.Neighbors(target), mine) {
			hits++
		}
	}
	want := float64(p.Neighbors) / float64(p.N-1)
	got := float64(hits) / float64(rounds)
	sd := math.Sqrt(want * (1 - want) / float64(rounds))
	if math.Abs(got-want) > 4*sd {
		t.Fatalf("the server's client is next to the target in %.3f of rounds, want %.3f ± %.3f", got, want, 4*sd)
	}
	t.Logf("adjacent in %d of %d rounds (uniform: %.3f)", hits, rounds, want)
}

// TestLowOrderKeys: a client advertising a low-order X25519 key (X25519
// with it gives the all-zero secret whatever the other key) is refused by
// the server; a server that relays one anyway makes the client treat that
// neighbour as not advertised (no box for it, no mask with it) instead of
// aborting, so one bad key cannot knock out its honest neighbours.
func TestLowOrderKeys(t *testing.T) {
	var order8 [32]byte // a point of order 8 (libsodium's blocklist)
	b, _ := hex.DecodeString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
	copy(order8[:], b)
	for _, k := range [][32]byte{{}, {1}, order8} {
		if !lowOrder(k) {
			t.Errorf("%x not detected as low order", k)
		}
	}
	p := Params{N: 5, Threshold: 3, Bits: 32, Dim: 4}
	f := newFixture(t, p, true)
	var msgs []*AdvertiseMsg
	for _, c := range f.clients {
		m, err := c.AdvertiseKeys()
		f.must(err)
		if lowOrder(m.CKey) || lowOrder(m.SKey) {
			t.Fatal("an honest key is low order")
		}
		msgs = append(msgs, m)
	}
	bad := *msgs[4]
	bad.SKey = order8
	wantClientErr(t, f.srv.HandleAdvertise(&bad), 5, ErrDecode)
	bad = *msgs[4]
	bad.CKey = [32]byte{}
	wantClientErr(t, f.srv.HandleAdvertise(&bad), 5, ErrDecode)
	// A server that relays client 5's low-order key to client 1.
	kb := &KeysBroadcast{Round: p.RoundID()}
	for _, m := range msgs {
		kb.Keys = append(kb.Keys, *m)
	}
	kb.Keys[4].SKey = order8
	sm, err := f.clients[0].ShareKeys(kb)
	if err != nil {
		t.Fatalf("client 1 aborted on a neighbour's low-order key: %v", err)
	}
	for _, bx := range sm.Boxes {
		if bx.Peer == 5 {
			t.Fatal("client 1 sent a box to the client with a low-order key")
		}
	}
	if len(sm.Boxes) != 3 {
		t.Fatalf("%d boxes, want 3", len(sm.Boxes))
	}
}

// TestSeedDerivations recomputes SeedCommit and GraphSeed from their
// documented definitions with SHA-256 directly.
func TestSeedDerivations(t *testing.T) {
	rid := [32]byte{1, 2, 3}
	session := [32]byte{9, 8, 7}
	r1, r2 := [32]byte{0xAA}, [32]byte{0xBB}
	commit := func(id byte, r [32]byte) [32]byte {
		b := append([]byte("fedgo/secagg/v1 graph commit"), rid[:]...)
		b = append(b, 0, 0, 0, id)
		return sha256.Sum256(append(b, r[:]...))
	}
	if got, want := SeedCommit(rid, 7, r1), commit(7, r1); got != want {
		t.Fatalf("SeedCommit = %x, want %x", got, want)
	}
	keys := []AdvertiseMsg{{PublicKeys: PublicKeys{Client: 3}, Commit: commit(3, r1)}, {PublicKeys: PublicKeys{Client: 5}, Commit: commit(5, r2)}}
	reveals := []RevealMsg{{Client: 3, Reveal: r1}, {Client: 5, Reveal: r2}}
	b := append([]byte("fedgo/secagg/v1 graph seed"), session[:]...)
	b = append(b, 0, 0, 0, 2)
	for i, id := range []byte{3, 5} {
		b = append(b, 0, 0, 0, id)
		b = append(b, keys[i].Commit[:]...)
		b = append(b, reveals[i].Reveal[:]...)
	}
	if got, want := GraphSeed(session, keys, reveals), sha256.Sum256(b); got != want {
		t.Fatalf("GraphSeed = %x, want %x", got, want)
	}
	// Every share moves the seed.
	reveals[1].Reveal[31] ^= 1
	if GraphSeed(session, keys, reveals) == sha256.Sum256(b) {
		t.Fatal("the seed ignores a client's share")
	}
}

// TestCutCycle mounts the cut attack on SecAgg+ (N = 20, k = 4): the
// server declares two runs of k/2 consecutive clients dropped, which
// splits the honest survivors into two components A and B, keeps both on
// one survivor list (so every holder-signature check can pass), and tries
// to remove the masks of A alone, learning Σ_A besides Σ_B. With t = 3
// (2t > k, the rule before this issue, forced past Validate) it learns
// Σ_A exactly; with t = k/2 + 2 = 4 (what Validate now requires) the first
// client of A has only 1 + k/2 holders on the list, and the server gets
// neither its self mask nor Σ_A.
func TestCutCycle(t *testing.T) {
	for _, th := range []int{3, 4} {
		p := Params{N: 20, Threshold: 4, Neighbors: 4, Bits: 64, Dim: 3, Malicious: true, Seed: [32]byte{8}}
		f := newFixture(t, p, true)
		if th != 4 {
			f.p.Threshold, f.srv.t, f.srv.p.Threshold = th, th, th
			for _, c := range f.clients {
				c.t, c.p.Threshold = th, th
			}
		}
		f.advertise()
		f.share()
		perm := f.srv.g.perm // perm[position] = id
		const m = 6          // A = positions 0..m-1, cut = m, m+1 and N-2, N-1
		var a, cut []uint32
		for pos := range p.N {
			switch {
			case pos < m:
				a = append(a, perm[pos])
			case pos == m || pos == m+1 || pos >= p.N-2:
				cut = append(cut, perm[pos])
			}
		}
		f.mask(cut...)
		sv, err := f.srv.Survivors()
		f.must(err)
		for _, id := range sv.Survivors {
			s, err := f.clients[id-1].ConsistencyCheck(sv)
			f.must(err)
			f.must(f.srv.HandleSignature(s))
		}
		req, err := f.srv.UnmaskRequest()
		f.must(err)
		bs := map[uint32][]Share{}
		ss := map[uint32][]Share{}
		for _, id := range req.Survivors {
			um, err := f.clients[id-1].Unmask(req)
			if err != nil {
				continue // refused: the holder-signature check
			}
			for _, r := range um.Shares {
				var sh Share
				sh.X = id
				if _, err := sh.Y.SetCanonicalBytes(r.Value[:]); err != nil {
					t.Fatal(err)
				}
				if r.Kind == KindSelf {
					bs[r.Of] = append(bs[r.Of], sh)
				} else {
					ss[r.Of] = append(ss[r.Of], sh)
				}
			}
		}
		got, ok := partialSum(t, f, a, bs, ss)
		want := f.sum(a...)
		if th == 3 && (!ok || !slices.Equal(got, want)) {
			t.Errorf("t=3: the cut attack failed (ok=%v): the test cannot demonstrate the rule", ok)
		}
		if th == 4 && ok {
			t.Errorf("t=4: the server learnt the partial sum of %v: %v (want %v)", a, got, want)
		}
		t.Logf("t=%d: partial sum of %d clients recovered: %v", th, len(a), ok && slices.Equal(got, want))
	}
}

// partialSum removes, from the sum of the masked inputs of a, the self
// masks of a and the pairwise masks between a and dropped clients, using
// the revealed shares; ok is false when some secret has fewer than t
// shares.
func partialSum(t *testing.T, f *fixture, a []uint32, bs, ss map[uint32][]Share) ([]uint64, bool) {
	t.Helper()
	th := f.p.Threshold
	session := f.srv.Session()
	acc := make([]uint64, f.p.Dim)
	g := newMaskGen()
	for _, m := range f.masked {
		if slices.Contains(a, m.Client) {
			unpackAdd(acc, m.Data, 64)
		}
	}
	for _, u := range a {
		if len(bs[u]) < th {
			return nil, false
		}
		b, err := Combine(bs[u][:th], th)
		f.must(err)
		g.add(acc, SelfSeed(b.Bytes(), session, u), 64, true)
		for _, v := range f.clients[u-1].senders {
			if slices.Contains(a, v) {
				continue // cancels within a
			}
			if len(ss[v]) < th {
				return nil, false
			}
			s, err := Combine(ss[v][:th], th)
			f.must(err)
			priv, err := ecdh.X25519().NewPrivateKey(s.Bytes())
			f.must(err)
			k := f.kb.Keys[u-1].SKey
			pub, err := ecdh.X25519().NewPublicKey(k[:])
			f.must(err)
			shared, err := priv.ECDH(pub)
			f.must(err)
			g.add(acc, PairwiseSeed(shared, session, u, v), 64, u < v)
		}
	}
	return acc, true
}

// TestLog2Risk: the risk of ChooseMaliciousParams' choice meets its target,
// and weaker parameters of the same size (which Validate accepts) do not.
func TestLog2Risk(t *testing.T) {
	k, th, err := ChooseMaliciousParams(1000, 0.05, 0.1, 40, 20)
	if err != nil {
		t.Fatal(err)
	}
	p := Params{N: 1000, Threshold: th, Neighbors: k, Dim: 1, Malicious: true}
	if r := p.Log2Risk(0.05); r > -40 {
		t.Errorf("chosen parameters: risk 2^%v", r)
	}
	weak := Params{N: 1000, Threshold: 20, Neighbors: 36, Dim: 1, Malicious: true}
	if weak.Validate() != nil {
		t.Fatal("k=36, t=20 should be valid")
	}
	if r := weak.Log2Risk(0.05); r <= -40 {
		t.Errorf("k=36, t=20 at 5%% corrupt: risk 2^%v, want above 2^-40", r)
	}
	complete := Params{N: 10, Threshold: 7, Dim: 1, Malicious: true}
	if r := complete.Log2Risk(0.2); !math.IsInf(r, -1) { // 2 corrupt: 2t = 14 > 10 + 2
		t.Errorf("complete, tolerance met: risk 2^%v, want -Inf", r)
	}
	if r := complete.Log2Risk(0.4); r < 0 { // 4 corrupt: 14 ≤ 14
		t.Errorf("complete, tolerance exceeded: risk 2^%v, want ≥ 0", r)
	}
	if r := (Params{N: 10, Threshold: 3, Dim: 1}).Log2Risk(0.1); !math.IsInf(r, 1) {
		t.Errorf("parameters invalid in malicious mode: risk 2^%v, want +Inf", r)
	}
}

// Malicious mode with Params.MaxUnrevealed = m: up to m clients that
// advertise keys and then vanish before revealing their graph-seed share
// leave the round like dropouts, and the survivors' sum comes out; one
// more stops the round (ErrIncomplete). The server's freedom to leave
// reveals out is a choice among Σ_{j≤m} C(N, j) graph seeds, which
// Log2Risk charges.
func TestMaxUnrevealed(t *testing.T) {
	p := Params{N: 10, Threshold: 5, Neighbors: 6, Bits: 32, Dim: 5, Malicious: true, MaxUnrevealed: 2}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	out := runRound(t, roundSpec{p: p, seed: 31, dropAt: map[uint32]int{}, noReveal: map[uint32]bool{4: true, 9: true}})
	if out.err != nil {
		t.Fatalf("two missing reveals with MaxUnrevealed 2: %v", out.err)
	}
	if len(out.survivors) != 8 || slices.Contains(out.survivors, 4) || slices.Contains(out.survivors, 9) || !slices.Equal(out.sum, out.want) {
		t.Fatalf("survivors %v, sum equal %v", out.survivors, slices.Equal(out.sum, out.want))
	}
	out = runRound(t, roundSpec{p: p, seed: 32, dropAt: map[uint32]int{}, noReveal: map[uint32]bool{2: true, 4: true, 9: true}})
	if !errors.Is(out.err, ErrIncomplete) {
		t.Fatalf("three missing reveals with MaxUnrevealed 2: %v, want ErrIncomplete", out.err)
	}
	// The risk charges the server's choices: log2(1 + N + C(N,2)) bits.
	p0 := p
	p0.MaxUnrevealed = 0
	got := p.Log2Risk(0.1) - p0.Log2Risk(0.1)
	if want := math.Log2(1 + 10 + 45); math.Abs(got-want) > 1e-9 {
		t.Errorf("Log2Risk charge %v bits, want %v", got, want)
	}
	// MaxUnrevealed is malicious-only and at most N − t; it changes the
	// round id (clients cannot be shown other parameters).
	for _, bad := range []Params{
		{N: 10, Threshold: 6, Neighbors: 6, Bits: 32, Dim: 5, MaxUnrevealed: 1},
		{N: 10, Threshold: 5, Neighbors: 6, Bits: 32, Dim: 5, Malicious: true, MaxUnrevealed: 6},
		{N: 10, Threshold: 6, Neighbors: 6, Bits: 32, Dim: 5, Malicious: true, MaxUnrevealed: -1},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("%+v: Validate = %v", bad, err)
		}
	}
	if p.RoundID() == p0.RoundID() {
		t.Error("MaxUnrevealed does not enter the round id")
	}
}

// A server that shows clients different sets of reveals (each within
// MaxUnrevealed) gives them different graphs; the session is then bound to
// the graph seed, so those clients cannot take part in one round together
// (their shares are encrypted, and their lists signed, under different
// sessions), while clients shown the same reveals agree.
func TestSplitRevealsSplitSessions(t *testing.T) {
	p := Params{N: 10, Threshold: 5, Neighbors: 6, Bits: 32, Dim: 3, Malicious: true, MaxUnrevealed: 2}
	f := newFixture(t, p, true)
	f.advertise()
	var all []RevealMsg
	for _, c := range f.clients {
		m, err := c.RevealSeed(f.kb)
		f.must(err)
		all = append(all, *m)
	}
	without := func(id uint32) *RevealsBroadcast {
		rb := &RevealsBroadcast{Session: all[0].Session}
		for _, m := range all {
			if m.Client != id {
				rb.Reveals = append(rb.Reveals, m)
			}
		}
		return rb
	}
	session := func(c *Client, rb *RevealsBroadcast) [32]byte {
		m, err := c.ShareKeysRevealed(rb)
		f.must(err)
		return m.Session
	}
	a := session(f.clients[0], without(9))
	b := session(f.clients[1], without(10))
	c := session(f.clients[2], without(9))
	full := session(f.clients[3], &RevealsBroadcast{Session: all[0].Session, Reveals: all})
	if a == b || a != c || full == a {
		t.Fatalf("sessions: different views %x/%x, same view %x, full %x", a[:4], b[:4], c[:4], full[:4])
	}
	if full != f.srv.Session() {
		t.Errorf("with every share revealed the session is the keys' session")
	}
}
