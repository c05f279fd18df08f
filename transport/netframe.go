package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/fedgo/fedgo/fl"
)

// Streaming frame, version 2 (the network transport's body format; see the
// package documentation, section "Wire format, version 2").
const (
	frameVersion  = 2
	frameZstd     = 1 << 0 // flag: the body after the 4-byte header is one zstd stream
	frameKnown    = frameZstd
	frameChunk    = 32 << 10 // bytes converted per step when streaming a vector
	frameGrowStep = 8 << 10  // values (64 KiB) allocated ahead of the data received, when no declared size covers a vector
	// frameMaxWindow bounds the zstd window a decoder accepts (and so its
	// memory), whatever the sender's frame header claims.
	frameMaxWindow = 8 << 20
)

// ErrFrameTooLarge is wrapped by the error WriteFrame returns for a message
// whose vector or payload exceeds the [Limits] it is written under, so
// that a sender learns of it before the receiver would refuse it.
var ErrFrameTooLarge = errors.New("transport: message exceeds the limits")

// FrameOptions configure [WriteFrame].
type FrameOptions struct {
	// Zstd compresses the body after the 4-byte header with zstd.
	Zstd bool
	// Level is the zstd encoder level; 0 means zstd.SpeedFastest.
	Level zstd.EncoderLevel
}

// FrameSize returns the number of bytes WriteFrame writes for m without
// compression.
func FrameSize(m *fl.Message) int64 {
	n := int64(4 + uvarintLen(uint64(len(m.Type))) + len(m.Type) + uvarintLen(uint64(max(m.Round, 0))) + 8)
	n += int64(uvarintLen(uint64(len(m.Params))) + uvarintLen(uint64(len(m.Payload))))
	for _, kv := range []map[string]float64{m.Config, m.Metrics} {
		n += int64(uvarintLen(uint64(len(kv))))
		for k := range kv {
			n += int64(uvarintLen(uint64(len(k))) + len(k) + 8)
		}
	}
	return n + 8*int64(len(m.Params)) + int64(len(m.Payload))
}

// frameHead appends the version-2 header and the fields before the vector
// (type, round, weight, lengths, config, metrics) to dst.
func frameHead(dst []byte, m *fl.Message, flags byte) []byte {
	dst = append(dst, wireMagic0, wireMagic1, frameVersion, flags)
	dst = appendString(dst, m.Type)
	dst = binary.AppendUvarint(dst, uint64(m.Round))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(m.Weight))
	dst = binary.AppendUvarint(dst, uint64(len(m.Params)))
	dst = binary.AppendUvarint(dst, uint64(len(m.Payload)))
	dst = appendMap(dst, m.Config)
	dst = appendMap(dst, m.Metrics)
	return dst
}

// AppendFrame appends the uncompressed version-2 frame of m to dst and
// returns the extended buffer. It panics if m.Round is negative.
func AppendFrame(dst []byte, m *fl.Message) []byte {
	if m.Round < 0 {
		panic("transport: negative round")
	}
	dst = slices.Grow(dst, int(FrameSize(m)))
	dst = frameHead(dst, m, 0)
	dst = appendFloats(dst, m.Params)
	return append(dst, m.Payload...)
}

// checkLimits reports whether m fits lim, so that a receiver with the same
// limits accepts it.
func checkLimits(m *fl.Message, lim Limits) error {
	lim = lim.withDefaults()
	switch {
	case m.Round < 0:
		return fmt.Errorf("%w: negative round %d", ErrFrameTooLarge, m.Round)
	case len(m.Params) > lim.MaxParams:
		return fmt.Errorf("%w: %d params, limit %d", ErrFrameTooLarge, len(m.Params), lim.MaxParams)
	case len(m.Payload) > lim.MaxPayload:
		return fmt.Errorf("%w: %d payload bytes, limit %d", ErrFrameTooLarge, len(m.Payload), lim.MaxPayload)
	case len(m.Type) > lim.MaxString:
		return fmt.Errorf("%w: type of %d bytes, limit %d", ErrFrameTooLarge, len(m.Type), lim.MaxString)
	case len(m.Config) > lim.MaxEntries || len(m.Metrics) > lim.MaxEntries:
		return fmt.Errorf("%w: more than %d config or metrics entries", ErrFrameTooLarge, lim.MaxEntries)
	}
	for _, kv := range []map[string]float64{m.Config, m.Metrics} {
		for k := range kv {
			if len(k) > lim.MaxString {
				return fmt.Errorf("%w: key of %d bytes, limit %d", ErrFrameTooLarge, len(k), lim.MaxString)
			}
		}
	}
	return nil
}

