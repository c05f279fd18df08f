package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
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
		a := acc[:n]
		switch {
		case wb == 4 && !neg:
			for i := range a {
				a[i] += uint64(binary.LittleEndian.Uint32(ks[4*i:]))
			}
		case wb == 4:
			for i := range a {
				a[i] -= uint64(binary.LittleEndian.Uint32(ks[4*i:]))
			}
		case !neg:
			for i := range a {
				a[i] += binary.LittleEndian.Uint64(ks[8*i:])
			}
		default:
			for i := range a {
				a[i] -= binary.LittleEndian.Uint64(ks[8*i:])
			}
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
		dst = append(dst, make([]byte, 4*len(v))...)
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
