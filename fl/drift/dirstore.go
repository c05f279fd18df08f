package drift

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirStore is a [Store] in a directory, for a deployed client whose state
// must survive its restarts: each key is one file, named by the hex of the
// key (so no key reaches outside Dir), holding the vector and its SHA-256.
// Save writes a temporary file, syncs it and renames it over the old one,
// so a crash leaves the old state or the new, never a mix. Load refuses a
// file of the wrong length or checksum with an error wrapping ErrState.
//
// Concurrent calls for different keys are safe; for one key, the host
// serializes them (a client trains one round at a time).
type DirStore struct {
	Dir string // created on first Save with mode 0700
}

var _ Store = DirStore{}

func (s DirStore) path(key string) string {
	return filepath.Join(s.Dir, hex.EncodeToString([]byte(key))+".state")
}

// Load implements [Store].
func (s DirStore) Load(key string, dst []float64) (bool, error) {
	p := s.path(key)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	want := int64(4 + 8*len(dst) + sha256.Size)
	if fi.Size() != want {
		return false, fmt.Errorf("%w: %q: file of %d bytes, want %d", ErrState, key, fi.Size(), want)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false, err
	}
	if len(b) != int(want) {
		return false, fmt.Errorf("%w: %q: file of %d bytes, want %d", ErrState, key, len(b), want)
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return false, fmt.Errorf("%w: %q: checksum mismatch", ErrState, key)
	}
	if _, err := decodeVector(dst, body, len(dst)); err != nil {
		return false, fmt.Errorf("%w: %q: %w", ErrState, key, err)
	}
	return true, nil
}

// Save implements [Store].
func (s DirStore) Save(key string, v []float64) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	body := appendVector(nil, v)
	sum := sha256.Sum256(body)
	f, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if _, err := f.Write(append(body, sum[:]...)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), s.path(key))
}