// WriteFrame writes the version-2 frame of m to w, streaming the vector in
// chunks of 32 KiB (it never holds a second copy of m.Params), and returns
// the number of bytes written to w. It returns an error wrapping
// ErrFrameTooLarge, before writing anything, if m does not fit lim.
func WriteFrame(w io.Writer, m *fl.Message, lim Limits, opt FrameOptions) (int64, error) {
	if err := checkLimits(m, lim); err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	var flags byte
	if opt.Zstd {
		flags = frameZstd
	}
	head := frameHead(make([]byte, 0, 256), m, flags)
	if _, err := cw.Write(head[:4]); err != nil {
		return cw.n, err
	}
	body := io.Writer(cw)
	var enc *zstd.Encoder
	if opt.Zstd {
		level := opt.Level
		if level == 0 {
			level = zstd.SpeedFastest
		}
		var err error
		enc, err = zstd.NewWriter(cw, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(level), zstd.WithWindowSize(zstdWindow(FrameSize(m))))
		if err != nil {
			return cw.n, fmt.Errorf("transport: zstd: %w", err)
		}
		body = enc
	}
	err := writeBody(body, head[4:], m)
	if enc != nil {
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
	}
	return cw.n, err
}

// writeBufs recycles the chunk buffers of WriteFrame.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, frameChunk); return &b }}

func writeBody(w io.Writer, head []byte, m *fl.Message) error {
	pb := writeBufs.Get().(*[]byte)
	defer writeBufs.Put(pb)
	buf := append((*pb)[:0], head...)
	defer func() { *pb = buf[:0] }()
	for i := 0; i < len(m.Params); {
		k := min((cap(buf)-len(buf))/8, len(m.Params)-i)
		if k == 0 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
			continue
		}
		buf = appendFloats(buf, m.Params[i:i+k])
		i += k
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if len(m.Payload) > 0 {
		if _, err := w.Write(m.Payload); err != nil {
			return err
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// maxHeadBytes bounds the encoded size of the fields before the vector
// under lim (all of which ReadFrame checks one by one as well).
func maxHeadBytes(lim Limits) int64 {
	perEntry := int64(binary.MaxVarintLen64 + lim.MaxString + 8)
	return 4 + 5*binary.MaxVarintLen64 + int64(lim.MaxString) + 8 + 2*(binary.MaxVarintLen64+int64(lim.MaxEntries)*perEntry)
}

// MaxFrameBytes returns the largest uncompressed frame a receiver with
// limits lim accepts. An HTTP server bounds request bodies by it.
func MaxFrameBytes(lim Limits) int64 {
	lim = lim.withDefaults()
	return maxHeadBytes(lim) + 8*int64(lim.MaxParams) + int64(lim.MaxPayload)
}

// zstdWindow returns the zstd window for a frame of size bytes: the
// smallest power of two that holds it, at least zstd's minimum and at most
// frameMaxWindow. A writer declares the window of its frame's size, and a
// reader accepts the window of its limits' largest frame, so that a
// decoder's memory follows the limits.
func zstdWindow(size int64) int {
	w := zstd.MinWindowSize
	for int64(w) < size && w < frameMaxWindow {
		w <<= 1
	}
	return w
}

// ReadFrame reads one version-2 frame from r, which must end right after
// it (r is read to io.EOF), and returns the message and the number of
// bytes read from r. Every length is checked against lim before anything
// is allocated, and vectors are allocated as their bytes arrive, so a
// sender that claims a large vector and sends few bytes costs little
// memory. A compressed body is decoded with a bounded zstd window. Every
// error for malformed input wraps ErrFrame; errors of r are returned as
// they are.
func ReadFrame(r io.Reader, lim Limits) (*fl.Message, int64, error) {
	return readFrame(r, lim, -1)
}

// bufReaders recycles the buffered readers of ReadFrame.
var bufReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, frameChunk) }}

