package privacy

import "errors"

// Sentinel errors of the package; every error it returns for bad input or
// an exhausted budget wraps one of them (or one of [ErrInvalidSigma],
// [ErrSecretState]).
var (
	// ErrConfig: a config field is out of range or contradicts another.
	ErrConfig = errors.New("privacy: invalid config")
	// ErrBudgetExhausted: the round (or the client's next participation)
	// would spend more than the privacy budget.
	ErrBudgetExhausted = errors.New("privacy: privacy budget exhausted")
	// ErrState: serialized state that is corrupt, truncated, or belongs to
	// a differently configured mechanism.
	ErrState = errors.New("privacy: bad serialized state")
)
