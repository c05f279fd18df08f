package secagg

import (
	"cmp"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/edwards25519"
)

// ClientConfig configures one client of one round.
type ClientConfig struct {
	// ID is the client's id, 1..Params.N.
	ID uint32
	// Params are the round's public parameters (the same on every party).
	Params Params
	// Rand is the source of the client's secrets; nil means crypto/rand.
	// Tests inject a seeded reader; in deployment leave it nil.
	Rand io.Reader
	// Identity is the client's ed25519 signing key (required when
	// Params.Malicious).
	Identity ed25519.PrivateKey
	// PeerKeys maps client ids to their ed25519 verification keys
	// (required when Params.Malicious; it must cover the client's
	// neighbours). It is a PKI the host provides.
	PeerKeys map[uint32]ed25519.PublicKey
	// TrustDealers skips the Feldman check of the shares the client
	// receives (about 2·k·t point operations). The server still checks every
	// reconstructed secret against its commitment and, on a mismatch,
	// checks the shares one by one, so a bad dealer is still detected, but
	// later (at unmasking rather than before masking).
	TrustDealers bool
	// Workers bounds the goroutines that ShareKeys and MaskedInput use for
	// their X25519 agreements, Feldman checks and mask expansion; 0 means
	// runtime.GOMAXPROCS(0), and 1 keeps every call on the caller's
	// goroutine. Small rounds (few neighbours, small Dim) run on the
	// caller's goroutine whatever Workers says. The messages do not depend
	// on Workers.
	Workers int
}

// Validate checks cfg.
func (cfg ClientConfig) Validate() error {
	if err := cfg.Params.Validate(); err != nil {
		return err
	}
	if cfg.ID < 1 || int(cfg.ID) > cfg.Params.N {
		return fmt.Errorf("%w: client id %d, want 1..%d", ErrParams, cfg.ID, cfg.Params.N)
	}
	if cfg.Workers < 0 {
		return fmt.Errorf("%w: Workers = %d", ErrParams, cfg.Workers)
	}
	if cfg.Params.Malicious {
		if len(cfg.Identity) != ed25519.PrivateKeySize {
			return fmt.Errorf("%w: Malicious needs an ed25519 Identity", ErrParams)
		}
		if cfg.PeerKeys == nil {
			return fmt.Errorf("%w: Malicious needs PeerKeys", ErrParams)
		}
	}
	return nil
}

type clientPhase int

const (
	clientNew clientPhase = iota
	clientAdvertised
	clientRevealed
	clientShared
	clientMasked
	clientChecked
	clientDone
	clientFailed
)

// Client is one client's side of a SecAgg / SecAgg+ round: a state machine
// that takes the server's messages and returns its own. It does no I/O;
// ShareKeys and MaskedInput spread their work over up to
// ClientConfig.Workers goroutines and wait for them before returning, so
// no goroutine outlives a call. Call, in order: AdvertiseKeys, ShareKeys
// (in malicious mode RevealSeed then ShareKeysRevealed), MaskedInput,
// ConsistencyCheck (malicious mode only), Unmask.
//
// A message for another step or session returns an error wrapping
// [ErrPhase] or [ErrSession] and leaves the client unchanged; any other
// error aborts the client (later calls return [ErrPhase]) and means that
// the client drops out of the round. A Client must not be used from
// several goroutines at once.
type Client struct {
	cfg     ClientConfig
	p       Params
	bits    int
	t       int
	id      uint32
	rand    io.Reader
	g       *graph
	roundID [32]byte
	nbrs    []uint32 // graph neighbours, ascending
	phase   clientPhase

	cPriv, sPriv *ecdh.PrivateKey
	sScalar      *edwards25519.Scalar
	pub          PublicKeys

	session [32]byte
	// bindSeed (malicious mode, shares left out) is the graph seed the
	// session is bound to.
	bindSeed *[32]byte
	peers    map[uint32]PublicKeys // advertised neighbours
	cShared  map[uint32][]byte     // X25519(c_u, c_v) per advertised neighbour
	advNbrs  []uint32              // advertised neighbours, ascending

	seedShare [32]byte          // malicious mode: this client's share of the graph seed
	kb        *KeysBroadcast    // malicious mode: the keys broadcast this client revealed its share for
	sShared   map[uint32][]byte // X25519(s_u, s_v) per advertised neighbour

	senders []uint32 // neighbours whose shares arrived, ascending
	recvB   []edwards25519.Scalar
	recvS   []edwards25519.Scalar

	selfSeed   [32]byte            // PRG seed of the self mask, derived from b_u
	ownB, ownS edwards25519.Scalar // the client's own shares of b_u and s_u

	testHookShares func(xs []uint32, yb, ys []edwards25519.Scalar) // tests only: corrupt dealt shares
	signed         []uint32                                        // survivor list signed in ConsistencyCheck

	acc []uint64 // lane accumulator when b ≤ 32, else one word per coordinate
	tmp []uint64 // scratch for packing when b < 32
}

