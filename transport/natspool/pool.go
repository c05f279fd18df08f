package natspool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// DefaultPrefix is the subject prefix when a config leaves it empty:
// client id is served on "fedgo.id".
const DefaultPrefix = "fedgo"

// TaskHeader names a request (a random id), so that the server can cancel
// it: when the server stops waiting, it publishes the id on
// Prefix.cancel.id and the runner cancels the handler's context.
const TaskHeader = "Fedgo-Task"

func cancelSubject(prefix, id string) string { return Subject(prefix, "cancel."+id) }

// ErrorHeader is the NATS header in which a client runner returns the
// error of its handler (the reply then carries no frame).
const ErrorHeader = "Fedgo-Error"

// Errors of package natspool.
var (
	// ErrClient wraps the error a client's handler returned, as text.
	ErrClient = errors.New("natspool: the client returned an error")
	// ErrNoClient is returned by Send when no runner serves the client's
	// subject (NATS "no responders"): the client is offline.
	ErrNoClient = fmt.Errorf("natspool: no runner serves the client: %w", fl.ErrUnreachable)
	// ErrID is wrapped by the error for a client id that is not a single
	// NATS subject token.
	ErrID = errors.New("natspool: client id is not a valid subject token")
)

// Subject returns the subject on which client id is served under prefix
// ("" means DefaultPrefix).
func Subject(prefix, id string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "." + id
}

// CheckID reports whether id can name a client: a non-empty NATS subject
// token without '.', '*', '>' or white space, at most 256 bytes.
func CheckID(id string) error {
	if id == "" || len(id) > 256 || strings.ContainsAny(id, ".*> \t\r\n\x00") {
		return fmt.Errorf("%w: %q", ErrID, id)
	}
	return nil
}

// Config configures a [Pool].
type Config struct {
	// Conn is the server's NATS connection. Required. The pool does not
	// close it.
	Conn *nats.Conn
	// Prefix of the clients' subjects; "" means DefaultPrefix.
	Prefix string
	// IDs names the clients (the population). Required, without
	// duplicates, each a valid subject token (CheckID).
	IDs []string
	// Limits bound what the pool accepts in a reply and sends in a
	// request (a request over them, or over the NATS server's max
	// payload, fails before it is sent).
	Limits transport.Limits
	// MaxInFlightBytes bounds the request bytes awaiting a reply at once
	// (at least one request is always let through); 0 means 32 MiB. A
	// NATS server disconnects a subscriber (a worker, a client) whose
	// unsent bytes exceed its max_pending (64 MiB by default) and the
	// requests it held are lost, so this must stay below it.
	MaxInFlightBytes int64
	// JetStream, if set, sends tasks through a JetStream stream so that a
	// client briefly offline gets them when it returns (see [JetStream]);
	// nil means core NATS request/reply.
	JetStream *JetStream
}

// inFlightTokens is the granularity of MaxInFlightBytes.
const inFlightTokens = 64

// Pool is an [fl.Pool] whose clients are reached through NATS, by
// request/reply on one subject per client carrying the versioned wire
// frame of package transport. Connections are made on demand: an idle
// client costs its id. Pool is safe for concurrent use.
type Pool struct {
	cfg    Config
	ids    []string
	unit   int64         // bytes per token
	gate   chan struct{} // one acquirer at a time
	tokens chan struct{}
	js     jetstream.JetStream
	bufs   sync.Pool
	up     atomic.Int64
	down   atomic.Int64
}

var (
	_ fl.Pool           = (*Pool)(nil)
	_ fl.TrafficCounter = (*Pool)(nil)
)

// New returns a pool over cfg.IDs.
func New(cfg Config) (*Pool, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("natspool: Config.Conn is nil"))
	}
	if len(cfg.IDs) == 0 {
		errs = append(errs, errors.New("natspool: Config.IDs is empty"))
	}
	ids := slices.Clone(cfg.IDs)
	slices.Sort(ids)
	for i, id := range ids {
		if err := CheckID(id); err != nil {
			errs = append(errs, err)
		}
		if i > 0 && ids[i-1] == id {
			errs = append(errs, fmt.Errorf("natspool: duplicate client id %q", id))
		}
	}
	if err := CheckID(strings.ReplaceAll(cfg.Prefix, ".", "x") + "x"); cfg.Prefix != "" && err != nil {
		errs = append(errs, fmt.Errorf("natspool: bad subject prefix %q", cfg.Prefix))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", fl.ErrConfig, errors.Join(errs...))
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = 32 << 20
	}
	cfg.IDs = ids
	p := &Pool{cfg: cfg, ids: ids, unit: max(cfg.MaxInFlightBytes/inFlightTokens, 1),
		gate: make(chan struct{}, 1), tokens: make(chan struct{}, inFlightTokens)}
	if cfg.JetStream != nil {
		js, err := setupStream(cfg.Conn, p.prefix(), cfg.JetStream)
		if err != nil {
			return nil, err
		}
		p.js = js
	}
	return p, nil
}

