package attack

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/internal/detmath"
)

// Errors returned by the attacks.
var (
	ErrNoHonest    = errors.New("attack: no honest updates to observe")
	ErrLength      = fmt.Errorf("attack: honest updates differ in length: %w", fl.ErrLength)
	ErrNotFinite   = fmt.Errorf("attack: honest update holds NaN or Inf: %w", fl.ErrNotFinite)
	ErrParam       = fmt.Errorf("attack: invalid parameter: %w", fl.ErrConfig)
	ErrDataLevel   = errors.New("attack: data-level attack crafts no updates; poison the Byzantine clients' data instead")
	ErrUnknown     = errors.New("attack: unknown attack name")
	ErrBadDataset  = errors.New("attack: malformed data set")
	ErrUnknownPeer = errors.New("attack: mimic target is not among the honest updates")
)

// An Attack crafts the updates of the Byzantine clients of a round.
//
// Craft returns f vectors, one per Byzantine client, of the honest
// updates' dimension, newly allocated. It sees the round's honest updates
// (omniscient attacks use them, as in their papers) and must not modify
// them; rng is its only source of randomness. It returns an error for
// f < 0, no honest updates, honest updates of different lengths or with NaN
// or Inf, or parameters out of range.
type Attack interface {
	Name() string
	Craft(rng *rand.Rand, honest []fl.Update, f int) ([][]float64, error)
}

// A Poisoner is a data-level attack: the host trains its Byzantine clients
// on Poison's output instead of crafting their updates.
type Poisoner interface {
	Poison(d *dataset.Dataset) (*dataset.Dataset, error)
}

// Names lists the names [New] accepts.
var Names = []string{"none", "signflip", "gaussian", "labelflip", "alie", "ipm", "minmax", "minsum", "mimic"}

// New returns the attack called name with its default parameters (the
// zero value of its type).
func New(name string) (Attack, error) {
	switch name {
	case "none":
		return None{}, nil
	case "signflip":
		return SignFlip{}, nil
	case "gaussian":
		return Gaussian{}, nil
	case "labelflip":
		return LabelFlip{}, nil
	case "alie":
		return ALIE{}, nil
	case "ipm":
		return IPM{}, nil
	case "minmax":
		return MinMax{}, nil
	case "minsum":
		return MinSum{}, nil
	case "mimic":
		return Mimic{}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// check validates honest and f and returns the dimension.
func check(honest []fl.Update, f int) (int, error) {
	if f < 0 {
		return 0, fmt.Errorf("%w: f = %d", ErrParam, f)
	}
	if len(honest) == 0 {
		return 0, ErrNoHonest
	}
	d := len(honest[0].Delta)
	for i := range honest {
		u := &honest[i]
		if len(u.Delta) != d {
			return 0, fmt.Errorf("%w: update %d (client %q) has %d, update 0 has %d", ErrLength, i, u.Client, len(u.Delta), d)
		}
		for j, v := range u.Delta {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("%w: update %d (client %q) coordinate %d is %v", ErrNotFinite, i, u.Client, j, v)
			}
		}
	}
	return d, nil
}

// copies returns f copies of v.
func copies(v []float64, f int) [][]float64 {
	out := make([][]float64, f)
	for k := range out {
		out[k] = append([]float64(nil), v...)
	}
	return out
}

// mean returns the coordinate-wise mean of the honest deltas.
func mean(honest []fl.Update, d int) []float64 {
	mu := make([]float64, d)
	for _, u := range honest {
		for j, v := range u.Delta {
			mu[j] += v
		}
	}
	for j := range mu {
		mu[j] /= float64(len(honest))
	}
	return mu
}

// std returns the coordinate-wise sample standard deviation (divisor h−1,
// as torch.std in the papers' code; 0 for one update).
func std(honest []fl.Update, mu []float64) []float64 {
	sd := make([]float64, len(mu))
	if len(honest) < 2 {
		return sd
	}
	for _, u := range honest {
		for j, v := range u.Delta {
			sd[j] += float64((v - mu[j]) * (v - mu[j]))
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j] / float64(len(honest)-1))
	}
	return sd
}

// None is no attack: Craft returns no vectors whatever f is, and the host
// runs the round with the honest updates only.
type None struct{}

// Name returns "none".
func (None) Name() string { return "none" }

// Craft returns an empty slice.
func (None) Craft(_ *rand.Rand, _ []fl.Update, f int) ([][]float64, error) {
	if f < 0 {
		return nil, fmt.Errorf("%w: f = %d", ErrParam, f)
	}
	return [][]float64{}, nil
}

// SignFlip is the omniscient sign-flipping attack as used by Allouah et al.
// (2023), "Fixing by Mixing", AISTATS: every Byzantine client sends
// −Scale·μ, μ the mean of the honest updates. Scale 0 means 1.
type SignFlip struct {
	Scale float64
}

// Name returns "signflip".
func (SignFlip) Name() string { return "signflip" }

// Craft returns f copies of −Scale·μ.
func (a SignFlip) Craft(_ *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	d, err := check(honest, f)
	if err != nil {
		return nil, err
	}
	s := a.Scale
	if s == 0 {
		s = 1
	}
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("%w: SignFlip.Scale = %v", ErrParam, s)
	}
	mu := mean(honest, d)
	for j := range mu {
		mu[j] *= -s
	}
	return copies(mu, f), nil
}

