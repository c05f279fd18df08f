package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"slices"
)

// prgChunk is the keystream buffer size of the mask PRG (a multiple of 8,
// small enough to stay in L1/L2 cache).
const prgChunk = 16 << 10

var zeroChunk [prgChunk]byte

// maskGen expands PRG seeds into mask words. It holds a reusable keystream
// buffer; it is not safe for concurrent use (give each goroutine its own).
type maskGen struct {
	buf []byte
	iv  [aes.BlockSize]byte
}

func newMaskGen() *maskGen { return &maskGen{buf: make([]byte, prgChunk)} }

// Expand writes the mask of seed into dst (dst[i] = word i mod 2^b).
// The mask PRG is AES-256-CTR keyed by the 32-byte seed with an all-zero
// initial counter block (big-endian 128-bit counter); word i of the mask is
// the little-endian uint32 at keystream bytes [4i, 4i+4) when b ≤ 32, and
// the little-endian uint64 at bytes [8i, 8i+8) when b > 32, reduced mod 2^b.
func (g *maskGen) Expand(dst []uint64, seed [32]byte, bits int) {
	clear(dst)
	g.add(dst, seed, bits, false)
	m := wordMask(bits)
	for i := range dst {
		dst[i] &= m
	}
}

// add adds (neg=false) or subtracts (neg=true) the mask of seed to acc,
// modulo 2^64. Since 2^b divides 2^64, reducing the accumulator mod 2^b at
// the end gives the sum mod 2^b; the words are therefore added unreduced.
func (g *maskGen) add(acc []uint64, seed [32]byte, bits int, neg bool) {
	blk, err := aes.NewCipher(seed[:])
	if err != nil {
		panic("secagg: aes: " + err.Error())
	}
	ctr := cipher.NewCTR(blk, g.iv[:])
	wb := 4
	if bits > 32 {
		wb = 8
	}
	per := len(g.buf) / wb
	for len(acc) > 0 {
		n := min(per, len(acc))
		ks := g.buf[:n*wb]
		ctr.XORKeyStream(ks, zeroChunk[:n*wb])
		if wb == 4 {
			add32(acc[:n], ks, neg)
		} else {
			add64(acc[:n], ks, neg)
		}
		acc = acc[n:]
	}
}

// wordMask returns 2^b - 1.
func wordMask(bits int) uint64 {
	if bits >= 64 {
		return ^uint64(0)
	}
	return 1<<uint(bits) - 1
}

// Pack appends the bit-packed encoding of v (each value taken mod 2^b) to
// dst: value i occupies bits [i·b, (i+1)·b) of the output, least significant
// bit first, bytes in little-endian order; the last byte is zero-padded.
// The output has ⌈len(v)·b/8⌉ bytes.
func Pack(dst []byte, v []uint64, bits int) []byte {
	m := wordMask(bits)
	switch bits {
	case 8:
		for _, x := range v {
			dst = append(dst, byte(x))
		}
		return dst
	case 16:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint16(dst, uint16(x))
		}
		return dst
	case 32:
		start := len(dst)
		dst = slices.Grow(dst, 4*len(v))[:start+4*len(v)]
		out := dst[start:]
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
		}
		return dst
	case 64:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint64(dst, x)
		}
		return dst
	}
	var acc uint64 // pending bits, LSB first
	n := 0         // number of pending bits (< 8 between values)
	for _, x := range v {
		x &= m
		// Emit in two parts so that acc never holds more than 64 bits.
		lo := min(bits, 64-n)
		acc |= (x & wordMask(lo)) << uint(n)
		n += lo
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
		if lo < bits {
			acc |= (x >> uint(lo)) << uint(n)
			n += bits - lo
			for n >= 8 {
				dst = append(dst, byte(acc))
				acc >>= 8
				n -= 8
			}
		}
	}
	if n > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// PackedLen returns the length of Pack's output for d values of b bits.
