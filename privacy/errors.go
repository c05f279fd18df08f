package privacy

import (
	"errors"
	"fmt"

	"github.com/fedgo/fedgo/fl"
)

// Sentinel errors of the package; every error it returns for bad input or
// an exhausted budget wraps one of them (or one of [ErrInvalidSigma],
// [ErrSecretState]).
var (
	// ErrConfig: a config field is out of range or contradicts another.
	ErrConfig = fmt.Errorf("privacy: %w", fl.ErrConfig)
	// ErrBudgetExhausted: the round (or the client's next participation)
	// would spend more than the privacy budget.
	ErrBudgetExhausted = fmt.Errorf("privacy: %w", fl.ErrBudget)
	// ErrState: serialized state that is corrupt, truncated, or belongs to
	// a differently configured mechanism.
	ErrState = errors.New("privacy: bad serialized state")
)
