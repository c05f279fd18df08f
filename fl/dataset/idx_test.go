package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// encodeIDX writes an IDX file from the format's definition: 00 00 type
// ndims, then each dimension as a big-endian uint32, then the data.
func encodeIDX(typ byte, dims []int, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestReadIDXRoundTrip(t *testing.T) {
	for _, dims := range [][]int{{0}, {5}, {3, 4}, {2, 3, 4}, {1, 1, 1, 1, 1}} {
		n := 1
		for _, d := range dims {
			n *= d
		}
		raw := encodeIDX(0x08, dims, seq(n))
		for name, in := range map[string][]byte{"plain": raw, "gzip": gzipBytes(t, raw)} {
			got, err := ReadIDX(bytes.NewReader(in), Limits{})
			require.NoError(t, err, "%s %v", name, dims)
			require.Equal(t, dims, got.Dims)
			require.Equal(t, seq(n), got.Data)
		}
	}
}

func TestReadIDXRejects(t *testing.T) {
	valid := encodeIDX(0x08, []int{2, 3}, seq(6))
	for _, tc := range []struct {
		name   string
		in     []byte
		limits Limits
		want   error
	}{
		{"empty", nil, Limits{}, ErrMalformed},
		{"short magic", []byte{0, 0, 8}, Limits{}, ErrMalformed},
		{"bad magic", append([]byte{1}, valid[1:]...), Limits{}, ErrMalformed},
		{"unknown type", encodeIDX(0x07, []int{1}, []byte{1}), Limits{}, ErrMalformed},
		{"zero dims", []byte{0, 0, 8, 0}, Limits{}, ErrMalformed},
		{"truncated dims", valid[:9], Limits{}, ErrMalformed},
		{"truncated data", valid[:len(valid)-1], Limits{}, ErrMalformed},
		{"trailing byte", append(slicesClone(valid), 0), Limits{}, ErrMalformed},
		{"over MaxBytes", valid, Limits{MaxBytes: int64(len(valid) - 1)}, ErrTooLarge},
		{"huge dims", encodeIDX(0x08, []int{1 << 31, 1 << 31, 1 << 31}, nil), Limits{}, ErrTooLarge},
		{"overflow", encodeIDX(0x0E, []int{1<<32 - 1, 1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil), Limits{}, ErrTooLarge},
		{"float type", encodeIDX(0x0D, []int{2}, make([]byte, 8)), Limits{}, ErrUnsupported},
		{"gzip truncated", gzipBytes(t, valid)[:20], Limits{}, ErrMalformed},
		{"gzip bad header", []byte{0x1f, 0x8b, 0, 0}, Limits{}, ErrMalformed},
		{"gzip trailing", gzipBytes(t, append(slicesClone(valid), 9)), Limits{}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.in), tc.limits)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// A corrupted CRC-32 in the gzip trailer.
	z := gzipBytes(t, valid)
	z[len(z)-8] ^= 0xff
	_, err := ReadIDX(bytes.NewReader(z), Limits{})
	require.ErrorIs(t, err, ErrMalformed)
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestReadIDXLyingHeaderAllocatesLittle: a header announcing ~1 GiB over
// 16 bytes of data must fail after allocating about the 1 MiB chunk, not
// the announced size.
func TestReadIDXLyingHeaderAllocatesLittle(t *testing.T) {
	in := encodeIDX(0x08, []int{1 << 15, 1<<15 - 1}, seq(16))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadIDX(bytes.NewReader(in), Limits{})
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrMalformed)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20))
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestReadIDXFile(t *testing.T) {
	dir := t.TempDir()
	raw := encodeIDX(0x08, []int{4, 2}, seq(8))
	for _, p := range []string{writeFile(t, dir, "a", raw), writeFile(t, dir, "a.gz", gzipBytes(t, raw))} {
		got, err := ReadIDXFile(p, Limits{})
		require.NoError(t, err)
		require.Equal(t, []int{4, 2}, got.Dims)
		require.Equal(t, seq(8), got.Data)
	}
	// Header and file size disagree: rejected before the data is read.
	lie := encodeIDX(0x08, []int{4, 3}, seq(8))
	_, err := ReadIDXFile(writeFile(t, dir, "lie", lie), Limits{})
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "file has")
	// Gzip whose trailer size disagrees with the header.
	z := gzipBytes(t, raw)
	binary.LittleEndian.PutUint32(z[len(z)-4:], 9999)
	_, err = ReadIDXFile(writeFile(t, dir, "lie.gz", z), Limits{})
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "gzip trailer")

	_, err = ReadIDXFile(filepath.Join(dir, "missing"), Limits{})
	require.ErrorIs(t, err, ErrNotFound)
}