func PackedLen(d, bits int) int { return (d*bits + 7) / 8 }

// unpackAdd adds the d packed b-bit values in src to acc (mod 2^64).
// len(src) must be PackedLen(len(acc), bits).
func unpackAdd(acc []uint64, src []byte, bits int) {
	if len(acc) == 0 {
		return
	}
	switch bits {
	case 32:
		_ = src[4*len(acc)-1]
		for i := range acc {
			acc[i] += uint64(binary.LittleEndian.Uint32(src[4*i:]))
		}
		return
	case 64:
		for i := range acc {
			acc[i] += binary.LittleEndian.Uint64(src[8*i:])
		}
		return
	case 16:
		for i := range acc {
			acc[i] += uint64(binary.LittleEndian.Uint16(src[2*i:]))
		}
		return
	case 8:
		for i := range acc {
			acc[i] += uint64(src[i])
		}
		return
	}
	m := wordMask(bits)
	bit := 0
	for i := range acc {
		// Gather up to 9 bytes covering bits [bit, bit+b).
		byteOff := bit >> 3
		shift := uint(bit & 7)
		var w uint64
		end := min(byteOff+9, len(src))
		var tmp [9]byte
		copy(tmp[:], src[byteOff:end])
		w = binary.LittleEndian.Uint64(tmp[:8]) >> shift
		if shift > 0 && bits+int(shift) > 64 {
			w |= uint64(tmp[8]) << (64 - shift)
		}
		acc[i] += w & m
		bit += bits
	}
}

// paddingClean reports whether the unused high bits of the last byte of a
// packed vector of d b-bit values are zero (a canonical encoding).
func paddingClean(src []byte, d, bits int) bool {
	used := (d * bits) % 8
	if used == 0 || len(src) == 0 {
		return true
	}
	return src[len(src)-1]>>uint(used) == 0
}

// add32 adds (or subtracts) the little-endian uint32 words of ks to a;
// len(ks) == 4·len(a). Two words are read per 8-byte load.
func add32(a []uint64, ks []byte, neg bool) {
	n := len(a) / 4
	body, tail := a[:4*n], a[4*n:]
	kb := ks[:16*n]
	if neg {
		for j := 0; j < n; j++ {
			w0 := binary.LittleEndian.Uint64(kb[16*j:])
			w1 := binary.LittleEndian.Uint64(kb[16*j+8:])
			q := body[4*j : 4*j+4 : 4*j+4]
			q[0] -= w0 & 0xFFFFFFFF
			q[1] -= w0 >> 32
			q[2] -= w1 & 0xFFFFFFFF
			q[3] -= w1 >> 32
		}
	} else {
		for j := 0; j < n; j++ {
			w0 := binary.LittleEndian.Uint64(kb[16*j:])
			w1 := binary.LittleEndian.Uint64(kb[16*j+8:])
			q := body[4*j : 4*j+4 : 4*j+4]
			q[0] += w0 & 0xFFFFFFFF
			q[1] += w0 >> 32
			q[2] += w1 & 0xFFFFFFFF
			q[3] += w1 >> 32
		}
	}
	kt := ks[16*n:]
	for i := range tail {
		w := uint64(binary.LittleEndian.Uint32(kt[4*i:]))
		if neg {
			tail[i] -= w
		} else {
			tail[i] += w
		}
	}
}

// add64 adds (or subtracts) the little-endian uint64 words of ks to a;
// len(ks) == 8·len(a).
func add64(a []uint64, ks []byte, neg bool) {
	ks = ks[:8*len(a)]
	if neg {
		for i := range a {
			a[i] -= binary.LittleEndian.Uint64(ks[8*i:])
		}
		return
	}
	for i := range a {
		a[i] += binary.LittleEndian.Uint64(ks[8*i:])
	}
}

