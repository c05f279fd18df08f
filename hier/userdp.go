package hier

import (
	"errors"
	"fmt"

	"github.com/fedgo/fedgo/fl"
)

// UserSampled is central differential privacy at the root of a tree of
// secure edges, with users, not edges, as the sampled units: the
// fl.ServerConfig.Privacy of a root whose [Exchange] has Secure set. It
// wraps the mechanism and budget (a privacy.CentralDP with ClientClipped
// and Poisson sampling at rate q) and changes only who samples:
//
//  1. The root takes part with every edge (Sampler returns every member);
//     the root's Exchange sends q down (KeySampleRate) and each secure edge
//     samples each of its clients with probability q (a secret draw keyed
//     by the client's id), so every user takes part with probability q,
//     independently of the others: the Poisson sampling of users the
//     accountant assumes (edges of edges take every member and pass q on).
//  2. Every client clips its delta to the mechanism's ClipNorm itself (the
//     root sends it down as fedround.KeyClipNorm; fedround's middleware
//     clips whatever the handlers inside did).
//  3. The root adds the edges' integer sums, dequantizes the total once,
//     and hands it to the mechanism's NoiseSum: noise is added once, to the
//     sum over all sampled users, and the release accounted before it
//     leaves the exchange.
//  4. Check passes the number of leaf clients (Population), not of edges.
//
// Trust: as with secure aggregation in one round and central DP, the party
// that adds the noise sees the un-noised sum; here each edge sees its
// clients' sum and the root the total. The guarantee holds for whatever
// leaves the root (the models, the stats), against everyone who sees only
// that, and needs honest edges: an edge that samples at another rate or
// lets an unclipped update in breaks it, and the root cannot see it.
type UserSampled struct {
	// Privacy is the mechanism and budget; its Sampler must be fl.Poisson.
	Privacy fl.Privacy
	// Population is the number of leaf clients N that the mechanism's
	// accounting assumes.
	Population int
}

var _ fl.Privacy = (*UserSampled)(nil)

// KeySampleRate is the key of the train message's fl.Config that carries
// the users' sampling rate q from the root down to the secure edges.
const KeySampleRate = "hier/sample_rate"

// rate returns q, or an error when the wrapped mechanism does not sample
// users with independent (Poisson) sampling: fixed-size sampling of m
// users cannot be split into independent draws at the edges.
func (u *UserSampled) rate() (float64, error) {
	if u.Privacy == nil {
		return 0, errors.New("UserSampled.Privacy is nil")
	}
	p, ok := u.Privacy.Sampler().(fl.Poisson)
	if !ok || !(p.Q > 0 && p.Q <= 1) {
		return 0, fmt.Errorf("UserSampled: the mechanism samples with %#v; only Poisson sampling (0 < q ≤ 1) splits into independent draws at the edges", u.Privacy.Sampler())
	}
	if u.Population < 1 {
		return 0, fmt.Errorf("UserSampled.Population = %d, want ≥ 1", u.Population)
	}
	return p.Q, nil
}

// Sampler returns every member: the edges sample the users.
func (u *UserSampled) Sampler() fl.Sampler { return fl.Uniform{} }

// Check asks the mechanism about the round over the Population users.
func (u *UserSampled) Check(round, _ int) error { return u.Privacy.Check(round, u.Population) }

// Aggregator returns the mechanism's (unused by the root's Exchange).
func (u *UserSampled) Aggregator() fl.Aggregator { return u.Privacy.Aggregator() }

// ClipNorm returns the mechanism's clip norm.
func (u *UserSampled) ClipNorm() float64 { return u.Privacy.ClipNorm() }

// NoiseSum privatizes the sum of the sampled users' clipped deltas.
func (u *UserSampled) NoiseSum(sum []float64) error { return u.Privacy.NoiseSum(sum) }

// Record records the mechanism's spending.
func (u *UserSampled) Record(stats *fl.RoundStats) { u.Privacy.Record(stats) }

// MarshalBinary returns the mechanism's state (its releases), so that the
// root's checkpoint keeps the budget.
func (u *UserSampled) MarshalBinary() ([]byte, error) { return fl.MarshalInner(u.Privacy) }

// UnmarshalBinary restores the mechanism's state; state for a stateless
// mechanism is refused.
func (u *UserSampled) UnmarshalBinary(b []byte) error { return fl.UnmarshalInner(u.Privacy, b) }

// checkPrivacy reports whether p can run at the root of e: only a
// UserSampled over secure edges with unweighted sums whose range holds the
// clip norm.
func (e *Exchange) checkPrivacy(p fl.Privacy) error {
	u, ok := p.(*UserSampled)
	if !ok || e.Secure == nil {
		return fmt.Errorf("%w: hier.Exchange with the Privacy %T: a Privacy at the root is sound only as a *hier.UserSampled over secure edges (Exchange.Secure), which samples users at the edges; any other would sample edges while its accounting assumes users, and see edges' sums rather than clipped users' updates", fl.ErrConfig, p)
	}
	var errs []error
	if _, err := u.rate(); err != nil {
		errs = append(errs, err)
	}
	if e.Secure.WeightCap > 0 {
		errs = append(errs, errors.New("Secure.WeightCap with a Privacy: the DP sum is unweighted"))
	}
	if u.Privacy != nil {
		if c := u.Privacy.ClipNorm(); e.Secure.Clip < c {
			errs = append(errs, fmt.Errorf("Secure.Clip = %v is below the clip norm %v: quantization would clamp clipped updates", e.Secure.Clip, c))
		}
		if s, ok := u.Privacy.(interface{ CheckSecure() error }); ok {
			if err := s.CheckSecure(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: hier.Exchange: %w", fl.ErrConfig, errors.Join(errs...))
}