// NewClient returns a client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, p: cfg.Params, id: cfg.ID, rand: cfg.Rand}
	c.bits = c.p.bits()
	c.t = c.p.Threshold
	if c.rand == nil {
		c.rand = rand.Reader
	}
	c.roundID = c.p.RoundID()
	if !c.p.Malicious {
		c.g = newGraph(&c.p)
		c.nbrs = c.g.neighbors(nil, c.id)
	}
	return c, nil
}

// ID returns the client's id.
func (c *Client) ID() uint32 { return c.id }

// Neighbors returns the client's neighbours in the masking graph (in
// malicious mode, nil until the graph seed is known, see
// [Client.ShareKeysRevealed]).
func (c *Client) Neighbors() []uint32 { return slices.Clone(c.nbrs) }

func (c *Client) phaseErr(want clientPhase, step string) error {
	if c.phase == want {
		return nil
	}
	return fmt.Errorf("%w: client %d cannot %s now", ErrPhase, c.id, step)
}

// fail aborts the client and returns err.
func (c *Client) fail(err error) error {
	c.phase = clientFailed
	return err
}

// AdvertiseKeys draws the client's key pairs (c for encrypting shares, s for
// the pairwise masks) and returns the message that advertises them.
func (c *Client) AdvertiseKeys() (*AdvertiseMsg, error) {
	if err := c.phaseErr(clientNew, "advertise keys"); err != nil {
		return nil, err
	}
	var cb [32]byte
	if _, err := io.ReadFull(c.rand, cb[:]); err != nil {
		return nil, c.fail(fmt.Errorf("secagg: reading randomness: %w", err))
	}
	cPriv, err := ecdh.X25519().NewPrivateKey(cb[:])
	if err != nil {
		return nil, c.fail(err)
	}
	s, err := randomScalar(c.rand)
	if err != nil {
		return nil, c.fail(fmt.Errorf("secagg: reading randomness: %w", err))
	}
	sPriv, err := ecdh.X25519().NewPrivateKey(s.Bytes())
	if err != nil {
		return nil, c.fail(err)
	}
	c.cPriv, c.sPriv, c.sScalar = cPriv, sPriv, s
	c.pub = PublicKeys{Client: c.id}
	copy(c.pub.CKey[:], cPriv.PublicKey().Bytes())
	copy(c.pub.SKey[:], sPriv.PublicKey().Bytes())
	m := &AdvertiseMsg{Round: c.roundID, PublicKeys: c.pub}
	if c.p.Malicious {
		if _, err := io.ReadFull(c.rand, c.seedShare[:]); err != nil {
			return nil, c.fail(fmt.Errorf("secagg: reading randomness: %w", err))
		}
		m.Commit = SeedCommit(c.roundID, c.id, c.seedShare)
		m.Sig = ed25519.Sign(c.cfg.Identity, advertiseDigest(c.roundID, &c.pub, m.Commit))
	}
	c.phase = clientAdvertised
	return m, nil
}

// advertiseDigest is the message signed in AdvertiseMsg.
func advertiseDigest(roundID [32]byte, k *PublicKeys, commit [32]byte) []byte {
	b := make([]byte, 0, len(labelAdvertise)+32+4+64+32)
	b = append(b, labelAdvertise...)
	b = append(b, roundID[:]...)
	b = binary.BigEndian.AppendUint32(b, k.Client)
	b = append(b, k.CKey[:]...)
	b = append(b, k.SKey[:]...)
	return append(b, commit[:]...)
}

// survivorsDigest is the message signed in SignatureMsg.
func survivorsDigest(session [32]byte, ids []uint32) []byte {
	b := make([]byte, 0, len(labelSurvivors)+32+4+4*len(ids))
	b = append(b, labelSurvivors...)
	b = append(b, session[:]...)
	return appendIDs(b, ids)
}

// ShareKeys (semi-honest mode) checks the advertised keys, fixes the
// session id, draws the self-mask seed b_u, and Shamir-shares b_u and s_u
// among the client's advertised neighbours (threshold t, Feldman
// commitments). A neighbour whose c or s key is of low order (X25519
// gives the all-zero secret) counts as not advertised. It fails with
// [ErrBelowThreshold] when fewer than t neighbours advertised keys. In
// malicious mode call [Client.RevealSeed] and [Client.ShareKeysRevealed]
// instead.
func (c *Client) ShareKeys(kb *KeysBroadcast) (*SharesMsg, error) {
	if c.p.Malicious {
		return nil, fmt.Errorf("%w: in malicious mode the client reveals its graph-seed share first (RevealSeed, ShareKeysRevealed)", ErrPhase)
	}
	if err := c.phaseErr(clientAdvertised, "share keys"); err != nil {
		return nil, err
	}
	if err := c.checkKeys(kb); err != nil {
		return nil, err
	}
	return c.shareKeys(kb)
}