// Lane accumulators (b ≤ 32). Word j of a lane accumulator holds
// coordinate 2j in its low 32 bits and coordinate 2j+1 in its high 32
// bits, so one 64-bit operation adds two coordinates mod 2^32 (SWAR); the
// mask keystream read as little-endian uint64 words has exactly this
// layout. For odd d the high lane of the last word is unused.
const laneHigh = 0x8000000080000000

// laneAdd adds the two 32-bit lanes of a and b independently, mod 2^32.
func laneAdd(a, b uint64) uint64 { return ((a &^ laneHigh) + (b &^ laneHigh)) ^ ((a ^ b) & laneHigh) }

// laneSub subtracts the two 32-bit lanes of b from those of a, mod 2^32.
func laneSub(a, b uint64) uint64 { return ((a | laneHigh) - (b &^ laneHigh)) ^ ((a ^ ^b) & laneHigh) }

// laneLen is the number of lane words for d coordinates.
func laneLen(d int) int { return (d + 1) / 2 }

// addLanes adds (or subtracts) the mask of seed to the lane accumulator acc.
func (g *maskGen) addLanes(acc []uint64, seed [32]byte, neg bool) {
	blk, err := aes.NewCipher(seed[:])
	if err != nil {
		panic("secagg: aes: " + err.Error())
	}
	ctr := cipher.NewCTR(blk, g.iv[:])
	per := len(g.buf) / 8
	for len(acc) > 0 {
		n := min(per, len(acc))
		ks := g.buf[:8*n]
		ctr.XORKeyStream(ks, zeroChunk[:8*n])
		if neg {
			subLanes(acc[:n], ks)
		} else {
			addLanes(acc[:n], ks)
		}
		acc = acc[n:]
	}
}

// lanesFrom writes the values v (each < 2^32) into the lane accumulator acc.
func lanesFrom(acc []uint64, v []uint64) {
	for j := range acc {
		w := v[2*j]
		if 2*j+1 < len(v) {
			w |= v[2*j+1] << 32
		}
		acc[j] = w
	}
}

// lanesTo writes the d coordinates of acc, reduced mod 2^b, to dst[:d].
func lanesTo(dst []uint64, acc []uint64, bits int) {
	m := wordMask(bits)
	for i := range dst {
		dst[i] = acc[i/2] >> (32 * uint(i&1)) & m
	}
}

// packLanes appends the bit-packed encoding of the d coordinates of acc.
// tmp is a scratch buffer of d words used when b < 32.
func packLanes(dst []byte, acc []uint64, d, bits int, tmp []uint64) []byte {
	if bits == 32 {
		start := len(dst)
		dst = slices.Grow(dst, 4*d)[:start+4*d]
		out := dst[start:]
		for j := range d / 2 {
			binary.LittleEndian.PutUint64(out[8*j:], acc[j])
		}
		if d%2 == 1 {
			binary.LittleEndian.PutUint32(out[4*(d-1):], uint32(acc[d/2]))
		}
		return dst
	}
	lanesTo(tmp[:d], acc, bits)
	return Pack(dst, tmp[:d], bits)
}

// unpackAddLanes adds the d packed b-bit values in src (b ≤ 32) to the lane
// accumulator acc.
func unpackAddLanes(acc []uint64, src []byte, d, bits int, tmp []uint64) {
	if bits == 32 {
		for j := range d / 2 {
			acc[j] = laneAdd(acc[j], binary.LittleEndian.Uint64(src[8*j:]))
		}
		if d%2 == 1 {
			acc[d/2] = laneAdd(acc[d/2], uint64(binary.LittleEndian.Uint32(src[4*(d-1):])))
		}
		return
	}
	v := tmp[:d]
	clear(v)
	unpackAdd(v, src, bits)
	for j := range acc {
		w := v[2*j]
		if 2*j+1 < d {
			w |= v[2*j+1] << 32
		}
		acc[j] = laneAdd(acc[j], w)
	}
}

