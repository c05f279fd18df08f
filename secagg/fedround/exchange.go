package fedround

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
)

// Exchange is the server side of secure aggregation: an [fl.Exchange] that
// runs a SecAgg / SecAgg+ round in place of the plain train exchange and
// writes the mean of the survivors' clipped deltas to dst (weighted with
// capped weights if Config.WeightCap > 0). With a server Privacy
// (fl.ServerConfig.Privacy), the clients L2-clip their deltas to its clip
// norm before masking, and the unmasked sum goes to Privacy.NoiseSum, which
// noises it, divides it by its fixed denominator and accounts the release.
//
// An Exchange is used by one fl.Server, which runs one round at a time; Run
// must not be called concurrently.
type Exchange struct {
	cfg  Config
	rand io.Reader
	sink func(rd *round, sum []uint64, survivors int) error // RunSum's: takes the integer sum
}

var _ fl.Exchange = (*Exchange)(nil)

// New returns an exchange for cfg (copied).
func New(cfg Config) (*Exchange, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Exchange{cfg: cfg, rand: cfg.Rand}
	if w.rand == nil {
		w.rand = rand.Reader
	}
	return w, nil
}

// Config returns the exchange's config.
func (w *Exchange) Config() Config { return w.cfg }

// KeyWeight is the key in fl.RoundStats.Extra of the survivors' total
// capped weight, in rounds with [Config.WeightCap] > 0.
const KeyWeight = "secagg_weight"

// KeyClipNorm is the key of the train message's fl.Config that tells
// clients the L2 norm to clip their delta to before masking (set when the
// server has a Privacy). The client middleware applies it itself, so no
// handler order can skip it.
const KeyClipNorm = "secagg_clip_norm"

