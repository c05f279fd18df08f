package robust

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/internal/vec"
)

// Errors returned by the aggregators, besides fl's own sentinels, which
// they wrap for what fl defines (fl.ErrNoUpdates, fl.ErrLength,
// fl.ErrNotFinite, fl.ErrBadWeight). Errors about one update name the
// update's index and client. ErrParam wraps fl.ErrConfig.
var (
	ErrTooFewUpdates  = errors.New("robust: too few updates for the number of Byzantine clients")
	ErrParam          = fmt.Errorf("robust: invalid parameter: %w", fl.ErrConfig)
	ErrNotConverged   = errors.New("robust: did not converge")
	ErrNoRoot         = errors.New("robust: no valid server root update")
	ErrTooManySubsets = errors.New("robust: too many subsets for exact search")
	ErrUnknownRule    = errors.New("robust: unknown aggregator name")
)

// A Validator reports whether a rule can aggregate n updates. Every rule of
// this package implements it; [Pre] uses it to check the rule behind a
// pre-aggregation step.
type Validator interface {
	Validate(n int) error
}

func updateErr(i int, u *fl.Update, err error, format string, args ...any) error {
	return fmt.Errorf("update %d (client %q): %w: %s", i, u.Client, err, fmt.Sprintf(format, args...))
}

// checkShape checks that there are updates and that each has len(dst)
// coordinates.
func checkShape(dst []float64, updates []fl.Update) error {
	if len(updates) == 0 {
		return fl.ErrNoUpdates
	}
	for i := range updates {
		if len(updates[i].Delta) != len(dst) {
			return updateErr(i, &updates[i], fl.ErrLength, "%d, want %d", len(updates[i].Delta), len(dst))
		}
	}
	return fl.CheckDst(dst, updates)
}

// checkFinite returns an error naming the first update holding a NaN or Inf.
func checkFinite(updates []fl.Update) error {
	for i := range updates {
		if j := vec.FirstNonFinite(updates[i].Delta); j >= 0 {
			return updateErr(i, &updates[i], fl.ErrNotFinite, "coordinate %d is %v", j, updates[i].Delta[j])
		}
	}
	return nil
}

// checkWeights returns an error naming the first update whose weight is not
// finite and positive.
func checkWeights(updates []fl.Update) error {
	for i := range updates {
		if w := updates[i].Weight; !(w > 0) || math.IsInf(w, 0) {
			return updateErr(i, &updates[i], fl.ErrBadWeight, "%v", w)
		}
	}
	return nil
}

// checkInput runs checkShape and checkFinite.
func checkInput(dst []float64, updates []fl.Update) error {
	if err := checkShape(dst, updates); err != nil {
		return err
	}
	return checkFinite(updates)
}

// checkResult reports an error if dst holds a NaN or Inf, which finite
// inputs produce only by overflow.
func checkResult(dst []float64) error {
	if j := vec.FirstNonFinite(dst); j >= 0 {
		return fmt.Errorf("%w: result coordinate %d overflows to %v", fl.ErrNotFinite, j, dst[j])
	}
	return nil
}

func checkF(rule string, f int) error {
	if f < 0 {
		return fmt.Errorf("%w: %s: f = %d is negative", ErrParam, rule, f)
	}
	return nil
}

// checkMajority reports f < 0, or n ≤ 2f (the honest majority a rule needs).
func checkMajority(rule string, n, f int) error {
	if err := checkF(rule, f); err != nil {
		return err
	}
	if n <= 2*f {
		return tooFew(rule, n, "n > 2f", 2*f+1)
	}
	return nil
}

func tooFew(rule string, n int, cond string, need int) error {
	return fmt.Errorf("%w: %s needs %s = %d updates, got %d", ErrTooFewUpdates, rule, cond, need, n)
}

