package secagg

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

// fixture drives a round step by step for targeted tests.
type fixture struct {
	t       *testing.T
	p       Params
	srv     *Server
	clients []*Client
	inputs  [][]uint64
	kb      *KeysBroadcast
	shares  []*SharesMsg
	sbs     []*SharesBroadcast
	masked  []*MaskedMsg
}

func newFixture(t *testing.T, p Params, trust bool) *fixture {
	t.Helper()
	privs, pubs := identities(p.N)
	f := &fixture{t: t, p: p}
	var err error
	f.srv, err = NewServer(ServerConfig{Params: p, PeerKeys: pubs})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range p.N {
		id := uint32(i + 1)
		c, err := NewClient(ClientConfig{ID: id, Params: p, Rand: seededReader(7, uint64(id)), Identity: privs[id], PeerKeys: pubs, TrustDealers: trust})
		if err != nil {
			t.Fatal(err)
		}
		f.clients = append(f.clients, c)
		in := make([]uint64, p.Dim)
		for j := range in {
			in[j] = rng.Uint64() & wordMask(p.bits())
		}
		f.inputs = append(f.inputs, in)
	}
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) advertise() {
	f.t.Helper()
	for _, c := range f.clients {
		m, err := c.AdvertiseKeys()
		f.must(err)
		f.must(f.srv.HandleAdvertise(m))
	}
	var err error
	f.kb, err = f.srv.Keys()
	f.must(err)
}

// reveal runs the malicious-mode reveal step: every client reveals its
// graph-seed share and the server broadcasts them.
func (f *fixture) reveal() *RevealsBroadcast {
	f.t.Helper()
	for _, c := range f.clients {
		m, err := c.RevealSeed(f.kb)
		f.must(err)
		f.must(f.srv.HandleReveal(m))
	}
	rb, err := f.srv.Reveals()
	f.must(err)
	return rb
}

// shareKeys is the client's share step in either mode.
func shareKeys(c *Client, kb *KeysBroadcast, rb *RevealsBroadcast) (*SharesMsg, error) {
	if c.p.Malicious {
		return c.ShareKeysRevealed(rb)
	}
	return c.ShareKeys(kb)
}

func (f *fixture) share() {
	f.t.Helper()
	var rb *RevealsBroadcast
	if f.p.Malicious {
		rb = f.reveal()
	}
	for _, c := range f.clients {
		m, err := shareKeys(c, f.kb, rb)
		f.must(err)
		f.shares = append(f.shares, m)
	}
	for _, m := range f.shares {
		f.must(f.srv.HandleShares(m))
	}
	var err error
	f.sbs, err = f.srv.Shares()
	f.must(err)
}

func (f *fixture) mask(skip ...uint32) {
	f.t.Helper()
	for _, sb := range f.sbs {
		m, err := f.clients[sb.To-1].MaskedInput(sb, f.inputs[sb.To-1])
		f.must(err)
		f.masked = append(f.masked, m)
		if !slices.Contains(skip, sb.To) {
			f.must(f.srv.HandleMasked(m))
		}
	}
}

func (f *fixture) sum(ids ...uint32) []uint64 {
	var vs [][]uint64
	for _, id := range ids {
		vs = append(vs, f.inputs[id-1])
	}
	return naiveSum(vs, f.p.bits(), f.p.Dim)
}

func wantClientErr(t *testing.T, err error, client uint32, sentinel error) {
	t.Helper()
	var ce *ClientError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a *ClientError", err)
	}
	if ce.Client != client || !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want client %d and %v", err, client, sentinel)
	}
}