// readFrame is ReadFrame with a hint: the number of bytes r is known to
// hold (they have arrived), or -1. An uncompressed frame's vector is then
// allocated at once if the hint covers it, instead of growing as its
// bytes arrive. A length that a peer declared is not a hint.
func readFrame(r io.Reader, lim Limits, hint int64) (*fl.Message, int64, error) {
	lim = lim.withDefaults()
	cr := &countReader{r: r}
	var hdr [4]byte
	if _, err := io.ReadFull(cr, hdr[:]); err != nil {
		return nil, cr.n, frameIOErr(err, "header")
	}
	if hdr[0] != wireMagic0 || hdr[1] != wireMagic1 {
		return nil, cr.n, fmt.Errorf("%w: bad magic", ErrFrame)
	}
	if hdr[2] != frameVersion {
		return nil, cr.n, fmt.Errorf("%w: version %d, want %d", ErrFrame, hdr[2], frameVersion)
	}
	if hdr[3]&^frameKnown != 0 {
		return nil, cr.n, fmt.Errorf("%w: unknown flags %#x", ErrFrame, hdr[3])
	}
	var body io.Reader = cr
	if hdr[3]&frameZstd != 0 {
		dec, err := zstd.NewReader(cr, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(uint64(zstdWindow(MaxFrameBytes(lim)))),
			zstd.WithDecoderMaxMemory(uint64(MaxFrameBytes(lim))))
		if err != nil {
			return nil, cr.n, fmt.Errorf("transport: zstd: %w", err)
		}
		defer dec.Close()
		body = &zstdErrReader{dec}
	}
	if hdr[3]&frameZstd != 0 {
		hint = -1
	} else if hint >= 0 {
		hint -= 4
	}
	br := bufReaders.Get().(*bufio.Reader)
	br.Reset(body)
	m, err := readBody(br, lim, hint)
	br.Reset(nil)
	bufReaders.Put(br)
	return m, cr.n, err
}

// zstdErrReader marks the decoder's errors (other than EOF) as malformed
// input.
type zstdErrReader struct{ d *zstd.Decoder }

func (z *zstdErrReader) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrFrame) {
		err = fmt.Errorf("%w: zstd: %w", ErrFrame, err)
	}
	return n, err
}

func frameIOErr(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s: truncated", ErrFrame, what)
	}
	return err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// frameReader reads the fields of a frame body, keeping the first error.
type frameReader struct {
	r    *bufio.Reader
	err  error
	hint int64 // bytes declared to remain, or -1
}

func (f *frameReader) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

func (f *frameReader) failf(format string, args ...any) {
	f.fail(fmt.Errorf("%w: "+format, append([]any{ErrFrame}, args...)...))
}

func (f *frameReader) uvarint(what string) uint64 {
	if f.err != nil {
		return 0
	}
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := f.r.ReadByte()
		if err != nil {
			f.fail(frameIOErr(err, what))
			return 0
		}
		if i == binary.MaxVarintLen64-1 && b > 1 {
			break
		}
		x |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return x
		}
	}
	f.failf("%s: varint overflows 64 bits", what)
	return 0
}

func (f *frameReader) bounded(limit int, what string) int {
	n := f.uvarint(what)
	if f.err == nil && n > uint64(limit) {
		f.failf("%s: %d exceeds the limit %d", what, n, limit)
		return 0
	}
	return int(n)
}

func (f *frameReader) full(p []byte, what string) {
	if f.err != nil {
		return
	}
	if _, err := io.ReadFull(f.r, p); err != nil {
		f.fail(frameIOErr(err, what))
	}
}

func (f *frameReader) str(limit int, what string) string {
	n := f.bounded(limit, what)
	if f.err != nil || n == 0 {
		return ""
	}
	b := make([]byte, n)
	f.full(b, what)
	return string(b)
}

func (f *frameReader) f64(what string) float64 {
	var b [8]byte
	f.full(b[:], what)
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
}

func (f *frameReader) kv(lim Limits, what string) map[string]float64 {
	n := f.bounded(lim.MaxEntries, what)
	if f.err != nil || n == 0 {
		return nil
	}
	out := make(map[string]float64, n)
	prev := ""
	for i := 0; i < n && f.err == nil; i++ {
		k := f.str(lim.MaxString, what+" key")
		v := f.f64(what + " value")
		if f.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			f.failf("%s: keys not in strictly increasing order at %q", what, k)
			return nil
		}
		prev = k
		out[k] = v
	}
	return out
}

func readBody(br *bufio.Reader, lim Limits, hint int64) (*fl.Message, error) {
	f := &frameReader{r: br, hint: hint}
	m := &fl.Message{}
	m.Type = f.str(lim.MaxString, "type")
	round := f.uvarint("round")
	if f.err == nil && round > math.MaxInt32 {
		f.failf("round %d out of range", round)
	}
	m.Round = int(round)
	m.Weight = f.f64("weight")
	np := f.bounded(lim.MaxParams, "params")
	npay := f.bounded(lim.MaxPayload, "payload")
	m.Config = fl.Config(f.kv(lim, "config"))
	m.Metrics = fl.Metrics(f.kv(lim, "metrics"))
	if f.err != nil {
		return nil, f.err
	}
	if np > 0 {
		m.Params = f.floats(np)
	}
	if npay > 0 {
		m.Payload = f.bytes(npay)
	}
	if f.err != nil {
		return nil, f.err
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, fmt.Errorf("%w: trailing bytes after the payload", ErrFrame)
	} else if err != io.EOF {
		return nil, frameIOErr(err, "end")
	}
	return m, nil
}

