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
	"strconv"
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
	// HTTPClient, if set, carries the requests (TLS is then ignored); the
	// caller owns its connections. Its CheckRedirect is replaced: the
	// client never follows a redirect.
	HTTPClient *http.Client
	// PollTimeout bounds the wait for the answer to one long poll, in
	// case the server vanished without closing the connection; 0 means
	// 60 s. It must exceed the server's PollWait. A task's body then has
	// RequestTimeout + k/MinRate for its k bytes.
	PollTimeout time.Duration
	// RequestTimeout bounds every other request (register, heartbeat,
	// the HEAD of a resumed upload) and the wait for the answer to a
	// result; 0 means 30 s. MinRate (bytes a second, 0 means 16 KiB/s)
	// extends it for bodies: a result of k bytes may take RequestTimeout
	// + k/MinRate, and so may a task of k bytes once its poll is answered.
	RequestTimeout time.Duration
	MinRate        int64
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
	// ResumeBytes: a result frame of at least this many bytes is
	// uploaded resumably (Upload-Length), so that after a broken
	// connection only the bytes the server lacks are sent again; 0 means
	// 1 MiB, a negative value never. Smaller results are posted whole.
	ResumeBytes int64
	// Limits bound the tasks the client accepts, and the results it
	// posts (the server should accept at least as much). Derive them from
	// the model with [LimitsFor]; the zero value's defaults admit tasks of
	// about 4 GB.
	Limits Limits
	// Logger receives the client's log; nil discards it.
	Logger *slog.Logger
}

// DefaultClientConfig returns a config with every default spelled out and
// no credentials: set ID and Token, or a client certificate in TLS.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		PollTimeout:    time.Minute,
		RequestTimeout: 30 * time.Second,
		MinRate:        16 << 10,
		Heartbeat:      5 * time.Second,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     10 * time.Second,
		ResumeBytes:    1 << 20,
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
	if c.PollTimeout < 0 || c.Heartbeat < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 || c.RequestTimeout < 0 || c.MinRate < 0 {
		errs = append(errs, errors.New("negative PollTimeout, RequestTimeout, MinRate, Heartbeat or backoff"))
	}
	if c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("MinBackoff %v > MaxBackoff %v", c.MinBackoff, c.MaxBackoff))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("transport: ClientConfig: %w: %w", fl.ErrConfig, errors.Join(errs...))
}

// Client is the client side of the network transport: it runs an
// [fl.Handler] against an [HTTPPool], one task at a time, until its
// context is done.
//
// A broken connection is retried with exponential backoff and seeded
// jitter. A large result whose upload broke is resumed: the client asks
// the server how many bytes it holds and sends only the rest; a smaller
// one (or one of which the server holds nothing) is posted again whole,
// under the same task id. The server accepts a result once (a re-post
// after a success is answered 409 and the client moves on). A task whose download broke is
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
	def(&c.cfg.RequestTimeout, 30*time.Second)
	if c.cfg.MinRate == 0 {
		c.cfg.MinRate = 16 << 10
	}
	def(&c.cfg.Heartbeat, 5*time.Second)
	def(&c.cfg.MinBackoff, 100*time.Millisecond)
	def(&c.cfg.MaxBackoff, 10*time.Second)
	c.cfg.MaxBackoff = max(c.cfg.MaxBackoff, c.cfg.MinBackoff)
	if c.cfg.ResumeBytes == 0 {
		c.cfg.ResumeBytes = 1 << 20
	}
	hsh := fnv.New64a()
	hsh.Write([]byte(cfg.ID))
	c.rng = rand.New(rand.NewPCG(cfg.Seed, hsh.Sum64()))
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.hc = &hc
	} else {
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
			// The long poll waits up to PollTimeout for its answer's
			// headers; every other request has a shorter context.
			ResponseHeaderTimeout:  c.cfg.PollTimeout,
			MaxResponseHeaderBytes: 64 << 10,
		}
		c.hc = &http.Client{Transport: c.owned}
	}
	c.hc.CheckRedirect = refuseRedirect
	return c, nil
}

