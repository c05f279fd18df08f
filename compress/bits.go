package compress

// bitWriter packs fixed-width codes least-significant bit first into a
// preallocated byte slice.
type bitWriter struct {
	out   []byte
	pos   int
	acc   uint64
	nbits uint
}

// write appends the low w bits of x (w <= 32).
func (b *bitWriter) write(x uint64, w uint) {
	b.acc |= x << b.nbits
	b.nbits += w
	if b.nbits >= 32 {
		o := b.out[b.pos : b.pos+4]
		o[0], o[1], o[2], o[3] = byte(b.acc), byte(b.acc>>8), byte(b.acc>>16), byte(b.acc>>24)
		b.pos += 4
		b.acc >>= 32
		b.nbits -= 32
	}
}

// flush writes the pending bits, zero-padded to a whole byte.
func (b *bitWriter) flush() {
	for b.nbits > 0 {
		b.out[b.pos] = byte(b.acc)
		b.pos++
		b.acc >>= 8
		b.nbits -= min(b.nbits, 8)
	}
}

// bitReader reads fixed-width codes written by bitWriter. The caller checks
// that in holds enough bits.
type bitReader struct {
	in    []byte
	pos   int
	acc   uint64
	nbits uint
}

// read returns the next w bits (w <= 32).
func (b *bitReader) read(w uint) uint64 {
	for b.nbits < w {
		b.acc |= uint64(b.in[b.pos]) << b.nbits
		b.pos++
		b.nbits += 8
	}
	x := b.acc & (1<<w - 1)
	b.acc >>= w
	b.nbits -= w
	return x
}

// padZero reports whether the unread bits of the last byte are zero.
func (b *bitReader) padZero() bool { return b.acc == 0 }
