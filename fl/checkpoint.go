package fl

import (
	"bytes"
	"encoding"
	"slices"

	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"github.com/fedgo/fedgo/internal/vec"
	"io"
	"os"
	"path/filepath"
)

// ErrCheckpoint is returned for a checkpoint that is corrupt, truncated, of
// an unknown version, or that does not fit the server it is restored into.
var ErrCheckpoint = errors.New("fl: bad checkpoint")

// Checkpoint is the state a [Server] needs to resume: the round, the
// parameters, the state of every stateful part (optimizer, exchange and its
// aggregator, privacy accounting), and the history. Sampling needs no state
// beyond the key and the round: each round's sampler draws from a source
// keyed by (key, round). The key itself is never stored, only a
// fingerprint that tells whether a restoring server has the same one.
type Checkpoint struct {
	Round          int
	KeyFingerprint [32]byte
	Aborted        int
	Params         []float64
	// Parts holds the state of each stateful part by name (PartOptimizer,
	// PartExchange, PartPrivacy).
	Parts   map[string][]byte
	History History
}

// gobCheckpoint is Checkpoint without its methods, for encoding/gob.
type gobCheckpoint Checkpoint

// Names of the parts of a [Checkpoint]. A part is stateful when it
// implements encoding.BinaryMarshaler and encoding.BinaryUnmarshaler; an
// error from MarshalBinary fails the checkpoint, and a restore refuses a
// checkpoint that lacks the state of a stateful part (or holds state for a
// stateless one), so a resumed run never starts a part afresh silently.
const (
	PartOptimizer = "optimizer"
	PartExchange  = "exchange"
	PartPrivacy   = "privacy"
	// The host's parts (ServerConfig.State) are named "host/" + their
	// name.
)

// The checkpoint file format: the 8-byte magic, a little-endian uint32
// version, a uint64 body length, the body (encoding/gob of Checkpoint), and
// the SHA-256 of the body. A reader verifies the length against the file
// size and the checksum before it decodes anything.
const (
	checkpointMagic   = "FEDGOCKP"
	checkpointVersion = 2
	checkpointHeader  = len(checkpointMagic) + 4 + 8
)

// MaxCheckpointBytes bounds the size of a checkpoint file that
// ReadCheckpoint accepts.
const MaxCheckpointBytes = 1 << 34

// WriteCheckpoint saves cp to path atomically: it writes a temporary file
// in the same directory, syncs it, and renames it over path, so that path
// holds either the old or the new checkpoint, never a mix.
func WriteCheckpoint(path string, cp *Checkpoint) error {
	buf, err := cp.MarshalBinary()
	if err != nil {
		return err
	}

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

// MarshalBinary returns cp in the checkpoint file format.
func (cp *Checkpoint) MarshalBinary() ([]byte, error) {
	var body bytes.Buffer
	// gobCheckpoint has no methods: gob must not call MarshalBinary again.
	if err := gob.NewEncoder(&body).Encode((*gobCheckpoint)(cp)); err != nil {
		return nil, fmt.Errorf("fl: encoding checkpoint: %w", err)
	}
	sum := sha256.Sum256(body.Bytes())
	buf := make([]byte, 0, checkpointHeader+body.Len()+len(sum))
	buf = append(buf, checkpointMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, checkpointVersion)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(body.Len()))
	buf = append(buf, body.Bytes()...)
	return append(buf, sum[:]...), nil
}

// WriteTo writes cp to w in the checkpoint file format.
func (cp *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	b, err := cp.MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// ReadCheckpointFrom reads a checkpoint written by [Checkpoint.WriteTo]
// from r, and nothing after it. Memory grows with the bytes read, never
// with the length the header declares; a body over MaxCheckpointBytes is
// refused.
func ReadCheckpointFrom(r io.Reader) (*Checkpoint, error) {
	return decodeCheckpoint(r, -1)
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

// decodeCheckpoint reads a checkpoint of size bytes from r (-1: unknown).
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
	if size >= 0 {
		if want := uint64(size) - uint64(checkpointHeader) - sha256.Size; size < int64(checkpointHeader+sha256.Size) || n != want {
			return nil, fmt.Errorf("%w: body length %d disagrees with the file size %d (truncated?)", ErrCheckpoint, n, size)
		}
	} else if n > MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrCheckpoint, n, int64(MaxCheckpointBytes))
	}
	body, err := io.ReadAll(io.LimitReader(r, int64(n)+sha256.Size))
	if err != nil {
		return nil, fmt.Errorf("%w: body: %w", ErrCheckpoint, err)
	}
	if uint64(len(body)) != n+sha256.Size {
		return nil, fmt.Errorf("%w: body: %d of %d bytes (truncated)", ErrCheckpoint, len(body), n+sha256.Size)
	}
	sum := sha256.Sum256(body[:n])
	if subtle.ConstantTimeCompare(sum[:], body[n:]) != 1 {
		return nil, fmt.Errorf("%w: checksum mismatch (corrupt file)", ErrCheckpoint)
	}
	var cp Checkpoint
	if err := gob.NewDecoder(bytes.NewReader(body[:n])).Decode((*gobCheckpoint)(&cp)); err != nil {
		return nil, fmt.Errorf("%w: decoding: %w", ErrCheckpoint, err)
	}
	return &cp, nil
}