// Population returns the clients' ids, sorted.
func (p *Pool) Population() []string { return p.ids }

// Conn returns the connection to client id; every registered client is
// reachable as far as the pool knows (an offline client fails its Send
// with ErrNoClient).
func (p *Pool) Conn(id string) (fl.Conn, bool) {
	if _, ok := slices.BinarySearch(p.ids, id); !ok {
		return nil, false
	}
	return &conn{p: p, id: id, subject: Subject(p.cfg.Prefix, id)}, true
}

// Traffic returns the frame bytes received from and sent to clients.
func (p *Pool) Traffic() (up, down int64) { return p.up.Load(), p.down.Load() }

type conn struct {
	p       *Pool
	id      string
	subject string
}

func (c *conn) ID() string { return c.id }

// Send sends m as one request on the client's subject and waits for the
// reply until ctx is done.
func (c *conn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	p := c.p
	buf, _ := p.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() { buf.Reset(); p.bufs.Put(buf) }()
	buf.Grow(int(transport.FrameSize(m)))
	if _, err := transport.WriteFrame(buf, m, p.cfg.Limits, transport.FrameOptions{}); err != nil {
		return nil, err
	}
	if max := p.cfg.Conn.MaxPayload(); max > 0 && int64(buf.Len()) > max {
		return nil, fmt.Errorf("%w: a frame of %d bytes over the NATS max payload %d (raise max_payload on the servers)", transport.ErrFrameTooLarge, buf.Len(), max)
	}
	k := min(inFlightTokens, max(1, (int64(buf.Len())+p.unit-1)/p.unit))
	err := p.acquire(ctx, int(k))
	if err != nil {
		return nil, fmt.Errorf("natspool: client %q: waiting to send: %w (%w)", c.id, fl.ErrTimeout, err)
	}
	p.down.Add(int64(buf.Len()))
	task := nuid.Next()
	var reply *nats.Msg
	if p.js != nil {
		reply, err = c.sendJetStream(ctx, buf.Bytes(), task)
	} else {
		req := &nats.Msg{Subject: c.subject, Data: buf.Bytes(), Header: nats.Header{TaskHeader: []string{task}}}
		reply, err = p.cfg.Conn.RequestMsgWithContext(ctx, req)
	}
	p.release(int(k))
	if err != nil && ctx.Err() != nil {
		// Tell the client its work is no longer wanted (best effort).
		p.cfg.Conn.Publish(cancelSubject(p.prefix(), c.id), []byte(task))
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrNoClient
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("natspool: client %q: %w (%w)", c.id, fl.ErrTimeout, err)
	case err != nil:
		return nil, fmt.Errorf("natspool: client %q: %w", c.id, err)
	}
	p.up.Add(int64(len(reply.Data)))
	if e := reply.Header.Get(ErrorHeader); e != "" {
		return nil, fmt.Errorf("%w: %s", ErrClient, e)
	}
	rm, _, err := transport.ReadFrame(bytes.NewReader(reply.Data), p.cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("natspool: client %q: %w", c.id, err)
	}
	return rm, nil
}

// acquire takes k tokens of the in-flight budget, or returns ctx.Err().
// Acquirers take their tokens one at a time behind a gate, so that two
// large requests cannot each hold part of the budget and wait forever.
func (p *Pool) acquire(ctx context.Context, k int) error {
	select {
	case p.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.gate }()
	for i := range k {
		select {
		case p.tokens <- struct{}{}:
		case <-ctx.Done():
			p.release(i)
			return ctx.Err()
		}
	}
	return nil
}

func (p *Pool) release(k int) {
	for range k {
		<-p.tokens
	}
}
