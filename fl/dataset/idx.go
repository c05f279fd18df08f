package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// DefaultMaxBytes is the input bound used when [Limits.MaxBytes] is zero:
// 1 GiB, well above the 47 MB of the Fashion-MNIST training images.
const DefaultMaxBytes = 1 << 30

// readChunk is the most a reader allocates ahead of the bytes it has
// actually received.
const readChunk = 1 << 20

// Limits bounds what a loader accepts from untrusted input.
type Limits struct {
	// MaxBytes bounds the decoded size of one input (after gzip
	// decompression, headers included); 0 means [DefaultMaxBytes].
	MaxBytes int64
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

// IDX is a decoded IDX file (the MNIST format of LeCun et al.): Dims
// lists the size of each dimension, outermost first, and Data holds the
// prod(Dims) unsigned bytes in row-major order.
type IDX struct {
	Dims []int
	Data []byte
}

// IDX element type codes (the third magic byte).
const (
	idxUint8   = 0x08
	idxInt8    = 0x09
	idxInt16   = 0x0B
	idxInt32   = 0x0C
	idxFloat32 = 0x0D
	idxFloat64 = 0x0E
)

// ReadIDX decodes one IDX file from r, plain or gzip-compressed (detected
// by the gzip magic bytes 1f 8b). Only the unsigned-byte element type
// (0x08) is supported; other valid types give [ErrUnsupported].
//
// Input is untrusted: the header is checked (two zero bytes, a known type,
// at least one dimension, no overflow) and the size it announces is
// compared with limits before anything is allocated, and data is then
// read in chunks, so a header that lies costs at most 1 MiB beyond the
// bytes actually present. Truncated data, trailing bytes and gzip
// checksum failures give errors wrapping [ErrMalformed]; sizes over the
// limit give [ErrTooLarge].
func ReadIDX(r io.Reader, limits Limits) (IDX, error) {
	return readIDX(r, limits, nil)
}

// readIDX is ReadIDX with an optional check of the total decoded size
// announced by the header, run before the data is read. When the check
// passes, the buffer is allocated at once instead of grown.
func readIDX(r io.Reader, limits Limits, checkSize func(total int64) error) (IDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return IDX{}, fmt.Errorf("%w: IDX: gzip header: %v", ErrMalformed, err)
		}
		defer zr.Close()
		src = zr
	}
	maxBytes := limits.maxBytes()
	var head [4]byte
	if _, err := io.ReadFull(src, head[:]); err != nil {
		return IDX{}, fmt.Errorf("%w: IDX: reading magic number: %v", ErrMalformed, err)
	}
	if head[0] != 0 || head[1] != 0 {
		return IDX{}, fmt.Errorf("%w: IDX: bad magic number % x (want 00 00 type ndims)", ErrMalformed, head)
	}
	elem := 0
	switch head[2] {
	case idxUint8, idxInt8:
		elem = 1
	case idxInt16:
		elem = 2
	case idxInt32, idxFloat32:
		elem = 4
	case idxFloat64:
		elem = 8
	default:
		return IDX{}, fmt.Errorf("%w: IDX: unknown element type 0x%02x", ErrMalformed, head[2])
	}
	ndims := int(head[3])
	if ndims == 0 {
		return IDX{}, fmt.Errorf("%w: IDX: zero dimensions", ErrMalformed)
	}
	headerLen := int64(4 + 4*ndims)
	if headerLen > maxBytes {
		return IDX{}, fmt.Errorf("%w: IDX: %d-byte header exceeds MaxBytes = %d", ErrTooLarge, headerLen, maxBytes)
	}
	raw := make([]byte, 4*ndims)
	if _, err := io.ReadFull(src, raw); err != nil {
		return IDX{}, fmt.Errorf("%w: IDX: reading %d dimensions: %v", ErrMalformed, ndims, err)
	}
	dims := make([]int, ndims)
	size := int64(elem)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(raw[4*i:]))
		dims[i] = int(d)
		if d != 0 && size > (math.MaxInt64-headerLen)/d {
			return IDX{}, fmt.Errorf("%w: IDX: dimensions %v overflow", ErrTooLarge, dims[:i+1])
		}
		size *= d
	}
	if headerLen+size > maxBytes {
		return IDX{}, fmt.Errorf("%w: IDX: dimensions %v need %d bytes, MaxBytes = %d", ErrTooLarge, dims, headerLen+size, maxBytes)
	}
	if checkSize != nil {
		if err := checkSize(headerLen + size); err != nil {
			return IDX{}, err
		}
	}
	if head[2] != idxUint8 {
		return IDX{}, fmt.Errorf("%w: IDX element type 0x%02x (only unsigned byte, 0x08)", ErrUnsupported, head[2])
	}
	var data []byte
	var err error
	if checkSize != nil {
		// The size agrees with the file (or gzip trailer) and the limit.
		data = make([]byte, size)
		_, err = io.ReadFull(src, data)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	} else {
		data, err = readN(src, size)
	}
	if err != nil {
		return IDX{}, fmt.Errorf("%w: IDX: dimensions %v need %d data bytes: %v", ErrMalformed, dims, size, err)
	}
	var one [1]byte
	switch n, err := src.Read(one[:]); {
	case n > 0:
		return IDX{}, fmt.Errorf("%w: IDX: trailing bytes after %d data bytes of dimensions %v", ErrMalformed, size, dims)
	case err == io.EOF:
	case err == nil: // a zero-length read without EOF: look once more
		if _, err := io.ReadFull(src, one[:]); err != io.EOF {
			return IDX{}, fmt.Errorf("%w: IDX: trailing bytes or read error after data: %v", ErrMalformed, err)
		}
	default:
		return IDX{}, fmt.Errorf("%w: IDX: after data: %v", ErrMalformed, err)
	}
	return IDX{Dims: dims, Data: data}, nil
}