// TestUnsafeUnmaskRequestsRefused checks the client's refusal rules: a
// server that asks for both shares of one client, too few survivors, an
// incomplete or malformed request is refused, and a refused client never
// answers later.
func TestUnsafeUnmaskRequestsRefused(t *testing.T) {
	p := Params{N: 5, Threshold: 3, Bits: 32, Dim: 4}
	f := newFixture(t, p, true)
	f.advertise()
	f.share()
	f.mask(5) // client 5's masked input is lost
	req, err := f.srv.UnmaskRequest()
	f.must(err)
	if !slices.Equal(req.Survivors, []uint32{1, 2, 3, 4}) || !slices.Equal(req.Dropped, []uint32{5}) {
		t.Fatalf("request lists %v / %v", req.Survivors, req.Dropped)
	}
	bad := []struct {
		name string
		req  UnmaskRequest
		want error
	}{
		{"both shares of 5", UnmaskRequest{Survivors: []uint32{1, 2, 3, 4, 5}, Dropped: []uint32{5}}, ErrUnsafeRequest},
		{"both shares of 2", UnmaskRequest{Survivors: []uint32{1, 2, 3, 4}, Dropped: []uint32{2, 5}}, ErrUnsafeRequest},
		{"below t", UnmaskRequest{Survivors: []uint32{1, 2}, Dropped: []uint32{3, 4, 5}}, ErrBelowThreshold},
		{"self not survivor", UnmaskRequest{Survivors: []uint32{2, 3, 4}, Dropped: []uint32{1, 5}}, ErrUnsafeRequest},
		{"neighbour unlisted", UnmaskRequest{Survivors: []uint32{1, 2, 3, 4}}, ErrUnsafeRequest},
		{"unsorted", UnmaskRequest{Survivors: []uint32{2, 1, 3, 4}, Dropped: []uint32{5}}, ErrUnsafeRequest},
		{"duplicate id", UnmaskRequest{Survivors: []uint32{1, 1, 2, 3, 4}, Dropped: []uint32{5}}, ErrUnsafeRequest},
		{"unknown id", UnmaskRequest{Survivors: []uint32{1, 2, 3, 4, 9}, Dropped: []uint32{5}}, ErrUnsafeRequest},
	}
	for i, tc := range bad {
		// A fresh round per case, since a refusal aborts the client.
		g := newFixture(t, p, true)
		g.advertise()
		g.share()
		g.mask(5)
		c := g.clients[i%4] // one of the survivors 1..4
		if tc.name == "self not survivor" {
			c = g.clients[0]
		}
		r := tc.req
		r.Session = g.srv.Session()
		_, err := c.Unmask(&r)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		// The refused client stays refused, even for the honest request.
		honest, err := g.srv.UnmaskRequest()
		f.must(err)
		if _, err := c.Unmask(honest); !errors.Is(err, ErrPhase) {
			t.Fatalf("%s: after a refusal Unmask returned %v, want ErrPhase", tc.name, err)
		}
	}
	// The honest request is answered once, never twice.
	um, err := f.clients[0].Unmask(req)
	f.must(err)
	for _, s := range um.Shares {
		if s.Of == 5 && s.Kind != KindKey || s.Of != 5 && s.Kind != KindSelf {
			t.Fatalf("share of %d has kind %d", s.Of, s.Kind)
		}
	}
	alt := *req
	alt.Survivors, alt.Dropped = []uint32{1, 2, 3, 4, 5}, nil
	if _, err := f.clients[0].Unmask(&alt); !errors.Is(err, ErrPhase) {
		t.Fatalf("second request: %v, want ErrPhase", err)
	}
	// The session binds the request.
	other := *req
	other.Session[0] ^= 1
	if _, err := f.clients[1].Unmask(&other); !errors.Is(err, ErrSession) {
		t.Fatalf("wrong session: %v", err)
	}
}

