package fl

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrCheckpoint is returned for a checkpoint that is corrupt, truncated, of
// an unknown version, or that does not fit the server it is restored into.
var ErrCheckpoint = errors.New("fl: bad checkpoint")

// Checkpoint is the state a [Server] needs to resume: the round, the
// parameters, the optimizer's (and a stateful aggregator's) state, and the
// history. Sampling needs no state beyond Seed and Round: each round's
// sampler draws from a source seeded by (Seed, round).
type Checkpoint struct {
	Round      int
	Seed       uint64
	Aborted    int
	Params     []float64
	Optimizer  []byte
	Aggregator []byte
	History    History
}

// The checkpoint file format: the 8-byte magic, a little-endian uint32
// version, a uint64 body length, the body (encoding/gob of Checkpoint), and
// the SHA-256 of the body. A reader verifies the length against the file
// size and the checksum before it decodes anything.
const (
	checkpointMagic   = "FEDGOCKP"
	checkpointVersion = 1
	checkpointHeader  = len(checkpointMagic) + 4 + 8
)

// MaxCheckpointBytes bounds the size of a checkpoint file that
// ReadCheckpoint accepts.
const MaxCheckpointBytes = 1 << 34

// WriteCheckpoint saves cp to path atomically: it writes a temporary file
// in the same directory, syncs it, and renames it over path, so that path
// holds either the old or the new checkpoint, never a mix.
func WriteCheckpoint(path string, cp *Checkpoint) error {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(cp); err != nil {
		return fmt.Errorf("fl: encoding checkpoint: %w", err)
	}
	sum := sha256.Sum256(body.Bytes())
	buf := make([]byte, 0, checkpointHeader+body.Len()+len(sum))
	buf = append(buf, checkpointMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, checkpointVersion)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(body.Len()))
	buf = append(buf, body.Bytes()...)
	buf = append(buf, sum[:]...)

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fl: checkpoint: %w", err)
	}
	f, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("fl: checkpoint: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fl: checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; not all systems support it
		d.Close()
	}
	return nil
}

// ReadCheckpoint loads the checkpoint at path. A file that is truncated,
// corrupt, or of another version is refused with an error wrapping
// ErrCheckpoint; nothing is half-loaded.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fl: checkpoint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fl: checkpoint: %w", err)
	}
	if fi.Size() > MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrCheckpoint, path, fi.Size(), int64(MaxCheckpointBytes))
	}
	return decodeCheckpoint(f, fi.Size())
}

// decodeCheckpoint reads a checkpoint of size bytes from r.
func decodeCheckpoint(r io.Reader, size int64) (*Checkpoint, error) {
	var hdr [checkpointHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrCheckpoint, err)
	}
	if string(hdr[:len(checkpointMagic)]) != checkpointMagic {
		return nil, fmt.Errorf("%w: not a fedgo checkpoint (bad magic)", ErrCheckpoint)
	}
	if v := binary.LittleEndian.Uint32(hdr[len(checkpointMagic):]); v != checkpointVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCheckpoint, v, checkpointVersion)
	}
	n := binary.LittleEndian.Uint64(hdr[len(checkpointMagic)+4:])
	if want := uint64(size) - uint64(checkpointHeader) - sha256.Size; size < int64(checkpointHeader+sha256.Size) || n != want {
		return nil, fmt.Errorf("%w: body length %d disagrees with the file size %d (truncated?)", ErrCheckpoint, n, size)
	}
	body := make([]byte, n+sha256.Size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: body: %w", ErrCheckpoint, err)
	}
	sum := sha256.Sum256(body[:n])
	if subtle.ConstantTimeCompare(sum[:], body[n:]) != 1 {
		return nil, fmt.Errorf("%w: checksum mismatch (corrupt file)", ErrCheckpoint)
	}
	var cp Checkpoint
	if err := gob.NewDecoder(bytes.NewReader(body[:n])).Decode(&cp); err != nil {
		return nil, fmt.Errorf("%w: decoding: %w", ErrCheckpoint, err)
	}
	return &cp, nil
}
