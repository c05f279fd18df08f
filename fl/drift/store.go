package drift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/fedgo/fedgo/fl"
)

// ErrState is wrapped by the errors of a client state that does not fit:
// a stored vector of another length, or a malformed serialized store.
var ErrState = errors.New("drift: client state")

// Store keeps each client's own state vector between rounds (SCAFFOLD's
// control variate c_i, FedDyn's ∇L_k(θ_k)). The client runtime reads and
// writes it; in a simulation the engine checkpoints it (a [MemoryStore]
// in fl.ServerConfig.State), in a deployment each client keeps its own.
//
// Keys are chosen by the algorithms ("scaffold/" + client id, "feddyn/" +
// client id), so one store serves both.
type Store interface {
	// Load copies the state under key into dst and reports whether there
	// is one. It returns an error wrapping ErrState when the stored
	// vector's length is not len(dst).
	Load(key string, dst []float64) (bool, error)
	// Save stores a copy of v under key.
	Save(key string, v []float64) error
}

// MemoryStore is a [Store] in memory that holds state only for the keys
// that have been saved, and an [fl.Stateful], so that a simulation that
// puts it in fl.ServerConfig.State gets it back from a checkpoint.
// The zero value is empty and ready. It is safe for concurrent use.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string][]float64
}

var (
	_ Store       = (*MemoryStore)(nil)
	_ fl.Stateful = (*MemoryStore)(nil)
)

// Load implements [Store].
func (s *MemoryStore) Load(key string, dst []float64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return false, nil
	}
	if len(v) != len(dst) {
		return false, fmt.Errorf("%w: %q holds %d values, want %d", ErrState, key, len(v), len(dst))
	}
	copy(dst, v)
	return true, nil
}

// Save implements [Store].
func (s *MemoryStore) Save(key string, v []float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]float64{}
	}
	s.m[key] = append(s.m[key][:0], v...)
	return nil
}

// Len returns the number of keys that hold state.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// storeMagic starts a serialized MemoryStore (version 1).
const storeMagic = "DRFTST01"

// MarshalBinary returns the store's contents: the magic, a uint32 count,
// then for each key in sorted order a uint32 key length, the key, and the
// vector as a uint32 count and little-endian float64s.
func (s *MemoryStore) MarshalBinary() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := append([]byte(nil), storeMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = appendVector(b, s.m[k])
	}
	return b, nil
}

// UnmarshalBinary replaces the store's contents with those b encodes. It
// checks every length against the bytes that remain before it allocates,
// and refuses NaN and Inf, keys out of order or repeated, and trailing
// bytes, with an error
// wrapping ErrState; the store is unchanged on error.
func (s *MemoryStore) UnmarshalBinary(b []byte) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrState, fmt.Sprintf(format, a...))
	}
	if len(b) < len(storeMagic)+4 || string(b[:len(storeMagic)]) != storeMagic {
		return bad("not a serialized MemoryStore")
	}
	b = b[len(storeMagic):]
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b))/8 { // every entry takes at least 8 bytes
		return bad("%d entries in %d bytes", n, len(b))
	}
	m := make(map[string][]float64, n)
	var prev string
	for range n {
		if len(b) < 4 {
			return bad("truncated")
		}
		kl := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(kl) > uint64(len(b)) {
			return bad("key of %d bytes in %d", kl, len(b))
		}
		k := string(b[:kl])
		b = b[kl:]
		if _, dup := m[k]; dup || len(m) > 0 && k <= prev {
			return bad("key %q out of order or repeated", k)
		}
		prev = k
		if len(b) < 4 {
			return bad("truncated")
		}
		vl := binary.LittleEndian.Uint32(b)
		if uint64(vl) > uint64(len(b)-4)/8 {
			return bad("%d values in %d bytes", vl, len(b)-4)
		}
		end := 4 + 8*int(vl)
		v, err := decodeVector(nil, b[:end], int(vl))
		if err != nil {
			return bad("key %q: %v", k, err)
		}
		m[k] = v
		b = b[end:]
	}
	if len(b) != 0 {
		return bad("%d trailing bytes", len(b))
	}
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
	return nil
}

// finite reports whether every value of v is finite.
func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
