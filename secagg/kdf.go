package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Domain-separation labels (HKDF info prefixes and signature contexts).
const (
	labelSession   = "fedgo/secagg/v1 session"
	labelShareKey  = "fedgo/secagg/v1 share key"
	labelPairMask  = "fedgo/secagg/v1 pairwise mask"
	labelSelfMask  = "fedgo/secagg/v1 self mask"
	labelGraph     = "fedgo/secagg/v1 graph"
	labelAdvertise = "fedgo/secagg/v1 advertise"
	labelSurvivors = "fedgo/secagg/v1 survivors"
	labelShareAAD  = "fedgo/secagg/v1 share aad"
	labelCommit    = "fedgo/secagg/v1 graph commit"
	labelJoint     = "fedgo/secagg/v1 graph seed"
)

// PublicKeys are the two X25519 public keys a client advertises: CKey for
// encrypting shares, SKey for the pairwise masks.
type PublicKeys struct {
	Client uint32
	CKey   [32]byte
	SKey   [32]byte
}

// SessionID returns SHA-256 of
//
//	"fedgo/secagg/v1 session" || roundID || count u32 || for each key in
//	ascending client order: id u32 || CKey || SKey
//
// (big-endian integers). keys must be sorted by Client and unique.
func SessionID(roundID [32]byte, keys []PublicKeys) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelSession))
	h.Write(roundID[:])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(len(keys)))
	h.Write(b[:])
	for i := range keys {
		binary.BigEndian.PutUint32(b[:], keys[i].Client)
		h.Write(b[:])
		h.Write(keys[i].CKey[:])
		h.Write(keys[i].SKey[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// SeedCommit returns the commitment to a client's graph-seed share r:
// SHA-256("fedgo/secagg/v1 graph commit" || round id || client u32 || r).
func SeedCommit(roundID [32]byte, client uint32, r [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelCommit))
	h.Write(roundID[:])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], client)
	h.Write(b[:])
	h.Write(r[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// GraphSeed returns the malicious-mode graph seed drawn from every
// client's share: SHA-256("fedgo/secagg/v1 graph seed" || session ||
// count u32 || for each client of keys in ascending order: id u32 ||
// commit || r), where r is the client's revealed share, or, for a client
// whose share is missing from reveals (at most Params.MaxUnrevealed),
// SHA-256("fedgo/secagg/v1 unrevealed" || id u32). reveals lists the
// revealed clients in the order of keys.
func GraphSeed(session [32]byte, keys []AdvertiseMsg, reveals []RevealMsg) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelJoint))
	h.Write(session[:])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(len(keys)))
	h.Write(b[:])
	j := 0
	for i := range keys {
		binary.BigEndian.PutUint32(b[:], keys[i].Client)
		h.Write(b[:])
		h.Write(keys[i].Commit[:])
		if j < len(reveals) && reveals[j].Client == keys[i].Client {
			h.Write(reveals[j].Reveal[:])
			j++
			continue
		}
		m := unrevealedMarker(keys[i].Client)
		h.Write(m[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// BoundSession returns the session id of a malicious round in which some
// graph-seed shares were left out: SHA-256("fedgo/secagg/v1 bound
// session" || session || graph seed). Every later message, share
// encryption and signature uses it, so clients shown different reveals
// (different graphs) cannot take part in one round together. A round with
// every share revealed keeps the session of its keys.
func BoundSession(session, graphSeed [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("fedgo/secagg/v1 bound session"))
	h.Write(session[:])
	h.Write(graphSeed[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// unrevealedMarker stands in the graph seed for a client that did not
// reveal its share.
func unrevealedMarker(client uint32) [32]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], client)
	return sha256.Sum256(append([]byte("fedgo/secagg/v1 unrevealed"), b[:]...))
}

// info builds an HKDF info string: label || u32 ids (big-endian).
func info(label string, ids ...uint32) string {
	b := make([]byte, 0, len(label)+4*len(ids))
	b = append(b, label...)
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return string(b)
}

// derive32 is HKDF-SHA256(secret, salt=session, info) truncated to 32 bytes.
func derive32(secret []byte, session [32]byte, inf string) [32]byte {
	k, err := hkdf.Key(sha256.New, secret, session[:], inf, 32)
	if err != nil {
		panic("secagg: hkdf: " + err.Error()) // only for lengths > 255·32
	}
	var out [32]byte
	copy(out[:], k)
	return out
}

// ShareKey derives the AES-256-GCM key that encrypts the shares sent from
// client from to client to: HKDF-SHA256(ikm = X25519(c_from, c_to),
// salt = session, info = "fedgo/secagg/v1 share key" || from u32 || to u32).
// The direction is in the info, so each key encrypts one message.
func ShareKey(shared []byte, session [32]byte, from, to uint32) [32]byte {
	return derive32(shared, session, info(labelShareKey, from, to))
}

// PairwiseSeed derives the PRG seed of the mask between clients u and v:
// HKDF-SHA256(ikm = X25519(s_u, s_v), salt = session,
// info = "fedgo/secagg/v1 pairwise mask" || min(u,v) u32 || max(u,v) u32).
func PairwiseSeed(shared []byte, session [32]byte, u, v uint32) [32]byte {
	return derive32(shared, session, info(labelPairMask, min(u, v), max(u, v)))
}

// SelfSeed derives the PRG seed of client u's self mask from its secret b_u
// (the 32-byte canonical encoding of the scalar):
// HKDF-SHA256(ikm = b_u, salt = session, info = "fedgo/secagg/v1 self mask" || u u32).
func SelfSeed(b []byte, session [32]byte, u uint32) [32]byte {
	return derive32(b, session, info(labelSelfMask, u))
}

// shareAAD is the additional data of an encrypted share:
// "fedgo/secagg/v1 share aad" || session || from u32 || to u32 || SHA-256(commitments).
func shareAAD(dst []byte, session [32]byte, from, to uint32, commitHash [32]byte) []byte {
	dst = append(dst, labelShareAAD...)
	dst = append(dst, session[:]...)
	dst = binary.BigEndian.AppendUint32(dst, from)
	dst = binary.BigEndian.AppendUint32(dst, to)
	return append(dst, commitHash[:]...)
}

// newGCM returns AES-256-GCM under key.
func newGCM(key [32]byte) cipher.AEAD {
	blk, err := aes.NewCipher(key[:])
	if err != nil {
		panic("secagg: aes: " + err.Error()) // 32-byte keys are always valid
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		panic("secagg: gcm: " + err.Error())
	}
	return g
}

// graph is the masking graph of a round.
type graph struct {
	n, k int
	pos  []uint32 // pos[id-1] = position of client id on the cycle
	perm []uint32 // perm[p] = client id at position p
}

// newGraph builds the graph of p. For the complete graph it stores nothing.
//
// SecAgg+ graph: the Harary graph H(k, N) for even k is the circulant graph
// on positions 0..N-1 where position i is joined to i±1, ..., i±k/2 (mod N).
// Client ids are placed on positions by a permutation π drawn with
// Fisher–Yates (for i = N-1 down to 1, swap i with j uniform in [0, i]) over
// the identity 1..N, using a PRG: AES-256-CTR (zero IV) keyed by
// HKDF-SHA256(ikm = Seed, salt = RoundID, info = "fedgo/secagg/v1 graph"),
// read as little-endian uint64 words; j is drawn by rejection (a word w is
// accepted when w < 2^64 - (2^64 mod (i+1)), and j = w mod (i+1)).
func newGraph(p *Params) *graph { return newGraphSeed(p, p.Seed) }

// newGraphSeed builds the graph of p from seed (Params.Seed in
// semi-honest mode, the [GraphSeed] in malicious mode).
func newGraphSeed(p *Params, seed [32]byte) *graph {
	g := &graph{n: p.N, k: p.degree()}
	if p.complete() {
		return g
	}
	g.perm = HararyPermutation(seed, p.RoundID(), p.N)
	g.pos = make([]uint32, p.N)
	for i, id := range g.perm {
		g.pos[id-1] = uint32(i)
	}
	return g
}

// HararyPermutation returns the positions of client ids 1..n on the cycle
// of the SecAgg+ graph (see the graph derivation in the package doc):
// element p is the id at position p.
func HararyPermutation(seed, roundID [32]byte, n int) []uint32 {
	key := derive32(seed[:], roundID, labelGraph)
	blk, _ := aes.NewCipher(key[:])
	ctr := cipher.NewCTR(blk, make([]byte, aes.BlockSize))
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i + 1)
	}
	var buf [8]byte
	next := func() uint64 {
		clear(buf[:])
		ctr.XORKeyStream(buf[:], buf[:])
		return binary.LittleEndian.Uint64(buf[:])
	}
	for i := n - 1; i >= 1; i-- {
		m := uint64(i + 1)
		lim := -((-m) % m) // 2^64 - (2^64 mod m); 0 means "accept all" when m | 2^64
		var w uint64
		for {
			w = next()
			if lim == 0 || w < lim {
				break
			}
		}
		j := int(w % m)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// neighbors appends the neighbours of id (excluding id) to dst in ascending order.
func (g *graph) neighbors(dst []uint32, id uint32) []uint32 {
	if g.perm == nil {
		for v := 1; v <= g.n; v++ {
			if uint32(v) != id {
				dst = append(dst, uint32(v))
			}
		}
		return dst
	}
	start := len(dst)
	p := int(g.pos[id-1])
	for off := 1; off <= g.k/2; off++ {
		dst = append(dst, g.perm[(p+off)%g.n], g.perm[(p-off+g.n)%g.n])
	}
	slices.Sort(dst[start:])
	return dst
}

// adjacent reports whether u and v (u != v) are neighbours.
func (g *graph) adjacent(u, v uint32) bool {
	if g.perm == nil {
		return u != v
	}
	d := int(g.pos[u-1]) - int(g.pos[v-1])
	if d < 0 {
		d = -d
	}
	d = min(d, g.n-d)
	return d >= 1 && d <= g.k/2
}
