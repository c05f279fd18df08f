package fedround

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/secagg"
)

// Setup is what the server tells a client when a round opens, in the
// Payload of the [TypeTrain] message: the round's secagg parameters, the
// client's secagg id, the clip of the quantizer, the weight cap (0: the
// unweighted mean; else Params.Dim is the model's dimension plus one, for
// the weight), and in malicious mode the fl.Conn IDs of the participants
// in secagg id order (so that a client can look their keys up in its PKI).
type Setup struct {
	Params    secagg.Params
	ID        uint32
	Clip      float64
	WeightCap float64
	Names     []string // malicious mode: Names[i] is the Conn ID of secagg id i+1
}

// Setup encoding: "FRS" | version u8 | N u32 | t u32 | k u32 | bits u8 |
// dim u32 | flags u8 (bit 0: malicious; bits 1–7: MaxUnrevealed, 0..127,
// malicious mode only) | round u64 | seed [32] | id u32 | clip f64 |
// [version 2: weight cap f64] | names u32 (0 or N) | names × (len u16 |
// bytes). Integers big-endian. Version 1 (no weight cap) is written when
// the cap is 0, so unweighted setups keep their bytes.
const (
	setupMagic    = "FRS"
	setupVersion  = 1
	setupWeighted = 2
	setupFixed    = len(setupMagic) + 1 + 4 + 4 + 4 + 1 + 4 + 1 + 8 + 32 + 4 + 8 + 4
	maxNameLen    = 1<<16 - 1
	// maxUnrevealed is the largest Params.MaxUnrevealed a setup carries.
	maxUnrevealed = 127
)

// MarshalBinary encodes s.
func (s *Setup) MarshalBinary() ([]byte, error) {
	p := &s.Params
	if p.N < 0 || p.N > secagg.MaxClients || p.Threshold < 0 || p.Neighbors < 0 || p.Dim < 0 || p.Dim > secagg.MaxDim ||
		p.Bits < 0 || p.Bits > 64 || uint64(p.Threshold) > math.MaxUint32 || uint64(p.Neighbors) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: setup parameters out of range", ErrMalformed)
	}
	if len(s.Names) != 0 && len(s.Names) != p.N {
		return nil, fmt.Errorf("%w: %d names for %d clients", ErrMalformed, len(s.Names), p.N)
	}
	if !(s.WeightCap >= 0) || math.IsInf(s.WeightCap, 0) {
		return nil, fmt.Errorf("%w: weight cap %v", ErrMalformed, s.WeightCap)
	}
	size := setupFixed + 8
	for _, n := range s.Names {
		if len(n) > maxNameLen {
			return nil, fmt.Errorf("%w: name of %d bytes", ErrMalformed, len(n))
		}
		size += 2 + len(n)
	}
	b := make([]byte, 0, size)
	b = append(b, setupMagic...)
	if s.WeightCap > 0 {
		b = append(b, setupWeighted)
	} else {
		b = append(b, setupVersion)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(p.N))
	b = binary.BigEndian.AppendUint32(b, uint32(p.Threshold))
	b = binary.BigEndian.AppendUint32(b, uint32(p.Neighbors))
	b = append(b, byte(p.Bits))
	b = binary.BigEndian.AppendUint32(b, uint32(p.Dim))
	if p.MaxUnrevealed < 0 || p.MaxUnrevealed > maxUnrevealed || p.MaxUnrevealed > 0 && !p.Malicious {
		return nil, fmt.Errorf("%w: MaxUnrevealed = %d, want 0..%d in malicious mode", ErrMalformed, p.MaxUnrevealed, maxUnrevealed)
	}
	mal := byte(p.MaxUnrevealed) << 1
	if p.Malicious {
		mal |= 1
	}
	b = append(b, mal)
	b = binary.BigEndian.AppendUint64(b, p.Round)
	b = append(b, p.Seed[:]...)
	b = binary.BigEndian.AppendUint32(b, s.ID)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(s.Clip))
	if s.WeightCap > 0 {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(s.WeightCap))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Names)))
	for _, n := range s.Names {
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return b, nil
}

// UnmarshalBinary decodes s from data and checks it: the parameters pass
// secagg.Params.Validate, the id is in 1..N, the clip (and in version 2
// the weight cap) is finite and positive, and the name list is empty or has N entries (N in malicious
// mode). Every count is checked against the bytes left before allocation.
func (s *Setup) UnmarshalBinary(data []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: setup: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(data) < setupFixed {
		return bad("%d bytes, want at least %d", len(data), setupFixed)
	}
	if string(data[:3]) != setupMagic || data[3] != setupVersion && data[3] != setupWeighted {
		return bad("bad header")
	}
	weighted := data[3] == setupWeighted
	if weighted && len(data) < setupFixed+8 {
		return bad("%d bytes, want at least %d", len(data), setupFixed+8)
	}
	d := data[4:]
	u32 := func() uint32 { v := binary.BigEndian.Uint32(d); d = d[4:]; return v }
	var p secagg.Params
	p.N = int(u32())
	p.Threshold = int(u32())
	p.Neighbors = int(u32())
	p.Bits = int(d[0])
	d = d[1:]
	p.Dim = int(u32())
	p.Malicious, p.MaxUnrevealed = d[0]&1 == 1, int(d[0]>>1)
	if p.MaxUnrevealed > 0 && !p.Malicious {
		return bad("flags %#x: unrevealed shares allowed outside malicious mode", d[0])
	}
	d = d[1:]
	p.Round = binary.BigEndian.Uint64(d)
	d = d[8:]
	copy(p.Seed[:], d)
	d = d[32:]
	id := u32()
	clip := math.Float64frombits(binary.BigEndian.Uint64(d))
	d = d[8:]
	var weightCap float64
	if weighted {
		weightCap = math.Float64frombits(binary.BigEndian.Uint64(d))
		d = d[8:]
		if !(weightCap > 0) || math.IsInf(weightCap, 0) {
			return bad("weight cap %v", weightCap)
		}
	}
	count := u32()
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: setup: %w", ErrMalformed, err)
	}
	if id < 1 || int(id) > p.N {
		return bad("client id %d, want 1..%d", id, p.N)
	}
	if !(clip > 0) || math.IsInf(clip, 0) {
		return bad("clip %v", clip)
	}
	if count != 0 && int64(count) != int64(p.N) {
		return bad("%d names for %d clients", count, p.N)
	}
	if p.Malicious && count == 0 {
		return bad("malicious mode without the participants' names")
	}
	if uint64(count)*2 > uint64(len(d)) {
		return bad("%d names in %d bytes", count, len(d))
	}
	var names []string
	if count > 0 {
		names = make([]string, count)
	}
	for i := range names {
		if len(d) < 2 {
			return bad("truncated name %d", i)
		}
		l := int(binary.BigEndian.Uint16(d))
		d = d[2:]
		if l > len(d) {
			return bad("name %d of %d bytes, %d left", i, l, len(d))
		}
		names[i] = string(d[:l])
		d = d[l:]
	}
	if len(d) != 0 {
		return bad("%d trailing bytes", len(d))
	}
	*s = Setup{Params: p, ID: id, Clip: clip, WeightCap: weightCap, Names: names}
	return nil
}