// ErrRedirect is wrapped by the error of a request that the server
// answered with a redirect: the client never follows one (it would carry
// the client's credentials and results elsewhere).
var ErrRedirect = errors.New("transport: the server redirected a request; the client does not follow redirects")

func refuseRedirect(req *http.Request, via []*http.Request) error {
	return fmt.Errorf("%w (to %s)", ErrRedirect, req.URL.Redacted())
}

// withTimeout returns ctx bounded by d from now, and a function that
// moves that bound to d' from the time it is called.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, func(time.Duration), context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	reset := func(d time.Duration) { timer.Reset(d) }
	return ctx, reset, func() {
		timer.Stop()
		cancel(context.Canceled)
	}
}

// bodyTime is the time allowed for a body of n bytes.
func (c *Client) bodyTime(n int64) time.Duration {
	return c.cfg.RequestTimeout + time.Duration(float64(max(n, 0))/float64(c.cfg.MinRate)*float64(time.Second))
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
// the handler and posts the results, until the server says that the run
// is over (Run then returns nil) or ctx is done (it then returns
// ctx.Err()). It returns ErrUnauthorized at once if the server refuses the
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
		if errors.Is(err, errRunOver) {
			c.log.Info("transport: the server ended the run", "client", c.cfg.ID)
			return nil
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
	ctx, _, cancel := withTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
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

// errRunOver is the answer to a poll once the server's run is over.
var errRunOver = errors.New("transport: the run is over")

// poll waits for the next task; it returns nil, nil when there is none.
func (c *Client) poll(ctx context.Context) (*clientTask, error) {
	pctx, reset, cancel := withTimeout(ctx, c.cfg.PollTimeout)
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
	case http.StatusGone:
		if resp.Header.Get(HeaderRun) == RunFinished {
			return nil, errRunOver
		}
		return nil, answerError(resp)
	default:
		return nil, answerError(resp)
	}
	if limit := maxUploadBytes(c.cfg.Limits); resp.ContentLength > limit {
		return nil, fmt.Errorf("transport: server sent a task of %d bytes, over the limits (%d)", resp.ContentLength, limit)
	}
	reset(c.bodyTime(resp.ContentLength))
	id := resp.Header.Get(HeaderTask)
	if len(id) != 2*taskIDBytes || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("transport: server sent a task with a malformed id %q", id)
	}
	// No hint: the vectors grow as their bytes arrive, whatever the
	// Content-Length says.
	m, _, err := readFrame(resp.Body, c.cfg.Limits, -1)
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
	up, err := c.newUpload(reply, herr)
	if err != nil {
		c.log.Warn("transport: result not encoded", "client", c.cfg.ID, "task", t.id, "err", err)
		return
	}
	for fails := 0; ; {
		err := c.post(ctx, t.id, up)
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
		code, err := c.beat(ctx, id)
		if err != nil {
			continue
		}
		if code == http.StatusGone {
			cancel(errWithdrawn)
			return
		}
	}
}

// beat sends one heartbeat for task id and returns the server's status.
func (c *Client) beat(ctx context.Context, id string) (int, error) {
	ctx, _, cancel := withTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodPost, PathHeartbeat+id, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	return resp.StatusCode, nil
}

// upload is a result on its way to the server.
type upload struct {
	ctype     string
	size      int64
	open      func() io.Reader // a reader of the whole body
	resumable bool
	off       int64 // the bytes the server holds, as last heard
	probe     bool  // ask the server for off before the next post
}

