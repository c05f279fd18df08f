package fedround

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"sync"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/secagg"
)

// ClientState is one client's secure-aggregation state across messages:
// the round it is in, its secagg.Client and its quantized delta between
// training and masking. The host keeps one per client for as long as the
// client lives (a transport may build the client's handler afresh for
// every message) and passes it to [Middleware].
//
// The zero value is ready to use. A ClientState is safe for concurrent
// use; it handles one message at a time. A round's opening message
// ([TypeTrain]) drops whatever the previous round left; secrets are drawn
// afresh for every round and never reused.
type ClientState struct {
	mu        sync.Mutex
	started   bool
	round     int
	roundID   [32]byte
	c         *secagg.Client
	input     []uint64
	malicious bool
	global    *[32]byte // paramsDigest of the last round's global parameters
}

// Round reports the round the state is in and whether a round has started.
func (st *ClientState) Round() (round int, started bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.round, st.started
}

// drop forgets the round's secrets (the round number is kept, to refuse
// stale and replayed messages).
func (st *ClientState) drop() {
	st.c = nil
	clear(st.input)
	st.input = nil
}

// Middleware returns the client side of secure aggregation: it answers the
// secagg/* messages of a [Exchange] using st, trains through the wrapped
// handler when a round opens, and passes every other message to the
// wrapped handler, except that a plain fl.TypeTrain request is refused
// with [ErrPlainTrain] unless cfg.AllowPlainTrain, and an fl.TypeEvaluate
// request is answered only as cfg.Evaluate allows (never, by default:
// [ErrPolicy]).
//
// On [TypeTrain] it checks the round's Setup against the client's policy
// (see [ClientConfig]; a refusal wraps [ErrPolicy]), sends the wrapped
// handler a plain train message (the global parameters and Config),
// clamps each coordinate of the returned delta to [-clip, clip] and
// quantizes it with secagg.Quantize, using stochastic rounding from a
// source seeded from cfg.Rand, and answers with its advertised keys and
// the metrics cfg.Metrics allows; the delta itself never leaves the
// client unmasked.
//
// It refuses, with an error wrapping [ErrRound], a message for another
// round than st's, an older round, or a reopening of the current round
// (a replay, or other parameters);
// with [ErrOrder] a step the client has no state for or that comes out of
// order; with [ErrMalformed] a payload that does not decode. Such refusals
// leave st unchanged. Any other failure (a bad share, an unsafe unmasking
// request) makes the client leave the round. It panics if st is nil.
func Middleware(st *ClientState, cfg ClientConfig) fl.Middleware {
	if st == nil {
		panic("fedround: Middleware: nil ClientState")
	}
	return func(next fl.Handler) fl.Handler {
		return &handler{st: st, cfg: cfg, next: next}
	}
}

type handler struct {
	st   *ClientState
	cfg  ClientConfig
	next fl.Handler
}

func (h *handler) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	switch m.Type {
	case TypeTrain:
		return h.train(ctx, m)
	case TypeShareKeys, TypeSeed, TypeMaskedInput, TypeConsistency, TypeUnmask:
		return h.protocol(m)
	case fl.TypeTrain:
		if !h.cfg.AllowPlainTrain {
			return nil, ErrPlainTrain
		}
	case fl.TypeEvaluate:
		if err := h.checkEvaluate(m); err != nil {
			return nil, err
		}
	}
	return h.next.Handle(ctx, m)
}

// checkEvaluate applies the client's evaluation policy.
func (h *handler) checkEvaluate(m *fl.Message) error {
	switch h.cfg.Evaluate {
	case EvaluateAny:
		return nil
	case EvaluateRoundParams:
		st := h.st
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.started && st.global != nil && paramsDigest(m.Params) == *st.global {
			return nil
		}
		return fmt.Errorf("%w: evaluation at parameters other than those of the last round trained", ErrPolicy)
	}
	return fmt.Errorf("%w: evaluation requests are refused (see ClientConfig.Evaluate)", ErrPolicy)
}

