package secagg

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"filippo.io/edwards25519"
)

// ServerConfig configures the server of one round.
type ServerConfig struct {
	// Params are the round's public parameters.
	Params Params
	// PeerKeys maps client ids to ed25519 verification keys (required when
	// Params.Malicious): the server checks signatures too, to drop bad
	// messages early.
	PeerKeys map[uint32]ed25519.PublicKey
	// Workers bounds the goroutines [Server.Result] uses to regenerate
	// masks; 0 means runtime.GOMAXPROCS(0).
	Workers int
}

// Validate checks cfg.
func (cfg ServerConfig) Validate() error {
	if err := cfg.Params.Validate(); err != nil {
		return err
	}
	if cfg.Params.Malicious && cfg.PeerKeys == nil {
		return fmt.Errorf("%w: Malicious needs PeerKeys", ErrParams)
	}
	if cfg.Workers < 0 {
		return fmt.Errorf("%w: Workers = %d", ErrParams, cfg.Workers)
	}
	return nil
}

type serverPhase int

const (
	serverAdvertise serverPhase = iota
	serverReveal
	serverShares
	serverMasked
	serverConsistency
	serverUnmask
	serverDone
	serverFailed
)

// Server is the server's side of a SecAgg / SecAgg+ round: a state machine
// that collects the clients' messages step by step and, at the end,
// computes the sum of the survivors' inputs. It does no I/O. Handle...
// methods accept one client message each and return a *ClientError for a
// bad one (the round goes on without it); the step transitions (Keys,
// Reveals, Shares, Survivors, UnmaskRequest, Result) close a step and fail with
// [ErrBelowThreshold] when fewer than t clients remain. A Server must not
// be used from several goroutines at once; Result starts worker
// goroutines and waits for them before it returns.
type Server struct {
	cfg     ServerConfig
	p       Params
	bits    int
	t       int
	g       *graph
	roundID [32]byte
	phase   serverPhase
	err     error

	adv     map[uint32]*AdvertiseMsg
	keys    map[uint32]PublicKeys
	session [32]byte
	kbKeys  []AdvertiseMsg      // malicious mode: the keys broadcast
	reveals map[uint32][32]byte // malicious mode: graph-seed shares
	// unrevealed are the clients that did not reveal their share (at most
	// Params.MaxUnrevealed): they have left the round.
	unrevealed map[uint32]bool

	shares   map[uint32]*SharesMsg
	u2       []uint32
	recvFrom map[uint32][]uint32 // recipient -> dealers whose box it was sent, ascending

	acc       []uint64
	survivors map[uint32]bool
	u3        []uint32
	dropped   []uint32
	sigs      map[uint32][64]byte
	asked     map[uint32]bool // clients the unmask request goes to

	responded map[uint32]bool
	bShares   map[uint32][]Share
	sShares   map[uint32][]Share

	lanes     bool     // b ≤ 32: accumulators hold two coordinates per word
	tmp       []uint64 // scratch for unpacking when b < 32
	workerAcc [][]uint64
	result    []uint64
}

// NewServer returns a server for cfg.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, p: cfg.Params}
	s.bits = s.p.bits()
	s.lanes = s.bits <= 32
	s.t = s.p.Threshold
	if !s.p.Malicious {
		s.g = newGraph(&s.p)
	}
	s.roundID = s.p.RoundID()
	s.adv = make(map[uint32]*AdvertiseMsg)
	return s, nil
}

// RoundID returns the round id the first messages must carry.
func (s *Server) RoundID() [32]byte { return s.roundID }

// Session returns the session id (zero before Keys).
func (s *Server) Session() [32]byte { return s.session }

func (s *Server) stepErr(want serverPhase, what string) error {
	if s.phase == want {
		return nil
	}
	if s.phase == serverFailed {
		return fmt.Errorf("%w: round failed: %w", ErrPhase, s.err)
	}
	return fmt.Errorf("%w: server cannot %s now", ErrPhase, what)
}