// TestMaliciousServerInconsistentLists: a server that shows different
// survivor lists to different clients cannot collect t signatures of the
// list a client signed, and the client refuses.
func TestMaliciousServerInconsistentLists(t *testing.T) {
	p := Params{N: 5, Threshold: 3, Bits: 32, Dim: 4, Malicious: true}
	f := newFixture(t, p, true)
	f.advertise()
	f.share()
	f.mask()
	sv, err := f.srv.Survivors()
	f.must(err)
	// Clients 1-3 see all five; clients 4-5 are told that 1 dropped.
	listA := sv.Survivors
	listB := &SurvivorsMsg{Session: sv.Session, Survivors: []uint32{2, 3, 4, 5}}
	var sigsA, sigsB []SignatureMsg
	for _, c := range f.clients[:3] {
		s, err := c.ConsistencyCheck(sv)
		f.must(err)
		sigsA = append(sigsA, *s)
	}
	for _, c := range f.clients[3:] {
		s, err := c.ConsistencyCheck(listB)
		f.must(err)
		sigsB = append(sigsB, *s)
		// The honest server rejects a signature of another list.
		wantClientErr(t, f.srv.HandleSignature(s), c.id, ErrSignature)
	}
	// To client 4 the cheating server presents list B, backed by every
	// signature it has (3 of them over list A).
	req := &UnmaskRequest{Session: sv.Session, Survivors: listB.Survivors, Dropped: []uint32{1},
		Signatures: append(slices.Clone(sigsB), sigsA[1:]...)}
	slices.SortFunc(req.Signatures, func(a, b SignatureMsg) int { return int(a.Client) - int(b.Client) })
	if _, err := f.clients[3].Unmask(req); !errors.Is(err, ErrSignature) {
		t.Fatalf("client 4: %v, want ErrSignature", err)
	}
	// With only list B's own signatures it has fewer than t.
	req.Signatures = sigsB
	if _, err := f.clients[4].Unmask(req); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("client 5: %v, want ErrInconsistent", err)
	}
	// Client 1 is shown list A with A's signatures — but asked as if list
	// B held (1 dropped): refused because the list differs from its own.
	reqA := &UnmaskRequest{Session: sv.Session, Survivors: listB.Survivors, Dropped: []uint32{1}, Signatures: sigsA}
	if _, err := f.clients[0].Unmask(reqA); err == nil {
		t.Fatal("client 1 answered a request for a list it did not sign")
	}
	_ = listA
}

// TestMaliciousForgedAdvertise: keys whose signature does not verify are
// rejected by the server and by the clients.
func TestMaliciousForgedAdvertise(t *testing.T) {
	p := Params{N: 4, Threshold: 3, Bits: 32, Dim: 2, Malicious: true}
	f := newFixture(t, p, true)
	var msgs []*AdvertiseMsg
	for _, c := range f.clients {
		m, err := c.AdvertiseKeys()
		f.must(err)
		msgs = append(msgs, m)
	}
	forged := *msgs[1]
	forged.SKey[0] ^= 1
	wantClientErr(t, f.srv.HandleAdvertise(&forged), 2, ErrSignature)
	// A server that relays the forged keys is caught by the neighbours.
	kb := &KeysBroadcast{Round: p.RoundID()}
	for i, m := range msgs {
		if i == 1 {
			m = &forged
		}
		kb.Keys = append(kb.Keys, *m)
	}
	_, err := f.clients[0].RevealSeed(kb)
	f.must(err)
	rb := &RevealsBroadcast{Session: f.clients[0].session}
	for _, c := range f.clients {
		rb.Reveals = append(rb.Reveals, RevealMsg{Client: c.id, Reveal: c.seedShare})
	}
	_, err = f.clients[0].ShareKeysRevealed(rb)
	wantClientErr(t, err, 2, ErrSignature)
}

