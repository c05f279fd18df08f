package transport

import (
	"context"
	"fmt"
	"sync"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
)

// EncodeUplink returns client middleware that compresses every update the
// client sends: the reply's Params (the delta) is encoded with c into
// Payload. c belongs to this one client — a codec with error feedback
// keeps the client's residual between rounds — so build the handler chain
// of each client with its own codec, and keep that codec for the client's
// next round. The server decodes with [CompressUplink].
//
// It encodes [fl.TypeUpdate] replies, passes [fl.TypeMetrics] replies
// through, and refuses a reply of any other type (a protocol message such
// as secure aggregation's, which it cannot compress and must not pass on as
// if it had).
func EncodeUplink(c compress.Codec) fl.Middleware {
	var mu sync.Mutex // a client answers one message at a time; the lock makes misuse safe
	var buf []byte
	return func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			r, err := next.Handle(ctx, m)
			if err != nil || r == nil || r.Type == fl.TypeMetrics {
				return r, err
			}
			if r.Type != fl.TypeUpdate {
				return nil, fmt.Errorf("%w: uplink codec %s cannot encode a %q reply", fl.ErrConfig, c.Name(), r.Type)
			}
			if len(r.Params) == 0 {
				return r, nil
			}
			mu.Lock()
			defer mu.Unlock()
			buf, err = c.Encode(buf[:0], r.Params)
			if err != nil {
				return nil, fmt.Errorf("transport: encoding update with %s: %w", c.Name(), err)
			}
			out := *r
			out.Params = nil
			out.Payload = append([]byte(nil), buf...)
			return &out, nil
		})
	}
}

// CompressUplink wraps pool so that updates encoded by clients with
// [EncodeUplink] reach the server decoded: a [fl.TypeUpdate] reply whose
// Payload holds a vector encoded with c (or any codec of the same name)
// gets it back in Params. maxLen bounds the length decoded (0 means
// compress.DefaultMaxLen); a payload that does not decode, or decodes to
// more, is an error of that client's send. The pool decodes one payload at
// a time (some codecs keep scratch state in Decode: rand-k regenerates its
// indices in a generator of its own), so c is never used concurrently.
func CompressUplink(pool fl.Pool, c compress.Codec, maxLen int) fl.Pool {
	if maxLen <= 0 {
		maxLen = compress.DefaultMaxLen
	}
	return &upPool{inner: pool, codec: c, maxLen: maxLen}
}

type upPool struct {
	inner  fl.Pool
	codec  compress.Codec
	maxLen int
	mu     sync.Mutex // serializes the codec
}

var (
	_ fl.Pool      = (*upPool)(nil)
	_ fl.Encoder   = (*upPool)(nil)
	_ fl.Unwrapper = (*upPool)(nil)
)

func (p *upPool) Population() []string        { return p.inner.Population() }
func (p *upPool) Unwrap() fl.Pool             { return p.inner }
func (p *upPool) Encoding() (up, down string) { return p.codec.Name(), "" }
func (p *upPool) Traffic() (up, down int64)   { return traffic(p.inner) }

func (p *upPool) Conn(id string) (fl.Conn, bool) {
	c, ok := p.inner.Conn(id)
	if !ok {
		return nil, false
	}
	return upConn{c, p}, true
}

type upConn struct {
	fl.Conn
	p *upPool
}

func (c upConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	r, err := c.Conn.Send(ctx, m)
	if err != nil || r == nil || r.Type != fl.TypeUpdate || len(r.Payload) == 0 {
		return r, err
	}
	if len(r.Params) != 0 {
		return nil, fmt.Errorf("%w: update carries both Params and Payload", fl.ErrReply)
	}
	return c.p.decode(r)
}

// decode returns r with its payload decoded into Params.
func (p *upPool) decode(r *fl.Message) (*fl.Message, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.codec.DecodedLen(r.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fl.ErrReply, err)
	}
	if n > p.maxLen {
		return nil, fmt.Errorf("%w: %d values, limit %d", compress.ErrTooLarge, n, p.maxLen)
	}
	d := *r
	d.Params = make([]float64, n)
	if err := p.codec.Decode(d.Params, r.Payload); err != nil {
		return nil, fmt.Errorf("%w: %w", fl.ErrReply, err)
	}
	d.Payload = nil
	return &d, nil
}