// checkKeys checks the framing of a keys broadcast: this round, ids in
// range and strictly ascending, this client's own entry unchanged, at
// least t entries. An error for another round leaves the client
// unchanged; any other aborts it.
func (c *Client) checkKeys(kb *KeysBroadcast) error {
	if kb.Round != c.roundID {
		return fmt.Errorf("%w: keys broadcast for another round", ErrSession)
	}
	var own bool
	for i := range kb.Keys {
		k := &kb.Keys[i]
		if k.Client < 1 || int(k.Client) > c.p.N {
			return c.fail(clientErr(k.Client, ErrUnknownClient, "id out of range"))
		}
		if i > 0 && k.Client <= kb.Keys[i-1].Client {
			return c.fail(clientErr(k.Client, ErrDuplicate, "keys not in strictly ascending order"))
		}
		if k.Client == c.id {
			if k.PublicKeys != c.pub || (c.p.Malicious && k.Commit != SeedCommit(c.roundID, c.id, c.seedShare)) {
				return c.fail(fmt.Errorf("%w: the broadcast changed this client's keys", ErrInconsistent))
			}
			own = true
		}
	}
	if !own {
		return c.fail(fmt.Errorf("%w: the broadcast omits this client", ErrInconsistent))
	}
	if len(kb.Keys) < c.t {
		return c.fail(fmt.Errorf("%w: %d clients advertised keys, threshold %d", ErrBelowThreshold, len(kb.Keys), c.t))
	}
	return nil
}

// RevealSeed (malicious mode) answers the keys broadcast with the
// client's share of the graph seed, committed to in its AdvertiseMsg. The
// broadcast fixes every commitment before any share is revealed, so no
// party, the server included, can choose the seed: the SecAgg+ graph is
// uniform as long as one client of the broadcast is honest. The client
// keeps kb; [Client.ShareKeysRevealed] continues from it.
func (c *Client) RevealSeed(kb *KeysBroadcast) (*RevealMsg, error) {
	if !c.p.Malicious {
		return nil, fmt.Errorf("%w: RevealSeed is for malicious mode", ErrPhase)
	}
	if err := c.phaseErr(clientAdvertised, "reveal its graph-seed share"); err != nil {
		return nil, err
	}
	if err := c.checkKeys(kb); err != nil {
		return nil, err
	}
	cp := *kb
	cp.Keys = slices.Clone(kb.Keys)
	c.kb = &cp
	c.session = sessionOf(c.roundID, cp.Keys)
	c.phase = clientRevealed
	return &RevealMsg{Session: c.session, Client: c.id, Reveal: c.seedShare}, nil
}

// sessionOf is the session id of the keys of a broadcast.
func sessionOf(roundID [32]byte, keys []AdvertiseMsg) [32]byte {
	pubs := make([]PublicKeys, len(keys))
	for i := range keys {
		pubs[i] = keys[i].PublicKeys
	}
	return SessionID(roundID, pubs)
}

// ShareKeysRevealed (malicious mode) checks that rb opens the commitment
// of every client of the keys broadcast but at most Params.MaxUnrevealed
// (more missing, or its own, fails with [ErrIncomplete]; a wrong share
// with [ErrInconsistent] naming the client),
// draws the SecAgg+ graph from [GraphSeed] and then does what
// [Client.ShareKeys] does, checking the signatures of the neighbours'
// advertised keys against PeerKeys.
func (c *Client) ShareKeysRevealed(rb *RevealsBroadcast) (*SharesMsg, error) {
	if err := c.phaseErr(clientRevealed, "share keys"); err != nil {
		return nil, err
	}
	if rb.Session != c.session {
		return nil, fmt.Errorf("%w: graph-seed shares for another session", ErrSession)
	}
	keys := c.kb.Keys
	// The reveals list clients of the keys broadcast in its order; at
	// most MaxUnrevealed may be missing, and this client's own must not.
	j, missing := 0, 0
	for i := range keys {
		if j >= len(rb.Reveals) || rb.Reveals[j].Client != keys[i].Client {
			if keys[i].Client == c.id {
				return nil, c.fail(clientErr(c.id, ErrIncomplete, "the broadcast leaves out this client's own share"))
			}
			missing++
			continue
		}
		r := &rb.Reveals[j]
		j++
		if SeedCommit(c.roundID, r.Client, r.Reveal) != keys[i].Commit {
			return nil, c.fail(clientErr(r.Client, ErrInconsistent, "graph-seed share does not open its commitment"))
		}
	}
	if j != len(rb.Reveals) {
		return nil, c.fail(fmt.Errorf("%w: the broadcast holds graph-seed shares of clients outside the keys broadcast or out of order", ErrDecode))
	}
	if missing > c.p.MaxUnrevealed {
		return nil, c.fail(fmt.Errorf("%w: %d graph-seed shares missing, %d allowed", ErrIncomplete, missing, c.p.MaxUnrevealed))
	}
	seed := GraphSeed(c.session, keys, rb.Reveals)
	c.g = newGraphSeed(&c.p, seed)
	c.nbrs = c.g.neighbors(nil, c.id)
	if missing > 0 {
		// Shares were left out: bind the round to this view of them.
		c.bindSeed = &seed
	}
	return c.shareKeys(c.kb)
}