// TestFeldmanCatchesBadShares: a corrupted share fails VerifyShareVarTime;
// a client receiving it names the dealer; with TrustDealers the server
// locates the bad share at unmasking and still recovers; a dealer whose
// shares are all bad is named by the server.
func TestFeldmanCatchesBadShares(t *testing.T) {
	t.Run("verify", func(t *testing.T) {
		r := seededReader(1, 1)
		secret, _ := randomScalar(r)
		xs := []uint32{1, 2, 3, 4, 5}
		ys := make([]edwards25519.Scalar, len(xs))
		commit := make([]Commitment, 3)
		f := func() { _ = Deal(ys, commit, secret, 3, xs, r) }
		f()
		pts := commit
		for i, x := range xs {
			if !VerifyShareVarTime(x, &ys[i], pts) {
				t.Fatalf("honest share %d rejected", x)
			}
		}
		var bad edwards25519.Scalar
		bad.Add(&ys[2], scalarFromUint(1))
		if VerifyShareVarTime(3, &bad, pts) {
			t.Fatal("corrupted share accepted")
		}
		if VerifyShareVarTime(4, &ys[2], pts) {
			t.Fatal("share accepted at the wrong x")
		}
		// A bad dealer: commitments of one polynomial, shares of another.
		other := make([]edwards25519.Scalar, len(xs))
		_ = Deal(other, make([]Commitment, 3), secret, 3, xs, r)
		if VerifyShareVarTime(1, &other[0], pts) {
			t.Fatal("share of a different polynomial accepted")
		}
		if !checkSecret(secret, commit[0]) {
			t.Fatal("C_0 does not commit to the secret")
		}
		// Commitment decoding rejects points off the curve and
		// non-canonical coordinates.
		off := slices.Clone(commit)
		off[1][5] ^= 1
		if _, err := decodeCommitments(off); err == nil {
			t.Fatal("off-curve commitment accepted")
		}
		var id Commitment // the identity (0, 1), then x = p (≡ 0) non-canonically
		id[32] = 1
		var pt edwards25519.Point
		if err := decodeCommitment(&pt, &id); err != nil || pt.Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Fatalf("identity: %v", err)
		}
		id[0] = 0xED
		for i := 1; i < 31; i++ {
			id[i] = 0xFF
		}
		id[31] = 0x7F
		if err := decodeCommitment(&pt, &id); err == nil {
			t.Fatal("non-canonical x accepted")
		}
	})
	p := Params{N: 5, Threshold: 3, Bits: 32, Dim: 6}
	corrupt := func(f *fixture, dealer uint32, victims ...uint32) {
		f.clients[dealer-1].testHookShares = func(xs []uint32, yb, ys []edwards25519.Scalar) {
			for i, x := range xs {
				if slices.Contains(victims, x) {
					yb[i].Add(&yb[i], scalarFromUint(1))
				}
			}
		}
	}
	t.Run("client names dealer", func(t *testing.T) {
		f := newFixture(t, p, false)
		corrupt(f, 2, 4)
		f.advertise()
		f.share()
		_, err := f.clients[3].MaskedInput(f.sbs[3], f.inputs[3])
		wantClientErr(t, err, 2, ErrBadShare)
		if _, err := f.clients[0].MaskedInput(f.sbs[0], f.inputs[0]); err != nil {
			t.Fatalf("client 1 got honest shares: %v", err)
		}
	})
	t.Run("server repairs", func(t *testing.T) {
		f := newFixture(t, p, true)
		corrupt(f, 2, 1) // client 1's share of b_2 is bad; 1 has the smallest x so it is used first
		f.advertise()
		f.share()
		f.mask()
		req, err := f.srv.UnmaskRequest()
		f.must(err)
		for _, c := range f.clients {
			um, err := c.Unmask(req)
			f.must(err)
			f.must(f.srv.HandleUnmask(um))
		}
		got, err := f.srv.Result()
		f.must(err)
		if want := f.sum(1, 2, 3, 4, 5); !slices.Equal(got, want) {
			t.Fatalf("sum %v, want %v", got, want)
		}
	})
	t.Run("server names the holder of a bad share", func(t *testing.T) {
		// Clients 1, 2 and 4 answer (exactly t); client 4 reveals a
		// wrong share of b_2. The dealer is honest: the holder is named.
		f := newFixture(t, p, false)
		f.advertise()
		f.share()
		f.mask()
		req, err := f.srv.UnmaskRequest()
		f.must(err)
		for _, id := range []uint32{1, 2, 4} {
			um, err := f.clients[id-1].Unmask(req)
			f.must(err)
			if id == 4 {
				for i := range um.Shares {
					if um.Shares[i].Of == 2 {
						var y edwards25519.Scalar
						_, _ = y.SetCanonicalBytes(um.Shares[i].Value[:])
						y.Add(&y, scalarFromUint(1))
						copy(um.Shares[i].Value[:], y.Bytes())
					}
				}
			}
			f.must(f.srv.HandleUnmask(um))
		}
		_, err = f.srv.Result()
		wantClientErr(t, err, 4, ErrBadShare)
	})
	t.Run("server names bad dealer", func(t *testing.T) {
		f := newFixture(t, p, true)
		corrupt(f, 3, 1, 2, 3, 4, 5)
		f.advertise()
		f.share()
		f.mask()
		req, err := f.srv.UnmaskRequest()
		f.must(err)
		for _, c := range f.clients {
			um, err := c.Unmask(req)
			f.must(err)
			f.must(f.srv.HandleUnmask(um))
		}
		_, err = f.srv.Result()
		wantClientErr(t, err, 3, ErrBadShare)
	})
}

