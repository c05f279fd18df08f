package attack

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
)

// A Scalable attack has one scale parameter — ALIE's z, IPM's ε — that
// [LineMax] tunes.
type Scalable interface {
	Attack
	// WithScale returns the attack with its scale set to s ≥ 0 (0 meant
	// as 0, not as the default).
	WithScale(s float64) Attack
}

// WithScale returns ALIE with z = s.
func (a ALIE) WithScale(s float64) Attack { return ALIE{Z: s, ZSet: true} }

// WithScale returns IPM with ε = s. (ε = 0 sends the zero vector.)
func (a IPM) WithScale(s float64) Attack { return ipmScaled{s} }

// ipmScaled is IPM with any ε ≥ 0, 0 included.
type ipmScaled struct{ eps float64 }

func (ipmScaled) Name() string { return "ipm" }

func (a ipmScaled) Craft(_ *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	d, err := check(honest, f)
	if err != nil {
		return nil, err
	}
	mu := mean(honest, d)
	for j := range mu {
		mu[j] *= -a.eps
	}
	return copies(mu, f), nil
}

// Defaults of [LineMax].
const (
	DefaultLineMaxEvals = 16
	DefaultLineMaxDelta = 1
	DefaultLineMaxRatio = 0.8
)

// LineMax is an attack whose scale is chosen, every round, to do the most
// damage to a given pipeline: the "optimal" ALIE and IPM of Allouah,
// Farhadkhani, Guerraoui, Gupta, Pinot and Stephan (2023), "Fixing by
// Mixing", AISTATS, whose experiments tune the scale of ALIE and IPM by
// this search (ByzFL's LineMaximize). The damage of
// a scale s is ‖Rule(honest ∪ f copies of Attack.WithScale(s)) − μ‖, the
// distance of the aggregate from the honest mean μ. The search, on
// s ≥ 0 with at most Evals evaluations:
//
//  1. x = Start; while the next evaluation at x + δ improves the best,
//     move there and double δ (expansion); at the first failure δ ← ρδ;
//  2. then, while evaluations remain, propose x ± δ (+ if the last
//     proposal was below the best, − otherwise, halving towards the last
//     proposal while negative), keep it if it improves, and δ ← ρδ
//     (contraction),
//
// with δ = Delta and ρ = Ratio. The Byzantine updates are appended after
// the honest ones, with weight 1 and clients "byzantine-k". Rule is called
// Evals times a round, so a stateful rule (centered clipping, bucketing)
// should be a fresh copy, not the server's.
type LineMax struct {
	Attack Scalable
	Rule   fl.Aggregator
	// Evals bounds the evaluations; 0 means DefaultLineMaxEvals.
	Evals int
	// Start is the first scale tried, ≥ 0.
	Start float64
	// Delta is the first step, > 0; 0 means DefaultLineMaxDelta.
	Delta float64
	// Ratio is the contraction in (0.5, 1); 0 means DefaultLineMaxRatio.
	Ratio float64
}

// Name returns "opt-" and the attack's name.
func (a LineMax) Name() string {
	if a.Attack == nil {
		return "opt"
	}
	return "opt-" + a.Attack.Name()
}

// Craft returns the Byzantine updates at the best scale found.
func (a LineMax) Craft(rng *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	s, _, err := a.Best(rng, honest, f)
	if err != nil {
		return nil, err
	}
	return a.Attack.WithScale(s).Craft(rng, honest, f)
}

// Best returns the scale the search picks and its damage.
func (a LineMax) Best(rng *rand.Rand, honest []fl.Update, f int) (scale, damage float64, err error) {
	d, err := check(honest, f)
	if err != nil {
		return 0, 0, err
	}
	if a.Attack == nil || a.Rule == nil {
		return 0, 0, errors.New("attack: LineMax needs an Attack and a Rule")
	}
	evals, delta, ratio := a.Evals, a.Delta, a.Ratio
	if evals == 0 {
		evals = DefaultLineMaxEvals
	}
	if delta == 0 {
		delta = DefaultLineMaxDelta
	}
	if ratio == 0 {
		ratio = DefaultLineMaxRatio
	}
	if evals < 1 || !(delta > 0) || math.IsInf(delta, 0) || !(ratio > 0.5 && ratio < 1) || !(a.Start >= 0) || math.IsInf(a.Start, 0) {
		return 0, 0, fmt.Errorf("%w: LineMax: Evals = %d, Start = %v, Delta = %v, Ratio = %v", ErrParam, a.Evals, a.Start, a.Delta, a.Ratio)
	}
	mu := mean(honest, d)
	ups := make([]fl.Update, len(honest)+f)
	copy(ups, honest)
	dst := make([]float64, d)
	eval := func(s float64) (float64, error) {
		mal, err := a.Attack.WithScale(s).Craft(rng, honest, f)
		if err != nil {
			return 0, err
		}
		for k, v := range mal {
			ups[len(honest)+k] = fl.Update{Client: fmt.Sprintf("byzantine-%d", k), Delta: v, Weight: 1}
		}
		if err := a.Rule.Aggregate(dst, ups); err != nil {
			return 0, fmt.Errorf("attack: LineMax: scale %v: %w", s, err)
		}
		var s2 float64
		for j, v := range dst {
			e := v - mu[j]
			s2 += float64(e * e)
		}
		return math.Sqrt(s2), nil
	}
	bestX := a.Start
	bestY, err := eval(bestX)
	if err != nil {
		return 0, 0, err
	}
	evals--
	propX := bestX
	for evals > 0 { // expansion
		propX = bestX + delta
		propY, err := eval(propX)
		if err != nil {
			return 0, 0, err
		}
		evals--
		if propY > bestY {
			bestX, bestY = propX, propY
			delta *= 2
		} else {
			delta *= ratio
			break
		}
	}
	for evals > 0 { // contraction
		if propX < bestX {
			propX += delta
		} else {
			x := propX - delta
			for x < 0 {
				x = (x + propX) / 2
			}
			propX = x
		}
		propY, err := eval(propX)
		if err != nil {
			return 0, 0, err
		}
		evals--
		if propY > bestY {
			bestX, bestY = propX, propY
		}
		delta *= ratio
	}
	return bestX, bestY, nil
}
