package drift_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

func storeBytes(t testing.TB, kv map[string][]float64) []byte {
	s := &drift.MemoryStore{}
	for k, v := range kv {
		s.Save(k, v)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzMemoryStore: any bytes either restore a store whose re-encoding is
// the same bytes, or fail with ErrState.
func FuzzMemoryStore(f *testing.F) {
	good := storeBytes(f, map[string][]float64{"scaffold/a": {1, 2}, "b": {}, "scaffold/c": {-3}})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte(nil), good...), 0))
	f.Add([]byte("DRFTST01\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &drift.MemoryStore{}
		if err := s.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, drift.ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		again, _ := s.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatal("round trip changed the bytes")
		}
	})
}

// FuzzScaffoldState: any bytes restore SCAFFOLD's c and FedDyn's h or
// fail with fl.ErrCheckpoint.
func FuzzScaffoldState(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range []fl.Stateful{&drift.Scaffold{Clients: 1}, &drift.FedDyn{Clients: 1, Alpha: 1}} {
			if err := s.UnmarshalBinary(b); err != nil {
				if !errors.Is(err, fl.ErrCheckpoint) {
					t.Fatalf("%T: error %v does not wrap fl.ErrCheckpoint", s, err)
				}
				continue
			}
			again, _ := s.MarshalBinary()
			if !bytes.Equal(again, b) {
				t.Fatalf("%T: round trip changed the bytes", s)
			}
		}
	})
}

func TestMemoryStoreRoundTrip(t *testing.T) {
	b := storeBytes(t, map[string][]float64{"x": {1, 2, 3}, "y": {4}})
	s := &drift.MemoryStore{}
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	if ok, err := s.Load("x", dst); !ok || err != nil || dst[2] != 3 {
		t.Fatalf("Load x = %v %v %v", dst, ok, err)
	}
	if _, err := s.Load("y", dst); !errors.Is(err, drift.ErrState) {
		t.Errorf("Load of a 1-value state into 3 values: %v, want ErrState", err)
	}
	if ok, _ := s.Load("z", dst); ok {
		t.Error("Load of a missing key reported state")
	}
	// A failed restore leaves the store as it was.
	if err := s.UnmarshalBinary(b[:len(b)-3]); err == nil {
		t.Fatal("truncated store accepted")
	}
	if s.Len() != 2 {
		t.Errorf("a failed restore changed the store: %d keys", s.Len())
	}
}

// FuzzScaffoldReply: a client's reply with hostile Params and Payload is
// either accepted, leaving a finite c, or rejected; never a panic.
func FuzzScaffoldReply(f *testing.F) {
	good := []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0}
	f.Add(good, 0.5, -0.25)
	f.Add(good[:12], 0.5, 0.0)
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, 1.0, 1.0)
	f.Add([]byte{}, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, payload []byte, a, b float64) {
		h := fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
			return &fl.Message{Type: drift.TypeScaffoldUpdate, Round: m.Round, Params: []float64{a, b}, Payload: payload}, nil
		})
		ex := &drift.Scaffold{Clients: 2}
		r := fl.NewRound(1, []float64{0, 0}, nil, []fl.Conn{conn{"x", h}}, nil)
		dst := make([]float64, 2)
		acc, err := ex.Run(context.Background(), r, dst)
		if err != nil {
			t.Fatal(err)
		}
		if acc == 1 {
			for _, v := range append(ex.Control(), dst...) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("accepted reply left %v", v)
				}
			}
		}
	})
}

// FuzzDirStoreFile: whatever a state file holds, Load returns state of
// the right length, no state, or an error; never a panic.
func FuzzDirStoreFile(f *testing.F) {
	dir := f.TempDir()
	s := drift.DirStore{Dir: dir}
	if err := s.Save("k", []float64{1, 2}); err != nil {
		f.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.state"))
	good, _ := os.ReadFile(files[0])
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(files[0], b, 0o600); err != nil {
			t.Fatal(err)
		}
		dst := make([]float64, 2)
		ok, err := s.Load("k", dst)
		if err != nil && !errors.Is(err, drift.ErrState) {
			t.Fatalf("error %v does not wrap ErrState", err)
		}
		if ok && (math.IsNaN(dst[0]) || math.IsNaN(dst[1])) {
			t.Fatal("loaded a NaN")
		}
	})
}
