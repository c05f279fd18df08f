package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A Codec turns a float64 vector into a self-describing payload and back.
//
// Encode appends the payload for v to dst and returns the extended slice;
// it does not allocate when cap(dst)-len(dst) >= MaxEncodedLen(len(v)). It
// rejects a NaN or infinite coordinate with [ErrNonFinite], a value the wire
// format cannot represent with [ErrOverflow] and a vector longer than the
// codec's MaxLen with [ErrTooLarge]; on error the returned slice is dst.
//
// DecodedLen reads the header of src and returns the length of the vector
// it holds, after checking that src was written by this codec and that the
// length is at most MaxLen. Decode writes that vector to dst (all of it:
// sparse codecs zero the coordinates they did not send); it returns
// [ErrLength] when len(dst) differs from DecodedLen(src), and an error
// wrapping [ErrCorrupt], [ErrWrongCodec] or [ErrVersion] for a malformed
// payload. Decode never panics on any src and does not allocate once warm.
//
// MaxEncodedLen returns an upper bound on the size of any payload of a
// length-n vector that Decode accepts, to size buffers; it is not tight for
// the sparse codecs.
//
// Name returns the codec's name in the grammar of [Parse].
type Codec interface {
	Encode(dst []byte, v []float64) ([]byte, error)
	Decode(dst []float64, src []byte) error
	DecodedLen(src []byte) (int, error)
	MaxEncodedLen(n int) int
	Name() string
}

// Errors returned by the codecs. Errors about a payload wrap [ErrCorrupt],
// [ErrWrongCodec] or [ErrVersion] with detail; test them with errors.Is.
var (
	ErrNonFinite  = errors.New("compress: NaN or infinite value")
	ErrOverflow   = errors.New("compress: value out of the range of the wire format")
	ErrTooLarge   = errors.New("compress: vector longer than MaxLen")
	ErrLength     = errors.New("compress: destination length differs from the payload's")
	ErrCorrupt    = errors.New("compress: malformed payload")
	ErrWrongCodec = errors.New("compress: payload written by another codec")
	ErrVersion    = errors.New("compress: unsupported payload version")
	ErrConfig     = errors.New("compress: invalid configuration")
	ErrUnknown    = errors.New("compress: unknown codec name")
)

// DefaultMaxLen is the MaxLen used when a configuration leaves it zero:
// 1<<26 coordinates, a 512 MiB float64 vector.
const DefaultMaxLen = 1 << 26

// maxWireLen is the largest length the 32-bit length field can carry.
const maxWireLen = math.MaxUint32

// magic is the first byte of every payload.
const magic = 0xFE

// version is the wire-format version written by every codec of this package.
const version = 1

// HeaderSize is the size in bytes of the header that starts every payload.
const HeaderSize = 7

// A CodecID names a wire format; it is the second byte of every payload.
type CodecID uint8

// Codec identifiers. Their values are part of the wire format.
const (
	IDFloat64  CodecID = 1
	IDFloat32  CodecID = 2
	IDFloat16  CodecID = 3
	IDBFloat16 CodecID = 4
	IDInt8     CodecID = 5
	IDQSGD     CodecID = 6
	IDTopK     CodecID = 7
	IDRandK    CodecID = 8
	IDSign     CodecID = 9
	IDChain    CodecID = 16
)

var idNames = map[CodecID]string{
	IDFloat64: "float64", IDFloat32: "float32", IDFloat16: "float16",
	IDBFloat16: "bfloat16", IDInt8: "int8", IDQSGD: "qsgd", IDTopK: "topk",
	IDRandK: "randk", IDSign: "sign", IDChain: "chain",
}

func (id CodecID) String() string {
	if s, ok := idNames[id]; ok {
		return s
	}
	return fmt.Sprintf("CodecID(%d)", uint8(id))
}

// A Header is the fixed prefix of every payload: magic byte 0xFE, codec id,
// version, and the vector length as a little-endian uint32.
type Header struct {
	ID      CodecID
	Version uint8
	Len     int
}

