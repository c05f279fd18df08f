package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// ClientConfig configures a [Client]. Zero fields take the defaults in
// their comments.
type ClientConfig struct {
	// ID is the client's id. Required with Token; with a TLS client
	// certificate it must equal the certificate's CommonName (or be empty).
	ID string
	// Token is the bearer token, when the server authenticates by tokens.
	Token string
	// TLS configures the connection (root CAs, client certificate). Nil
	// means the system roots. MinVersion is raised to TLS 1.3.
	TLS *tls.Config
	// HTTPClient, if set, is used as it is (TLS is then ignored); the
	// caller owns its connections.
	HTTPClient *http.Client
	// PollTimeout bounds one long poll, in case the server vanished
	// without closing the connection; 0 means 60 s. It must exceed the
	// server's PollWait.
	PollTimeout time.Duration
	// Heartbeat is how often the client tells the server it is still
	// working on a task; 0 means 5 s.
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// request; 0 means 100 ms and 10 s. The wait doubles with each
	// consecutive failure and is jittered to [d/2, d].
	MinBackoff, MaxBackoff time.Duration
	// Seed seeds the jitter (with the client id).
	Seed uint64
	// Zstd compresses the results the client posts.
	Zstd bool
	// Limits bound the tasks the client accepts, and the results it
	// posts (the server should accept at least as much).
	Limits Limits
	// Logger receives the client's log; nil discards it.
	Logger *slog.Logger
}

// DefaultClientConfig returns a config with every default spelled out and
// no credentials: set ID and Token, or a client certificate in TLS.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		PollTimeout: time.Minute,
		Heartbeat:   5 * time.Second,
		MinBackoff:  100 * time.Millisecond,
		MaxBackoff:  10 * time.Second,
	}
}

// Validate reports whether the config is usable.
func (c *ClientConfig) Validate() error {
	var errs []error
	if c.ID != "" {
		if err := checkClientID(c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Token != "" && c.ID == "" {
		errs = append(errs, errors.New("a Token needs an ID"))
	}
	if c.PollTimeout < 0 || c.Heartbeat < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 {
		errs = append(errs, errors.New("negative PollTimeout, Heartbeat or backoff"))
	}
	if c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("MinBackoff %v > MaxBackoff %v", c.MinBackoff, c.MaxBackoff))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("transport: invalid ClientConfig: %w", errors.Join(errs...))
}

// Client is the client side of the network transport: it runs an
// [fl.Handler] against an [HTTPPool], one task at a time, until its
// context is done.
//
// A broken connection is retried with exponential backoff and seeded
// jitter. A result whose upload broke is posted again whole, under the same
// task id; the server accepts it once (a re-post after a success is
// answered 409 and the client moves on). A task whose download broke is
// issued again by the server on the client's next poll.
type Client struct {
	cfg   ClientConfig
	base  string
	h     fl.Handler
	hc    *http.Client
	owned *http.Transport
	log   *slog.Logger
	rng   *rand.Rand
}

// NewClient returns a client of the server at serverURL (https, with the
// path under which the host mounted the HTTPPool) that answers tasks with h.
func NewClient(serverURL string, h fl.Handler, cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("transport: nil handler")
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("transport: server URL: %w", err)
	}
	if u.Scheme != "https" && cfg.HTTPClient == nil {
		return nil, fmt.Errorf("transport: server URL %q: want https", serverURL)
	}
	c := &Client{cfg: cfg, base: strings.TrimSuffix(u.String(), "/"), h: h, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.cfg.PollTimeout, time.Minute)
	def(&c.cfg.Heartbeat, 5*time.Second)
	def(&c.cfg.MinBackoff, 100*time.Millisecond)
	def(&c.cfg.MaxBackoff, 10*time.Second)
	c.cfg.MaxBackoff = max(c.cfg.MaxBackoff, c.cfg.MinBackoff)
	hsh := fnv.New64a()
	hsh.Write([]byte(cfg.ID))
	c.rng = rand.New(rand.NewPCG(cfg.Seed, hsh.Sum64()))
	c.hc = cfg.HTTPClient
	if c.hc == nil {
		tc := &tls.Config{}
		if cfg.TLS != nil {
			tc = cfg.TLS.Clone()
		}
		tc.MinVersion = max(tc.MinVersion, tls.VersionTLS13)
		c.owned = &http.Transport{
			TLSClientConfig:     tc,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			HTTP2: &http.HTTP2Config{
				MaxReceiveBufferPerConnection: 8 << 20,
				MaxReceiveBufferPerStream:     8 << 20,
				SendPingTimeout:               15 * time.Second,
				PingTimeout:                   15 * time.Second,
			},
		}
		c.hc = &http.Client{Transport: c.owned}
	}
	return c, nil
}

// Dial runs a client of the server at serverURL with handler h until ctx
// is done; it is NewClient followed by Run.
func Dial(ctx context.Context, serverURL string, h fl.Handler, cfg ClientConfig) error {
	c, err := NewClient(serverURL, h, cfg)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// Run registers with the server, then polls for tasks, answers them with
// the handler and posts the results, until ctx is done; it then returns
// ctx.Err(). It returns ErrUnauthorized at once if the server refuses the
// client's credentials. Every goroutine it starts has ended when it
// returns, and the connections it opened are closed.
func (c *Client) Run(ctx context.Context) error {
	if c.owned != nil {
		defer c.owned.CloseIdleConnections()
	}
	fails := 0
	registered := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var t *clientTask
		var err error
		if !registered {
			err = c.register(ctx)
			registered = err == nil
		} else {
			t, err = c.poll(ctx)
		}
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fails++
			c.log.Warn("transport: request failed", "client", c.cfg.ID, "err", err, "attempt", fails)
			if !c.sleep(ctx, fails) {
				return ctx.Err()
			}
			continue
		}
		fails = 0
		if t != nil {
			c.work(ctx, t)
		}
	}
}

