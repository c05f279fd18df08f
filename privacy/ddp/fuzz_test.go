package ddp

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDecode: the server's decoder takes any sum mod 2^b (whatever the
// clients sent) to a finite vector, and refuses a wrong length with an
// error, never a panic.
func FuzzDecode(f *testing.F) {
	d, err := New(testConfig(DiscreteGaussian, 16, 5))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(make([]byte, 8*8), byte(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, byte(1))
	full := make([]byte, 8*8)
	for i := range full {
		full[i] = 0xff
	}
	f.Add(full, byte(2))
	f.Fuzz(func(t *testing.T, b []byte, id byte) {
		sum := make([]uint64, len(b)/8)
		for i := range sum {
			sum[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		dec := d.Exchange().Config().Encoding
		dst := make([]float64, 5)
		err := dec.Decode(dst, sum, [32]byte{id})
		if len(sum) != d.Params().Padded {
			if err == nil {
				t.Fatalf("a sum of %d values decoded", len(sum))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		lim := math.Ldexp(d.Params().Gamma, d.Params().Bits-1) * math.Sqrt(float64(len(sum)))
		for i, v := range dst {
			if math.IsNaN(v) || math.Abs(v) > lim {
				t.Fatalf("dst[%d] = %v beyond %v", i, v, lim)
			}
		}
	})
}
