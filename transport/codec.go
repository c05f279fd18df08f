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
// next round. The server decodes with [UplinkDecoder].
func EncodeUplink(c compress.Codec) fl.Middleware {
	var mu sync.Mutex // a client answers one message at a time; the lock makes misuse safe
	var buf []byte
	return func(next fl.Handler) fl.Handler {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			r, err := next.Handle(ctx, m)
			if err != nil || r == nil || r.Type != fl.TypeUpdate || len(r.Params) == 0 {
				return r, err
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

// UplinkDecoder is the server side of [EncodeUplink]: an
// fl.UpdateDecoder that decodes payloads written by Codec (or by any codec
// of the same name). Decoding is stateless; payloads of another codec, of
// the wrong length, or malformed are rejected with an error.
type UplinkDecoder struct {
	Codec compress.Codec
}

var _ fl.UpdateDecoder = UplinkDecoder{}

// DecodeUpdate decodes m.Payload into dst.
func (d UplinkDecoder) DecodeUpdate(dst []float64, m *fl.Message) error {
	n, err := d.Codec.DecodedLen(m.Payload)
	if err != nil {
		return err
	}
	if n != len(dst) {
		return fmt.Errorf("%w: payload holds %d values, model has %d", fl.ErrLength, n, len(dst))
	}
	return d.Codec.Decode(dst, m.Payload)
}

// CompressDownlink wraps pool so that the parameters the server sends with
// train and evaluate messages travel encoded with c, in Payload. Clients
// decode them with [DecodeDownlink]. c must be stateless (no error
// feedback: every client gets the same bytes), and is used from one
// goroutine at a time; each distinct message is encoded once.
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

func (p *downPool) Conns() []fl.Conn {
	in := p.inner.Conns()
	out := make([]fl.Conn, len(in))
	for i, c := range in {
		out[i] = downConn{c, p}
	}
	return out
}

// Traffic passes through the inner pool's counters.
func (p *downPool) Traffic() (up, down int64) {
	if tc, ok := p.inner.(fl.TrafficCounter); ok {
		return tc.Traffic()
	}
	return 0, 0
}

// encoded returns m with its Params moved into an encoded Payload,
// encoding each message once however many clients it goes to.
func (p *downPool) encoded(m *fl.Message) (*fl.Message, error) {
	if len(m.Params) == 0 || (m.Type != fl.TypeTrain && m.Type != fl.TypeEvaluate) {
		return m, nil
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