// TestServerRejectsBadMessages: every bad message is rejected with a
// *ClientError naming the client, and the round goes on with the others.
func TestServerRejectsBadMessages(t *testing.T) {
	p := Params{N: 5, Threshold: 3, Bits: 32, Dim: 4}
	f := newFixture(t, p, true)
	var adv []*AdvertiseMsg
	for _, c := range f.clients {
		m, err := c.AdvertiseKeys()
		f.must(err)
		adv = append(adv, m)
	}
	wrongRound := *adv[0]
	wrongRound.Round[0] ^= 1
	wantClientErr(t, f.srv.HandleAdvertise(&wrongRound), 1, ErrSession)
	unknown := *adv[0]
	unknown.Client = 9
	wantClientErr(t, f.srv.HandleAdvertise(&unknown), 9, ErrUnknownClient)
	for _, m := range adv {
		f.must(f.srv.HandleAdvertise(m))
	}
	wantClientErr(t, f.srv.HandleAdvertise(adv[2]), 3, ErrDuplicate)
	// Out of order: a masked input during the advertise step.
	wantClientErr(t, f.srv.HandleMasked(&MaskedMsg{Client: 1}), 1, ErrPhase)
	var err error
	f.kb, err = f.srv.Keys()
	f.must(err)
	wantClientErr(t, f.srv.HandleAdvertise(adv[0]), 1, ErrPhase)

	for _, c := range f.clients {
		m, err := c.ShareKeys(f.kb)
		f.must(err)
		f.shares = append(f.shares, m)
	}
	ws := *f.shares[0]
	ws.Session[3] ^= 1
	wantClientErr(t, f.srv.HandleShares(&ws), 1, ErrSession)
	short := *f.shares[1]
	short.Boxes = short.Boxes[1:]
	wantClientErr(t, f.srv.HandleShares(&short), 2, ErrLength)
	for _, m := range f.shares[:4] { // client 5 drops here
		f.must(f.srv.HandleShares(m))
	}
	wantClientErr(t, f.srv.HandleShares(f.shares[0]), 1, ErrDuplicate)
	f.sbs, err = f.srv.Shares()
	f.must(err)
	wantClientErr(t, f.srv.HandleShares(f.shares[4]), 5, ErrPhase)

	var masked []*MaskedMsg
	for _, sb := range f.sbs {
		m, err := f.clients[sb.To-1].MaskedInput(sb, f.inputs[sb.To-1])
		f.must(err)
		masked = append(masked, m)
	}
	// A broadcast addressed to someone else is refused.
	if _, err := f.clients[4].MaskedInput(f.sbs[0], f.inputs[4]); !errors.Is(err, ErrSession) {
		t.Fatalf("client 5 given client 1's broadcast: %v", err)
	}
	wrongLen := *masked[0]
	wrongLen.Dim, wrongLen.Data = 3, wrongLen.Data[:12]
	wantClientErr(t, f.srv.HandleMasked(&wrongLen), 1, ErrLength)
	wantClientErr(t, f.srv.HandleMasked(&MaskedMsg{Session: f.srv.Session(), Client: 5, Bits: 32, Dim: 4, Data: make([]byte, 16)}), 5, ErrUnknownClient)
	for _, m := range masked {
		f.must(f.srv.HandleMasked(m))
	}
	wantClientErr(t, f.srv.HandleMasked(masked[1]), 2, ErrDuplicate)
	req, err := f.srv.UnmaskRequest()
	f.must(err)
	var ums []*UnmaskMsg
	for _, c := range f.clients[:4] {
		um, err := c.Unmask(req)
		f.must(err)
		ums = append(ums, um)
	}
	tampered := *ums[0]
	tampered.Shares = slices.Clone(tampered.Shares)
	tampered.Shares[0].Kind = KindKey
	wantClientErr(t, f.srv.HandleUnmask(&tampered), 1, ErrDecode)
	fewer := *ums[1]
	fewer.Shares = fewer.Shares[1:]
	wantClientErr(t, f.srv.HandleUnmask(&fewer), 2, ErrLength)
	for _, um := range ums[:3] {
		f.must(f.srv.HandleUnmask(um))
	}
	wantClientErr(t, f.srv.HandleUnmask(ums[0]), 1, ErrDuplicate)
	got, err := f.srv.Result()
	f.must(err)
	if want := f.sum(1, 2, 3, 4); !slices.Equal(got, want) {
		t.Fatalf("sum %v, want %v", got, want)
	}
	again, err := f.srv.Result()
	if err != nil || !slices.Equal(again, got) {
		t.Fatal("Result is not idempotent")
	}
}