// backoff returns the wait before the fails-th retry.
func (c *Client) backoff(fails int) time.Duration {
	d := c.cfg.MaxBackoff
	if fails < 40 {
		d = min(d, c.cfg.MinBackoff<<(fails-1))
	}
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(c.rng.Int64N(int64(d/2)+1))
}

func (c *Client) sleep(ctx context.Context, fails int) bool {
	t := time.NewTimer(c.backoff(fails))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.cfg.ID != "" {
		req.Header.Set(HeaderClient, c.cfg.ID)
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	return req, nil
}

// statusError is an unexpected HTTP answer.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("transport: HTTP %d: %s", e.code, e.msg) }

func answerError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(b))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: HTTP %d: %s", ErrUnauthorized, resp.StatusCode, msg)
	}
	return &statusError{resp.StatusCode, msg}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
}

func (c *Client) register(ctx context.Context) error {
	req, err := c.newRequest(ctx, http.MethodPost, PathRegister, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusNoContent {
		return answerError(resp)
	}
	return nil
}

type clientTask struct {
	id  string
	msg *fl.Message
}

// poll waits for the next task; it returns nil, nil when there is none.
func (c *Client) poll(ctx context.Context) (*clientTask, error) {
	pctx, cancel := context.WithTimeout(ctx, c.cfg.PollTimeout)
	defer cancel()
	req, err := c.newRequest(pctx, http.MethodGet, PathTask, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, answerError(resp)
	}
	id := resp.Header.Get(HeaderTask)
	if len(id) != 2*taskIDBytes || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("transport: server sent a task with a malformed id %q", id)
	}
	m, _, err := readFrame(resp.Body, c.cfg.Limits, resp.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("transport: task %s: %w", id, err)
	}
	return &clientTask{id: id, msg: m}, nil
}

// work answers one task and posts its result.
func (c *Client) work(ctx context.Context, t *clientTask) {
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.heartbeat(hctx, cancel, t.id, stop) })
	reply, herr := c.h.Handle(hctx, t.msg)
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	if context.Cause(hctx) == errWithdrawn {
		c.log.Info("transport: task withdrawn by the server", "client", c.cfg.ID, "task", t.id)
		return
	}
	if herr == nil && reply == nil {
		herr = errors.New("handler returned no message")
	}
	if herr == nil && reply.Round < 0 {
		herr = fmt.Errorf("handler returned negative round %d", reply.Round)
	}
	if herr == nil {
		if err := checkLimits(reply, c.cfg.Limits); err != nil {
			herr = err
		}
	}
	for fails := 0; ; {
		err := c.post(ctx, t.id, reply, herr)
		if err == nil || ctx.Err() != nil {
			return
		}
		var se *statusError
		if errors.Is(err, ErrUnauthorized) || errors.As(err, &se) && se.code < 500 {
			// 404 and 410: the round moved on; 409: already accepted
			// (a re-post after a lost answer); other 4xx: refused.
			c.log.Info("transport: result not taken", "client", c.cfg.ID, "task", t.id, "err", err)
			return
		}
		fails++
		c.log.Warn("transport: posting a result failed; will post it again", "client", c.cfg.ID, "task", t.id, "err", err, "attempt", fails)
		if !c.sleep(ctx, fails) {
			return
		}
	}
}

var errWithdrawn = errors.New("transport: task withdrawn")

// heartbeat tells the server every Heartbeat that the client is still at
// work on task id, and cancels the handler if the server no longer wants
// the result.
func (c *Client) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, id string, stop chan struct{}) {
	tick := time.NewTicker(c.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		req, err := c.newRequest(ctx, http.MethodPost, PathHeartbeat+id, nil)
		if err != nil {
			return
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			continue
		}
		code := resp.StatusCode
		drain(resp)
		if code == http.StatusGone {
			cancel(errWithdrawn)
			return
		}
	}
}

// post sends the result of task id: the frame of reply, or the text of herr.
func (c *Client) post(ctx context.Context, id string, reply *fl.Message, herr error) error {
	var body io.Reader
	var size int64
	ctype := FrameContentType
	switch {
	case herr != nil:
		msg := herr.Error()
		if len(msg) > MaxErrorBytes {
			msg = msg[:MaxErrorBytes]
		}
		body, size, ctype = strings.NewReader(msg), int64(len(msg)), ErrorContentType
	case c.cfg.Zstd:
		var b []byte
		if _, err := WriteFrame(&bytesWriter{&b}, reply, c.cfg.Limits, FrameOptions{Zstd: true}); err != nil {
			return err
		}
		body, size = bytes.NewReader(b), int64(len(b))
	default:
		body, size = NewFrameReader(reply), FrameSize(reply)
	}
	req, err := c.newRequest(ctx, http.MethodPost, PathResult+id, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", ctype)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	return answerError(resp)
}
