package fedround

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/secagg"
)

// Workflow is the server side of secure aggregation: an [fl.Workflow] that
// replaces the round's plain exchange with a SecAgg / SecAgg+ round and
// writes the mean of the survivors' clipped deltas to dst (weighted with
// capped weights if Config.WeightCap > 0).
//
// A Workflow is used by one fl.Server, which runs one round at a time; Run
// must not be called concurrently.
type Workflow struct {
	cfg  Config
	rand io.Reader
}

var _ fl.Workflow = (*Workflow)(nil)

// New returns a workflow for cfg (copied).
func New(cfg Config) (*Workflow, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Workflow{cfg: cfg, rand: cfg.Rand}
	if w.rand == nil {
		w.rand = rand.Reader
	}
	return w, nil
}

// Config returns the workflow's config.
func (w *Workflow) Config() Config { return w.cfg }

// KeyWeight is the key in fl.RoundStats.Extra of the survivors' total
// capped weight, in rounds with [Config.WeightCap] > 0.
const KeyWeight = "secagg_weight"

// round is the server's state for one round.
type round struct {
	w       *Workflow
	rc      *fl.RoundContext
	log     *slog.Logger
	srv     *secagg.Server
	params  secagg.Params
	alive   []bool // still in the round (not failed)
	timeout time.Duration

	// metrics of the accepted advertise replies, by client index
	metrics []fl.Metrics
}