// newUpload prepares the body of a result: the frame of reply, or the
// text of herr.
func (c *Client) newUpload(reply *fl.Message, herr error) (*upload, error) {
	switch {
	case herr != nil:
		msg := herr.Error()
		if len(msg) > MaxErrorBytes {
			msg = msg[:MaxErrorBytes]
		}
		return &upload{ctype: ErrorContentType, size: int64(len(msg)),
			open: func() io.Reader { return strings.NewReader(msg) }}, nil
	case c.cfg.Zstd:
		var b []byte
		if _, err := WriteFrame(&bytesWriter{&b}, reply, c.cfg.Limits, FrameOptions{Zstd: true}); err != nil {
			return nil, err
		}
		size := int64(len(b))
		return &upload{ctype: FrameContentType, size: size, resumable: c.resumable(size),
			open: func() io.Reader { return bytes.NewReader(b) }}, nil
	default:
		size := FrameSize(reply)
		return &upload{ctype: FrameContentType, size: size, resumable: c.resumable(size),
			open: func() io.Reader { return NewFrameReader(reply) }}, nil
	}
}

func (c *Client) resumable(size int64) bool {
	return c.cfg.ResumeBytes > 0 && size >= c.cfg.ResumeBytes && size > 0
}

// post sends the result of task id, or the part of it the server lacks.
func (c *Client) post(ctx context.Context, id string, up *upload) error {
	if up.resumable && up.probe {
		off, err := c.uploadState(ctx, id, up.size)
		if err != nil {
			return err
		}
		up.off, up.probe = off, false
	}
	ctx, _, cancel := withTimeout(ctx, c.bodyTime(up.size-up.off))
	defer cancel()
	body := up.open()
	if up.off > 0 {
		if _, err := io.CopyN(io.Discard, body, up.off); err != nil {
			return fmt.Errorf("transport: skipping %d bytes of the result: %w", up.off, err)
		}
	}
	req, err := c.newRequest(ctx, http.MethodPost, PathResult+id, body)
	if err != nil {
		return err
	}
	req.ContentLength = up.size - up.off
	req.Header.Set("Content-Type", up.ctype)
	if up.resumable {
		req.Header.Set(HeaderUploadLength, strconv.FormatInt(up.size, 10))
		req.Header.Set(HeaderUploadOffset, strconv.FormatInt(up.off, 10))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		up.probe = up.resumable
		return err
	}
	defer drain(resp)
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil
	case up.resumable && (resp.StatusCode == http.StatusAccepted ||
		resp.StatusCode == http.StatusConflict && resp.Header.Get(HeaderUploadOffset) != ""):
		// The server holds a different part than we thought: go on from
		// where it is.
		off, err := serverOffset(resp.Header, up.size)
		if err != nil {
			return err
		}
		up.off = off
		return fmt.Errorf("transport: HTTP %d: the server holds %d of %d bytes; resuming there", resp.StatusCode, off, up.size)
	case resp.StatusCode >= 500:
		up.probe = up.resumable
	}
	return answerError(resp)
}

// uploadState asks the server how many bytes of task id's result (of size
// bytes) it holds.
func (c *Client) uploadState(ctx context.Context, id string, size int64) (int64, error) {
	ctx, _, cancel := withTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodHead, PathResult+id, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return 0, answerError(resp)
	}
	return serverOffset(resp.Header, size)
}

// serverOffset reads the server's Upload-Offset (and Upload-Length) from
// an answer about an upload of size bytes; a part of another length counts
// as nothing (the client starts again from 0).
func serverOffset(h http.Header, size int64) (int64, error) {
	off, err := parseUploadNumber(h.Get(HeaderUploadOffset))
	if err != nil {
		return 0, fmt.Errorf("transport: server's %s: %w", HeaderUploadOffset, err)
	}
	if l := h.Get(HeaderUploadLength); l != "" {
		n, err := parseUploadNumber(l)
		if err != nil {
			return 0, fmt.Errorf("transport: server's %s: %w", HeaderUploadLength, err)
		}
		if n != size {
			return 0, nil
		}
	}
	if off >= size {
		return 0, fmt.Errorf("transport: server's %s %d is not below the upload's %d bytes", HeaderUploadOffset, off, size)
	}
	return off, nil
}