// ReadHeader parses the header at the start of src. It checks only the magic
// byte and the size; [Codec.DecodedLen] also checks the codec, the version
// and the codec's MaxLen.
func ReadHeader(src []byte) (Header, error) {
	if len(src) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorrupt, len(src))
	}
	if src[0] != magic {
		return Header{}, fmt.Errorf("%w: bad magic byte %#x", ErrCorrupt, src[0])
	}
	return Header{
		ID:      CodecID(src[1]),
		Version: src[2],
		Len:     int(binary.LittleEndian.Uint32(src[3:7])),
	}, nil
}

// appendHeader appends the header of a length-n payload of codec id.
func appendHeader(dst []byte, id CodecID, n int) []byte {
	dst = append(dst, magic, byte(id), version)
	return binary.LittleEndian.AppendUint32(dst, uint32(n))
}

// checkHeader parses src's header for codec id and returns the vector
// length and the body that follows the header.
func checkHeader(src []byte, id CodecID, maxLen int) (int, []byte, error) {
	h, err := ReadHeader(src)
	if err != nil {
		return 0, nil, err
	}
	if h.ID != id {
		return 0, nil, fmt.Errorf("%w: payload of %v given to %v", ErrWrongCodec, h.ID, id)
	}
	if h.Version != version {
		return 0, nil, fmt.Errorf("%w: %v version %d", ErrVersion, id, h.Version)
	}
	if h.Len > maxLen {
		return 0, nil, fmt.Errorf("%w: payload declares %d coordinates, MaxLen is %d", ErrTooLarge, h.Len, maxLen)
	}
	return h.Len, src[HeaderSize:], nil
}

// startDecode checks src's header and that len(dst) matches it.
func startDecode(dst []float64, src []byte, id CodecID, maxLen int) ([]byte, error) {
	n, body, err := checkHeader(src, id, maxLen)
	if err != nil {
		return nil, err
	}
	if n != len(dst) {
		return nil, fmt.Errorf("%w: payload has %d coordinates, dst %d", ErrLength, n, len(dst))
	}
	return body, nil
}

// resolveMaxLen maps a configured MaxLen to the one in force.
func resolveMaxLen(m int) int {
	if m <= 0 {
		return DefaultMaxLen
	}
	if m > maxWireLen {
		return maxWireLen
	}
	return m
}

// checkEncodeLen rejects a vector longer than maxLen.
func checkEncodeLen(n, maxLen int) error {
	if n > maxLen {
		return fmt.Errorf("%w: %d coordinates, MaxLen is %d", ErrTooLarge, n, maxLen)
	}
	return nil
}

// finiteAt returns the index of the first NaN or infinite value of v, or -1.
func finiteAt(v []float64) int {
	for i, x := range v {
		if math.Float64bits(x)&^signBit64 >= expMask64 {
			return i
		}
	}
	return -1
}

// nonFinite returns the error for the non-finite value v[i].
func nonFinite(v []float64, i int) error {
	return fmt.Errorf("%w: v[%d] = %v", ErrNonFinite, i, v[i])
}

// checkFinite returns an error naming the first NaN or infinite value of v.
func checkFinite(v []float64) error {
	if i := finiteAt(v); i >= 0 {
		return nonFinite(v, i)
	}
	return nil
}

const (
	signBit64 = 1 << 63
	expMask64 = 0x7FF << 52
)

// grow returns b with room for n more bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// uvarint reads a uvarint from b, rejecting values above max.
func uvarint(b []byte, max uint64, what string) (uint64, []byte, error) {
	x, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad uvarint for %s", ErrCorrupt, what)
	}
	if x > max {
		return 0, nil, fmt.Errorf("%w: %s = %d exceeds %d", ErrCorrupt, what, x, max)
	}
	return x, b[n:], nil
}

// readFloat64 reads a finite, non-negative float64 (a norm or a scale).
func readScale(b []byte, what string) (float64, error) {
	x := math.Float64frombits(binary.LittleEndian.Uint64(b))
	if !(x >= 0) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%w: %s = %v", ErrCorrupt, what, x)
	}
	return x, nil
}
