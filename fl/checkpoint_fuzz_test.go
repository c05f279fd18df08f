package fl

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"math"
	"testing"
)

// FuzzDecodeCheckpoint feeds hostile bytes to the checkpoint reader, both
// as whole files and as bodies wrapped in a valid header and checksum, so
// that the gob decoding behind the checksum is exercised too. It must
// return a checkpoint or an error, never panic.
func FuzzDecodeCheckpoint(f *testing.F) {
	var good bytes.Buffer
	cp := &Checkpoint{Round: 2, KeyFingerprint: [32]byte{7}, Parts: map[string][]byte{PartOptimizer: {1}}, Params: []float64{1, math.NaN()}, History: History{Rounds: []RoundStats{{Round: 1}, {Round: 2}}}}
	if err := gob.NewEncoder(&good).Encode(cp); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes(), true)
	f.Add(good.Bytes()[:len(good.Bytes())/2], true)
	f.Add([]byte("FEDGOCKP\x01\x00\x00\x00"), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, b []byte, wrap bool) {
		if wrap {
			sum := sha256.Sum256(b)
			file := append([]byte(checkpointMagic), 1, 0, 0, 0)
			file = binary.LittleEndian.AppendUint64(file, uint64(len(b)))
			file = append(append(file, b...), sum[:]...)
			b = file
		}
		cp, err := decodeCheckpoint(bytes.NewReader(b), int64(len(b)))
		if err == nil && cp == nil {
			t.Fatal("nil checkpoint without an error")
		}
	})
}

// FuzzOptimizerState feeds hostile bytes to the optimizers' state decoders
// (they are read from checkpoints): an error or a usable optimizer, never a
// panic, and a decoded state survives a step and re-encodes.
func FuzzOptimizerState(f *testing.F) {
	a := NewFedAdam(0.1)
	a.Step([]float64{1, 2}, []float64{0.5, -0.5})
	good, _ := a.MarshalBinary()
	m := &FedAvgM{}
	m.Step([]float64{1}, []float64{1})
	goodM, _ := m.MarshalBinary()
	f.Add(good)
	f.Add(goodM)
	f.Add(good[:9])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, o := range []interface {
			ServerOptimizer
			UnmarshalBinary([]byte) error
			MarshalBinary() ([]byte, error)
		}{NewFedYogi(0.1), &FedAvgM{}} {
			if err := o.UnmarshalBinary(b); err != nil {
				continue
			}
			p := []float64{1, 2, 3}
			o.Step(p, []float64{0.1, 0.2, 0.3}) // a length change must re-initialise, not panic
			if _, err := o.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