func TestLoadIDXDataset(t *testing.T) {
	dir := t.TempDir()
	pixels := []byte{0, 255, 51, 102, 153, 204, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	images := writeFile(t, dir, "img.gz", gzipBytes(t, encodeIDX(0x08, []int{3, 2, 3}, pixels)))
	labels := writeFile(t, dir, "lab", encodeIDX(0x08, []int{3}, []byte{4, 0, 2}))
	d, err := LoadIDXDataset(images, labels)
	require.NoError(t, err)
	require.NoError(t, d.Validate())
	require.Equal(t, 6, d.Dim)
	require.Equal(t, 5, d.Classes)
	require.Equal(t, []int{4, 0, 2}, d.Y)
	for i, p := range pixels {
		require.InDelta(t, float64(p)/255, d.X[i], 1e-15)
	}
	require.Equal(t, 1.0, d.X[1])
	require.InDelta(t, 0.2, d.X[2], 1e-15)

	short := writeFile(t, dir, "lab2", encodeIDX(0x08, []int{2}, []byte{1, 1}))
	_, err = LoadIDXDataset(images, short)
	require.ErrorIs(t, err, ErrInvalid)
	twoD := writeFile(t, dir, "lab3", encodeIDX(0x08, []int{3, 1}, []byte{1, 1, 1}))
	_, err = LoadIDXDataset(images, twoD)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = LoadIDXDataset(filepath.Join(dir, "nope"), labels)
	require.ErrorIs(t, err, ErrNotFound)
}

// writeFakeFashion writes a miniature Fashion-MNIST with the packaged file
// names: n training and m test images of 28×28; gz selects compression.
func writeFakeFashion(t *testing.T, dir string, n, m int, gz bool) {
	put := func(name string, b []byte) {
		if gz {
			writeFile(t, dir, name+".gz", gzipBytes(t, b))
		} else {
			writeFile(t, dir, name, b)
		}
	}
	lab := func(k int) []byte {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(i % 10)
		}
		return b
	}
	put(fashionTrainImages, encodeIDX(0x08, []int{n, 28, 28}, seq(n*784)))
	put(fashionTrainLabels, encodeIDX(0x08, []int{n}, lab(n)))
	put(fashionTestImages, encodeIDX(0x08, []int{m, 28, 28}, seq(m*784)))
	put(fashionTestLabels, encodeIDX(0x08, []int{m}, lab(m)))
}

func TestLoadFashionMNISTFiles(t *testing.T) {
	for _, gz := range []bool{true, false} {
		dir := t.TempDir()
		writeFakeFashion(t, dir, 12, 3, gz)
		train, test, err := LoadFashionMNIST(dir)
		require.NoError(t, err)
		require.Equal(t, 12, train.Len())
		require.Equal(t, 3, test.Len())
		require.Equal(t, 784, train.Dim)
		require.Equal(t, 10, train.Classes)
		require.Equal(t, 10, test.Classes, "Classes is 10 even when the test labels stop at 2")
	}
	dir := t.TempDir()
	_, _, err := LoadFashionMNIST(dir)
	require.ErrorIs(t, err, ErrNotFound)
	require.Contains(t, err.Error(), dir)
	require.Contains(t, err.Error(), "apt-get install dataset-fashion-mnist")
}

// fashionOrSkip loads the real Fashion-MNIST, skipping when it is absent,
// except under CI=true where absence is a failure.
func fashionOrSkip(tb testing.TB) (train, test *Dataset) {
	tb.Helper()
	train, test, err := LoadFashionMNIST("")
	if err != nil {
		if strings.EqualFold(os.Getenv("CI"), "true") {
			tb.Fatalf("Fashion-MNIST is required under CI=true: %v", err)
		}
		tb.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	return train, test
}

// TestFashionMNISTReal decodes the 70,000 real images (seconds of gunzip
// and conversion), so it runs under CI=true only; TestLoadFashionMNISTFiles
// covers the same loader on small files in every run.
func TestFashionMNISTReal(t *testing.T) {
	if testing.Short() || os.Getenv("CI") != "true" {
		t.Skip("long: decodes all of Fashion-MNIST; runs under CI=true (as .ci/run sets), not with -short")
	}
	train, test := fashionOrSkip(t)
	require.Equal(t, 60000, train.Len())
	require.Equal(t, 10000, test.Len())
	for _, d := range []*Dataset{train, test} {
		require.NoError(t, d.Validate())
		require.Equal(t, 784, d.Dim)
		require.Equal(t, 10, d.Classes)
		lo, hi := 1.0, 0.0
		for _, v := range d.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		require.Equal(t, 0.0, lo)
		require.Equal(t, 1.0, hi)
		// Fashion-MNIST is balanced: 6000 / 1000 images per class.
		counts := make([]int, 10)
		for _, y := range d.Y {
			counts[y]++
		}
		for _, c := range counts {
			require.Equal(t, d.Len()/10, c)
		}
	}
}