// shareKeys is ShareKeys once the graph is known and kb checked.
func (c *Client) shareKeys(kb *KeysBroadcast) (*SharesMsg, error) {
	keys := make([]PublicKeys, len(kb.Keys))
	c.peers = make(map[uint32]PublicKeys)
	var cand []uint32
	for i := range kb.Keys {
		k := &kb.Keys[i]
		keys[i] = k.PublicKeys
		if k.Client == c.id || !c.g.adjacent(c.id, k.Client) {
			continue
		}
		if k.CKey == k.SKey {
			return nil, c.fail(clientErr(k.Client, ErrDecode, "c and s keys are equal"))
		}
		if c.p.Malicious {
			pk, ok := c.cfg.PeerKeys[k.Client]
			if !ok || len(pk) != ed25519.PublicKeySize || !ed25519.Verify(pk, advertiseDigest(c.roundID, &k.PublicKeys, k.Commit), k.Sig) {
				return nil, c.fail(clientErr(k.Client, ErrSignature, "advertised keys"))
			}
		}
		c.peers[k.Client] = k.PublicKeys
		cand = append(cand, k.Client)
	}
	c.session = SessionID(c.roundID, keys)
	if c.bindSeed != nil {
		c.session = BoundSession(c.session, *c.bindSeed)
	}
	// In parallel: X25519(c_u, c_v) and X25519(s_u, s_v) for every
	// advertised neighbour v. A low-order key (the all-zero secret, which
	// an honest server refuses at the advertise step) makes v count as not
	// advertised.
	w := c.workers()
	cShared := make([][]byte, len(cand))
	sShared := make([][]byte, len(cand))
	bad := make([]bool, len(cand))
	fanOut(2*len(cand), minCryptoJobs, w, func(j int) {
		i, v := j/2, cand[j/2]
		var err error
		if j%2 == 0 {
			cShared[i], err = c.agree(c.cPriv, c.peers[v].CKey)
		} else {
			sShared[i], err = c.agree(c.sPriv, c.peers[v].SKey)
		}
		if err != nil {
			bad[i] = true
		}
	})
	c.cShared = make(map[uint32][]byte, len(cand))
	c.sShared = make(map[uint32][]byte, len(cand))
	for i, v := range cand {
		if bad[i] {
			delete(c.peers, v)
			continue
		}
		c.advNbrs = append(c.advNbrs, v)
		c.cShared[v] = cShared[i] // also opens v's box to this client
		c.sShared[v] = sShared[i]
	}
	if len(c.advNbrs)+1 < c.t {
		return nil, c.fail(fmt.Errorf("%w: %d neighbours advertised keys, threshold %d", ErrBelowThreshold, len(c.advNbrs), c.t))
	}

	b, err := randomScalar(c.rand)
	if err != nil {
		return nil, c.fail(fmt.Errorf("secagg: reading randomness: %w", err))
	}
	// Shares go to the advertised neighbours and to the client itself (its
	// own share of b_u is revealed when it survives, as in Bonawitz et al.,
	// so that t remaining clients always suffice in the complete graph).
	xs := make([]uint32, 0, len(c.advNbrs)+1)
	xs = append(xs, c.advNbrs...)
	xs = append(xs, c.id)
	slices.Sort(xs)
	t := c.t
	m := &SharesMsg{
		Session: c.session,
		Client:  c.id,
		Boxes:   make([]Box, len(c.advNbrs)),
	}
	// The coefficients are drawn in the order Deal draws them (b's, then
	// s's), so the messages equal those of two Deal calls.
	coefB, err := drawPoly(b, t, c.rand)
	if err != nil {
		return nil, c.fail(fmt.Errorf("secagg: reading randomness: %w", err))
	}
	coefS, err := drawPoly(c.sScalar, t, c.rand)
	if err != nil {
		return nil, c.fail(fmt.Errorf("secagg: reading randomness: %w", err))
	}
	yb := make([]edwards25519.Scalar, len(xs))
	ys := make([]edwards25519.Scalar, len(xs))
	evalPoly(yb, coefB, xs)
	evalPoly(ys, coefS, xs)
	if c.testHookShares != nil {
		c.testHookShares(xs, yb, ys)
	}
	// In parallel: the 2t commitments a_j·G.
	nb := c.advNbrs
	pts := make([]edwards25519.Point, 2*t)
	fanOut(2*t, minCryptoJobs, w, func(j int) {
		if j < t {
			pts[j].ScalarBaseMult(&coefB[j])
		} else {
			pts[j].ScalarBaseMult(&coefS[j-t])
		}
	})
	commits := make([]Commitment, 2*t)
	encodeCommitments(commits, pts)
	m.CommitB, m.CommitS = commits[:t:t], commits[t:]
	ch := commitHash(m.CommitB, m.CommitS)
	self, _ := slices.BinarySearch(xs, c.id)
	c.ownB, c.ownS = yb[self], ys[self]
	fanOut(len(nb), minLightJobs, w, func(i int) {
		v := nb[i]
		k := i // index of v in xs, which also holds c.id
		if i >= self {
			k++
		}
		var pt [64]byte
		var zeroNonce [12]byte
		var aadBuf [128]byte
		copy(pt[:32], yb[k].Bytes())
		copy(pt[32:], ys[k].Bytes())
		gcm := newGCM(ShareKey(c.cShared[v], c.session, c.id, v))
		aad := shareAAD(aadBuf[:0], c.session, c.id, v, ch)
		box := &m.Boxes[i]
		box.Peer = v
		gcm.Seal(box.Data[:0], zeroNonce[:], pt[:], aad)
		clear(pt[:])
	})
	clear(yb)
	clear(ys)
	c.selfSeed = SelfSeed(b.Bytes(), c.session, c.id)
	c.phase = clientShared
	return m, nil
}