// addLanes adds the little-endian uint64 words of ks (len 8·len(a)) to the
// lane words of a, four words per iteration.
func addLanes(a []uint64, ks []byte) {
	n := len(a) &^ 3
	for i := 0; i < n; i += 4 {
		k := ks[8*i : 8*i+32 : 8*i+32]
		q := a[i : i+4 : i+4]
		q[0] = laneAdd(q[0], binary.LittleEndian.Uint64(k[0:8]))
		q[1] = laneAdd(q[1], binary.LittleEndian.Uint64(k[8:16]))
		q[2] = laneAdd(q[2], binary.LittleEndian.Uint64(k[16:24]))
		q[3] = laneAdd(q[3], binary.LittleEndian.Uint64(k[24:32]))
	}
	for i := n; i < len(a); i++ {
		a[i] = laneAdd(a[i], binary.LittleEndian.Uint64(ks[8*i:]))
	}
}

// subLanes subtracts the little-endian uint64 words of ks from the lane
// words of a.
func subLanes(a []uint64, ks []byte) {
	n := len(a) &^ 3
	for i := 0; i < n; i += 4 {
		k := ks[8*i : 8*i+32 : 8*i+32]
		q := a[i : i+4 : i+4]
		q[0] = laneSub(q[0], binary.LittleEndian.Uint64(k[0:8]))
		q[1] = laneSub(q[1], binary.LittleEndian.Uint64(k[8:16]))
		q[2] = laneSub(q[2], binary.LittleEndian.Uint64(k[16:24]))
		q[3] = laneSub(q[3], binary.LittleEndian.Uint64(k[24:32]))
	}
	for i := n; i < len(a); i++ {
		a[i] = laneSub(a[i], binary.LittleEndian.Uint64(ks[8*i:]))
	}
}

// maskChunk is the number of accumulator words addMasksAt adds from one
// seed before it moves on to the next seed (8 KiB of keystream): the chunk
// of the accumulator stays in L1 cache while every mask is added to it.
const maskChunk = 1024

// addMasksAt adds the masks of seeds to acc, subtracting those whose neg
// is set. acc holds words [off, off+len(acc)) of a longer accumulator, and
// accumulator word i takes keystream bytes [8i, 8i+8) of each mask: with
// lanes (b ≤ 32) they are the two 32-bit coordinates 2i and 2i+1 (see
// addLanes); otherwise (b > 32) one 64-bit coordinate (see add). The
// keystream is generated from AES-CTR counter block off/2, so calling
// addMasksAt on the pieces of an accumulator split at even offsets gives
// the same words as one call on the whole (and as addLanes or add with
// b > 32, seed by seed). buf is scratch space of at least
// 8·min(len(acc), maskChunk) bytes. It panics if off is odd or negative,
// or if len(neg) != len(seeds).
func addMasksAt(acc []uint64, off int, seeds [][32]byte, neg []bool, lanes bool, buf []byte) {
	if off < 0 || off%2 != 0 || len(neg) != len(seeds) {
		panic("secagg: addMasksAt: odd offset or length mismatch")
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/2))
	streams := make([]cipher.Stream, len(seeds))
	for i := range seeds {
		blk, err := aes.NewCipher(seeds[i][:])
		if err != nil {
			panic("secagg: aes: " + err.Error())
		}
		streams[i] = cipher.NewCTR(blk, iv[:])
	}
	for len(acc) > 0 {
		n := min(maskChunk, len(acc))
		a, ks := acc[:n], buf[:8*n]
		for i, s := range streams {
			s.XORKeyStream(ks, zeroChunk[:8*n])
			switch {
			case lanes && neg[i]:
				subLanes(a, ks)
			case lanes:
				addLanes(a, ks)
			case neg[i]:
				sub64(a, ks)
			default:
				add64(a, ks, false)
			}
		}
		acc = acc[n:]
	}
}

// sub64 subtracts the little-endian uint64 words of ks (len 8·len(a))
// from a.
func sub64(a []uint64, ks []byte) { add64(a, ks, true) }