// Run runs one round of secure aggregation with the clients of rc (secagg
// ids 1..n in sampling order) and writes the round's update to dst: the
// mean of the survivors' clipped deltas, weighted with capped weights if
// Config.WeightCap > 0 (or what Config.Release makes of their sum). It
// returns the number of survivors, the clients whose inputs are in the sum. It fails, leaving dst unspecified, when the
// round cannot run (see [Config.RoundParams]), when fewer than t clients
// remain at any step (the error wraps secagg.ErrBelowThreshold), when a
// dealer's shares cannot be repaired, when a hook fails, or when ctx is
// done.
func (w *Workflow) Run(ctx context.Context, rc *fl.RoundContext, dst []float64) (int, error) {
	if len(dst) != len(rc.Params) {
		return 0, fmt.Errorf("fedround: dst has %d entries, params %d", len(dst), len(rc.Params))
	}
	n := len(rc.Clients)
	dim := len(rc.Params)
	if w.cfg.WeightCap > 0 {
		dim++ // the weight's coordinate
	}
	p, err := w.cfg.RoundParams(n, dim)
	if err != nil {
		return 0, fmt.Errorf("fedround: round %d: %w", rc.Round, err)
	}
	if rc.Round < 0 {
		return 0, fmt.Errorf("fedround: negative round %d", rc.Round)
	}
	p.Round = uint64(rc.Round)
	if _, err := io.ReadFull(w.rand, p.Seed[:]); err != nil {
		return 0, fmt.Errorf("fedround: drawing the round seed: %w", err)
	}
	r := &round{
		w: w, rc: rc, params: p, log: rc.Logger,
		alive: make([]bool, n), metrics: make([]fl.Metrics, n),
		timeout: w.cfg.StepTimeout,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.timeout == 0 {
		if d, ok := rc.Config[fl.KeyDeadline]; ok && d > 0 && d < math.MaxInt64/1e9 {
			r.timeout = time.Duration(d * float64(time.Second))
		}
	}
	for i := range r.alive {
		r.alive[i] = true
	}
	scfg := secagg.ServerConfig{Params: p, Workers: w.cfg.Workers}
	var names []string
	if p.Malicious {
		scfg.PeerKeys = make(map[uint32]ed25519.PublicKey, n)
		names = make([]string, n)
		for i, c := range rc.Clients {
			names[i] = c.ID()
			if k, ok := w.cfg.PeerKeys[names[i]]; ok {
				scfg.PeerKeys[uint32(i+1)] = k
			}
		}
	}
	if r.srv, err = secagg.NewServer(scfg); err != nil {
		return 0, fmt.Errorf("fedround: round %d: %w", rc.Round, err)
	}
	defer func() { rc.Stats.TrainSeconds += r.trainSeconds() }()
	u3, err := r.protocol(ctx, names)
	r.setLoss()
	if err != nil {
		return 0, err
	}
	if err := r.finish(dst, u3); err != nil {
		return 0, err
	}
	return u3, nil
}

// protocol runs the steps and returns the number of survivors.
func (r *round) protocol(ctx context.Context, names []string) (int, error) {
	p := r.params
	rc := r.rc
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
		return &fl.Message{Type: TypeTrain, Round: rc.Round, Params: rc.Params, Config: rc.Config, Payload: b}, nil
	}, func(i int, m *fl.Message) error {
		var a secagg.AdvertiseMsg
		if err := decode(&a, m, uint32(i+1), func() uint32 { return a.Client }); err != nil {
			return err
		}
		if err := r.srv.HandleAdvertise(&a); err != nil {
			return err
		}
		r.metrics[i] = m.Metrics
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
			return &fl.Message{Type: TypeShareKeys, Round: rc.Round, Payload: kb}, nil
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
		return &fl.Message{Type: shareStep, Round: rc.Round, Payload: kb}, nil
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
		return &fl.Message{Type: TypeMaskedInput, Round: rc.Round, Payload: data}, nil
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
			return &fl.Message{Type: TypeConsistency, Round: rc.Round, Payload: data}, nil
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
	data, err := req.MarshalBinary()
	if err != nil {
		return 0, err
	}
	// Step 4: unmasking. Clients that sent a masked input but left the
	// round at the consistency check are not asked (their inputs are in
	// the sum all the same).
	err = r.step(ctx, TypeUnmask, TypeUnmasked, func(int) (*fl.Message, error) {
		return &fl.Message{Type: TypeUnmask, Round: rc.Round, Payload: data}, nil
	}, func(i int, m *fl.Message) error {
		var u secagg.UnmaskMsg
		if err := decode(&u, m, uint32(i+1), func() uint32 { return u.Client }); err != nil {
			return err
		}
		return r.srv.HandleUnmask(&u)
	})
	if err != nil {
		return 0, err
	}
	return len(req.Survivors), nil
}

// finish computes the sum of the survivors' inputs and writes the round's
// update to dst.
func (r *round) finish(dst []float64, survivors int) error {
	sum, err := r.srv.Result()
	if err != nil {
		return r.abort(TypeUnmask, err)
	}
	cfg := &r.w.cfg
	total := float64(survivors)
	full := dst
	if cfg.WeightCap > 0 {
		full = make([]float64, len(dst)+1)
	}
	if _, err := secagg.Dequantize(full, sum, cfg.Clip, r.params.Bits, r.params.N, survivors); err != nil {
		return fmt.Errorf("fedround: round %d: %w", r.rc.Round, err)
	}
	if cfg.WeightCap > 0 {
		// The last coordinate is Σ w·Clip: the survivors' total weight.
		total = full[len(dst)] / cfg.Clip
		if !(total > 0) {
			return fmt.Errorf("fedround: round %d: the survivors' total weight is %v", r.rc.Round, total)
		}
		copy(dst, full)
		if st := r.rc.Stats; st != nil {
			if st.Extra == nil {
				st.Extra = fl.Metrics{}
			}
			st.Extra[KeyWeight] = total
		}
	}
	if cfg.PostSum != nil {
		if err := cfg.PostSum(dst, survivors); err != nil {
			return fmt.Errorf("fedround: round %d: PostSum: %w", r.rc.Round, err)
		}
	}
	if cfg.Release != nil {
		if err := cfg.Release(dst); err != nil {
			return fmt.Errorf("fedround: round %d: Release: %w", r.rc.Round, err)
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
	return fmt.Errorf("fedround: round %d, after step %s: %w", r.rc.Round, step, err)
}

// step sends the message built by down to every client still in the
// round, and passes each reply of type want to handle, in arrival order
// under a lock (the secagg server's result does not depend on the order).
// A client whose message cannot be built, whose send fails, or whose reply
// is rejected leaves the round: it is counted once in the round's stats
// under the step's name and logged. step returns an error only when ctx is
// done.
func (r *round) step(ctx context.Context, name, want string, down func(i int) (*fl.Message, error), handle func(i int, m *fl.Message) error) error {
	sctx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	failed := make([]error, len(r.alive))
	for i, c := range r.rc.Clients {
		if !r.alive[i] {
			continue
		}
		m, err := down(i)
		if err != nil {
			failed[i] = err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := c.Send(sctx, m)
			if err == nil {
				err = checkReply(reply, want, r.rc.Round)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil && ctx.Err() == nil {
				err = handle(i, reply)
			}
			failed[i] = err
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, err := range failed {
		if err == nil || !r.alive[i] {
			continue
		}
		r.alive[i] = false
		r.rc.Stats.AddFailure(name)
		r.log.Warn("secure aggregation: client left the round", "round", r.rc.Round, "step", name,
			"client", r.rc.Clients[i].ID(), "secagg_id", i+1, "err", err)
	}
	return nil
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

// trainSeconds sums the train time the clients reported in the accepted
// advertise replies.
func (r *round) trainSeconds() float64 {
	var s float64
	for _, m := range r.metrics {
		if v := m[fl.KeyTrainSeconds]; v > 0 && !math.IsInf(v, 0) {
			s += v
		}
	}
	return s
}

// setLoss sets the round's train loss: the mean of the loss the clients
// reported with their accepted advertise replies, weighted by their
// fl.KeyExamples metric (1 when absent), as the default exchange weights
// it. The clients are those that trained and advertised keys, survivors of
// the round or not.
func (r *round) setLoss() {
	var sum, w float64
	for _, m := range r.metrics {
		l, ok := m[fl.KeyLoss]
		if !ok || math.IsNaN(l) || math.IsInf(l, 0) {
			continue
		}
		n := m[fl.KeyExamples]
		if !(n > 0) || math.IsInf(n, 0) {
			n = 1
		}
		sum += n * l
		w += n
	}
	if w > 0 {
		r.rc.Stats.TrainLoss = sum / w
	}
}