// readN reads exactly n bytes, growing its buffer with the bytes received
// rather than trusting n.
func readN(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grow := min(n-int64(len(buf)), max(int64(len(buf)), readChunk))
			buf = slices.Grow(buf, int(grow))
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			if int64(len(buf)) < n {
				return nil, fmt.Errorf("truncated after %d bytes: %w", len(buf), io.ErrUnexpectedEOF)
			}
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// ReadIDXFile reads an IDX file from disk, plain or gzip. Beyond
// [ReadIDX]'s checks it compares the size announced by the header with
// the file size (plain files) or the gzip trailer's size field (gzip
// files, modulo 2³²) before allocating; when they agree it allocates the
// data buffer at once (at most limits.MaxBytes) instead of growing it.
func ReadIDXFile(path string, limits Limits) (IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return IDX{}, fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		return IDX{}, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return IDX{}, fmt.Errorf("dataset: %w", err)
	}
	fileSize := st.Size()
	var magic [2]byte
	isGzip := false
	if _, err := f.ReadAt(magic[:], 0); err == nil {
		isGzip = bytes.Equal(magic[:], []byte{0x1f, 0x8b})
	}
	var check func(int64) error
	switch {
	case isGzip && fileSize >= 18: // 10-byte header + 8-byte trailer
		var tail [4]byte
		if _, err := f.ReadAt(tail[:], fileSize-4); err != nil {
			return IDX{}, fmt.Errorf("%w: %s: reading gzip trailer: %v", ErrMalformed, path, err)
		}
		isize := binary.LittleEndian.Uint32(tail[:])
		check = func(total int64) error {
			if uint32(total) != isize {
				return fmt.Errorf("%w: %s: header announces %d bytes, gzip trailer says %d (mod 2³²)", ErrMalformed, path, total, isize)
			}
			return nil
		}
	case !isGzip:
		check = func(total int64) error {
			if total != fileSize {
				return fmt.Errorf("%w: %s: header announces %d bytes, file has %d", ErrMalformed, path, total, fileSize)
			}
			return nil
		}
	}
	idx, err := readIDX(f, limits, check)
	if err != nil {
		return IDX{}, fmt.Errorf("%s: %w", path, err)
	}
	return idx, nil
}

// LoadIDXDataset reads an IDX image file (n×…, unsigned bytes) and an IDX
// label file (n, unsigned bytes), plain or gzip, into a data set with
// pixels scaled to [0, 1] (byte/255), Dim the product of the image
// dimensions after the first, and Classes = max label + 1. It uses
// [DefaultMaxBytes] as the bound; errors wrap [ErrNotFound],
// [ErrMalformed], [ErrTooLarge] or [ErrInvalid] (counts that disagree).
func LoadIDXDataset(imagesPath, labelsPath string) (*Dataset, error) {
	return loadIDXDataset(imagesPath, labelsPath, 0)
}

// loadIDXDataset is LoadIDXDataset with a fixed class count (0 = max
// label + 1).
func loadIDXDataset(imagesPath, labelsPath string, classes int) (*Dataset, error) {
	labels, err := ReadIDXFile(labelsPath, Limits{})
	if err != nil {
		return nil, err
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("%w: %s: label file has dimensions %v, want one", ErrInvalid, labelsPath, labels.Dims)
	}
	images, err := ReadIDXFile(imagesPath, Limits{})
	if err != nil {
		return nil, err
	}
	n := images.Dims[0]
	if n != labels.Dims[0] {
		return nil, fmt.Errorf("%w: %s has %d images, %s has %d labels", ErrInvalid, imagesPath, n, labelsPath, labels.Dims[0])
	}
	dim := 1
	for _, d := range images.Dims[1:] {
		dim *= d // bounded: the product was checked against MaxBytes
	}
	if dim == 0 {
		return nil, fmt.Errorf("%w: %s: images have dimensions %v, zero features", ErrInvalid, imagesPath, images.Dims)
	}
	maxLabel := 0
	for _, y := range labels.Data {
		maxLabel = max(maxLabel, int(y))
	}
	if classes == 0 {
		classes = maxLabel + 1
	} else if maxLabel >= classes {
		return nil, fmt.Errorf("%w: %s: label %d, want < %d", ErrInvalid, labelsPath, maxLabel, classes)
	}
	d := &Dataset{X: make([]float64, len(images.Data)), Y: make([]int, n), Dim: dim, Classes: classes}
	for i, b := range images.Data {
		d.X[i] = float64(b) / 255
	}
	for i, y := range labels.Data {
		d.Y[i] = int(y)
	}
	return d, nil
}
