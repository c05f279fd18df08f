package compress

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// A Stage is a lossless byte-to-byte transform applied after a [Codec] by
// [Chain].
//
// Forward appends the transform of src to dst. Inverse appends the inverse
// transform of src to dst, and fails, without allocating more than limit
// bytes, when the result would exceed limit bytes. StageID identifies the
// transform on the wire and Name in the grammar of [Parse].
type Stage interface {
	Forward(dst, src []byte) ([]byte, error)
	Inverse(dst, src []byte, limit int) ([]byte, error)
	StageID() uint8
	Name() string
}

// StageZstd is the wire identifier of the [Zstd] stage.
const StageZstd uint8 = 1

// ZstdConfig configures a [Zstd] stage. Zero fields mean the default.
type ZstdConfig struct {
	// Level is the encoder level; 0 means zstd.SpeedDefault.
	Level zstd.EncoderLevel
	// MaxDecodedBytes bounds the size of any decoded frame, on top of the
	// per-payload bound the chain derives from the declared length; 0
	// means no bound beyond that one.
	MaxDecodedBytes int
}

// DefaultZstdConfig returns the default configuration.
func DefaultZstdConfig() ZstdConfig { return ZstdConfig{Level: zstd.SpeedDefault} }

// Validate reports whether the configuration is usable.
func (c ZstdConfig) Validate() error {
	if c.Level < 0 || c.Level > zstd.SpeedBestCompression {
		return fmt.Errorf("%w: ZstdConfig.Level = %d", ErrConfig, c.Level)
	}
	if c.MaxDecodedBytes < 0 {
		return fmt.Errorf("%w: ZstdConfig.MaxDecodedBytes = %d", ErrConfig, c.MaxDecodedBytes)
	}
	return nil
}

// Zstd is a lossless Zstandard stage (RFC 8878) built on
// github.com/klauspost/compress/zstd. It owns one encoder and one decoder,
// each limited to a single goroutine and used only through EncodeAll and
// DecodeAll, so it starts no goroutine. It is safe for concurrent use
// (calls are serialized on the encoder or decoder).
type Zstd struct {
	enc    *zstd.Encoder
	dec    *zstd.Decoder
	maxOut int
}

var _ Stage = (*Zstd)(nil)

// NewZstd returns a Zstd stage for cfg.
func NewZstd(cfg ZstdConfig) (*Zstd, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level := cfg.Level
	if level == 0 {
		level = zstd.SpeedDefault
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(level), zstd.WithZeroFrames(true), zstd.WithSingleSegment(true))
	if err != nil {
		return nil, fmt.Errorf("compress: zstd encoder: %w", err)
	}
	// DecodeAll writes into the caller's buffer, sized from the frame's
	// content size and bounded by the cap limit, so the window size does
	// not bound memory here; raise it past the 512 MiB default so that a
	// single-segment frame of a large vector (window = content) decodes.
	dopts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxWindow(1 << 36)}
	if cfg.MaxDecodedBytes > 0 {
		dopts = append(dopts, zstd.WithDecoderMaxMemory(uint64(cfg.MaxDecodedBytes)))
	}
	dec, err := zstd.NewReader(nil, dopts...)
	if err != nil {
		return nil, fmt.Errorf("compress: zstd decoder: %w", err)
	}
	return &Zstd{enc: enc, dec: dec, maxOut: cfg.MaxDecodedBytes}, nil
}

// Name implements [Stage].
func (*Zstd) Name() string { return "zstd" }

// StageID implements [Stage].
func (*Zstd) StageID() uint8 { return StageZstd }

// Forward implements [Stage]. It appends one single-segment zstd frame,
// which records its content size.
func (z *Zstd) Forward(dst, src []byte) ([]byte, error) {
	return z.enc.EncodeAll(src, dst), nil
}