func (s *Server) failRound(err error) error {
	s.phase = serverFailed
	s.err = err
	return err
}

func (s *Server) knownID(id uint32) bool { return id >= 1 && int(id) <= s.p.N }

// HandleAdvertise accepts one client's advertised keys.
func (s *Server) HandleAdvertise(m *AdvertiseMsg) error {
	if err := s.stepErr(serverAdvertise, "accept keys"); err != nil {
		return clientErr(m.Client, err, "")
	}
	if !s.knownID(m.Client) {
		return clientErr(m.Client, ErrUnknownClient, "id out of range 1..%d", s.p.N)
	}
	if m.Round != s.roundID {
		return clientErr(m.Client, ErrSession, "advertise for another round")
	}
	if _, dup := s.adv[m.Client]; dup {
		return clientErr(m.Client, ErrDuplicate, "keys advertised twice")
	}
	if m.CKey == m.SKey {
		return clientErr(m.Client, ErrDecode, "c and s keys are equal")
	}
	if lowOrder(m.CKey) || lowOrder(m.SKey) {
		return clientErr(m.Client, ErrDecode, "low-order X25519 key")
	}
	if s.p.Malicious {
		pk, ok := s.cfg.PeerKeys[m.Client]
		if !ok || len(pk) != ed25519.PublicKeySize || !ed25519.Verify(pk, advertiseDigest(s.roundID, &m.PublicKeys, m.Commit), m.Sig) {
			return clientErr(m.Client, ErrSignature, "advertised keys")
		}
	}
	cp := *m
	cp.Sig = slices.Clone(m.Sig)
	s.adv[m.Client] = &cp
	return nil
}

// Keys closes the advertise step and returns the broadcast every
// advertising client needs. It fails with [ErrBelowThreshold] when fewer
// than t clients advertised.
func (s *Server) Keys() (*KeysBroadcast, error) {
	if err := s.stepErr(serverAdvertise, "close the advertise step"); err != nil {
		return nil, err
	}
	if len(s.adv) < s.t {
		return nil, s.failRound(fmt.Errorf("%w: %d clients advertised keys, threshold %d", ErrBelowThreshold, len(s.adv), s.t))
	}
	ids := sortedKeys(s.adv)
	kb := &KeysBroadcast{Round: s.roundID, Keys: make([]AdvertiseMsg, len(ids))}
	pubs := make([]PublicKeys, len(ids))
	s.keys = make(map[uint32]PublicKeys, len(ids))
	for i, id := range ids {
		kb.Keys[i] = *s.adv[id]
		pubs[i] = s.adv[id].PublicKeys
		s.keys[id] = pubs[i]
	}
	s.session = SessionID(s.roundID, pubs)
	if s.p.Malicious {
		s.kbKeys = slices.Clone(kb.Keys)
		s.reveals = make(map[uint32][32]byte, len(ids))
		s.phase = serverReveal
		return kb, nil
	}
	s.shares = make(map[uint32]*SharesMsg)
	s.phase = serverShares
	return kb, nil
}

// HandleReveal (malicious mode) accepts one client's graph-seed share,
// which must open the commitment of its advertised keys.
func (s *Server) HandleReveal(m *RevealMsg) error {
	if err := s.stepErr(serverReveal, "accept graph-seed shares"); err != nil {
		return clientErr(m.Client, err, "")
	}
	k, ok := s.keys[m.Client]
	if !ok {
		return clientErr(m.Client, ErrUnknownClient, "did not advertise keys")
	}
	if m.Session != s.session {
		return clientErr(m.Client, ErrSession, "")
	}
	if _, dup := s.reveals[m.Client]; dup {
		return clientErr(m.Client, ErrDuplicate, "graph-seed share sent twice")
	}
	if SeedCommit(s.roundID, k.Client, m.Reveal) != s.adv[m.Client].Commit {
		return clientErr(m.Client, ErrInconsistent, "graph-seed share does not open its commitment")
	}
	s.reveals[m.Client] = m.Reveal
	return nil
}

