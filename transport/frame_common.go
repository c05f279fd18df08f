package transport

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrFrame is wrapped by every error that ReadFrame returns for bytes
// that are not a well-formed message within the limits.
var ErrFrame = errors.New("transport: malformed message")

// The magic bytes that start every frame ("FG").
const (
	wireMagic0 = 'F'
	wireMagic1 = 'G'
)

// Limits bound what a decoder accepts from untrusted bytes.
type Limits struct {
	MaxParams  int // float64 values in Params; 0 means 1<<28
	MaxPayload int // bytes of Payload; 0 means 1<<31 - 1
	MaxEntries int // entries in Config or Metrics; 0 means 1024
	MaxString  int // bytes of the type or a key; 0 means 256
}

// LimitsFor returns the limits for a model of dim parameters trained by
// up to clients clients a round: a vector of at most dim values, a
// payload of at most 16·dim + 1024·clients + 64 KiB bytes (room for every
// codec of package compress, whose largest encoding takes 9 bytes a
// value, and for a secure-aggregation message with a share or a key per
// client), at most 256 config or metrics entries and strings of at most
// 128 bytes. A 610-parameter model with 10 clients accepts frames of at
// most [MaxFrameBytes] ≈ 160 KB, not the defaults' 4 GB. It panics if dim
// or clients is negative.
func LimitsFor(dim, clients int) Limits {
	if dim < 0 || clients < 0 {
		panic("transport: negative dimension or client count")
	}
	return Limits{
		MaxParams:  max(dim, 1),
		MaxPayload: 16*dim + 1024*clients + 64<<10,
		MaxEntries: 256,
		MaxString:  128,
	}
}

func (l Limits) withDefaults() Limits {
	if l.MaxParams <= 0 {
		l.MaxParams = 1 << 28
	}
	if l.MaxPayload <= 0 {
		l.MaxPayload = math.MaxInt32
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1024
	}
	if l.MaxString <= 0 {
		l.MaxString = 256
	}
	return l
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendFloats(dst []byte, v []float64) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, 8*len(v))...)
	b := dst[off:]
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return dst
}

func appendMap(dst []byte, kv map[string]float64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(kv)))
	if len(kv) == 0 {
		return dst
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(kv[k]))
	}
	return dst
}

// sortStrings is an insertion sort: maps on the wire are small.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
