package ddp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrState: a checkpointed state that is malformed or belongs to another
// configuration.
var ErrState = errors.New("ddp: bad privacy state")

// State format: "FGDD" | version u8 | SHA-256 fingerprint of every
// accounting-relevant parameter | releases u64 (little-endian).
const (
	stateMagic   = "FGDD"
	stateVersion = 1
	stateLen     = len(stateMagic) + 1 + sha256.Size + 8
)

// fingerprint hashes what the accounting depends on, so that a state is
// restored only into the same mechanism.
func (d *DDP) fingerprint() [sha256.Size]byte {
	c, p := &d.cfg, &d.p
	b := []byte("fedgo/privacy/ddp.DDP/v2")
	for _, x := range []float64{c.ClipNorm, c.TargetEpsilon, c.Delta, c.SampleRate, c.NoiseMultiplier,
		p.Gamma, p.Bound, p.L1, p.L2, p.Variance, d.expected} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	for _, n := range []int{int(c.Mechanism), p.Bits, c.Dim, c.Clients, c.Threshold, c.Colluders, c.Rounds,
		c.Population, int(c.Sampling), d.maxRounds} {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	return sha256.Sum256(b)
}

// MarshalBinary implements encoding.BinaryMarshaler for checkpoints: the
// releases accounted, bound to the configuration.
func (d *DDP) MarshalBinary() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := make([]byte, 0, stateLen)
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	fp := d.fingerprint()
	b = append(b, fp[:]...)
	return binary.LittleEndian.AppendUint64(b, uint64(d.steps)), nil
}

// UnmarshalBinary restores a state written by MarshalBinary. It returns an
// error wrapping [ErrState], leaving d unchanged, for a malformed state,
// one of another configuration, or more releases than the budget allows.
func (d *DDP) UnmarshalBinary(b []byte) error {
	if len(b) != stateLen || string(b[:len(stateMagic)]) != stateMagic || b[len(stateMagic)] != stateVersion {
		return fmt.Errorf("%w: %d bytes, not a ddp state", ErrState, len(b))
	}
	fp := d.fingerprint()
	if string(b[len(stateMagic)+1:len(stateMagic)+1+sha256.Size]) != string(fp[:]) {
		return fmt.Errorf("%w: the state belongs to a differently configured mechanism", ErrState)
	}
	steps := binary.LittleEndian.Uint64(b[stateLen-8:])
	if steps > maxBudgetRounds || d.maxRounds >= 0 && steps > uint64(d.maxRounds) {
		return fmt.Errorf("%w: %d releases accounted, the budget allows %d", ErrState, steps, d.maxRounds)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.steps, d.pending, d.epsSteps = int(steps), nil, -1
	return nil
}