// Reveals (malicious mode) closes the reveal step: it returns the
// broadcast of the graph-seed shares revealed and draws the SecAgg+ graph
// from them ([GraphSeed]). Up to Params.MaxUnrevealed clients of the keys
// broadcast may have failed to reveal: they leave the round (their shares
// are refused); with more missing the round fails with [ErrIncomplete]
// (the clients would refuse such a broadcast).
func (s *Server) Reveals() (*RevealsBroadcast, error) {
	if err := s.stepErr(serverReveal, "close the reveal step"); err != nil {
		return nil, err
	}
	rb := &RevealsBroadcast{Session: s.session, Reveals: make([]RevealMsg, 0, len(s.kbKeys))}
	var missing []uint32
	for i := range s.kbKeys {
		id := s.kbKeys[i].Client
		r, ok := s.reveals[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		rb.Reveals = append(rb.Reveals, RevealMsg{Session: s.session, Client: id, Reveal: r})
	}
	if len(missing) > s.p.MaxUnrevealed {
		return nil, s.failRound(clientErr(missing[0], ErrIncomplete, "no graph-seed share (%d missing, %d allowed)", len(missing), s.p.MaxUnrevealed))
	}
	s.unrevealed = make(map[uint32]bool, len(missing))
	for _, id := range missing {
		s.unrevealed[id] = true
	}
	seed := GraphSeed(s.session, s.kbKeys, rb.Reveals)
	s.g = newGraphSeed(&s.p, seed)
	if len(missing) > 0 {
		s.session = BoundSession(s.session, seed) // as the clients do
	}
	s.shares = make(map[uint32]*SharesMsg)
	s.phase = serverShares
	return rb, nil
}

// Neighbors returns the neighbours of client id in the masking graph (in
// malicious mode, nil before [Server.Reveals]).
func (s *Server) Neighbors(id uint32) []uint32 {
	if s.g == nil || !s.knownID(id) {
		return nil
	}
	return s.g.neighbors(nil, id)
}

// lowOrderPriv is a fixed X25519 private key for the low-order test.
var lowOrderPriv, _ = ecdh.X25519().NewPrivateKey(make([]byte, 32))

// lowOrder reports whether pub is a low-order X25519 key: X25519 with a
// clamped scalar (a multiple of the cofactor 8 below 8·ℓ) gives the
// all-zero secret exactly for those, whatever the scalar.
func lowOrder(pub [32]byte) bool {
	pk, err := ecdh.X25519().NewPublicKey(pub[:])
	if err != nil {
		return true
	}
	_, err = lowOrderPriv.ECDH(pk)
	return err != nil
}

// HandleShares accepts one client's encrypted shares and commitments. The
// boxes must go to exactly the client's advertised neighbours, in
// ascending order.
func (s *Server) HandleShares(m *SharesMsg) error {
	if err := s.stepErr(serverShares, "accept shares"); err != nil {
		return clientErr(m.Client, err, "")
	}
	if _, ok := s.keys[m.Client]; !ok {
		return clientErr(m.Client, ErrUnknownClient, "did not advertise keys")
	}
	if s.unrevealed[m.Client] {
		return clientErr(m.Client, ErrIncomplete, "did not reveal its graph-seed share")
	}
	if m.Session != s.session {
		return clientErr(m.Client, ErrSession, "")
	}
	if _, dup := s.shares[m.Client]; dup {
		return clientErr(m.Client, ErrDuplicate, "shares sent twice")
	}
	if len(m.CommitB) != s.t || len(m.CommitS) != s.t {
		return clientErr(m.Client, ErrLength, "%d/%d commitments, want %d", len(m.CommitB), len(m.CommitS), s.t)
	}
	want := s.advertisedNeighbors(m.Client)
	if len(m.Boxes) != len(want) {
		return clientErr(m.Client, ErrLength, "%d share boxes, want %d", len(m.Boxes), len(want))
	}
	for i := range m.Boxes {
		if m.Boxes[i].Peer != want[i] {
			return clientErr(m.Client, ErrUnknownClient, "box %d addressed to %d, want %d", i, m.Boxes[i].Peer, want[i])
		}
	}
	cp := *m
	cp.CommitB = slices.Clone(m.CommitB)
	cp.CommitS = slices.Clone(m.CommitS)
	cp.Boxes = slices.Clone(m.Boxes)
	s.shares[m.Client] = &cp
	return nil
}

// advertisedNeighbors returns the neighbours of id that advertised keys.
func (s *Server) advertisedNeighbors(id uint32) []uint32 {
	nb := s.g.neighbors(nil, id)
	out := nb[:0]
	for _, v := range nb {
		if _, ok := s.keys[v]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Shares closes the share step and returns, for each client that sent its
// shares (ascending id), the broadcast addressed to it. It fails with
// [ErrBelowThreshold] when fewer than t clients sent shares.
func (s *Server) Shares() ([]*SharesBroadcast, error) {
	if err := s.stepErr(serverShares, "close the share step"); err != nil {
		return nil, err
	}
	if len(s.shares) < s.t {
		return nil, s.failRound(fmt.Errorf("%w: %d clients sent shares, threshold %d", ErrBelowThreshold, len(s.shares), s.t))
	}
	s.u2 = sortedKeys(s.shares)
	out := make([]*SharesBroadcast, len(s.u2))
	index := make(map[uint32]int, len(s.u2))
	for i, v := range s.u2 {
		out[i] = &SharesBroadcast{Session: s.session, To: v}
		index[v] = i
	}
	s.recvFrom = make(map[uint32][]uint32, len(s.u2))
	for _, u := range s.u2 {
		m := s.shares[u]
		for bi := range m.Boxes {
			v := m.Boxes[bi].Peer
			i, ok := index[v]
			if !ok {
				continue
			}
			out[i].Entries = append(out[i].Entries, ShareEntry{From: u, CommitB: m.CommitB, CommitS: m.CommitS, Box: m.Boxes[bi].Data})
			s.recvFrom[v] = append(s.recvFrom[v], u)
		}
	}
	for _, v := range s.u2 { // every client holds a share of its own secrets
		r := append(s.recvFrom[v], v)
		slices.Sort(r)
		s.recvFrom[v] = r
	}
	s.acc = make([]uint64, s.accLen())
	s.survivors = make(map[uint32]bool)
	s.phase = serverMasked
	return out, nil
}

// HandleMasked accepts one client's masked input and adds it to the
// running sum (the server keeps no per-client vector).
func (s *Server) HandleMasked(m *MaskedMsg) error {
	if err := s.stepErr(serverMasked, "accept masked inputs"); err != nil {
		return clientErr(m.Client, err, "")
	}
	if _, ok := s.shares[m.Client]; !ok {
		return clientErr(m.Client, ErrUnknownClient, "did not send shares")
	}
	if m.Session != s.session {
		return clientErr(m.Client, ErrSession, "")
	}
	if s.survivors[m.Client] {
		return clientErr(m.Client, ErrDuplicate, "masked input sent twice")
	}
	if m.Bits != s.bits || m.Dim != s.p.Dim || len(m.Data) != PackedLen(s.p.Dim, s.bits) || !paddingClean(m.Data, m.Dim, m.Bits) {
		return clientErr(m.Client, ErrLength, "vector of %d × %d bits in %d bytes, want %d × %d bits", m.Dim, m.Bits, len(m.Data), s.p.Dim, s.bits)
	}
	if s.lanes {
		if s.bits < 32 && s.tmp == nil {
			s.tmp = make([]uint64, s.p.Dim)
		}
		unpackAddLanes(s.acc, m.Data, s.p.Dim, s.bits, s.tmp)
	} else {
		unpackAdd(s.acc, m.Data, s.bits)
	}
	s.survivors[m.Client] = true
	return nil
}

// Survivors (malicious mode) closes the masked-input step and returns the
// survivor list every survivor must sign. It fails with
// [ErrBelowThreshold] when fewer than t masked inputs arrived.
func (s *Server) Survivors() (*SurvivorsMsg, error) {
	if !s.p.Malicious {
		return nil, fmt.Errorf("%w: Survivors is for malicious mode", ErrPhase)
	}
	if err := s.stepErr(serverMasked, "close the masked-input step"); err != nil {
		return nil, err
	}
	if err := s.closeMasked(); err != nil {
		return nil, err
	}
	s.sigs = make(map[uint32][64]byte)
	s.phase = serverConsistency
	return &SurvivorsMsg{Session: s.session, Survivors: slices.Clone(s.u3)}, nil
}

func (s *Server) closeMasked() error {
	if len(s.survivors) < s.t {
		return s.failRound(fmt.Errorf("%w: %d masked inputs, threshold %d", ErrBelowThreshold, len(s.survivors), s.t))
	}
	s.u3 = sortedKeys(s.survivors)
	s.dropped = s.dropped[:0]
	for _, u := range s.u2 {
		if !s.survivors[u] {
			s.dropped = append(s.dropped, u)
		}
	}
	return nil
}

// HandleSignature (malicious mode) accepts one survivor's signature of
// the survivor list.
func (s *Server) HandleSignature(m *SignatureMsg) error {
	if err := s.stepErr(serverConsistency, "accept signatures"); err != nil {
		return clientErr(m.Client, err, "")
	}
	if !s.survivors[m.Client] {
		return clientErr(m.Client, ErrUnknownClient, "not a survivor")
	}
	if m.Session != s.session {
		return clientErr(m.Client, ErrSession, "")
	}
	if _, dup := s.sigs[m.Client]; dup {
		return clientErr(m.Client, ErrDuplicate, "signature sent twice")
	}
	pk := s.cfg.PeerKeys[m.Client]
	if len(pk) != ed25519.PublicKeySize || !ed25519.Verify(pk, survivorsDigest(s.session, s.u3), m.Sig[:]) {
		return clientErr(m.Client, ErrSignature, "survivor list")
	}
	s.sigs[m.Client] = m.Sig
	return nil
}

// UnmaskRequest closes the masked-input step (or, in malicious mode, the
// consistency step) and returns the request to send to every client that
// is still in the round. It fails with [ErrBelowThreshold] when fewer than
// t clients remain.
func (s *Server) UnmaskRequest() (*UnmaskRequest, error) {
	req := &UnmaskRequest{Session: s.session}
	if s.p.Malicious {
		if err := s.stepErr(serverConsistency, "close the consistency step"); err != nil {
			return nil, err
		}
		if len(s.sigs) < s.t {
			return nil, s.failRound(fmt.Errorf("%w: %d survivor signatures, threshold %d", ErrBelowThreshold, len(s.sigs), s.t))
		}
		s.asked = make(map[uint32]bool, len(s.sigs))
		for _, id := range sortedKeys(s.sigs) {
			s.asked[id] = true
			req.Signatures = append(req.Signatures, SignatureMsg{Session: s.session, Client: id, Sig: s.sigs[id]})
		}
	} else {
		if err := s.stepErr(serverMasked, "close the masked-input step"); err != nil {
			return nil, err
		}
		if err := s.closeMasked(); err != nil {
			return nil, err
		}
		s.asked = make(map[uint32]bool, len(s.u3))
		for _, id := range s.u3 {
			s.asked[id] = true
		}
	}
	req.Survivors = slices.Clone(s.u3)
	req.Dropped = slices.Clone(s.dropped)
	s.responded = make(map[uint32]bool)
	s.bShares = make(map[uint32][]Share)
	s.sShares = make(map[uint32][]Share)
	s.phase = serverUnmask
	return req, nil
}

// HandleUnmask accepts one client's revealed shares. The client must reveal
// exactly one share for each dealer whose box it was sent, and its own
// share of its own b, in ascending dealer order: of b for a survivor, of s
// for a dropped client.
func (s *Server) HandleUnmask(m *UnmaskMsg) error {
	if err := s.stepErr(serverUnmask, "accept unmask responses"); err != nil {
		return clientErr(m.Client, err, "")
	}
	if !s.asked[m.Client] {
		return clientErr(m.Client, ErrUnknownClient, "not asked to unmask")
	}
	if m.Session != s.session {
		return clientErr(m.Client, ErrSession, "")
	}
	if s.responded[m.Client] {
		return clientErr(m.Client, ErrDuplicate, "unmask response sent twice")
	}
	want := s.recvFrom[m.Client]
	if len(m.Shares) != len(want) {
		return clientErr(m.Client, ErrLength, "%d shares, want %d", len(m.Shares), len(want))
	}
	ys := make([]edwards25519.Scalar, len(want))
	for i := range m.Shares {
		r := &m.Shares[i]
		if r.Of != want[i] {
			return clientErr(m.Client, ErrUnknownClient, "share %d of client %d, want %d", i, r.Of, want[i])
		}
		wantKind := uint8(KindKey)
		if s.survivors[r.Of] {
			wantKind = KindSelf
		}
		if r.Kind != wantKind {
			return clientErr(m.Client, ErrDecode, "share of client %d has kind %d, want %d", r.Of, r.Kind, wantKind)
		}
		if _, err := ys[i].SetCanonicalBytes(r.Value[:]); err != nil {
			return clientErr(m.Client, ErrDecode, "non-canonical share")
		}
	}
	for i := range m.Shares {
		r := &m.Shares[i]
		sh := Share{X: m.Client, Y: ys[i]}
		if r.Kind == KindSelf {
			s.bShares[r.Of] = append(s.bShares[r.Of], sh)
		} else {
			s.sShares[r.Of] = append(s.sShares[r.Of], sh)
		}
	}
	s.responded[m.Client] = true
	return nil
}

// Result closes the round and returns the sum mod 2^b of the survivors'
// inputs. It reconstructs each survivor's self-mask seed and each dropped
// client's mask key from t shares (checking each against the dealer's
// Feldman commitment, and locating bad shares when the check fails),
// regenerates the masks on Workers goroutines and removes them. It fails
// with [ErrBelowThreshold] when fewer than t clients answered or some
// secret has fewer than t shares (a *ClientError names that client), and
// with [ErrBadShare] when a dealer's shares cannot be repaired: the
// *ClientError names the holder that revealed a share failing the
// Feldman check when most of that secret's shares pass it, else the
// dealer (a holder with ClientConfig.TrustDealers may have been given
// the bad share by its dealer; without it, holders check what they get). The result
// is cached: later calls return a copy of it.
func (s *Server) Result() ([]uint64, error) {
	if s.phase == serverDone {
		return slices.Clone(s.result), nil
	}
	if err := s.stepErr(serverUnmask, "compute the result"); err != nil {
		return nil, err
	}
	if len(s.responded) < s.t {
		return nil, s.failRound(fmt.Errorf("%w: %d clients answered the unmask request, threshold %d", ErrBelowThreshold, len(s.responded), s.t))
	}
	res, err := s.unmask()
	if err != nil {
		return nil, s.failRound(err)
	}
	s.result = res
	s.phase = serverDone
	return slices.Clone(res), nil
}

// maskJob is one mask to remove: the self mask of a survivor (peer == 0)
// or the pairwise mask between dropped client u and survivor peer.
type maskJob struct {
	u, peer uint32
	neg     bool
}

// unmask computes the result without changing the server's state.
func (s *Server) unmask() ([]uint64, error) {
	workers := s.cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// 1. Reconstruct the secrets.
	type secretJob struct {
		u    uint32
		self bool
	}
	var secrets []secretJob
	for _, u := range s.u3 {
		secrets = append(secrets, secretJob{u: u, self: true})
	}
	needKey := make(map[uint32][]uint32) // dropped u -> survivors that masked with u
	for _, v := range s.u3 {
		for _, u := range s.recvFrom[v] {
			if !s.survivors[u] {
				needKey[u] = append(needKey[u], v)
			}
		}
	}
	for _, u := range sortedKeys(needKey) {
		secrets = append(secrets, secretJob{u: u})
	}
	values := make([][32]byte, len(secrets))       // self-mask seeds
	keys := make([]*ecdh.PrivateKey, len(secrets)) // dropped clients' mask keys
	errs := make([]error, len(secrets))
	lc := &lagrangeCache{m: make(map[string][]edwards25519.Scalar)}
	parallelFor(len(secrets), workers, func(_, i int) {
		j := secrets[i]
		sh, commits := s.sShares[j.u], s.shares[j.u].CommitS
		if j.self {
			sh, commits = s.bShares[j.u], s.shares[j.u].CommitB
		}
		sec, err := s.reconstruct(j.u, sh, commits, lc)
		if err != nil {
			errs[i] = err
			return
		}
		if j.self {
			values[i] = SelfSeed(sec.Bytes(), s.session, j.u)
			return
		}
		priv, err := ecdh.X25519().NewPrivateKey(sec.Bytes())
		if err != nil || [32]byte(priv.PublicKey().Bytes()) != s.keys[j.u].SKey {
			errs[i] = clientErr(j.u, ErrBadShare, "reconstructed mask key does not match the advertised key")
			return
		}
		keys[i] = priv
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// 2. Remove the masks.
	var jobs []maskJob
	seeds := make(map[uint32][32]byte, len(secrets))
	privs := make(map[uint32]*ecdh.PrivateKey)
	for i, j := range secrets {
		seeds[j.u] = values[i]
		if keys[i] != nil {
			privs[j.u] = keys[i]
		}
		if j.self {
			jobs = append(jobs, maskJob{u: j.u, neg: true})
			continue
		}
		for _, v := range needKey[j.u] {
			// y_v holds sign(v,u)·PRG(s_{v,u}), + when v < u: remove it.
			jobs = append(jobs, maskJob{u: j.u, peer: v, neg: v < j.u})
		}
	}
	if len(s.workerAcc) < workers {
		s.workerAcc = make([][]uint64, workers)
	}
	used := make([]bool, workers)
	jobErrs := make([]error, len(jobs))
	gens := make([]*maskGen, workers)
	parallelFor(len(jobs), workers, func(w, i int) {
		if s.workerAcc[w] == nil {
			s.workerAcc[w] = make([]uint64, s.accLen())
		}
		if !used[w] {
			clear(s.workerAcc[w])
			used[w] = true
			gens[w] = newMaskGen()
		}
		j := jobs[i]
		seed := seeds[j.u]
		if j.peer != 0 {
			priv := privs[j.u]
			pk := s.keys[j.peer].SKey
			pub, err := ecdh.X25519().NewPublicKey(pk[:])
			if err != nil {
				jobErrs[i] = clientErr(j.peer, ErrDecode, "s key: %v", err)
				return
			}
			shared, err := priv.ECDH(pub)
			if err != nil {
				jobErrs[i] = clientErr(j.peer, ErrDecode, "s key: %v", err)
				return
			}
			seed = PairwiseSeed(shared, s.session, j.u, j.peer)
		}
		if s.lanes {
			gens[w].addLanes(s.workerAcc[w], seed, j.neg)
		} else {
			gens[w].add(s.workerAcc[w], seed, s.bits, j.neg)
		}
	})
	for _, err := range jobErrs {
		if err != nil {
			return nil, err
		}
	}
	total := slices.Clone(s.acc)
	for w := range workers {
		if !used[w] {
			continue
		}
		a := s.workerAcc[w][:len(total)]
		if s.lanes {
			for i := range total {
				total[i] = laneAdd(total[i], a[i])
			}
		} else {
			for i := range total {
				total[i] += a[i]
			}
		}
	}
	if s.lanes {
		out := make([]uint64, s.p.Dim)
		lanesTo(out, total, s.bits)
		return out, nil
	}
	m := wordMask(s.bits)
	for i := range total {
		total[i] &= m
	}
	return total, nil
}

// accLen is the length of the server's accumulators.
func (s *Server) accLen() int {
	if s.lanes {
		return laneLen(s.p.Dim)
	}
	return s.p.Dim
}

// lagrangeCache memoizes Lagrange coefficients by their x-set.
type lagrangeCache struct {
	mu sync.Mutex
	m  map[string][]edwards25519.Scalar
}

func (lc *lagrangeCache) get(xs []uint32) []edwards25519.Scalar {
	key := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		key = append(key, byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
	}
	lc.mu.Lock()
	l, ok := lc.m[string(key)]
	lc.mu.Unlock()
	if ok {
		return l
	}
	l = make([]edwards25519.Scalar, len(xs))
	lagrangeAtZero(l, xs)
	lc.mu.Lock()
	lc.m[string(key)] = l
	lc.mu.Unlock()
	return l
}

// reconstruct recovers dealer u's secret from its shares, checked against
// the Feldman commitment C_0. When the check fails it verifies every share
// and retries with the good ones.
func (s *Server) reconstruct(u uint32, shares []Share, commits []Commitment, lc *lagrangeCache) (*edwards25519.Scalar, error) {
	if len(shares) < s.t {
		return nil, clientErr(u, ErrBelowThreshold, "%d shares of its secret, threshold %d", len(shares), s.t)
	}
	sorted := slices.Clone(shares)
	slices.SortFunc(sorted, func(a, b Share) int {
		switch {
		case a.X < b.X:
			return -1
		case a.X > b.X:
			return 1
		}
		return 0
	})
	xs := make([]uint32, s.t)
	for i := range xs {
		xs[i] = sorted[i].X
	}
	sec := combineWith(sorted[:s.t], lc.get(xs))
	if checkSecret(sec, commits[0]) {
		return sec, nil
	}
	// Slow path: find the bad shares.
	if _, err := decodeCommitments(commits); err != nil {
		return nil, clientErr(u, ErrBadShare, "commitments: %v", err)
	}
	good := sorted[:0]
	var bad []uint32 // holders whose revealed share fails
	for _, sh := range sorted {
		if VerifyShareVarTime(sh.X, &sh.Y, commits) {
			good = append(good, sh)
		} else {
			bad = append(bad, sh.X)
		}
	}
	if len(good) < s.t {
		// Shares that the dealer's commitments accept are what an honest
		// dealer gave: when most shares pass, the holders of the others
		// revealed bad shares; when most fail, the dealer dealt them.
		if len(bad) > 0 && len(bad) < len(good) {
			return nil, clientErr(bad[0], ErrBadShare, "revealed a share of client %d's secret that fails the Feldman check (holders %v; %d of %d shares pass, threshold %d)",
				u, bad, len(good), len(shares), s.t)
		}
		return nil, clientErr(u, ErrBadShare, "%d of %d shares pass the Feldman check, threshold %d", len(good), len(shares), s.t)
	}
	for i := range xs {
		xs[i] = good[i].X
	}
	sec = combineWith(good[:s.t], lc.get(xs))
	if !checkSecret(sec, commits[0]) {
		return nil, clientErr(u, ErrBadShare, "secret does not match its commitment")
	}
	return sec, nil
}

// parallelFor runs fn(worker, i) for i in [0, n) on up to workers
// goroutines and returns when all are done.
func parallelFor(n, workers int, fn func(w, i int)) {
	if n == 0 {
		return
	}
	workers = max(1, min(workers, n))
	if workers == 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[V any](m map[uint32]V) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