// workersFor returns how many goroutines to use for n items when each
// should get at least grain of them.
func workersFor(n, grain int) int {
	w := runtime.GOMAXPROCS(0)
	if grain < 1 {
		grain = 1
	}
	if m := n / grain; w > m {
		w = m
	}
	return max(w, 1)
}

// A ranger does the work of the range [lo, hi) as worker w.
type ranger interface {
	do(w, lo, hi int)
}

// rangeFunc adapts a function to a ranger.
type rangeFunc func(w, lo, hi int)

func (f rangeFunc) do(w, lo, hi int) { f(w, lo, hi) }

// parallel runs r.do(w, lo, hi) for workers contiguous ranges of [0, n),
// the w-th on its own goroutine (the first on the caller's), and waits for
// all. The split depends only on n and workers. With one worker it calls
// r.do directly and allocates nothing.
func parallel(n, workers int, r ranger) {
	if workers <= 1 {
		r.do(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.do(w, lo, hi)
		}()
	}
	r.do(0, 0, n/workers)
	wg.Wait()
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// growRows makes s hold workers buffers of n elements each.
func growRows[T any](s [][]T, workers, n int) [][]T {
	if cap(s) < workers {
		s = append(s[:cap(s)], make([][]T, workers-cap(s))...)
	}
	s = s[:workers]
	for i := range s {
		s[i] = grow(s[i], n)
	}
	return s
}

// Names lists the rule names [New] accepts, without the nnm+, bucketing+ and
// arc+ prefixes.
var Names = []string{"mean", "median", "trimmedmean", "krum", "multikrum", "geomed", "bulyan", "cc", "normbound", "fltrust", "mda", "meamed", "monna", "smea", "caf"}

// New returns the rule called name, configured for f Byzantine updates per
// round. The names are those of [Names]; a prefix "nnm+", "bucketing+" or
// "arc+" puts [NNM], [Bucketing] (bucket size 2, permutations drawn from
// seed) or [ARC] in front of the rule that follows, and prefixes compose
// ("arc+nnm+krum"). MoNNA's pivot is the update at index 0.
// Rules without an f ignore it; seed is used only by bucketing.
//
// New("fltrust", ...) returns an [*FLTrust] whose Root the host must set
// before aggregating. The defaults of the other rules are those of their
// zero values.
func New(name string, f int, seed uint64) (fl.Aggregator, error) {
	if err := checkF(name, f); err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(name, "nnm+"); ok {
		r, err := New(rest, f, seed)
		if err != nil {
			return nil, err
		}
		return &Pre{Step: &NNM{F: f}, Rule: r}, nil
	}
	if rest, ok := strings.CutPrefix(name, "bucketing+"); ok {
		r, err := New(rest, f, seed)
		if err != nil {
			return nil, err
		}
		return &Pre{Step: &Bucketing{S: 2, Seed: seed}, Rule: r}, nil
	}
	if rest, ok := strings.CutPrefix(name, "arc+"); ok {
		r, err := New(rest, f, seed)
		if err != nil {
			return nil, err
		}
		return &Pre{Step: &ARC{F: f}, Rule: r}, nil
	}
	switch name {
	case "meamed":
		return &Meamed{F: f}, nil
	case "monna":
		return &MoNNA{F: f}, nil
	case "smea":
		return &SMEA{F: f}, nil
	case "caf":
		return &CAF{F: f}, nil
	case "mean":
		return &Mean{}, nil
	case "median":
		return &Median{}, nil
	case "trimmedmean":
		return &TrimmedMean{F: f}, nil
	case "krum":
		return &Krum{F: f}, nil
	case "multikrum":
		return &MultiKrum{F: f}, nil
	case "geomed":
		return &GeoMed{}, nil
	case "bulyan":
		return &Bulyan{F: f}, nil
	case "cc":
		return &CenteredClipping{}, nil
	case "normbound":
		return &NormBound{}, nil
	case "fltrust":
		return &FLTrust{}, nil
	case "mda":
		return &MDA{F: f}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownRule, name)
}