// Check refuses what cannot work with secure aggregation: a pool that
// encodes updates or parameters (the protocol masks dense quantized
// vectors and carries its own payloads), and, with a Privacy, capped
// weights (the DP sum is unweighted) or a quantization range below the
// clip norm.
func (w *Exchange) Check(cfg *fl.ServerConfig, pool fl.Pool) error {
	var errs []error
	if up, down := fl.PoolEncoding(pool); up != "" || down != "" {
		errs = append(errs, fmt.Errorf("the pool encodes updates (%q) or parameters (%q); secure aggregation masks dense vectors and needs neither codec", up, down))
	}
	if p := cfg.Privacy; p != nil {
		if w.cfg.WeightCap > 0 {
			errs = append(errs, errors.New("capped weights (WeightCap) with a Privacy: the DP sum of secure aggregation is unweighted"))
		}
		if c := p.ClipNorm(); w.cfg.Encoding == nil && w.cfg.Clip < c {
			errs = append(errs, fmt.Errorf("quantization range Clip = %v is below the privacy clip norm %v: set Clip ≥ the clip norm so that quantization clamps nothing", w.cfg.Clip, c))
		}
		if s, ok := p.(interface{ CheckSecure() error }); ok {
			if err := s.CheckSecure(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// round is the server's state for one round.
type round struct {
	w      *Exchange
	r      *fl.Round
	srv    *secagg.Server
	params secagg.Params
	clip   float64 // the L2 clip norm sent to clients (0: none)
	req    *secagg.UnmaskRequest
	grid   int // the n of the quantizer (KeySummands, else N)
}

// Run runs one round of secure aggregation with the clients of r (secagg
// ids 1..n in sampling order) and writes the round's update to dst: the
// mean of the survivors' clipped deltas, weighted with capped weights if
// Config.WeightCap > 0, or the Privacy's release of their sum. It returns
// the number of survivors, the clients whose inputs are in the sum. It
// fails, leaving dst unspecified, when the round cannot run (see
// [Config.RoundParams]), when fewer than t clients remain at any step (the
// error wraps secagg.ErrBelowThreshold), when a dealer's shares cannot be
// repaired, when the release fails, or when ctx is done. It unmasks
// nothing when fewer than r.Quorum clients sent masked inputs.
func (w *Exchange) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	if len(dst) != len(r.Params) {
		return 0, fmt.Errorf("fedround: dst has %d entries, params %d", len(dst), len(r.Params))
	}
	n := r.Len()
	dim := len(r.Params)
	if w.cfg.WeightCap > 0 {
		dim++ // the weight's coordinate
	}
	if enc := w.cfg.Encoding; enc != nil {
		var err error
		if dim, err = enc.Len(dim); err != nil {
			return 0, fmt.Errorf("fedround: round %d: %w", r.Number, err)
		}
	}
	p, err := w.cfg.RoundParams(n, dim)
	if err != nil {
		return 0, fmt.Errorf("fedround: round %d: %w", r.Number, err)
	}
	if r.Number < 0 {
		return 0, fmt.Errorf("fedround: negative round %d", r.Number)
	}
	p.Round = uint64(r.Number)
	if _, err := io.ReadFull(w.rand, p.Seed[:]); err != nil {
		return 0, fmt.Errorf("fedround: drawing the round seed: %w", err)
	}
	rd := &round{w: w, r: r, params: p}
	if rd.grid, err = summands(r.Config, n, p.Bits); err != nil {
		return 0, fmt.Errorf("fedround: round %d: %w", r.Number, err)
	}
	if r.Privacy != nil {
		rd.clip = r.Privacy.ClipNorm()
	}
	switch d, ok := r.Config[fl.KeyDeadline]; {
	case w.cfg.StepTimeout > 0:
		r.StepTimeout = w.cfg.StepTimeout
	case r.StepTimeout == 0 && ok && d > 0 && d < math.MaxInt64/1e9:
		r.StepTimeout = time.Duration(d * float64(time.Second))
	}
	scfg := secagg.ServerConfig{Params: p, Workers: w.cfg.Workers}
	var names []string
	if p.Malicious {
		scfg.PeerKeys = make(map[uint32]ed25519.PublicKey, n)
		names = make([]string, n)
		for i := range n {
			names[i] = r.ID(i)
			if k, ok := w.cfg.PeerKeys[names[i]]; ok {
				scfg.PeerKeys[uint32(i+1)] = k
			}
		}
	}
	if rd.srv, err = secagg.NewServer(scfg); err != nil {
		return 0, fmt.Errorf("fedround: round %d: %w", r.Number, err)
	}
	masked, err := rd.protocol(ctx, names)
	if err != nil || masked < max(r.Quorum, 1) {
		return masked, err
	}
	if err := rd.unmask(ctx); err != nil {
		return 0, err
	}
	if err := rd.finish(dst, masked); err != nil {
		return 0, err
	}
	return masked, nil
}

// protocol runs the steps up to the unmask request and returns the number
// of survivors, the clients whose masked inputs are in the sum.
func (r *round) protocol(ctx context.Context, names []string) (int, error) {
	p := r.params
	rc := r.r
	// Step 0: train and advertise keys.
	err := r.step(ctx, TypeTrain, TypeAdvertise, func(i int) (*fl.Message, error) {
		if p.Malicious {
			if _, ok := r.w.cfg.PeerKeys[names[i]]; !ok {
				return nil, fmt.Errorf("%w: no verification key for client %q", ErrConfig, names[i])
			}
		}
		s := Setup{Params: p, ID: uint32(i + 1), Clip: r.w.cfg.Clip, WeightCap: r.w.cfg.WeightCap, Names: names}
		b, err := s.MarshalBinary()
		if err != nil {
			return nil, err
		}
		cfg := rc.Config
		if r.clip > 0 {
			cfg = cfg.Clone()
			if cfg == nil { // a Round built with a nil Config
				cfg = fl.Config{}
			}
			cfg[KeyClipNorm] = r.clip
		}
		return &fl.Message{Type: TypeTrain, Round: rc.Number, Params: rc.Params, Config: cfg, Payload: b}, nil
	}, func(i int, m *fl.Message) error {
		var a secagg.AdvertiseMsg
		if err := decode(&a, m, uint32(i+1), func() uint32 { return a.Client }); err != nil {
			return err
		}
		if err := r.srv.HandleAdvertise(&a); err != nil {
			return err
		}
		rc.Report(i, m.Metrics, 0)
		return nil
	})
	if err != nil {
		return 0, err
	}
	keys, err := r.srv.Keys()
	if err != nil {
		return 0, r.abort(TypeTrain, err)
	}
	kb, err := keys.MarshalBinary()
	if err != nil {
		return 0, err
	}
	shareStep := TypeShareKeys
	if p.Malicious {
		// Step 0b (malicious mode): every client reveals its share of the
		// graph seed; the shares go to the clients with the next step.
		err = r.step(ctx, TypeShareKeys, TypeReveal, func(int) (*fl.Message, error) {
			return &fl.Message{Type: TypeShareKeys, Round: rc.Number, Payload: kb}, nil
		}, func(i int, m *fl.Message) error {
			var rv secagg.RevealMsg
			if err := decode(&rv, m, uint32(i+1), func() uint32 { return rv.Client }); err != nil {
				return err
			}
			return r.srv.HandleReveal(&rv)
		})
		if err != nil {
			return 0, err
		}
		rb, err := r.srv.Reveals()
		if err != nil {
			return 0, r.abort(TypeShareKeys, err)
		}
		if kb, err = rb.MarshalBinary(); err != nil {
			return 0, err
		}
		shareStep = TypeSeed
	}
	// Step 1: share keys.
	err = r.step(ctx, shareStep, TypeShares, func(int) (*fl.Message, error) {
		return &fl.Message{Type: shareStep, Round: rc.Number, Payload: kb}, nil
	}, func(i int, m *fl.Message) error {
		var s secagg.SharesMsg
		if err := decode(&s, m, uint32(i+1), func() uint32 { return s.Client }); err != nil {
			return err
		}
		return r.srv.HandleShares(&s)
	})
	if err != nil {
		return 0, err
	}
	bcs, err := r.srv.Shares()
	if err != nil {
		return 0, r.abort(shareStep, err)
	}
	byTo := make(map[int]*secagg.SharesBroadcast, len(bcs))
	for _, b := range bcs {
		byTo[int(b.To)-1] = b
	}
	// Step 2: masked input. A client that sent shares but has no
	// broadcast cannot happen (Shares covers every sender); one that did
	// not send shares already failed.
	err = r.step(ctx, TypeMaskedInput, TypeMasked, func(i int) (*fl.Message, error) {
		b, ok := byTo[i]
		if !ok {
			return nil, fmt.Errorf("%w: no shares addressed to the client", secagg.ErrUnknownClient)
		}
		data, err := b.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return &fl.Message{Type: TypeMaskedInput, Round: rc.Number, Payload: data}, nil
	}, func(i int, m *fl.Message) error {
		var mm secagg.MaskedMsg
		if err := decode(&mm, m, uint32(i+1), func() uint32 { return mm.Client }); err != nil {
			return err
		}
		return r.srv.HandleMasked(&mm)
	})
	if err != nil {
		return 0, err
	}
	// Step 3 (malicious mode): consistency check.
	if p.Malicious {
		sv, err := r.srv.Survivors()
		if err != nil {
			return 0, r.abort(TypeMaskedInput, err)
		}
		data, err := sv.MarshalBinary()
		if err != nil {
			return 0, err
		}
		err = r.step(ctx, TypeConsistency, TypeSignature, func(int) (*fl.Message, error) {
			return &fl.Message{Type: TypeConsistency, Round: rc.Number, Payload: data}, nil
		}, func(i int, m *fl.Message) error {
			var s secagg.SignatureMsg
			if err := decode(&s, m, uint32(i+1), func() uint32 { return s.Client }); err != nil {
				return err
			}
			return r.srv.HandleSignature(&s)
		})
		if err != nil {
			return 0, err
		}
	}
	req, err := r.srv.UnmaskRequest()
	if err != nil {
		return 0, r.abort(TypeMaskedInput, err)
	}
	r.req = req
	return len(req.Survivors), nil
}

// unmask runs the last step: the survivors' shares for unmasking.
func (r *round) unmask(ctx context.Context) error {
	rc := r.r
	data, err := r.req.MarshalBinary()
	if err != nil {
		return err
	}
	// Step 4: unmasking. Clients that sent a masked input but left the
	// round at the consistency check are not asked (their inputs are in
	// the sum all the same).
	return r.step(ctx, TypeUnmask, TypeUnmasked, func(int) (*fl.Message, error) {
		return &fl.Message{Type: TypeUnmask, Round: rc.Number, Payload: data}, nil
	}, func(i int, m *fl.Message) error {
		var u secagg.UnmaskMsg
		if err := decode(&u, m, uint32(i+1), func() uint32 { return u.Client }); err != nil {
			return err
		}
		return r.srv.HandleUnmask(&u)
	})
}

// finish computes the sum of the survivors' inputs and writes the round's
// update to dst.
func (r *round) finish(dst []float64, survivors int) error {
	sum, err := r.srv.Result()
	if err != nil {
		return r.abort(TypeUnmask, err)
	}
	if r.w.sink != nil {
		return r.w.sink(r, sum, survivors)
	}
	cfg := &r.w.cfg
	total := float64(survivors)
	if cfg.Encoding != nil {
		if err := cfg.Encoding.Decode(dst, sum, r.params.RoundID()); err != nil {
			return fmt.Errorf("fedround: round %d: %w", r.r.Number, err)
		}
		return r.release(dst, total)
	}
	full := dst
	if cfg.WeightCap > 0 {
		full = make([]float64, len(dst)+1)
	}
	if _, err := secagg.Dequantize(full, sum, cfg.Clip, r.params.Bits, r.grid, survivors); err != nil {
		return fmt.Errorf("fedround: round %d: %w", r.r.Number, err)
	}
	if cfg.WeightCap > 0 {
		// The last coordinate is Σ w·Clip: the survivors' total weight.
		total = full[len(dst)] / cfg.Clip
		if !(total > 0) {
			return fmt.Errorf("fedround: round %d: the survivors' total weight is %v", r.r.Number, total)
		}
		copy(dst, full)
		r.r.SetExtra(KeyWeight, total)
	}
	return r.release(dst, total)
}

// release hands the decoded sum to the Privacy, or divides it by total.
func (r *round) release(dst []float64, total float64) error {
	if p := r.r.Privacy; p != nil {
		if err := p.NoiseSum(dst); err != nil {
			return fmt.Errorf("fedround: round %d: privacy release: %w", r.r.Number, err)
		}
		return nil
	}
	inv := 1 / total
	for i := range dst {
		dst[i] *= inv
	}
	return nil
}

// abort wraps an error that ends the round.
func (r *round) abort(step string, err error) error {
	return fmt.Errorf("fedround: round %d, after step %s: %w", r.r.Number, step, err)
}

// step runs one protocol step on the round: the message built by down goes
// to every client still in the round, and each reply of type want is
// passed to handle. A client that fails leaves the round, counted and
// logged by the round.
func (r *round) step(ctx context.Context, name, want string, down func(i int) (*fl.Message, error), handle func(i int, m *fl.Message) error) error {
	return r.r.Step(ctx, name, down, func(i int, m *fl.Message) error {
		if err := checkReply(m, want, r.r.Number); err != nil {
			return err
		}
		return handle(i, m)
	})
}

// checkReply checks a reply's envelope: type, round, and that it carries
// no plain vector.
func checkReply(m *fl.Message, want string, round int) error {
	switch {
	case m == nil:
		return fmt.Errorf("%w: no reply", ErrMalformed)
	case m.Type != want || m.Round != round:
		return fmt.Errorf("%w: reply %q for round %d, want %q for round %d", ErrMalformed, m.Type, m.Round, want, round)
	case len(m.Params) != 0:
		return fmt.Errorf("%w: reply carries a plain vector of %d values", ErrMalformed, len(m.Params))
	}
	return nil
}

// decode unmarshals m's payload into v and checks that the secagg client id
// it names (id()) is the one the connection stands for.
func decode(v encoding.BinaryUnmarshaler, m *fl.Message, want uint32, id func() uint32) error {
	if err := v.UnmarshalBinary(m.Payload); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if got := id(); got != want {
		return fmt.Errorf("%w: message from secagg client %d on the connection of client %d", ErrMalformed, got, want)
	}
	return nil
}