// agree runs X25519 between priv and the peer public key pub.
func (c *Client) agree(priv *ecdh.PrivateKey, pub [32]byte) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(pub[:])
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pk)
}

// MaskedInput decrypts and checks the shares the client received, then
// returns its masked input
//
//	y_u = x_u + PRG(b_u) + Σ_{v ∈ senders} sign(u,v)·PRG(s_{u,v})  (mod 2^b)
//
// with sign(u,v) = +1 if u < v and -1 otherwise, summed over the neighbours
// whose shares arrived. input must have Params.Dim entries, each < 2^b
// (an error wrapping [ErrLength] or [ErrRange] leaves the client unchanged).
// A share that fails to decrypt or fails its Feldman check aborts the
// client with a *ClientError naming the dealer and wrapping [ErrBadShare].
func (c *Client) MaskedInput(sb *SharesBroadcast, input []uint64) (*MaskedMsg, error) {
	if err := c.phaseErr(clientShared, "send its masked input"); err != nil {
		return nil, err
	}
	if sb.Session != c.session {
		return nil, fmt.Errorf("%w: shares for another session", ErrSession)
	}
	if sb.To != c.id {
		return nil, fmt.Errorf("%w: shares addressed to client %d", ErrSession, sb.To)
	}
	if len(input) != c.p.Dim {
		return nil, fmt.Errorf("%w: input has %d entries, want %d", ErrLength, len(input), c.p.Dim)
	}
	if m := wordMask(c.bits); m != ^uint64(0) {
		for i, x := range input {
			if x > m {
				return nil, fmt.Errorf("%w: input[%d] = %d is not below 2^%d", ErrRange, i, x, c.bits)
			}
		}
	}
	seeds, neg, err := c.receive(sb)
	if err != nil {
		return nil, c.fail(err)
	}
	d := c.p.Dim
	lanes := c.bits <= 32 // two coordinates per word (see addLanes)
	if c.acc == nil {
		if lanes {
			c.acc = make([]uint64, laneLen(d))
			if c.bits < 32 {
				c.tmp = make([]uint64, d)
			}
		} else {
			c.acc = make([]uint64, d)
		}
	}
	// Split the accumulator into ranges; each goroutine loads its range of
	// the input and adds every mask's keystream for that range to it.
	bounds := maskRanges(len(c.acc), c.workers())
	parallelFor(len(bounds)-1, len(bounds)-1, func(_, r int) {
		lo, hi := bounds[r], bounds[r+1]
		acc := c.acc[lo:hi]
		if lanes {
			lanesFrom(acc, input[2*lo:min(2*hi, d)])
		} else {
			copy(acc, input[lo:hi])
		}
		addMasksAt(acc, lo, seeds, neg, lanes, make([]byte, 8*min(len(acc), maskChunk)))
	})
	out := &MaskedMsg{Session: c.session, Client: c.id, Bits: c.bits, Dim: d}
	buf := make([]byte, 0, PackedLen(d, c.bits))
	if lanes {
		out.Data = packLanes(buf, c.acc, d, c.bits, c.tmp)
	} else {
		out.Data = Pack(buf, c.acc, c.bits)
	}
	clear(c.acc)
	clear(c.tmp)
	clear(seeds)
	c.cShared, c.sShared = nil, nil
	c.selfSeed = [32]byte{}
	c.phase = clientMasked
	return out, nil
}

