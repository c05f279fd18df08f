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

// FuzzState: a checkpointed state decodes into a mechanism only if it is
// well formed, of this configuration and within the budget; a decoded
// state re-encodes to the same bytes; nothing panics.
func FuzzState(f *testing.F) {
	c := testConfig(DiscreteGaussian, 16, 5)
	c.NoiseMultiplier, c.TargetEpsilon, c.Rounds = 0, 4, 10
	d, err := New(c)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Add(good[:10])
	f.Add(append(append([]byte(nil), good[:len(good)-8]...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
	d2, _ := New(c) // one mechanism, reset to the good state (0 releases) before each input
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := d2.UnmarshalBinary(good); err != nil {
			t.Fatal(err)
		}
		if err := d2.UnmarshalBinary(b); err != nil {
			if d2.Rounds() != 0 {
				t.Fatal("a refused state changed the mechanism")
			}
			return
		}
		out, _ := d2.MarshalBinary()
		if string(out) != string(b) || d2.Rounds() > d2.MaxRounds() {
			t.Fatalf("state %x re-encodes as %x, %d releases of %d", b, out, d2.Rounds(), d2.MaxRounds())
		}
	})
}
