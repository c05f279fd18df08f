package secagg

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// Wire format. Every message starts with a 2-byte header (version 1, type)
// and a 32-byte round id (AdvertiseMsg, KeysBroadcast) or session id (all
// later messages). Integers are big-endian; ids are u32; keys, scalars and
// points are raw 32 bytes (commitments: 64, see [Commitment]); signatures are raw 64 bytes (ed25519). Counts
// are checked against the bytes left before anything is allocated.
const (
	wireVersion = 1

	typeAdvertise       = 1
	typeKeys            = 2
	typeShares          = 3
	typeSharesBroadcast = 4
	typeMasked          = 5
	typeSurvivors       = 6
	typeSignature       = 7
	typeUnmaskRequest   = 8
	typeUnmask          = 9
	typeReveal          = 10
	typeReveals         = 11

	// BoxSize is the size of one encrypted share pair: AES-256-GCM of the
	// two 32-byte shares (of b_u and s_u) plus the 16-byte tag. The nonce is
	// implicit (zero): each key encrypts exactly one message.
	BoxSize = 64 + 16
)

// AdvertiseMsg (client → server, step 0) carries a client's two public keys
// and, in malicious mode, a commitment to its share of the graph seed
// (see [RevealMsg]) and its ed25519 signature of
// "fedgo/secagg/v1 advertise" || round id || client u32 || CKey || SKey || Commit.
//
// Encoding: hdr(2) | round(32) | client u32 | CKey(32) | SKey(32) | sigLen u8 (0 or 64) | sig |
// Commit(32) (only when sigLen = 64).
type AdvertiseMsg struct {
	Round [32]byte
	PublicKeys
	Sig    []byte
	Commit [32]byte // malicious mode: SHA-256 commitment to the client's graph-seed share
}

// RevealMsg (client → server, malicious mode step 0b, answering the
// [KeysBroadcast]): the client's share r of the graph seed, which opens
// the commitment
// SHA-256("fedgo/secagg/v1 graph commit" || round id || client u32 || r)
// of its AdvertiseMsg.
//
// Encoding: hdr | session | client u32 | reveal(32).
type RevealMsg struct {
	Session [32]byte
	Client  uint32
	Reveal  [32]byte
}

// RevealsBroadcast (server → every client, malicious mode, end of step
// 0b): the graph-seed shares of every client of the KeysBroadcast, in
// ascending client order. The SecAgg+ graph is drawn from all of them
// (see [GraphSeed]).
//
// Encoding: hdr | session | count u32 | count × (client u32 | reveal(32)).
type RevealsBroadcast struct {
	Session [32]byte
	Reveals []RevealMsg // Session fields of the entries are ignored on the wire
}

// KeysBroadcast (server → every client, end of step 0) lists all advertised
// keys in ascending client order.
//
// Encoding: hdr | round(32) | count u32 | count × (client u32 | CKey | SKey | sigLen u8 | sig).
type KeysBroadcast struct {
	Round [32]byte
	Keys  []AdvertiseMsg // Round fields of the entries are ignored on the wire
}

// SharesMsg (client → server, step 1): the Feldman commitments of the
// client's two sharing polynomials (t points each, of b_u then of s_u) and
// one encrypted share pair per neighbour.
//
// Encoding: hdr | session(32) | client u32 | t u16 | 2t × point(64, see [Commitment]) |
// count u32 | count × (to u32 | box(80)). A share costs 84 bytes per
// neighbour; the commitments are sent once.
type SharesMsg struct {
	Session [32]byte
	Client  uint32
	CommitB []Commitment
	CommitS []Commitment
	Boxes   []Box
}

// Box is an encrypted share pair addressed to (or coming from) Peer.
type Box struct {
	Peer uint32
	Data [BoxSize]byte
}

// SharesBroadcast (server → one client, end of step 1): the boxes addressed
// to client To, each with its dealer's commitments.
//
// Encoding: hdr | session | to u32 | t u16 | count u32 |
// count × (from u32 | 2t × point(64) | box(80)).
type SharesBroadcast struct {
	Session [32]byte
	To      uint32
	Entries []ShareEntry
}

// ShareEntry is one dealer's box and commitments, as relayed by the server.
type ShareEntry struct {
	From    uint32
	CommitB []Commitment
	CommitS []Commitment
	Box     [BoxSize]byte
}

// MaskedMsg (client → server, step 2): the masked input y_u, bit-packed.
//
// Encoding: hdr | session | client u32 | bits u8 | dim u32 | packed (⌈dim·bits/8⌉ bytes, see [Pack]).
type MaskedMsg struct {
	Session [32]byte
	Client  uint32
	Bits    int
	Dim     int
	Data    []byte
}