// receive decrypts and verifies the entries of sb, records the senders
// and their shares, and returns the PRG seeds of the client's masks: the
// self mask, then the pairwise mask of each sender in ascending order,
// with neg[i] set for the masks to subtract (sign(u,v) = -1).
//
// The work runs in two stages, each fanned out over the workers: opening
// the boxes, then the Feldman checks together with the X25519 agreements
// on the s keys. An error is the one the sequential order
// would report first: entry checks and box openings in the order of
// sb.Entries, then Feldman failures by ascending dealer id (b before s),
// then the threshold, then key agreement failures by ascending id.
func (c *Client) receive(sb *SharesBroadcast) ([][32]byte, []bool, error) {
	n := len(sb.Entries)
	type item struct {
		from   uint32
		b, s   edwards25519.Scalar
		cb, cs []Commitment
	}
	items := make([]item, n)
	errs := make([]error, n)
	seen := make(map[uint32]bool, n)
	for i := range sb.Entries {
		e := &sb.Entries[i]
		if _, ok := c.peers[e.From]; !ok {
			errs[i] = clientErr(e.From, ErrUnknownClient, "shares from a client that is not an advertised neighbour")
		} else if seen[e.From] {
			errs[i] = clientErr(e.From, ErrDuplicate, "two share boxes")
		} else if len(e.CommitB) != c.t || len(e.CommitS) != c.t {
			errs[i] = clientErr(e.From, ErrBadShare, "%d/%d commitments, want %d", len(e.CommitB), len(e.CommitS), c.t)
		}
		if errs[i] != nil {
			n = i + 1 // later entries cannot be reported first
			break
		}
		seen[e.From] = true
	}
	w := c.workers()
	fanOut(n, minLightJobs, w, func(i int) {
		if errs[i] != nil {
			return
		}
		errs[i] = c.open(&items[i].b, &items[i].s, &sb.Entries[i])
	})
	if _, err := firstErr(errs[:n]); err != nil {
		return nil, nil, err
	}
	for i := range items {
		e := &sb.Entries[i]
		items[i].from, items[i].cb, items[i].cs = e.From, e.CommitB, e.CommitS
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.from, b.from) })

	// Jobs: one agreement per sender (the heaviest first), then the
	// Feldman checks 2i (share of b) and 2i+1 (share of s) of sender i.
	seeds := make([][32]byte, n+1)
	neg := make([]bool, n+1)
	seeds[0] = c.selfSeed
	agreeErrs := make([]error, n)
	checkErrs := make([]error, 2*n)
	jobs := n
	if !c.cfg.TrustDealers {
		jobs += 2 * n
	}
	fanOut(jobs, minCryptoJobs, w, func(j int) {
		if j < n {
			it := &items[j]
			shared, ok := c.sShared[it.from]
			if !ok {
				var err error
				if shared, err = c.agree(c.sPriv, c.peers[it.from].SKey); err != nil {
					agreeErrs[j] = clientErr(it.from, ErrDecode, "s key: %v", err)
					return
				}
			}
			seeds[j+1] = PairwiseSeed(shared, c.session, c.id, it.from)
			neg[j+1] = c.id > it.from
			return
		}
		j -= n
		it := &items[j/2]
		if j%2 == 0 {
			if err := verifyDealer(c.id, &it.b, it.cb); err != nil {
				checkErrs[j] = clientErr(it.from, ErrBadShare, "share of b: %v", err)
			}
		} else if err := verifyDealer(c.id, &it.s, it.cs); err != nil {
			checkErrs[j] = clientErr(it.from, ErrBadShare, "share of s: %v", err)
		}
	})
	if _, err := firstErr(checkErrs); err != nil {
		return nil, nil, err
	}
	if len(items)+1 < c.t {
		return nil, nil, fmt.Errorf("%w: shares from %d neighbours, threshold %d", ErrBelowThreshold, len(items), c.t)
	}
	if _, err := firstErr(agreeErrs); err != nil {
		return nil, nil, err
	}
	c.senders = make([]uint32, n)
	c.recvB = make([]edwards25519.Scalar, n)
	c.recvS = make([]edwards25519.Scalar, n)
	for i := range items {
		c.senders[i] = items[i].from
		c.recvB[i] = items[i].b
		c.recvS[i] = items[i].s
	}
	clear(items)
	return seeds, neg, nil
}

