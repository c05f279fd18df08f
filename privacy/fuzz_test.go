package privacy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// FuzzCentralDPUnmarshal feeds hostile bytes to UnmarshalBinary: it must
// never panic, must refuse with ErrState or accept, and an accepted state
// must marshal back to the same bytes (for a seeded mechanism whose
// generator state was restored).
func FuzzCentralDPUnmarshal(f *testing.F) {
	cfg := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Population: 10, SampleRate: 0.5, Random: seeded(1)}
	d, err := NewCentralDP(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := d.Aggregate(make([]float64, 2), []fl.Update{{Client: "a", Delta: []float64{1, 2}, Weight: 1}}); err != nil {
		f.Fatal(err)
	}
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Add(good[:stateFixed])
	f.Add(good[:len(good)-3])
	v2 := append([]byte(nil), good...)
	v2[len(stateMagic)] = stateVersionContinuous // the previous format: refused for the discrete mechanism
	f.Add(v2)
	for _, name := range []string{"central_state_v2_discrete.bin", "central_state_v2_gaussian.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("FGDP"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg.Random = seeded(1)
		d, err := NewCentralDP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		out, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > stateFixed && !bytes.Equal(out, b) {
			t.Fatalf("accepted state does not round-trip:\n in %x\nout %x", b, out)
		}
		if d.Rounds() < 0 || !(d.ClipNorm() > 0) {
			t.Fatalf("accepted state gives rounds %d, clip %v", d.Rounds(), d.ClipNorm())
		}
	})
}