// SurvivorsMsg (server → survivors, malicious mode step 3): the survivor set U3.
//
// Encoding: hdr | session | count u32 | count × id u32 (ascending).
type SurvivorsMsg struct {
	Session   [32]byte
	Survivors []uint32
}

// SignatureMsg (client → server, step 3): the client's ed25519 signature of
// "fedgo/secagg/v1 survivors" || session || count u32 || ids.
//
// Encoding: hdr | session | client u32 | sig(64).
type SignatureMsg struct {
	Session [32]byte
	Client  uint32
	Sig     [64]byte
}

// UnmaskRequest (server → survivors, step 4): who survived (their self-mask
// shares b are requested) and who dropped after sharing (their mask-key
// shares s are requested), plus the survivors' signatures in malicious mode.
//
// Encoding: hdr | session | ns u32 | ns × id | nd u32 | nd × id |
// nsig u32 | nsig × (client u32 | sig(64)).
type UnmaskRequest struct {
	Session    [32]byte
	Survivors  []uint32
	Dropped    []uint32
	Signatures []SignatureMsg // Session fields are ignored on the wire
}

// UnmaskMsg (client → server, step 4): the shares the client reveals.
//
// Encoding: hdr | session | client u32 | count u32 | count × (of u32 | kind u8 | scalar(32)).
type UnmaskMsg struct {
	Session [32]byte
	Client  uint32
	Shares  []RevealedShare
}

// RevealedShare is a share of client Of's self-mask seed (KindSelf) or of
// its mask key (KindKey), held by the sender.
type RevealedShare struct {
	Of    uint32
	Kind  uint8
	Value [32]byte
}

// Kinds of a [RevealedShare].
const (
	KindSelf = 1 // share of b_u (u survived)
	KindKey  = 2 // share of s_u (u dropped)
)

// --- encoding helpers ---

func header(dst []byte, typ byte, id [32]byte) []byte {
	dst = append(dst, wireVersion, typ)
	return append(dst, id[:]...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrDecode}, args...)...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) b32() (out [32]byte) {
	copy(out[:], r.take(32))
	return out
}

// count reads a u32 count and checks that count entries of at least
// minSize bytes each fit in what is left.
func (r *reader) count(minSize int) int {
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(len(r.b)) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) header(typ byte) [32]byte {
	if v := r.u8(); r.err == nil && v != wireVersion {
		r.fail("version %d", v)
	}
	if v := r.u8(); r.err == nil && v != typ {
		r.fail("message type %d, want %d", v, typ)
	}
	return r.b32()
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

func (r *reader) ids(n int) []uint32 {
	if r.err != nil {
		return nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = r.u32()
	}
	return out
}

func appendIDs(dst []byte, ids []uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ids)))
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint32(dst, id)
	}
	return dst
}

func appendSig(dst, sig []byte) []byte {
	dst = append(dst, byte(len(sig)))
	return append(dst, sig...)
}