// TestInputValidation: wrong length and out-of-range inputs are rejected
// without aborting the client.
func TestInputValidation(t *testing.T) {
	p := Params{N: 3, Threshold: 2, Bits: 10, Dim: 4}
	f := newFixture(t, p, true)
	f.advertise()
	f.share()
	c := f.clients[0]
	if _, err := c.MaskedInput(f.sbs[0], make([]uint64, 3)); !errors.Is(err, ErrLength) {
		t.Fatalf("short input: %v", err)
	}
	if _, err := c.MaskedInput(f.sbs[0], []uint64{0, 1 << 10, 0, 0}); !errors.Is(err, ErrRange) {
		t.Fatalf("input ≥ 2^b: %v", err)
	}
	if _, err := c.MaskedInput(f.sbs[1], f.inputs[0]); !errors.Is(err, ErrSession) {
		t.Fatalf("broadcast for client 2: %v", err)
	}
	if _, err := c.MaskedInput(f.sbs[0], f.inputs[0]); err != nil {
		t.Fatalf("valid input after rejections: %v", err)
	}
}

func TestBelowThresholdRevealsNothing(t *testing.T) {
	p := Params{N: 4, Threshold: 3, Bits: 32, Dim: 4}
	f := newFixture(t, p, true)
	f.advertise()
	f.share()
	f.mask(2, 3) // only 2 masked inputs arrive
	if _, err := f.srv.UnmaskRequest(); !errors.Is(err, ErrBelowThreshold) {
		t.Fatalf("UnmaskRequest with 2 of t=3: %v", err)
	}
	if _, err := f.srv.Result(); !errors.Is(err, ErrPhase) || !errors.Is(err, ErrBelowThreshold) {
		t.Fatalf("Result after failure: %v", err)
	}
}

// TestMaskedInputLooksUniform: the server's view of one client (its masked
// vector of an all-zero input, and of a constant input) passes a
// chi-square test for uniformity over 64 buckets of the top 6 bits.
func TestMaskedInputLooksUniform(t *testing.T) {
	const d = 1 << 15
	for _, tc := range []struct {
		bits  int
		value uint64
	}{{32, 0}, {32, 1<<31 + 12345}, {12, 7}} {
		p := Params{N: 3, Threshold: 2, Bits: tc.bits, Dim: d}
		f := newFixture(t, p, true)
		for i := range f.inputs {
			for j := range f.inputs[i] {
				f.inputs[i][j] = tc.value
			}
		}
		f.advertise()
		f.share()
		f.mask()
		vals := make([]uint64, d)
		unpackAdd(vals, f.masked[0].Data, tc.bits)
		var counts [64]float64
		for _, v := range vals {
			counts[v>>uint(tc.bits-6)]++
		}
		chi := 0.0
		exp := float64(d) / 64
		for _, c := range counts {
			chi += (c - exp) * (c - exp) / exp
		}
		// 63 degrees of freedom: P[χ² > 103.4] = 0.001.
		if chi > 103.4 {
			t.Fatalf("bits %d value %d: chi-square %.1f > 103.4", tc.bits, tc.value, chi)
		}
		// The input itself must not show through: a constant input would
		// put every value in one bucket.
		if math.IsNaN(chi) {
			t.Fatal("NaN")
		}
	}
}