// parts returns the server's parts that a checkpoint names.
func (s *Server) parts() map[string]any {
	m := map[string]any{PartOptimizer: s.opt, PartExchange: s.exchange}
	if s.cfg.Privacy != nil {
		m[PartPrivacy] = s.cfg.Privacy
	}
	for name, part := range s.cfg.State {
		m["host/"+name] = part
	}
	return m
}

// Checkpoint returns a snapshot of the server's state. It fails if a
// stateful part cannot marshal its state.
func (s *Server) Checkpoint() (*Checkpoint, error) {
	cp := &Checkpoint{
		Round:          s.round,
		KeyFingerprint: s.keyFingerprint(),
		Aborted:        s.aborted,
		Params:         slices.Clone(s.params),
		Parts:          map[string][]byte{},
		History:        *s.history.Clone(),
	}
	for name, part := range s.parts() {
		m, ok := part.(encoding.BinaryMarshaler)
		if !ok {
			continue
		}
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("fl: checkpoint of the %s: %w", name, err)
		}
		cp.Parts[name] = b
	}
	return cp, nil
}

// Restore sets the server's state from cp, which must come from a server
// with the same sampling key (when the key is fixed by the config), the
// same number of parameters, and the same stateful parts. The checks come
// first: nothing changes when one fails; an error from a part's own
// UnmarshalBinary leaves the server unusable.
func (s *Server) Restore(cp *Checkpoint) error {
	switch {
	case s.keyFixed && subtle.ConstantTimeCompare(cp.KeyFingerprint[:], fingerprint(s)) != 1:
		return fmt.Errorf("%w: the checkpoint was written with another sampling key (Seed or SamplingKey)", ErrCheckpoint)
	case len(cp.Params) != len(s.params):
		return fmt.Errorf("%w: checkpoint has %d parameters, server %d", ErrCheckpoint, len(cp.Params), len(s.params))
	case cp.Round < 0 || cp.Round != len(cp.History.Rounds):
		return fmt.Errorf("%w: round %d with %d rounds of history", ErrCheckpoint, cp.Round, len(cp.History.Rounds))
	case cp.Round > s.cfg.Rounds:
		return fmt.Errorf("%w: the checkpoint holds %d rounds, more than the %d this server runs (raise Rounds)", ErrCheckpoint, cp.Round, s.cfg.Rounds)
	case cp.Aborted < 0 || cp.Aborted > cp.Round:
		return fmt.Errorf("%w: %d aborted rounds after round %d", ErrCheckpoint, cp.Aborted, cp.Round)
	case vec.FirstNonFinite(cp.Params) >= 0:
		return fmt.Errorf("%w: parameters are not finite", ErrCheckpoint)
	}
	parts := s.parts()
	for name := range cp.Parts {
		if _, ok := parts[name]; !ok {
			return fmt.Errorf("%w: state for a %s, which this server does not have", ErrCheckpoint, name)
		}
	}
	// Check every part before changing any: unmarshal into the parts
	// only after all of them are known to have their state.
	for name, part := range parts {
		_, stateful := part.(encoding.BinaryUnmarshaler)
		b, has := cp.Parts[name]
		switch {
		case stateful && !has:
			return fmt.Errorf("%w: no state for the %s (%T), which has state: resuming would start it afresh", ErrCheckpoint, name, part)
		case !stateful && len(b) > 0:
			return fmt.Errorf("%w: state for the %s, but %T keeps none", ErrCheckpoint, name, part)
		}
	}
	if !s.keyFixed && cp.KeyFingerprint != s.keyFingerprint() {
		s.log.Info("restoring with a fresh random sampling key; later rounds sample anew")
	}
	for name, part := range parts {
		if u, ok := part.(encoding.BinaryUnmarshaler); ok {
			if err := u.UnmarshalBinary(cp.Parts[name]); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrCheckpoint, name, err)
			}
		}
	}
	copy(s.params, cp.Params)
	s.round = cp.Round
	s.aborted = cp.Aborted
	s.history = *cp.History.Clone()
	return nil
}

func fingerprint(s *Server) []byte {
	f := s.keyFingerprint()
	return f[:]
}
