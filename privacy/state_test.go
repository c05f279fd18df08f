package privacy

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy/accountant"
)

// UnmarshalBinary validates the whole state: a checkpoint of a mechanism
// configured differently in any accounting-relevant field, or with
// impossible values, is refused and changes nothing.
func TestCentralDPStateFullyValidated(t *testing.T) {
	base := CentralConfig{ClipNorm: 1, NoiseMultiplier: 1, Delta: 1e-5, Population: 100, SampleRate: 0.1, Random: seeded(1)}
	d := mustCentral(t, base)
	if err := d.Aggregate(make([]float64, 2), []fl.Update{{Client: "a", Delta: []float64{1, 2}, Weight: 1}}); err != nil {
		t.Fatal(err)
	}
	state, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*CentralConfig){
		"population": func(c *CentralConfig) { c.Population = 200; c.SampleRate = 0.05 },
		"delta":      func(c *CentralConfig) { c.Delta = 1e-6 },
		"budget":     func(c *CentralConfig) { c.TargetEpsilon = 4 },
		"sampling":   func(c *CentralConfig) { c.Sampling = accountant.FixedSize },
		"accountant": func(c *CentralConfig) { c.Accountant, c.Mechanism = accountant.KindPLD, MechanismGaussian },
		"mechanism":  func(c *CentralConfig) { c.Mechanism = MechanismGaussian },
		"resolution": func(c *CentralConfig) { c.Resolution = 0x1p-20 },
		"clip":       func(c *CentralConfig) { c.ClipNorm = 2 },
		"weights":    func(c *CentralConfig) { c.WeightCap, c.TotalWeight = 10, 50 },
		"client":     func(c *CentralConfig) { c.ClientClipped = true },
		"adaptive":   func(c *CentralConfig) { c.Adaptive = true; c.CountNoise = 0.1 * 0.1 * 100 * 20 },
	} {
		c := base
		c.Random = seeded(1)
		mod(&c)
		other, err := NewCentralDP(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := other.UnmarshalBinary(state); !errors.Is(err, ErrState) {
			t.Errorf("%s differs: err = %v, want ErrState", name, err)
		}
		if other.Rounds() != 0 {
			t.Errorf("%s: a refused state changed the mechanism", name)
		}
	}
	// Impossible values in an otherwise matching state.
	off := len(stateMagic) + 1 + 16 + 32 // steps, clip, b̃ follow
	for name, edit := range map[string]func([]byte){
		"clip changed":    func(b []byte) { binary.LittleEndian.PutUint64(b[off+8:], math.Float64bits(0.5)) },
		"NaN fraction":    func(b []byte) { binary.LittleEndian.PutUint64(b[off+16:], math.Float64bits(math.NaN())) },
		"fingerprint":     func(b []byte) { b[off-1] ^= 1 },
		"generator state": func(b []byte) { b[stateFixed] ^= 0xff }, // its magic
	} {
		b := append([]byte(nil), state...)
		edit(b)
		fresh := mustCentral(t, base)
		if err := fresh.UnmarshalBinary(b); !errors.Is(err, ErrState) {
			t.Errorf("%s: err = %v, want ErrState", name, err)
		}
	}
	fresh := mustCentral(t, base)
	if err := fresh.UnmarshalBinary(state); err != nil || fresh.Rounds() != 1 {
		t.Errorf("the matching state: %v, rounds %d", err, fresh.Rounds())
	}
	// More rounds than the budget allows.
	base.TargetEpsilon = 4
	budgeted := mustCentral(t, base)
	b, _ := budgeted.MarshalBinary()
	binary.LittleEndian.PutUint64(b[off:], uint64(budgeted.MaxRounds()+1))
	if err := mustCentral(t, base).UnmarshalBinary(b); !errors.Is(err, ErrState) {
		t.Errorf("rounds beyond the budget: err = %v, want ErrState", err)
	}
}

// The budget is checked again at the release: a caller that skips
// Check (an exchange releasing twice) cannot overspend.
func TestCentralDPReleaseGate(t *testing.T) {
	const z, delta = 1.5, 1e-5
	step := gridStep(z, accountant.Poisson, 0.5, 0, 1<<10, 1)
	target := (rdpEpsilon(t, step, 2, delta) + rdpEpsilon(t, step, 3, delta)) / 2
	d := mustCentral(t, CentralConfig{ClipNorm: 1, NoiseMultiplier: z, TargetEpsilon: target, Delta: delta,
		Population: 10, SampleRate: 0.5, ClientClipped: true, Random: seeded(4)})
	ups := []fl.Update{{Client: "a", Delta: []float64{0.1}, Weight: 1}}
	for i := range 2 {
		if err := d.Aggregate(make([]float64, 1), ups); err != nil {
			t.Fatalf("release %d: %v", i+1, err)
		}
	}
	if err := d.Aggregate(make([]float64, 1), ups); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("third Aggregate: %v, want ErrBudgetExhausted", err)
	}
	if err := d.NoiseSum([]float64{0.1}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("NoiseSum past the budget: %v, want ErrBudgetExhausted", err)
	}
	if d.Rounds() != 2 {
		t.Errorf("%d releases accounted, want 2", d.Rounds())
	}
}
