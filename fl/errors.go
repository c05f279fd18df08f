package fl

import (
	"errors"
	"fmt"
	"math"

	"github.com/fedgo/fedgo/internal/vec"
)

// Sentinel errors of fl. Other packages wrap them (with %w) rather than
// define their own copies, so that errors.Is finds them wherever they came
// from.
var (
	// ErrConfig is wrapped by every error about an invalid configuration
	// or an invalid composition of parts, here and in the other packages.
	ErrConfig = errors.New("fedgo: invalid configuration")

	ErrNoUpdates     = errors.New("fl: no updates to aggregate")
	ErrLength        = errors.New("fl: wrong vector length")
	ErrNotFinite     = errors.New("fl: value is NaN or Inf")
	ErrBadWeight     = errors.New("fl: weight is not finite and positive")
	ErrDuplicate     = errors.New("fl: duplicate update from one client")
	ErrAliased       = errors.New("fl: dst shares memory with an update")
	ErrUnknownClient = errors.New("fl: client is not in the round")
	ErrUnreachable   = errors.New("fl: client is registered but not reachable")
	ErrReply         = errors.New("fl: unexpected reply")
	ErrUnknownType   = errors.New("fl: unknown message type")
	// ErrTimeout may be returned (wrapped) by a Conn whose client did not
	// answer in time; the server counts it as a timeout.
	ErrTimeout = errors.New("fl: client timed out")

	ErrQuorum = errors.New("fl: rounds without quorum")
	ErrDone   = errors.New("fl: all rounds have run")
	// ErrBudget is wrapped by the error of a [Privacy] that refuses a
	// round because its budget would be exceeded.
	ErrBudget = errors.New("fl: privacy budget exhausted")
)

// ClientError is an error caused by one client: a rejected update, a failed
// or timed-out call. Step is the message exchange it happened in
// ([TypeTrain], [TypeEvaluate], or a protocol step such as
// "secagg/share-keys"); Err is one of the package's sentinel errors or the
// error the client or transport returned.
type ClientError struct {
	Client string
	Step   string
	Err    error
}

func (e *ClientError) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("client %q: %v", e.Client, e.Err)
	}
	return fmt.Sprintf("client %q, step %s: %v", e.Client, e.Step, e.Err)
}

// Unwrap returns e.Err.
func (e *ClientError) Unwrap() error { return e.Err }

// CheckUpdate reports whether u can be aggregated into a model of dim
// parameters: the right length, a finite positive weight, and no NaN or Inf.
// The error is a [*ClientError] naming u.Client.
func CheckUpdate(u *Update, dim int) error {
	if len(u.Delta) != dim {
		return &ClientError{Client: u.Client, Err: fmt.Errorf("%w: %d, want %d", ErrLength, len(u.Delta), dim)}
	}
	if !(u.Weight > 0) || math.IsInf(u.Weight, 0) {
		return &ClientError{Client: u.Client, Err: fmt.Errorf("%w: %v", ErrBadWeight, u.Weight)}
	}
	if i := vec.FirstNonFinite(u.Delta); i >= 0 {
		return &ClientError{Client: u.Client, Err: fmt.Errorf("%w: coordinate %d is %v", ErrNotFinite, i, u.Delta[i])}
	}
	return nil
}

// CheckDst reports an error wrapping [ErrAliased] if dst shares memory with
// the delta of one of updates: an aggregator writes dst while it still
// reads the updates, so aliasing would give a silently wrong result.
func CheckDst(dst []float64, updates []Update) error {
	for i := range updates {
		if vec.Overlap(dst, updates[i].Delta) {
			return &ClientError{Client: updates[i].Client, Err: fmt.Errorf("%w: update %d", ErrAliased, i)}
		}
	}
	return nil
}