// Inverse implements [Stage]. It requires the first frame to declare its
// content size (Forward writes one single-segment frame that does), rejects
// a size above limit before allocating, and decodes at most that many bytes
// in all.
func (z *Zstd) Inverse(dst, src []byte, limit int) ([]byte, error) {
	if z.maxOut > 0 {
		limit = min(limit, z.maxOut)
	}
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return dst, fmt.Errorf("%w: zstd header: %v", ErrCorrupt, err)
	}
	if !h.HasFCS {
		return dst, fmt.Errorf("%w: zstd frame without content size", ErrCorrupt)
	}
	if h.FrameContentSize > uint64(limit) {
		return dst, fmt.Errorf("%w: zstd frame declares %d bytes, limit %d", ErrCorrupt, h.FrameContentSize, limit)
	}
	want := int(h.FrameContentSize)
	// DecodeAll (with WithDecodeAllCapLimit) writes at most cap-len bytes.
	// Other frames may follow the first one; they too must fit.
	buf := grow(dst, want)
	buf = buf[: len(dst) : len(dst)+want]
	out, err := z.dec.DecodeAll(src, buf)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return dst, fmt.Errorf("%w: zstd output beyond %d bytes", ErrCorrupt, want)
		}
		return dst, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
	}
	return out, nil
}

// Chained is a [Codec] followed by a lossless [Stage]; see [Chain].
type Chained struct {
	c       Codec
	s       Stage
	scratch []byte
}

var _ Codec = (*Chained)(nil)

// Chain returns the codec that encodes with c and then applies s to the
// body of c's payload. Its payload is its own header (codec id
// [IDChain]), the stage id, c's header in clear, then the transformed body
// of c's payload, so that DecodedLen checks c's codec and MaxLen without
// undoing the stage. Chained keeps scratch and is not safe for concurrent
// use; neither are c and s shared with other users.
func Chain(c Codec, s Stage) *Chained { return &Chained{c: c, s: s} }

// Name implements [Codec]: c's name followed by "+" and s's name.
func (ch *Chained) Name() string { return ch.c.Name() + "+" + ch.s.Name() }

// Codec returns the codec before the stage.
func (ch *Chained) Codec() Codec { return ch.c }

// MaxEncodedLen implements [Codec]. It assumes the stage expands its input
// by at most 1/128 plus 512 bytes, which holds for zstd.
func (ch *Chained) MaxEncodedLen(n int) int {
	m := ch.c.MaxEncodedLen(n)
	return HeaderSize + 1 + m + m/128 + 512
}

// DecodedLen implements [Codec].
func (ch *Chained) DecodedLen(src []byte) (int, error) {
	n, _, err := ch.parse(src)
	return n, err
}

func (ch *Chained) parse(src []byte) (int, []byte, error) {
	n, body, err := checkHeader(src, IDChain, maxWireLen)
	if err != nil {
		return 0, nil, err
	}
	if len(body) < 1+HeaderSize {
		return 0, nil, fmt.Errorf("%w: chain payload truncated", ErrCorrupt)
	}
	if body[0] != ch.s.StageID() {
		return 0, nil, fmt.Errorf("%w: chain stage %d, want %s (%d)", ErrWrongCodec, body[0], ch.s.Name(), ch.s.StageID())
	}
	m, err := ch.c.DecodedLen(body[1 : 1+HeaderSize])
	if err != nil {
		return 0, nil, err
	}
	if m != n {
		return 0, nil, fmt.Errorf("%w: chain length %d, inner length %d", ErrCorrupt, n, m)
	}
	return n, body[1:], nil
}

// Encode implements [Codec].
func (ch *Chained) Encode(dst []byte, v []float64) ([]byte, error) {
	inner, err := ch.c.Encode(ch.scratch[:0], v)
	if err != nil {
		return dst, err
	}
	ch.scratch = inner
	out := appendHeader(dst, IDChain, len(v))
	out = append(out, ch.s.StageID())
	out = append(out, inner[:HeaderSize]...)
	out, err = ch.s.Forward(out, inner[HeaderSize:])
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Decode implements [Codec].
func (ch *Chained) Decode(dst []float64, src []byte) error {
	n, body, err := ch.parse(src)
	if err != nil {
		return err
	}
	if n != len(dst) {
		return fmt.Errorf("%w: payload has %d coordinates, dst %d", ErrLength, n, len(dst))
	}
	limit := ch.c.MaxEncodedLen(n) - HeaderSize
	inner := append(ch.scratch[:0], body[:HeaderSize]...)
	inner, err = ch.s.Inverse(inner, body[HeaderSize:], limit)
	if err != nil {
		return err
	}
	ch.scratch = inner
	return ch.c.Decode(dst, inner)
}
