package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/fl"
)

// ErrFrame is wrapped by every error that DecodeMessage returns for bytes
// that are not a well-formed message within the limits.
var ErrFrame = errors.New("transport: malformed message")

// Wire format, version 1. A message is encoded as
//
//	magic    2 bytes  "FG"
//	version  1 byte   1
//	flags    1 byte   0 (reserved)
//	type     uvarint length, then that many bytes of UTF-8
//	round    uvarint
//	weight   8 bytes  IEEE 754 float64, little-endian
//	params   uvarint count n, then n float64 little-endian
//	payload  uvarint length, then that many bytes
//	config   uvarint count, then per entry: uvarint key length, key bytes, float64
//	metrics  as config
//
// Uvarints are those of encoding/binary (LEB128). Map entries are written
// in sorted key order, so a message has one encoding. Every count and
// length is checked against Limits and against the bytes that remain
// before anything is allocated.
const (
	wireMagic0  = 'F'
	wireMagic1  = 'G'
	wireVersion = 1
)

// Limits bound what a decoder accepts from untrusted bytes.
type Limits struct {
	MaxParams  int // float64 values in Params; 0 means 1<<28
	MaxPayload int // bytes of Payload; 0 means 1<<31 - 1
	MaxEntries int // entries in Config or Metrics; 0 means 1024
	MaxString  int // bytes of the type or a key; 0 means 256
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

// MessageSize returns len(AppendMessage(nil, m)) without encoding.
func MessageSize(m *fl.Message) int {
	n := 4 + uvarintLen(uint64(len(m.Type))) + len(m.Type) + uvarintLen(uint64(max(m.Round, 0))) + 8
	n += uvarintLen(uint64(len(m.Params))) + 8*len(m.Params)
	n += uvarintLen(uint64(len(m.Payload))) + len(m.Payload)
	for _, kv := range []map[string]float64{m.Config, m.Metrics} {
		n += uvarintLen(uint64(len(kv)))
		for k := range kv {
			n += uvarintLen(uint64(len(k))) + len(k) + 8
		}
	}
	return n
}

// AppendMessage appends the encoding of m to dst and returns the extended
// buffer. It panics if m.Round is negative.
func AppendMessage(dst []byte, m *fl.Message) []byte {
	if m.Round < 0 {
		panic("transport: negative round")
	}
	dst = append(dst, wireMagic0, wireMagic1, wireVersion, 0)
	dst = appendString(dst, m.Type)
	dst = binary.AppendUvarint(dst, uint64(m.Round))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(m.Weight))
	dst = binary.AppendUvarint(dst, uint64(len(m.Params)))
	dst = appendFloats(dst, m.Params)
	dst = binary.AppendUvarint(dst, uint64(len(m.Payload)))
	dst = append(dst, m.Payload...)
	dst = appendMap(dst, m.Config)
	dst = appendMap(dst, m.Metrics)
	return dst
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

// DecodeMessage decodes one message that fills src exactly. The result
// does not alias src.
func DecodeMessage(src []byte, lim Limits) (*fl.Message, error) {
	lim = lim.withDefaults()
	d := decoder{b: src}
	if len(src) < 4 || src[0] != wireMagic0 || src[1] != wireMagic1 {
		return nil, fmt.Errorf("%w: bad magic", ErrFrame)
	}
	if src[2] != wireVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrFrame, src[2], wireVersion)
	}
	if src[3] != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrFrame, src[3])
	}
	d.b = src[4:]
	m := &fl.Message{}
	m.Type = d.str(lim.MaxString, "type")
	round := d.uvarint("round")
	if round > math.MaxInt32 {
		d.fail("round %d out of range", round)
	}
	m.Round = int(round)
	m.Weight = math.Float64frombits(d.u64("weight"))
	if n := d.count(uint64(lim.MaxParams), 8, "params"); n > 0 {
		m.Params = make([]float64, n)
		raw := d.take(8*n, "params")
		for i := range m.Params {
			m.Params[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
	if n := d.count(uint64(lim.MaxPayload), 1, "payload"); n > 0 {
		m.Payload = append([]byte(nil), d.take(n, "payload")...)
	}
	m.Config = fl.Config(d.kv(lim, "config"))
	m.Metrics = fl.Metrics(d.kv(lim, "metrics"))
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// decoder reads from b, recording the first error; once it has failed, its
// reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrFrame}, args...)...)
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("%s: bad or truncated varint", what)
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) u64(what string) uint64 {
	b := d.take(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("%s: need %d bytes, have %d (truncated)", what, n, len(d.b))
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

// count reads a count of elements of size bytes each, bounded by limit and
// by the bytes that remain.
func (d *decoder) count(limit uint64, size int, what string) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > limit {
		d.fail("%s: %d exceeds the limit %d", what, n, limit)
		return 0
	}
	if n > uint64(len(d.b)/size) {
		d.fail("%s: %d elements but only %d bytes left (truncated)", what, n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) str(limit int, what string) string {
	n := d.count(uint64(limit), 1, what)
	return string(d.take(n, what))
}

func (d *decoder) kv(lim Limits, what string) map[string]float64 {
	// Each entry takes at least 9 bytes (a 1-byte key length and a value).
	n := d.count(uint64(lim.MaxEntries), 9, what)
	if n == 0 {
		return nil
	}
	out := make(map[string]float64, n)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		k := d.str(lim.MaxString, what+" key")
		v := math.Float64frombits(d.u64(what + " value"))
		if d.err != nil {
			break
		}
		if i > 0 && k <= prev {
			d.fail("%s: keys not in strictly increasing order at %q", what, k)
			break
		}
		prev = k
		out[k] = v
	}
	return out
}