// Gaussian sends independent Gaussian noise N(0, Sigma²·I) from every
// Byzantine client, the "Gaussian attack" of Xie, Koyejo and Gupta (2018),
// "Generalized Byzantine-tolerant SGD", arXiv:1802.10116. Sigma 0 means 1;
// the paper's experiments use large variances (set Sigma to match the
// scale of the updates).
type Gaussian struct {
	Sigma float64
}

// Name returns "gaussian".
func (Gaussian) Name() string { return "gaussian" }

// Craft returns f independent noise vectors drawn from rng.
func (a Gaussian) Craft(rng *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	d, err := check(honest, f)
	if err != nil {
		return nil, err
	}
	s := a.Sigma
	if s == 0 {
		s = 1
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("%w: Gaussian.Sigma = %v", ErrParam, a.Sigma)
	}
	out := make([][]float64, f)
	for k := range out {
		v := make([]float64, d)
		for j := range v {
			v[j] = s * detmath.Normal(rng)
		}
		out[k] = v
	}
	return out, nil
}

// LabelFlip is the label-flipping data poisoning attack (as in Fang et al.
// 2020, "Local Model Poisoning Attacks to Byzantine-Robust Federated
// Learning", USENIX Security): Byzantine clients train honestly on data
// whose labels y are replaced by C − 1 − y. It is a [Poisoner]: the host
// gives its Byzantine clients Poison's data and aggregates their updates as
// they come. Craft always fails with [ErrDataLevel], so that a host that
// forgets to poison the data does not silently run an attack-free round.
type LabelFlip struct{}

// Name returns "labelflip".
func (LabelFlip) Name() string { return "labelflip" }

// Craft returns [ErrDataLevel].
func (LabelFlip) Craft(*rand.Rand, []fl.Update, int) ([][]float64, error) {
	return nil, ErrDataLevel
}

// Poison returns FlipLabels(d).
func (LabelFlip) Poison(d *dataset.Dataset) (*dataset.Dataset, error) { return FlipLabels(d) }

// FlipLabels returns a data set whose label i is C − 1 − d.Y[i], C =
// d.Classes. The result shares d.X (features are not copied; do not modify
// them through either) and has its own Y. It returns an error wrapping
// [ErrBadDataset] if Classes < 1 or a label is outside [0, Classes).
func FlipLabels(d *dataset.Dataset) (*dataset.Dataset, error) {
	if d.Classes < 1 {
		return nil, fmt.Errorf("%w: %d classes", ErrBadDataset, d.Classes)
	}
	y := make([]int, len(d.Y))
	for i, c := range d.Y {
		if c < 0 || c >= d.Classes {
			return nil, fmt.Errorf("%w: label %d of example %d not in [0, %d)", ErrBadDataset, c, i, d.Classes)
		}
		y[i] = d.Classes - 1 - c
	}
	return &dataset.Dataset{X: d.X, Y: y, Dim: d.Dim, Classes: d.Classes}, nil
}

// Mimic is the mimic attack of Karimireddy, He and Jaggi (2022),
// "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing",
// ICLR, Section 4: every Byzantine client sends a copy of one honest
// client's update, over-representing that client. Target names the client
// to copy. When Target is empty the client is chosen each round by the
// paper's heuristic: the honest update with the largest projection
// ⟨z, Δᵢ − μ⟩ on z, the top principal direction of the centred honest
// updates (20 power iterations from a random start drawn from rng). The
// paper fixes the client after a warm-up phase; a host wanting that sets
// Target after the first rounds.
type Mimic struct {
	Target string
}

// Name returns "mimic".
func (Mimic) Name() string { return "mimic" }

// Craft returns f copies of the chosen honest update.
func (a Mimic) Craft(rng *rand.Rand, honest []fl.Update, f int) ([][]float64, error) {
	d, err := check(honest, f)
	if err != nil {
		return nil, err
	}
	if a.Target != "" {
		for _, u := range honest {
			if u.Client == a.Target {
				return copies(u.Delta, f), nil
			}
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownPeer, a.Target)
	}
	return copies(honest[MimicChoice(rng, honest, d)].Delta, f), nil
}

// MimicChoice returns the index of the honest update Mimic copies when no
// Target is set. It needs at least one update, all of dimension d.
func MimicChoice(rng *rand.Rand, honest []fl.Update, d int) int {
	mu := mean(honest, d)
	z := make([]float64, d)
	for j := range z {
		z[j] = detmath.Normal(rng)
	}
	proj := make([]float64, len(honest))
	project := func() {
		for i, u := range honest {
			var s float64
			for j, v := range u.Delta {
				s += float64((v - mu[j]) * z[j])
			}
			proj[i] = s
		}
	}
	for range 20 {
		project()
		next := make([]float64, d)
		for i, u := range honest {
			for j, v := range u.Delta {
				next[j] += float64(proj[i] * (v - mu[j]))
			}
		}
		var nrm float64
		for _, v := range next {
			nrm += float64(v * v)
		}
		if nrm == 0 {
			break // all honest updates equal: any choice is the same
		}
		nrm = math.Sqrt(nrm)
		for j := range next {
			next[j] /= nrm
		}
		z = next
	}
	project()
	best := 0
	for i, p := range proj {
		if p > proj[best] {
			best = i
		}
	}
	return best
}