// open decrypts the box of entry e (addressed to c) into its shares b and s.
// It only reads c, so several goroutines may call it at once.
func (c *Client) open(b, s *edwards25519.Scalar, e *ShareEntry) error {
	shared, ok := c.cShared[e.From] // X25519(c_u, c_v) is symmetric
	if !ok {
		var err error
		if shared, err = c.agree(c.cPriv, c.peers[e.From].CKey); err != nil {
			return clientErr(e.From, ErrDecode, "c key: %v", err)
		}
	}
	var zeroNonce [12]byte
	var pt [64]byte
	var aadBuf [128]byte
	defer clear(pt[:])
	gcm := newGCM(ShareKey(shared, c.session, e.From, c.id))
	aad := shareAAD(aadBuf[:0], c.session, e.From, c.id, commitHash(e.CommitB, e.CommitS))
	if _, err := gcm.Open(pt[:0], zeroNonce[:], e.Box[:], aad); err != nil {
		return clientErr(e.From, ErrBadShare, "box does not decrypt")
	}
	if _, err := b.SetCanonicalBytes(pt[:32]); err != nil {
		return clientErr(e.From, ErrBadShare, "non-canonical share")
	}
	if _, err := s.SetCanonicalBytes(pt[32:]); err != nil {
		return clientErr(e.From, ErrBadShare, "non-canonical share")
	}
	return nil
}

var errFeldman = errors.New("secagg: share fails its Feldman check")

func verifyDealer(x uint32, y *edwards25519.Scalar, commit []Commitment) error {
	if !VerifyShareVarTime(x, y, commit) {
		return errFeldman
	}
	return nil
}

// ConsistencyCheck (malicious mode) signs the survivor list the server
// announces. It refuses a list with fewer than t clients or without this
// client.
func (c *Client) ConsistencyCheck(sm *SurvivorsMsg) (*SignatureMsg, error) {
	if !c.p.Malicious {
		return nil, fmt.Errorf("%w: ConsistencyCheck is for malicious mode", ErrPhase)
	}
	if err := c.phaseErr(clientMasked, "check consistency"); err != nil {
		return nil, err
	}
	if sm.Session != c.session {
		return nil, fmt.Errorf("%w: survivors for another session", ErrSession)
	}
	if err := c.checkIDs(sm.Survivors, "survivors"); err != nil {
		return nil, c.fail(err)
	}
	if len(sm.Survivors) < c.t {
		return nil, c.fail(fmt.Errorf("%w: %w: %d survivors, threshold %d", ErrUnsafeRequest, ErrBelowThreshold, len(sm.Survivors), c.t))
	}
	if _, ok := slices.BinarySearch(sm.Survivors, c.id); !ok {
		return nil, c.fail(fmt.Errorf("%w: client %d is not on the survivor list", ErrUnsafeRequest, c.id))
	}
	c.signed = slices.Clone(sm.Survivors)
	out := &SignatureMsg{Session: c.session, Client: c.id}
	copy(out.Sig[:], ed25519.Sign(c.cfg.Identity, survivorsDigest(c.session, c.signed)))
	c.phase = clientChecked
	return out, nil
}

// checkIDs checks that ids are strictly ascending and in 1..N.
func (c *Client) checkIDs(ids []uint32, what string) error {
	for i, id := range ids {
		if id < 1 || int(id) > c.p.N {
			return fmt.Errorf("%w: %s: id %d out of range", ErrUnsafeRequest, what, id)
		}
		if i > 0 && id <= ids[i-1] {
			return fmt.Errorf("%w: %s not strictly ascending", ErrUnsafeRequest, what)
		}
	}
	return nil
}