func (r *reader) sig() []byte {
	n := int(r.u8())
	if r.err != nil {
		return nil
	}
	if n != 0 && n != ed25519.SignatureSize {
		r.fail("signature length %d", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	return append([]byte(nil), r.take(n)...)
}

func (r *reader) commitments(t int) []Commitment {
	if r.err != nil {
		return nil
	}
	out := make([]Commitment, t)
	for i := range out {
		copy(out[i][:], r.take(CommitmentSize))
	}
	return out
}

// --- MarshalBinary / UnmarshalBinary ---

// MarshalBinary encodes m.
func (m *AdvertiseMsg) MarshalBinary() ([]byte, error) {
	if len(m.Sig) != 0 && len(m.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature length %d", ErrDecode, len(m.Sig))
	}
	b := header(make([]byte, 0, 2+32+4+64+1+len(m.Sig)), typeAdvertise, m.Round)
	b = binary.BigEndian.AppendUint32(b, m.Client)
	b = append(b, m.CKey[:]...)
	b = append(b, m.SKey[:]...)
	b = appendSig(b, m.Sig)
	if len(m.Sig) != 0 {
		b = append(b, m.Commit[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *AdvertiseMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out AdvertiseMsg
	out.Round = r.header(typeAdvertise)
	out.Client = r.u32()
	out.CKey = r.b32()
	out.SKey = r.b32()
	out.Sig = r.sig()
	if out.Sig != nil {
		out.Commit = r.b32()
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *KeysBroadcast) MarshalBinary() ([]byte, error) {
	b := header(nil, typeKeys, m.Round)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Keys)))
	for i := range m.Keys {
		k := &m.Keys[i]
		if len(k.Sig) != 0 && len(k.Sig) != ed25519.SignatureSize {
			return nil, fmt.Errorf("%w: signature length %d", ErrDecode, len(k.Sig))
		}
		b = binary.BigEndian.AppendUint32(b, k.Client)
		b = append(b, k.CKey[:]...)
		b = append(b, k.SKey[:]...)
		b = appendSig(b, k.Sig)
		if len(k.Sig) != 0 {
			b = append(b, k.Commit[:]...)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *KeysBroadcast) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out KeysBroadcast
	out.Round = r.header(typeKeys)
	n := r.count(4 + 64 + 1)
	if r.err == nil {
		out.Keys = make([]AdvertiseMsg, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		k := &out.Keys[i]
		k.Round = out.Round
		k.Client = r.u32()
		k.CKey = r.b32()
		k.SKey = r.b32()
		k.Sig = r.sig()
		if k.Sig != nil {
			k.Commit = r.b32()
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *SharesMsg) MarshalBinary() ([]byte, error) {
	t := len(m.CommitB)
	if len(m.CommitS) != t || t > 0xFFFF {
		return nil, fmt.Errorf("%w: commitment counts %d and %d", ErrDecode, len(m.CommitB), len(m.CommitS))
	}
	b := header(make([]byte, 0, 2+32+4+2+2*CommitmentSize*t+4+len(m.Boxes)*(4+BoxSize)), typeShares, m.Session)
	b = binary.BigEndian.AppendUint32(b, m.Client)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	for i := range m.CommitB {
		b = append(b, m.CommitB[i][:]...)
	}
	for i := range m.CommitS {
		b = append(b, m.CommitS[i][:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Boxes)))
	for i := range m.Boxes {
		b = binary.BigEndian.AppendUint32(b, m.Boxes[i].Peer)
		b = append(b, m.Boxes[i].Data[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *SharesMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out SharesMsg
	out.Session = r.header(typeShares)
	out.Client = r.u32()
	t := r.u16()
	if r.err == nil && 2*CommitmentSize*t > len(r.b) {
		r.fail("%d commitments exceed the bytes left", 2*t)
	}
	out.CommitB = r.commitments(t)
	out.CommitS = r.commitments(t)
	n := r.count(4 + BoxSize)
	if r.err == nil {
		out.Boxes = make([]Box, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		out.Boxes[i].Peer = r.u32()
		copy(out.Boxes[i].Data[:], r.take(BoxSize))
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m. All entries must carry the same number of
// commitments.
func (m *SharesBroadcast) MarshalBinary() ([]byte, error) {
	t := 0
	if len(m.Entries) > 0 {
		t = len(m.Entries[0].CommitB)
	}
	if t > 0xFFFF {
		return nil, fmt.Errorf("%w: %d commitments", ErrDecode, t)
	}
	b := header(make([]byte, 0, 2+32+4+2+4+len(m.Entries)*(4+2*CommitmentSize*t+BoxSize)), typeSharesBroadcast, m.Session)
	b = binary.BigEndian.AppendUint32(b, m.To)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		if len(e.CommitB) != t || len(e.CommitS) != t {
			return nil, fmt.Errorf("%w: entry %d has %d/%d commitments, want %d", ErrDecode, i, len(e.CommitB), len(e.CommitS), t)
		}
		b = binary.BigEndian.AppendUint32(b, e.From)
		for j := range e.CommitB {
			b = append(b, e.CommitB[j][:]...)
		}
		for j := range e.CommitS {
			b = append(b, e.CommitS[j][:]...)
		}
		b = append(b, e.Box[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *SharesBroadcast) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out SharesBroadcast
	out.Session = r.header(typeSharesBroadcast)
	out.To = r.u32()
	t := r.u16()
	n := r.count(4 + 2*CommitmentSize*t + BoxSize)
	if r.err == nil {
		out.Entries = make([]ShareEntry, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		e := &out.Entries[i]
		e.From = r.u32()
		e.CommitB = r.commitments(t)
		e.CommitS = r.commitments(t)
		copy(e.Box[:], r.take(BoxSize))
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *MaskedMsg) MarshalBinary() ([]byte, error) {
	if m.Bits < 1 || m.Bits > 64 || m.Dim < 0 || m.Dim > MaxDim || len(m.Data) != PackedLen(m.Dim, m.Bits) {
		return nil, fmt.Errorf("%w: bits %d, dim %d, %d data bytes", ErrDecode, m.Bits, m.Dim, len(m.Data))
	}
	b := header(make([]byte, 0, 2+32+4+1+4+len(m.Data)), typeMasked, m.Session)
	b = binary.BigEndian.AppendUint32(b, m.Client)
	b = append(b, byte(m.Bits))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Dim))
	return append(b, m.Data...), nil
}

// UnmarshalBinary decodes m from data. Data aliases data.
func (m *MaskedMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out MaskedMsg
	out.Session = r.header(typeMasked)
	out.Client = r.u32()
	out.Bits = int(r.u8())
	out.Dim = int(r.u32())
	if r.err == nil && (out.Bits < 1 || out.Bits > 64 || out.Dim > MaxDim) {
		r.fail("bits %d, dim %d", out.Bits, out.Dim)
	}
	if r.err == nil {
		out.Data = r.take(PackedLen(out.Dim, out.Bits))
	}
	if r.err == nil && !paddingClean(out.Data, out.Dim, out.Bits) {
		r.fail("nonzero padding bits")
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *SurvivorsMsg) MarshalBinary() ([]byte, error) {
	b := header(nil, typeSurvivors, m.Session)
	return appendIDs(b, m.Survivors), nil
}

// UnmarshalBinary decodes m from data.
func (m *SurvivorsMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out SurvivorsMsg
	out.Session = r.header(typeSurvivors)
	out.Survivors = r.ids(r.count(4))
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *SignatureMsg) MarshalBinary() ([]byte, error) {
	b := header(make([]byte, 0, 2+32+4+64), typeSignature, m.Session)
	b = binary.BigEndian.AppendUint32(b, m.Client)
	return append(b, m.Sig[:]...), nil
}

// UnmarshalBinary decodes m from data.
func (m *SignatureMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out SignatureMsg
	out.Session = r.header(typeSignature)
	out.Client = r.u32()
	copy(out.Sig[:], r.take(64))
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *UnmaskRequest) MarshalBinary() ([]byte, error) {
	b := header(nil, typeUnmaskRequest, m.Session)
	b = appendIDs(b, m.Survivors)
	b = appendIDs(b, m.Dropped)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Signatures)))
	for i := range m.Signatures {
		b = binary.BigEndian.AppendUint32(b, m.Signatures[i].Client)
		b = append(b, m.Signatures[i].Sig[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *UnmaskRequest) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out UnmaskRequest
	out.Session = r.header(typeUnmaskRequest)
	out.Survivors = r.ids(r.count(4))
	out.Dropped = r.ids(r.count(4))
	n := r.count(4 + 64)
	if r.err == nil && n > 0 {
		out.Signatures = make([]SignatureMsg, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		out.Signatures[i].Session = out.Session
		out.Signatures[i].Client = r.u32()
		copy(out.Signatures[i].Sig[:], r.take(64))
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *UnmaskMsg) MarshalBinary() ([]byte, error) {
	b := header(make([]byte, 0, 2+32+4+4+len(m.Shares)*37), typeUnmask, m.Session)
	b = binary.BigEndian.AppendUint32(b, m.Client)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Shares)))
	for i := range m.Shares {
		s := &m.Shares[i]
		b = binary.BigEndian.AppendUint32(b, s.Of)
		b = append(b, s.Kind)
		b = append(b, s.Value[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *UnmaskMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out UnmaskMsg
	out.Session = r.header(typeUnmask)
	out.Client = r.u32()
	n := r.count(4 + 1 + 32)
	if r.err == nil {
		out.Shares = make([]RevealedShare, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		s := &out.Shares[i]
		s.Of = r.u32()
		s.Kind = r.u8()
		s.Value = r.b32()
		if r.err == nil && s.Kind != KindSelf && s.Kind != KindKey {
			r.fail("share kind %d", s.Kind)
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *RevealMsg) MarshalBinary() ([]byte, error) {
	b := header(make([]byte, 0, 2+32+4+32), typeReveal, m.Session)
	b = binary.BigEndian.AppendUint32(b, m.Client)
	return append(b, m.Reveal[:]...), nil
}

// UnmarshalBinary decodes m from data.
func (m *RevealMsg) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out RevealMsg
	out.Session = r.header(typeReveal)
	out.Client = r.u32()
	out.Reveal = r.b32()
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalBinary encodes m.
func (m *RevealsBroadcast) MarshalBinary() ([]byte, error) {
	b := header(make([]byte, 0, 2+32+4+36*len(m.Reveals)), typeReveals, m.Session)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Reveals)))
	for i := range m.Reveals {
		b = binary.BigEndian.AppendUint32(b, m.Reveals[i].Client)
		b = append(b, m.Reveals[i].Reveal[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes m from data.
func (m *RevealsBroadcast) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out RevealsBroadcast
	out.Session = r.header(typeReveals)
	n := r.count(4 + 32)
	if r.err == nil && n > 0 {
		out.Reveals = make([]RevealMsg, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		out.Reveals[i].Session = out.Session
		out.Reveals[i].Client = r.u32()
		out.Reveals[i].Reveal = r.b32()
	}
	if err := r.end(); err != nil {
		return err
	}
	*m = out
	return nil
}