// floats reads n little-endian float64. When the declared size covers
// the vector, it is allocated at once; otherwise it is read in chunks of
// frameGrowStep values, allocated as their bytes arrive, and joined at
// the end (so the memory held never exceeds the bytes received by more
// than a chunk).
func (f *frameReader) floats(n int) []float64 {
	if f.hint >= 8*int64(n) || n <= frameGrowStep {
		return f.floatsInto(make([]float64, n))
	}
	var chunks [][]float64
	for left := n; left > 0 && f.err == nil; {
		c := f.floatsInto(make([]float64, min(left, frameGrowStep)))
		chunks = append(chunks, c)
		left -= len(c)
	}
	if f.err != nil {
		return nil
	}
	out := make([]float64, 0, n)
	for i, c := range chunks {
		out = append(out, c...)
		chunks[i] = nil
	}
	return out
}

// floatsInto fills dst with little-endian float64 from the frame.
func (f *frameReader) floatsInto(dst []float64) []float64 {
	for i := 0; i < len(dst) && f.err == nil; {
		k := min(len(dst)-i, f.r.Size()/8)
		b, err := f.r.Peek(8 * k)
		if len(b) < 8 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			f.fail(frameIOErr(err, "params"))
			return nil
		}
		k = len(b) / 8
		for j := range k {
			dst[i+j] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:]))
		}
		f.r.Discard(8 * k)
		i += k
	}
	return dst
}

// bytes reads n bytes, as floats reads values: at once when the declared
// size covers them, otherwise in chunks as they arrive.
func (f *frameReader) bytes(n int) []byte {
	if f.hint >= int64(n) || n <= 8*frameGrowStep {
		out := make([]byte, n)
		f.full(out, "payload")
		if f.err != nil {
			return nil
		}
		return out
	}
	var chunks [][]byte
	for left := n; left > 0 && f.err == nil; {
		c := make([]byte, min(left, 8*frameGrowStep))
		f.full(c, "payload")
		chunks = append(chunks, c)
		left -= len(c)
	}
	if f.err != nil {
		return nil
	}
	out := make([]byte, 0, n)
	for i, c := range chunks {
		out = append(out, c...)
		chunks[i] = nil
	}
	return out
}

// FrameReader is an io.Reader of the uncompressed version-2 frame of a
// message, produced as it is read: it holds 32 KiB of encoded bytes at a
// time, never a copy of the whole vector. The message must not change
// while it is read.
type FrameReader struct {
	head    []byte
	params  []float64
	payload []byte
	buf     []byte  // the rest of a value split across two reads
	scratch [8]byte // backs buf
}

// NewFrameReader returns a reader of the frame of m (FrameSize(m) bytes).
// It panics if m.Round is negative.
func NewFrameReader(m *fl.Message) *FrameReader {
	if m.Round < 0 {
		panic("transport: negative round")
	}
	return &FrameReader{head: frameHead(nil, m, 0), params: m.Params, payload: m.Payload}
}

// Read reads the next bytes of the frame.
func (r *FrameReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case len(r.head) > 0:
			k := copy(p[n:], r.head)
			r.head = r.head[k:]
			n += k
		case len(r.buf) > 0:
			k := copy(p[n:], r.buf)
			r.buf = r.buf[k:]
			n += k
		case len(r.params) > 0:
			if len(p)-n >= 8 {
				// Encode straight into p when it has room.
				k := min((len(p)-n)/8, len(r.params))
				for i, x := range r.params[:k] {
					binary.LittleEndian.PutUint64(p[n+8*i:], math.Float64bits(x))
				}
				r.params = r.params[k:]
				n += 8 * k
				continue
			}
			binary.LittleEndian.PutUint64(r.scratch[:], math.Float64bits(r.params[0]))
			r.buf = r.scratch[:]
			r.params = r.params[1:]
		case len(r.payload) > 0:
			k := copy(p[n:], r.payload)
			r.payload = r.payload[k:]
			n += k
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
	}
	return n, nil
}