// paramsDigest is SHA-256 of the float64 bits of params (little-endian).
func paramsDigest(params []float64) [32]byte {
	h := sha256.New()
	var b [8]byte
	for _, v := range params {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// checkSetup applies the client's policy to a round's setup.
func (h *handler) checkSetup(s *Setup) error {
	p := &s.Params
	if p.N < h.cfg.minClients() {
		return fmt.Errorf("%w: %d clients, the client's minimum is %d", ErrPolicy, p.N, h.cfg.minClients())
	}
	if p.Threshold < h.cfg.minThreshold() {
		return fmt.Errorf("%w: threshold %d, the client's minimum is %d", ErrPolicy, p.Threshold, h.cfg.minThreshold())
	}
	if h.cfg.Identity != nil && !p.Malicious {
		return fmt.Errorf("%w: a client with an identity takes part only in malicious mode", ErrPolicy)
	}
	if p.Malicious && !h.cfg.TrustParams {
		corrupt := h.cfg.Corrupt
		if corrupt == 0 {
			corrupt = DefaultCorrupt
		}
		if r := p.Log2Risk(corrupt); r > -SecurityBits {
			return fmt.Errorf("%w: N=%d, k=%d, t=%d expose a client with probability up to 2^%.1f for %.3g corrupt clients, the client's bound is 2^-%d",
				ErrPolicy, p.N, p.Neighbors, p.Threshold, r, corrupt, SecurityBits)
		}
	}
	if p.Malicious {
		seen := make(map[string]bool, len(s.Names))
		for _, name := range s.Names {
			if seen[name] {
				return fmt.Errorf("%w: participant %q listed twice", ErrPolicy, name)
			}
			seen[name] = true
			if _, ok := h.cfg.PeerKeys[name]; !ok {
				return fmt.Errorf("%w: participant %q is not in the PKI", ErrPolicy, name)
			}
		}
	}
	return nil
}

// filterMetrics returns the metrics the policy lets the client send.
func (h *handler) filterMetrics(m fl.Metrics, weighted bool) fl.Metrics {
	allow := h.cfg.Metrics
	if allow == nil {
		allow = []string{fl.KeyLoss, fl.KeyTrainSeconds}
	}
	var out fl.Metrics
	for _, k := range allow {
		v, ok := m[k]
		if !ok || (weighted && k == fl.KeyExamples) {
			continue
		}
		if out == nil {
			out = fl.Metrics{}
		}
		out[k] = v
	}
	return out
}

func (h *handler) rand() io.Reader {
	if h.cfg.Rand != nil {
		return h.cfg.Rand
	}
	return rand.Reader
}

// train opens a round: it trains through the wrapped handler, quantizes the
// delta and advertises the client's keys.
func (h *handler) train(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	if err := h.cfg.Validate(); err != nil {
		return nil, err
	}
	var s Setup
	if err := s.UnmarshalBinary(m.Payload); err != nil {
		return nil, err
	}
	if err := h.checkSetup(&s); err != nil {
		return nil, err
	}
	p := s.Params
	if m.Round < 0 || p.Round != uint64(m.Round) {
		return nil, fmt.Errorf("%w: setup of round %d in a message of round %d", ErrMalformed, p.Round, m.Round)
	}
	extra := 0 // the weight's coordinate
	if s.WeightCap > 0 {
		extra = 1
	}
	dim := len(m.Params) + extra
	if enc := h.cfg.Encoding; enc != nil {
		if b := enc.Bits(); p.Bits != b || s.WeightCap > 0 {
			return nil, fmt.Errorf("%w: a round of %d bits (weight cap %v); the client's encoding needs %d bits and no weights", ErrPolicy, p.Bits, s.WeightCap, b)
		}
		var err error
		if dim, err = enc.Len(len(m.Params)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	if p.Dim != dim {
		return nil, fmt.Errorf("%w: setup for dimension %d with %d parameters", ErrMalformed, p.Dim, len(m.Params))
	}
	ccfg := secagg.ClientConfig{ID: s.ID, Params: p, Rand: h.rand(), TrustDealers: h.cfg.TrustDealers}
	if p.Malicious {
		if h.cfg.Identity == nil || h.cfg.PeerKeys == nil {
			return nil, fmt.Errorf("%w: malicious mode needs Identity and PeerKeys", ErrConfig)
		}
		own := h.cfg.PeerKeys[s.Names[s.ID-1]]
		if !bytes.Equal(own, h.cfg.Identity.Public().(ed25519.PublicKey)) {
			return nil, fmt.Errorf("%w: the setup lists this client as %q, whose key is not this client's", ErrMalformed, s.Names[s.ID-1])
		}
		ccfg.Identity = h.cfg.Identity
		ccfg.PeerKeys = make(map[uint32]ed25519.PublicKey, len(s.Names))
		for i, name := range s.Names {
			if k, ok := h.cfg.PeerKeys[name]; ok {
				ccfg.PeerKeys[uint32(i+1)] = k
			}
		}
	}

	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	rid := p.RoundID()
	if st.started {
		switch {
		case m.Round < st.round:
			return nil, fmt.Errorf("%w: round %d, the client is in round %d", ErrRound, m.Round, st.round)
		case m.Round == st.round && rid == st.roundID:
			return nil, fmt.Errorf("%w: round %d opened twice with the same parameters (replay)", ErrRound, m.Round)
		case m.Round == st.round:
			return nil, fmt.Errorf("%w: round %d reopened with other parameters (a second masked input of the same update would be differenced)", ErrRound, m.Round)
		}
	}
	st.drop()
	st.started, st.round, st.roundID = true, m.Round, rid
	g := paramsDigest(m.Params)
	st.global = &g

	reply, err := h.next.Handle(ctx, &fl.Message{Type: fl.TypeTrain, Round: m.Round, Params: m.Params, Config: m.Config})
	if err != nil {
		return nil, err
	}
	switch {
	case reply == nil || reply.Type != fl.TypeUpdate:
		return nil, fmt.Errorf("%w: the wrapped handler did not answer with an update", ErrMalformed)
	case len(reply.Payload) > 0:
		return nil, fmt.Errorf("%w: the update is encoded; secure aggregation needs the dense delta (put compression outside, or not at all)", ErrMalformed)
	case len(reply.Params) != len(m.Params):
		return nil, fmt.Errorf("%w: delta of %d values, want %d", ErrMalformed, len(reply.Params), len(m.Params))
	}
	bits := p.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	grid, err := summands(m.Config, p.N, bits)
	if err != nil {
		return nil, err
	}
	x := reply.Params
	if enc := h.cfg.Encoding; enc != nil {
		input := make([]uint64, p.Dim)
		if err := enc.Encode(input, x, rid); err != nil {
			return nil, err
		}
		return h.advertise(st, ccfg, input, p, m, reply, s.WeightCap > 0)
	}
	if c, ok := m.Config[KeyClipNorm]; ok {
		// The server's privacy mechanism accounts contributions of L2 norm
		// at most c: clip here, whatever the handlers inside did, and leave
		// room for the stochastic rounding of quantization, which moves
		// the vector by up to step·√d.
		if !(c > 0) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("%w: clip norm %v", ErrMalformed, c)
		}
		cq, err := privacy.QuantizedClipNorm(c, secagg.QuantStep(s.Clip, bits, grid), len(x))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		f := privacy.ClipFactor(privacy.L2Norm(x), cq)
		clipped := make([]float64, len(x))
		for j, v := range x {
			clipped[j] = f * v
		}
		x = clipped
	}
	if s.WeightCap > 0 {
		if x, err = weighted(x, reply.Weight, s.Clip, s.WeightCap); err != nil {
			return nil, err
		}
	}
	var seed [32]byte
	if _, err := io.ReadFull(ccfg.Rand, seed[:]); err != nil {
		return nil, fmt.Errorf("fedround: drawing the rounding seed: %w", err)
	}
	input := make([]uint64, p.Dim)
	if _, err := secagg.Quantize(input, x, s.Clip, bits, grid, mrand.New(mrand.NewChaCha8(seed))); err != nil {
		return nil, err
	}
	return h.advertise(st, ccfg, input, p, m, reply, s.WeightCap > 0)
}

// advertise creates the round's secagg client for input and answers with
// its advertised keys. st must be locked.
func (h *handler) advertise(st *ClientState, ccfg secagg.ClientConfig, input []uint64, p secagg.Params, m, reply *fl.Message, weighted bool) (*fl.Message, error) {
	c, err := secagg.NewClient(ccfg)
	if err != nil {
		return nil, err
	}
	adv, err := c.AdvertiseKeys()
	if err != nil {
		return nil, err
	}
	data, err := adv.MarshalBinary()
	if err != nil {
		return nil, err
	}
	st.c, st.input, st.malicious = c, input, p.Malicious
	return &fl.Message{Type: TypeAdvertise, Round: m.Round, Payload: data, Metrics: h.filterMetrics(reply.Metrics, weighted)}, nil
}

// weighted returns the input of a client with capped weights: w·Δ with Δ
// clamped to [-clip, clip], then w·clip, where w = min(weight/cap, 1).
func weighted(delta []float64, weight, clip, weightCap float64) ([]float64, error) {
	if !(weight > 0) || math.IsInf(weight, 0) {
		return nil, fmt.Errorf("%w: %v", fl.ErrBadWeight, weight)
	}
	w := min(weight/weightCap, 1)
	x := make([]float64, len(delta)+1)
	for j, v := range delta {
		x[j] = w * min(max(v, -clip), clip)
	}
	x[len(delta)] = w * clip
	return x, nil
}

// protocol answers one of the later steps.
func (h *handler) protocol(m *fl.Message) (*fl.Message, error) {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case !st.started:
		return nil, fmt.Errorf("%w: %q before any round opened", ErrOrder, m.Type)
	case m.Round != st.round:
		return nil, fmt.Errorf("%w: %q for round %d, the client is in round %d", ErrRound, m.Type, m.Round, st.round)
	case st.c == nil:
		return nil, fmt.Errorf("%w: %q in round %d, which the client finished or left", ErrOrder, m.Type, m.Round)
	}
	var (
		out     encoding.BinaryMarshaler
		outType string
		err     error
	)
	c := st.c
	switch m.Type {
	case TypeShareKeys:
		var kb secagg.KeysBroadcast
		if err := unmarshal(&kb, m.Payload); err != nil {
			return nil, err
		}
		if st.malicious {
			outType = TypeReveal
			out, err = nilIfErr(c.RevealSeed(&kb))
		} else {
			outType = TypeShares
			out, err = nilIfErr(c.ShareKeys(&kb))
		}
	case TypeSeed:
		var rb secagg.RevealsBroadcast
		if err := unmarshal(&rb, m.Payload); err != nil {
			return nil, err
		}
		outType = TypeShares
		out, err = nilIfErr(c.ShareKeysRevealed(&rb))
	case TypeMaskedInput:
		var sb secagg.SharesBroadcast
		if err := unmarshal(&sb, m.Payload); err != nil {
			return nil, err
		}
		outType = TypeMasked
		out, err = nilIfErr(c.MaskedInput(&sb, st.input))
		if err == nil {
			clear(st.input)
			st.input = nil
		}
	case TypeConsistency:
		var sm secagg.SurvivorsMsg
		if err := unmarshal(&sm, m.Payload); err != nil {
			return nil, err
		}
		outType = TypeSignature
		out, err = nilIfErr(c.ConsistencyCheck(&sm))
	case TypeUnmask:
		var req secagg.UnmaskRequest
		if err := unmarshal(&req, m.Payload); err != nil {
			return nil, err
		}
		outType = TypeUnmasked
		out, err = nilIfErr(c.Unmask(&req))
		if err == nil {
			st.drop() // the round is over for this client
		}
	}
	if err != nil {
		switch {
		case errors.Is(err, secagg.ErrPhase):
			return nil, fmt.Errorf("%w: %q: %w", ErrOrder, m.Type, err)
		case errors.Is(err, secagg.ErrSession):
			return nil, fmt.Errorf("%w: %q: %w", ErrRound, m.Type, err)
		}
		st.drop()
		return nil, fmt.Errorf("fedround: %q: the client leaves round %d: %w", m.Type, st.round, err)
	}
	data, err := out.MarshalBinary()
	if err != nil {
		st.drop()
		return nil, err
	}
	return &fl.Message{Type: outType, Round: m.Round, Payload: data}, nil
}

func unmarshal(v encoding.BinaryUnmarshaler, data []byte) error {
	if err := v.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// nilIfErr turns a typed result into an interface that is nil on error.
func nilIfErr[T encoding.BinaryMarshaler](v T, err error) (encoding.BinaryMarshaler, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
