package fedround_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/fedgo/fedgo/secagg/fedround"
)

// fixedEncoding is a test Encoding: x ↦ round(x·1000) mod 2^bits per
// coordinate, plus one coordinate holding 1 (the count), so the encoded
// vector is one longer than the delta. It records the round ids it saw.
type fixedEncoding struct {
	bits int
	ids  chan [32]byte
}

func (e *fixedEncoding) Bits() int { return e.bits }
func (e *fixedEncoding) Len(d int) (int, error) {
	if d < 1 {
		return 0, errors.New("empty")
	}
	return d + 1, nil
}
func (e *fixedEncoding) Encode(dst []uint64, delta []float64, id [32]byte) error {
	mask := uint64(1)<<e.bits - 1
	for i, x := range delta {
		dst[i] = uint64(int64(math.Round(x*1000))) & mask
	}
	dst[len(delta)] = 1
	e.ids <- id
	return nil
}
func (e *fixedEncoding) Decode(dst []float64, sum []uint64, id [32]byte) error {
	mask := uint64(1)<<e.bits - 1
	for i := range dst {
		v := int64(sum[i] & mask)
		if v >= 1<<(e.bits-1) {
			v -= 1 << e.bits
		}
		dst[i] = float64(v) / 1000
	}
	if sum[len(dst)] == 0 {
		return fmt.Errorf("no count")
	}
	e.ids <- id
	return nil
}

// setEncoding gives every client of h the encoding enc.
func (h *harness) setEncoding(enc fedround.Encoding) {
	for id, c := range h.ccfg {
		c.Encoding = enc
		h.ccfg[id] = c
	}
}

// TestEncodingReplacesQuantizer: with an Encoding on both sides the round
// runs in its ring and length, the server decodes the exact sum of the
// encoded deltas (the mean of the rounded deltas), and client and server
// see the same round id.
func TestEncodingReplacesQuantizer(t *testing.T) {
	const n, dim = 5, 7
	h := newHarness(n, 41)
	enc := &fixedEncoding{bits: 24, ids: make(chan [32]byte, 2*n)}
	h.setEncoding(enc)
	cfg := fedround.Config{Clip: 1, Encoding: enc, Threshold: 3, Rand: seeded(4)}
	got, survivors, _, err := runRound(t, h, cfg, 1, dim)
	if err != nil || survivors != n {
		t.Fatalf("survivors %d, err %v", survivors, err)
	}
	want := make([]float64, dim)
	for i := range n {
		for j, x := range fakeDelta(i, dim) {
			want[j] += math.Round(x*1000) / 1000 / n
		}
	}
	assertClose(t, got, want, 1e-12)
	first := <-enc.ids
	for range n {
		if id := <-enc.ids; id != first {
			t.Fatal("client and server saw different round ids")
		}
	}
}

// TestEncodingWidthPolicy: a client with an Encoding refuses a round of
// another ring width (a server without the encoding, or with another).
func TestEncodingWidthPolicy(t *testing.T) {
	const n, dim = 4, 3
	h := newHarness(n, 42)
	enc := &fixedEncoding{bits: 24, ids: make(chan [32]byte, 4*n)}
	h.setEncoding(enc)
	_, survivors, stats, err := runRound(t, h, fedround.Config{Clip: 1, Bits: 32, Threshold: 3, Rand: seeded(5)}, 1, dim)
	if err == nil && survivors > 0 {
		t.Fatalf("a 32-bit round ran with %d survivors", survivors)
	}
	if stats.Failures["rejected"]+stats.Failures["error"] != n {
		t.Fatalf("failures %v", stats.Failures)
	}
	// Config refuses an Encoding with WeightCap, or Bits that disagree.
	for _, c := range []fedround.Config{{Clip: 1, Encoding: enc, WeightCap: 2}, {Clip: 1, Encoding: enc, Bits: 16}} {
		if _, err := fedround.New(c); !errors.Is(err, fedround.ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
