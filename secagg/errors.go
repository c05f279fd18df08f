package secagg

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors about one client's message are wrapped in a
// [*ClientError] that names the client; test them with errors.Is.
var (
	// ErrBelowThreshold: fewer than t clients (or shares) remain; the round
	// fails and nothing about any input is revealed.
	ErrBelowThreshold = errors.New("secagg: below threshold")
	// ErrParams: the parameters break a rule (see [Params.Validate]).
	ErrParams = errors.New("secagg: invalid parameters")
	// ErrPhase: a call or message arrived in the wrong step of the protocol.
	ErrPhase = errors.New("secagg: wrong protocol step")
	// ErrSession: a message carries another round's or session's id.
	ErrSession = errors.New("secagg: wrong round or session")
	// ErrUnknownClient: the sender is not a participant of this step.
	ErrUnknownClient = errors.New("secagg: unknown client")
	// ErrDuplicate: a client sent the same step twice.
	ErrDuplicate = errors.New("secagg: duplicate message")
	// ErrLength: a vector or list has the wrong length.
	ErrLength = errors.New("secagg: wrong length")
	// ErrRange: an input coordinate is not in Z_{2^b}, or a quantizer
	// argument is out of range (NaN, Inf, non-positive clip).
	ErrRange = errors.New("secagg: value out of range")
	// ErrDecode: bytes that do not decode as the expected message.
	ErrDecode = errors.New("secagg: malformed message")
	// ErrSignature: an ed25519 signature does not verify.
	ErrSignature = errors.New("secagg: bad signature")
	// ErrBadShare: a share fails its Feldman check or does not decrypt:
	// the dealer (or the server relaying it) is faulty.
	ErrBadShare = errors.New("secagg: bad secret share")
	// ErrUnsafeRequest: an unmasking request that would reveal both
	// secrets of one client, or list fewer than t survivors; clients refuse it.
	ErrUnsafeRequest = errors.New("secagg: unsafe unmasking request")
	// ErrIncomplete (malicious mode): a client of the keys broadcast did
	// not reveal its graph-seed share. The round cannot go on: leaving the
	// client out would let the server choose among seeds.
	ErrIncomplete = errors.New("secagg: graph seed incomplete")
	// ErrInconsistent: the server showed different survivor lists to
	// different clients (malicious mode), or other views disagree.
	ErrInconsistent = errors.New("secagg: inconsistent view")
)

// ClientError reports a problem caused by one client's message (or by the
// server's relaying of it). The round goes on with the other clients.
type ClientError struct {
	Client uint32 // the client id the problem is attributed to
	Err    error  // one of the sentinel errors, possibly wrapped
}

func (e *ClientError) Error() string {
	return fmt.Sprintf("secagg: client %d: %v", e.Client, e.Err)
}

func (e *ClientError) Unwrap() error { return e.Err }

// clientErr builds a *ClientError wrapping sentinel with a detail message.
func clientErr(id uint32, sentinel error, format string, args ...any) error {
	if format == "" {
		return &ClientError{Client: id, Err: sentinel}
	}
	return &ClientError{Client: id, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