// traffic reads p's byte counters, if it has them.
func traffic(p fl.Pool) (up, down int64) {
	if tc, ok := p.(fl.TrafficCounter); ok {
		return tc.Traffic()
	}
	return 0, 0
}

// CompressDownlink wraps pool so that the parameters the server sends with
// train and evaluate messages travel encoded with c, in Payload. Clients
// decode them with [DecodeDownlink]. c must be stateless (no error
// feedback: every client gets the same bytes), and is used from one
// goroutine at a time; each distinct message is encoded once. A message
// that already carries a Payload (a protocol message) is refused.
func CompressDownlink(pool fl.Pool, c compress.Codec) fl.Pool {
	return &downPool{inner: pool, codec: c}
}

type downPool struct {
	inner fl.Pool
	codec compress.Codec

	mu   sync.Mutex
	last *fl.Message // the message last encoded
	enc  *fl.Message // its encoded form
	err  error
}

var (
	_ fl.Pool      = (*downPool)(nil)
	_ fl.Encoder   = (*downPool)(nil)
	_ fl.Unwrapper = (*downPool)(nil)
)

func (p *downPool) Population() []string        { return p.inner.Population() }
func (p *downPool) Unwrap() fl.Pool             { return p.inner }
func (p *downPool) Encoding() (up, down string) { return "", p.codec.Name() }

// Traffic passes through the inner pool's counters.
func (p *downPool) Traffic() (up, down int64) { return traffic(p.inner) }

func (p *downPool) Conn(id string) (fl.Conn, bool) {
	c, ok := p.inner.Conn(id)
	if !ok {
		return nil, false
	}
	return downConn{c, p}, true
}

// encoded returns m with its Params moved into an encoded Payload,
// encoding each message once however many clients it goes to.
func (p *downPool) encoded(m *fl.Message) (*fl.Message, error) {
	if len(m.Params) == 0 || (m.Type != fl.TypeTrain && m.Type != fl.TypeEvaluate) {
		return m, nil
	}
	if len(m.Payload) != 0 {
		return nil, fmt.Errorf("%w: a %q message with a payload of its own cannot carry encoded parameters", fl.ErrConfig, m.Type)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != m {
		p.last = m
		payload, err := p.codec.Encode(nil, m.Params)
		p.err = err
		if err == nil {
			e := *m
			e.Params, e.Payload = nil, payload
			p.enc = &e
		}
	}
	return p.enc, p.err
}

type downConn struct {
	fl.Conn
	p *downPool
}

func (c downConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	e, err := c.p.encoded(m)
	if err != nil {
		return nil, fmt.Errorf("transport: encoding parameters with %s: %w", c.p.codec.Name(), err)
	}
	return c.Conn.Send(ctx, e)
}

// DecodeDownlink returns client middleware that decodes parameters sent by
// a pool wrapped with [CompressDownlink]: a train or evaluate message
// whose Payload holds them gets them back in Params. maxLen bounds the
// vector length accepted (0 means compress.DefaultMaxLen).
func DecodeDownlink(c compress.Codec, maxLen int) fl.Middleware {
	if maxLen <= 0 {
		maxLen = compress.DefaultMaxLen
	}
	return func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			if len(m.Payload) == 0 || len(m.Params) != 0 || (m.Type != fl.TypeTrain && m.Type != fl.TypeEvaluate) {
				return next.Handle(ctx, m)
			}
			n, err := c.DecodedLen(m.Payload)
			if err != nil {
				return nil, err
			}
			if n > maxLen {
				return nil, fmt.Errorf("%w: %d parameters, limit %d", compress.ErrTooLarge, n, maxLen)
			}
			d := *m
			d.Params = make([]float64, n)
			if err := c.Decode(d.Params, m.Payload); err != nil {
				return nil, err
			}
			d.Payload = nil
			return next.Handle(ctx, &d)
		})
	}
}