// Unmask answers the server's unmasking request: for each neighbour v whose
// shares the client holds, the share of b_v if v is listed as a survivor,
// or the share of s_v if v is listed as dropped. It refuses (wrapping
// [ErrUnsafeRequest]) a request that lists a client as both, that leaves a
// neighbour unlisted, that lists fewer than t survivors or omits this
// client; in malicious mode it also refuses (wrapping [ErrInconsistent] or
// [ErrSignature]) unless the survivor list is the one it signed and carries
// at least t valid survivor signatures of that list. Any refusal aborts the
// client, so it never answers two different requests.
func (c *Client) Unmask(req *UnmaskRequest) (*UnmaskMsg, error) {
	want := clientMasked
	if c.p.Malicious {
		want = clientChecked
	}
	if err := c.phaseErr(want, "unmask"); err != nil {
		return nil, err
	}
	if req.Session != c.session {
		return nil, fmt.Errorf("%w: unmask request for another session", ErrSession)
	}
	if err := c.checkIDs(req.Survivors, "survivors"); err != nil {
		return nil, c.fail(err)
	}
	if err := c.checkIDs(req.Dropped, "dropped"); err != nil {
		return nil, c.fail(err)
	}
	for _, d := range req.Dropped {
		if _, ok := slices.BinarySearch(req.Survivors, d); ok {
			return nil, c.fail(fmt.Errorf("%w: client %d listed as survivor and as dropped", ErrUnsafeRequest, d))
		}
	}
	if len(req.Survivors) < c.t {
		return nil, c.fail(fmt.Errorf("%w: %w: %d survivors, threshold %d", ErrUnsafeRequest, ErrBelowThreshold, len(req.Survivors), c.t))
	}
	if _, ok := slices.BinarySearch(req.Survivors, c.id); !ok {
		return nil, c.fail(fmt.Errorf("%w: client %d is not listed as a survivor", ErrUnsafeRequest, c.id))
	}
	if c.p.Malicious {
		if !slices.Equal(req.Survivors, c.signed) {
			return nil, c.fail(fmt.Errorf("%w: the survivor list differs from the one this client signed", ErrInconsistent))
		}
		if err := c.checkSignatures(req.Signatures); err != nil {
			return nil, c.fail(err)
		}
	}
	out := &UnmaskMsg{Session: c.session, Client: c.id, Shares: make([]RevealedShare, 0, len(c.senders)+1)}
	own := false
	for i, v := range c.senders {
		if !own && v > c.id {
			own = true
			out.Shares = append(out.Shares, c.ownShare())
		}
		out.Shares = append(out.Shares, RevealedShare{Of: v})
		r := &out.Shares[len(out.Shares)-1]
		if _, ok := slices.BinarySearch(req.Survivors, v); ok {
			r.Kind = KindSelf
			copy(r.Value[:], c.recvB[i].Bytes())
		} else if _, ok := slices.BinarySearch(req.Dropped, v); ok {
			r.Kind = KindKey
			copy(r.Value[:], c.recvS[i].Bytes())
		} else {
			return nil, c.fail(clientErr(v, ErrUnsafeRequest, "neighbour neither survivor nor dropped"))
		}
	}
	if !own {
		out.Shares = append(out.Shares, c.ownShare())
	}
	c.recvB, c.recvS = nil, nil
	c.ownB, c.ownS = edwards25519.Scalar{}, edwards25519.Scalar{}
	c.phase = clientDone
	return out, nil
}

// checkSignatures (malicious mode) checks the survivor-list signatures of
// an unmasking request: for the client itself and for every neighbour
// whose share it holds, at least t valid signatures of the list it signed
// must come from holders of that client's shares (its neighbours and
// itself). Honest clients sign one list each, so with the parameters of
// [Params.Tolerance] no two lists that disagree on a client can both
// pass this check (the split-list attack). Signatures from clients that
// hold none of these shares are not verified and do not count.
func (c *Client) checkSignatures(sigs []SignatureMsg) error {
	n := c.p.N
	// relevant[id]: id holds shares of the client or of one of its senders.
	relevant := make([]bool, n+1)
	subjects := append(slices.Clone(c.senders), c.id)
	var nb []uint32
	for _, v := range subjects {
		relevant[v] = true
		nb = c.g.neighbors(nb[:0], v)
		for _, w := range nb {
			relevant[w] = true
		}
	}
	digest := survivorsDigest(c.session, c.signed)
	valid := make([]bool, n+1)
	seen := make([]bool, n+1)
	for i := range sigs {
		s := &sigs[i]
		if _, ok := slices.BinarySearch(c.signed, s.Client); !ok || seen[s.Client] {
			return clientErr(s.Client, ErrInconsistent, "signature from a non-survivor or repeated")
		}
		seen[s.Client] = true
		if !relevant[s.Client] {
			continue
		}
		pk, ok := c.cfg.PeerKeys[s.Client]
		if !ok || len(pk) != ed25519.PublicKeySize || !ed25519.Verify(pk, digest, s.Sig[:]) {
			return clientErr(s.Client, ErrSignature, "survivor list signature does not verify (different lists shown?)")
		}
		valid[s.Client] = true
	}
	for _, v := range subjects {
		count := 0
		if valid[v] {
			count++
		}
		nb = c.g.neighbors(nb[:0], v)
		for _, w := range nb {
			if valid[w] {
				count++
			}
		}
		if count < c.t {
			return clientErr(v, ErrInconsistent, "%w: %d signatures of the survivor list from holders of its shares, threshold %d", ErrBelowThreshold, count, c.t)
		}
	}
	return nil
}

// ownShare is the client's own share of b_u (revealed as a survivor's).
func (c *Client) ownShare() RevealedShare {
	r := RevealedShare{Of: c.id, Kind: KindSelf}
	copy(r.Value[:], c.ownB.Bytes())
	return r
}
