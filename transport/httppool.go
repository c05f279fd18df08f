package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// Errors of the network transport.
var (
	// ErrClientGone is returned by Send for a client that has not polled,
	// posted or sent a heartbeat for HTTPPoolConfig.ClientTimeout. It
	// wraps fl.ErrTimeout: the server counts the client as a dropout.
	ErrClientGone = fmt.Errorf("transport: client gone: %w", fl.ErrTimeout)
	// ErrTaskTimeout is returned by Send when the client did not answer
	// within HTTPPoolConfig.TaskTimeout. It wraps fl.ErrTimeout.
	ErrTaskTimeout = fmt.Errorf("transport: client did not answer within the task timeout: %w", fl.ErrTimeout)
	// ErrClosed is returned by Send after HTTPPool.Close.
	ErrClosed = errors.New("transport: pool closed")
	// ErrUnauthorized is returned by Client.Run when the server refuses
	// the client's credentials.
	ErrUnauthorized = errors.New("transport: server refused the client's credentials")
)

// RemoteError is the error a client's handler returned, as Send reports it.
type RemoteError struct {
	Client  string
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("transport: client %q: %s", e.Client, e.Message)
}

// HTTP API, version 1 (see the package documentation, "Network protocol").
const (
	PathRegister  = "/v1/register"
	PathTask      = "/v1/task"
	PathResult    = "/v1/result/"    // + task id
	PathHeartbeat = "/v1/heartbeat/" // + task id

	// HeaderClient names the client when it authenticates with a bearer token.
	HeaderClient = "Fedgo-Client"
	// HeaderTask carries the id of the task in the body of a poll's answer.
	HeaderTask = "Fedgo-Task"

	// FrameContentType is the media type of a version-2 frame.
	FrameContentType = "application/vnd.fedgo.frame"
	// ErrorContentType is the media type of a client's error report.
	ErrorContentType = "text/plain; charset=utf-8"
	// HeaderRun, with the value RunFinished, marks the 410 Gone that
	// answers a poll once the run is over (HTTPPool.Finish).
	HeaderRun   = "Fedgo-Run"
	RunFinished = "finished"

	// MaxErrorBytes bounds a client's error report.
	MaxErrorBytes = 4096
	taskIDBytes   = 16
	finishedKept  = 1 << 16
)

// HTTPPoolConfig configures an [HTTPPool]. Zero fields take the defaults in
// their comments.
type HTTPPoolConfig struct {
	// Tokens maps each client id to its bearer token. A client sends
	// "Authorization: Bearer <token>" and its id in the Fedgo-Client
	// header; the token is compared in constant time.
	Tokens map[string]string
	// ClientCerts accepts clients that present a TLS client certificate
	// verified by the http.Server's tls.Config (ClientCAs with
	// VerifyClientCertIfGiven or RequireAndVerifyClientCert): the client id
	// is the certificate's Subject CommonName.
	ClientCerts bool
	// MaxClients bounds the clients registered at once; 0 means 100,000.
	MaxClients int
	// PollWait is how long a long poll waits for a task before it is
	// answered 204 No Content; 0 means 25 s.
	PollWait time.Duration
	// ClientTimeout: a client that has not polled, posted or sent a
	// heartbeat for this long leaves Conns, and Sends to it fail with
	// ErrClientGone; 0 means 30 s. It must exceed the clients' heartbeat
	// interval (5 s by default).
	ClientTimeout time.Duration
	// TaskTimeout bounds each Send (a per-client timeout beneath the
	// round's deadline); 0 means none.
	TaskTimeout time.Duration
	// Limits bound what clients post, and the tasks Send accepts to send
	// (clients should accept at least as much). Derive them from the
	// model with [LimitsFor]; the zero value's defaults admit frames of
	// about 4 GB.
	Limits Limits
	// ReadTimeout and MinRate bound the time a request body may take: k
	// bytes must have arrived ReadTimeout + k/MinRate after the request
	// started, or the read is abandoned (a resumable upload keeps what
	// arrived). 0 means 30 s and 16 KiB/s.
	ReadTimeout time.Duration
	MinRate     int64
	// WriteTimeout bounds, with MinRate, the time the answer to a poll (a
	// task) may take to be written: k bytes by WriteTimeout + k/MinRate.
	// 0 means 30 s.
	WriteTimeout time.Duration
	// MaxPolls bounds the polls of one client at once; more are refused
	// with 429. 0 means 4.
	MaxPolls int
	// MaxUploadBuffer bounds the bytes held at once, over all clients, by
	// result uploads (the received parts of resumable uploads, and the
	// bytes read so far of whole ones). An upload that would exceed it
	// first drops the parts held longest that no request is adding to
	// (their clients start them again); if that is not enough, it is
	// answered 503 (a resumable one keeps its part). 0 means 1 GiB.
	MaxUploadBuffer int64
	// Zstd compresses the tasks sent to clients.
	Zstd bool
	// Rand is the source of task ids; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives a line for every refused request; nil discards.
	Logger *slog.Logger
}

// DefaultHTTPPoolConfig returns a config with every default spelled out
// and no authentication: set Tokens or ClientCerts.
func DefaultHTTPPoolConfig() HTTPPoolConfig {
	return HTTPPoolConfig{
		MaxClients:      100_000,
		PollWait:        25 * time.Second,
		ClientTimeout:   30 * time.Second,
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		MinRate:         16 << 10,
		MaxPolls:        4,
		MaxUploadBuffer: 1 << 30,
	}
}

// Validate reports whether the config is usable.
func (c *HTTPPoolConfig) Validate() error {
	var errs []error
	if len(c.Tokens) == 0 && !c.ClientCerts {
		errs = append(errs, errors.New("no client authentication: set Tokens or ClientCerts"))
	}
	for id, tok := range c.Tokens {
		if err := checkClientID(id); err != nil {
			errs = append(errs, err)
		}
		if len(tok) < 16 {
			errs = append(errs, fmt.Errorf("token of client %q is %d bytes, want ≥ 16", id, len(tok)))
		}
	}
	if c.MaxClients < 0 || c.PollWait < 0 || c.ClientTimeout < 0 || c.TaskTimeout < 0 {
		errs = append(errs, errors.New("negative MaxClients, PollWait, ClientTimeout or TaskTimeout"))
	}
	if c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.MinRate < 0 || c.MaxPolls < 0 || c.MaxUploadBuffer < 0 {
		errs = append(errs, errors.New("negative ReadTimeout, WriteTimeout, MinRate, MaxPolls or MaxUploadBuffer"))
	}
	if c.ClientTimeout > 0 && c.ClientTimeout < time.Second/10 {
		errs = append(errs, fmt.Errorf("ClientTimeout = %v, want ≥ 100ms", c.ClientTimeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("transport: HTTPPoolConfig: %w: %w", fl.ErrConfig, errors.Join(errs...))
}

func checkClientID(id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("client id %q: want 1 to 256 bytes", id)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r > '~' {
			return fmt.Errorf("client id %q: want printable ASCII without spaces", id)
		}
	}
	return nil
}

// HTTPPool is the server side of the network transport: an [http.Handler]
// that clients reach over HTTPS, and the [fl.Pool] through which an
// [fl.Server] sends them tasks. Clients register, long-poll for their next
// task (so they may sit behind NAT) and post its result; see the package
// documentation for the protocol. Mount it in any http.Server (behind the
// host's own middleware, under a prefix with http.StripPrefix); serve it
// over TLS 1.3 ([ServerTLSConfig]).
//
// HTTPPool is safe for concurrent use. It starts no goroutine: its work
// happens in the http.Server's handler goroutines and in the callers of
// Send.
type HTTPPool struct {
	cfg    HTTPPoolConfig
	log    *slog.Logger
	now    func() time.Time
	rand   io.Reader
	tokens map[string][32]byte
	// tokenIDs are the sorted ids of Tokens: the population (nil with
	// client certificates only).
	tokenIDs []string
	mux      *http.ServeMux
	up       atomic.Int64
	down     atomic.Int64
	closeMu  sync.Once
	closed   chan struct{}
	overMu   sync.Once
	over     chan struct{} // closed by Finish
	// buffered is the bytes charged to MaxUploadBuffer.
	buffered atomic.Int64
	logs     logLimiter

	mu       sync.Mutex
	clients  map[string]*netClient
	tasks    map[string]*task
	frames   map[*fl.Message]*sharedFrame
	finished map[string]struct{}
	ring     []string // finished task ids, oldest first, at most finishedKept
	joined   chan struct{}
	told     chan struct{} // closed and replaced when a client learns the run is over
	// idle lists the tasks whose held upload part no request is adding
	// to, oldest first (entries that no longer hold one are skipped).
	idle []*task
}

var (
	_ fl.Pool           = (*HTTPPool)(nil)
	_ fl.TrafficCounter = (*HTTPPool)(nil)
	_ http.Handler      = (*HTTPPool)(nil)
)

type netClient struct {
	id       string
	conn     *httpConn
	lastSeen time.Time
	polling  int     // polls waiting for a task
	polls    int     // polls being served, waiting or writing
	uploads  int     // results being received
	toldOver bool    // answered a poll after Finish
	queue    []*task // open tasks, oldest first
	wake     chan struct{}
}

type task struct {
	id        string
	cl        *netClient
	frame     *sharedFrame
	issued    bool
	receiving bool
	open      bool
	part      *partUpload              // the part of a resumable upload received so far
	io        map[*ioDeadline]struct{} // transfers of this task's bytes, aborted when it closes
	done      chan struct{}
	reply     *fl.Message
	err       error
}

type sharedFrame struct {
	once sync.Once
	b    []byte
	err  error
	refs int
}

// NewHTTPPool returns a pool with no clients; they join by registering.
func NewHTTPPool(cfg HTTPPoolConfig) (*HTTPPool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &HTTPPool{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		rand:     cfg.Rand,
		tokens:   make(map[string][32]byte, len(cfg.Tokens)),
		closed:   make(chan struct{}),
		over:     make(chan struct{}),
		told:     make(chan struct{}),
		clients:  map[string]*netClient{},
		tasks:    map[string]*task{},
		frames:   map[*fl.Message]*sharedFrame{},
		finished: map[string]struct{}{},
		joined:   make(chan struct{}),
	}
	for id, tok := range cfg.Tokens {
		p.tokens[id] = sha256.Sum256([]byte(tok))
		p.tokenIDs = append(p.tokenIDs, id)
	}
	slices.Sort(p.tokenIDs)
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.cfg.MaxClients == 0 {
		p.cfg.MaxClients = 100_000
	}
	if p.cfg.PollWait == 0 {
		p.cfg.PollWait = 25 * time.Second
	}
	if p.cfg.ClientTimeout == 0 {
		p.cfg.ClientTimeout = 30 * time.Second
	}
	def := DefaultHTTPPoolConfig()
	if p.cfg.ReadTimeout == 0 {
		p.cfg.ReadTimeout = def.ReadTimeout
	}
	if p.cfg.WriteTimeout == 0 {
		p.cfg.WriteTimeout = def.WriteTimeout
	}
	if p.cfg.MinRate == 0 {
		p.cfg.MinRate = def.MinRate
	}
	if p.cfg.MaxPolls == 0 {
		p.cfg.MaxPolls = def.MaxPolls
	}
	if p.cfg.MaxUploadBuffer == 0 {
		p.cfg.MaxUploadBuffer = def.MaxUploadBuffer
	}
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("POST "+PathRegister, p.serveRegister)
	p.mux.HandleFunc("GET "+PathTask, p.servePoll)
	p.mux.HandleFunc("POST "+PathResult+"{task}", p.serveResult)
	p.mux.HandleFunc("HEAD "+PathResult+"{task}", p.serveUploadState)
	p.mux.HandleFunc("POST "+PathHeartbeat+"{task}", p.serveHeartbeat)
	return p, nil
}

// ServeHTTP answers the clients' requests.
func (p *HTTPPool) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Traffic returns the frame bytes received from clients (up) and sent to
// them (down) so far. HTTP and TLS overheads are not counted.
func (p *HTTPPool) Traffic() (up, down int64) { return p.up.Load(), p.down.Load() }

// Close fails every pending Send with ErrClosed and answers every waiting
// long poll with 503 Service Unavailable, so that http.Server.Shutdown
// does not wait for them. Later requests are refused with 503.
func (p *HTTPPool) Close() {
	p.closeMu.Do(func() { close(p.closed) })
}

func (p *HTTPPool) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// alive reports whether cl counts as connected at now. Called with p.mu held.
func (p *HTTPPool) alive(cl *netClient, now time.Time) bool {
	return cl.polling > 0 || cl.uploads > 0 || now.Sub(cl.lastSeen) < p.cfg.ClientTimeout
}

// Population returns the ids of the clients this pool serves, sorted:
// the ids of Tokens when it is set (the registered population, connected
// or not), else the clients registered now. Clients that are no longer
// connected and have nothing queued are forgotten (they register again
// when they come back).
func (p *HTTPPool) Population() []string {
	if p.tokenIDs != nil {
		return p.tokenIDs
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgetGone()
	ids := make([]string, 0, len(p.clients))
	for id := range p.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// forgetGone drops clients that are not connected and have nothing
// queued. Called with p.mu held.
func (p *HTTPPool) forgetGone() {
	now := p.now()
	for id, cl := range p.clients {
		if !p.alive(cl, now) && len(cl.queue) == 0 {
			delete(p.clients, id)
		}
	}
}

// Conn returns the connection to client id if it is connected now:
// polling, or seen within ClientTimeout.
func (p *HTTPPool) Conn(id string) (fl.Conn, bool) {
	if p.isClosed() {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cl, ok := p.clients[id]
	if !ok || !p.alive(cl, p.now()) {
		return nil, false
	}
	return cl.conn, true
}

// connected returns the number of clients connected now.
func (p *HTTPPool) connected() int {
	if p.isClosed() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgetGone()
	n := 0
	now := p.now()
	for _, cl := range p.clients {
		if p.alive(cl, now) {
			n++
		}
	}
	return n
}

// WaitClients blocks until at least n clients are connected or ctx is done.
func (p *HTTPPool) WaitClients(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		joined := p.joined
		p.mu.Unlock()
		if p.connected() >= n {
			return nil
		}
		select {
		case <-joined:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.closed:
			return ErrClosed
		}
	}
}

// httpConn is the server's link to one client id.
type httpConn struct {
	p  *HTTPPool
	id string
}

func (c *httpConn) ID() string { return c.id }

// Send queues m as a task for the client and waits for its result, for
// ctx, for TaskTimeout, or until the client is gone. All Sends of the same
// *fl.Message at once share one encoding of it; m must not change until
// they have returned (fl.Server guarantees this).
func (c *httpConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	p := c.p
	if p.cfg.TaskTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, p.cfg.TaskTimeout, ErrTaskTimeout)
		defer cancel()
	}
	var raw [taskIDBytes]byte
	if _, err := io.ReadFull(p.rand, raw[:]); err != nil {
		return nil, fmt.Errorf("transport: task id: %w", err)
	}
	t := &task{id: hex.EncodeToString(raw[:]), open: true, done: make(chan struct{}), io: map[*ioDeadline]struct{}{}}

	p.mu.Lock()
	cl := p.clients[c.id]
	if cl == nil || !p.alive(cl, p.now()) {
		p.mu.Unlock()
		return nil, fmt.Errorf("transport: client %q: %w", c.id, ErrClientGone)
	}
	f := p.frames[m]
	if f == nil {
		f = &sharedFrame{}
		p.frames[m] = f
	}
	f.refs++
	p.mu.Unlock()
	defer p.release(m, f)

	f.once.Do(func() {
		if err := checkLimits(m, p.cfg.Limits); err != nil {
			f.err = err
			return
		}
		if p.cfg.Zstd {
			_, f.err = WriteFrame(&bytesWriter{&f.b}, m, p.cfg.Limits, FrameOptions{Zstd: true})
		} else {
			f.b = AppendFrame(nil, m)
		}
	})
	if f.err != nil {
		return nil, f.err
	}
	t.frame = f

	p.mu.Lock()
	cl = p.clients[c.id]
	if cl == nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("transport: client %q: %w", c.id, ErrClientGone)
	}
	t.cl = cl
	cl.queue = append(cl.queue, t)
	p.tasks[t.id] = t
	wakeLocked(cl)
	p.mu.Unlock()

	tick := time.NewTicker(max(p.cfg.ClientTimeout/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return t.reply, t.err
		case <-ctx.Done():
			if p.cancel(t) {
				err := context.Cause(ctx)
				if errors.Is(err, ErrTaskTimeout) {
					return nil, fmt.Errorf("transport: client %q: %w", c.id, err)
				}
				return nil, fmt.Errorf("transport: client %q: %w", c.id, ctx.Err())
			}
			<-t.done // the result arrived first
			return t.reply, t.err
		case <-p.closed:
			if p.cancel(t) {
				return nil, ErrClosed
			}
			<-t.done
			return t.reply, t.err
		case <-tick.C:
			p.mu.Lock()
			gone := !p.alive(cl, p.now())
			p.mu.Unlock()
			if gone && p.cancel(t) {
				return nil, fmt.Errorf("transport: client %q: %w", c.id, ErrClientGone)
			}
		}
	}
}

type bytesWriter struct{ b *[]byte }

func (w *bytesWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

func (p *HTTPPool) release(m *fl.Message, f *sharedFrame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f.refs--
	if f.refs == 0 && p.frames[m] == f {
		delete(p.frames, m)
	}
}

// wakeLocked wakes the client's waiting polls. Called with p.mu held.
func wakeLocked(cl *netClient) {
	if cl.wake != nil {
		close(cl.wake)
		cl.wake = nil
	}
}

// cancel withdraws an open task; it reports false if the task had already
// completed (its result is then in t).
func (p *HTTPPool) cancel(t *task) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.open {
		return false
	}
	p.closeTaskLocked(t)
	return true
}

// closeTaskLocked removes t from the open tasks. Called with p.mu held.
func (p *HTTPPool) closeTaskLocked(t *task) {
	t.open = false
	p.unidleLocked(t)
	t.part.drop(p)
	t.part = nil
	for d := range t.io {
		d.abort()
	}
	clear(t.io)
	delete(p.tasks, t.id)
	if i := slices.Index(t.cl.queue, t); i >= 0 {
		// slices.Delete clears the vacated slot: the queue's array must
		// not keep a closed task (and its frame) alive.
		t.cl.queue = slices.Delete(t.cl.queue, i, i+1)
	}
}

// finishLocked records t's result. Called with p.mu held.
func (p *HTTPPool) finishLocked(t *task, reply *fl.Message, err error) {
	p.closeTaskLocked(t)
	t.reply, t.err = reply, err
	p.finished[t.id] = struct{}{}
	p.ring = append(p.ring, t.id)
	if len(p.ring) > finishedKept {
		delete(p.finished, p.ring[0])
		p.ring = p.ring[1:]
	}
	close(t.done)
}

// refuse answers a request with a 4xx or 5xx status and logs why (at
// level Warn, rate-limited).
func (p *HTTPPool) refuse(w http.ResponseWriter, r *http.Request, code int, client, reason string) {
	p.warn("transport: request refused", "status", code, "method", r.Method, "path", r.URL.Path,
		"client", client, "remote", r.RemoteAddr, "reason", reason)
	http.Error(w, reason, code)
}

// authenticate returns the id of the client that sent r.
func (p *HTTPPool) authenticate(r *http.Request) (string, int, string) {
	claimed := r.Header.Get(HeaderClient)
	if p.cfg.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		id := r.TLS.VerifiedChains[0][0].Subject.CommonName
		if err := checkClientID(id); err != nil {
			return "", http.StatusForbidden, "certificate: " + err.Error()
		}
		if claimed != "" && claimed != id {
			return "", http.StatusForbidden, fmt.Sprintf("%s %q differs from the certificate's %q", HeaderClient, claimed, id)
		}
		return id, 0, ""
	}
	if len(p.tokens) == 0 {
		return "", http.StatusUnauthorized, "a verified client certificate is required"
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || claimed == "" {
		return "", http.StatusUnauthorized, "missing bearer token or " + HeaderClient + " header"
	}
	want, known := p.tokens[claimed]
	got := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return "", http.StatusUnauthorized, "bad token"
	}
	return claimed, 0, ""
}

// enter authenticates r and returns its client, registering it if needed,
// and marks it seen. On failure it has answered r and returns nil.
func (p *HTTPPool) enter(w http.ResponseWriter, r *http.Request) *netClient {
	id, code, reason := p.authenticate(r)
	if code != 0 {
		p.refuse(w, r, code, r.Header.Get(HeaderClient), reason)
		return nil
	}
	if p.isClosed() {
		p.refuse(w, r, http.StatusServiceUnavailable, id, "server shutting down")
		return nil
	}
	p.mu.Lock()
	cl := p.clients[id]
	if cl == nil && len(p.clients) < p.cfg.MaxClients {
		cl = &netClient{id: id}
		cl.conn = &httpConn{p: p, id: id}
		p.clients[id] = cl
		close(p.joined)
		p.joined = make(chan struct{})
	}
	if cl != nil {
		cl.lastSeen = p.now()
	}
	p.mu.Unlock()
	if cl == nil {
		p.refuse(w, r, http.StatusServiceUnavailable, id, "too many clients")
	}
	return cl
}

func (p *HTTPPool) serveRegister(w http.ResponseWriter, r *http.Request) {
	if cl := p.enter(w, r); cl != nil {
		w.WriteHeader(http.StatusNoContent)
	}
}

// servePoll answers a long poll with the client's oldest open task (issued
// again if the client lost it), or 204 after PollWait, or 410 once the
// run is over (Finish).
func (p *HTTPPool) servePoll(w http.ResponseWriter, r *http.Request) {
	cl := p.enter(w, r)
	if cl == nil {
		return
	}
	p.mu.Lock()
	if cl.polls >= p.cfg.MaxPolls {
		p.mu.Unlock()
		p.refuse(w, r, http.StatusTooManyRequests, cl.id, fmt.Sprintf("more than %d polls at once", p.cfg.MaxPolls))
		return
	}
	cl.polls++
	cl.polling++
	waiting := true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		cl.polls--
		if waiting {
			// A poll that ends without a task counts as activity; one
			// that wrote a task counted the bytes that the client took.
			cl.polling--
			cl.lastSeen = p.now()
		}
		p.mu.Unlock()
	}()
	timer := time.NewTimer(p.cfg.PollWait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if p.isOver() {
			cl.toldOver = true
			close(p.told)
			p.told = make(chan struct{})
			p.mu.Unlock()
			w.Header().Set(HeaderRun, RunFinished)
			http.Error(w, "the run is over", http.StatusGone)
			return
		}
		if len(cl.queue) > 0 {
			t := cl.queue[0]
			t.issued = true
			cl.polling--
			waiting = false
			d := p.beginIOLocked(t, w, true)
			p.mu.Unlock()
			p.writeTask(w, cl, t, d)
			return
		}
		if cl.wake == nil {
			cl.wake = make(chan struct{})
		}
		wake := cl.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-p.over:
		case <-r.Context().Done():
			return
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-p.closed:
			http.Error(w, "server shutting down", http.StatusServiceUnavailable)
			return
		}
	}
}

// writeTask writes task t as the answer to a poll of cl, under the
// deadline d: in chunks, each marking the client seen (a download in
// progress is activity), until done, the deadline passes or t closes.
func (p *HTTPPool) writeTask(w http.ResponseWriter, cl *netClient, t *task, d *ioDeadline) {
	defer p.endIO(t, d)
	b := t.frame.b
	h := w.Header()
	h.Set("Content-Type", FrameContentType)
	h.Set("Content-Length", fmt.Sprint(len(b)))
	h.Set(HeaderTask, t.id)
	h.Set("Cache-Control", "no-store")
	var seen time.Time
	for off := 0; off < len(b); {
		err := d.extend(int64(off))
		var n int
		if err == nil {
			n, err = w.Write(b[off:min(len(b), off+writeChunk)])
		}
		off += n
		p.down.Add(int64(n))
		if err != nil {
			p.log.Debug("transport: task not delivered", "client", cl.id, "err", err)
			return
		}
		if now := time.Now(); now.Sub(seen) > deadlineEvery || off == len(b) {
			seen = now
			p.touch(cl)
		}
	}
}

// writeChunk is the bytes of a task written at a time.
const writeChunk = 256 << 10

// beginIOLocked registers a transfer of t's bytes (a result read, or a
// task write), to be aborted if t closes. Called with p.mu held; a
// result read also marks t receiving.
func (p *HTTPPool) beginIOLocked(t *task, w http.ResponseWriter, write bool) *ioDeadline {
	grace := p.cfg.ReadTimeout
	if write {
		grace = p.cfg.WriteTimeout
	} else {
		t.receiving = true
		t.cl.uploads++
	}
	d := newIODeadline(w, write, grace, p.cfg.MinRate)
	if t.open {
		t.io[d] = struct{}{}
	} else {
		d.abort()
	}
	return d
}

// endIO ends a transfer of t's bytes; called before its handler returns.
func (p *HTTPPool) endIO(t *task, d *ioDeadline) {
	p.mu.Lock()
	if !d.write {
		t.cl.uploads--
		t.cl.lastSeen = p.now()
	}
	delete(t.io, d)
	p.mu.Unlock()
	d.finish()
}

// Finish tells the clients that the run is over: every poll, waiting or
// to come, is answered 410 Gone with the header "Fedgo-Run: finished",
// and a [Client] then returns nil from Run. It waits until every
// connected client has been told, or ctx is done (it then returns
// ctx.Err()). Call it after the fl.Server's Run returned, before Close.
func (p *HTTPPool) Finish(ctx context.Context) error {
	p.overMu.Do(func() { close(p.over) })
	for {
		p.mu.Lock()
		told := p.told
		now := p.now()
		left := 0
		for _, cl := range p.clients {
			if !cl.toldOver && p.alive(cl, now) {
				left++
			}
		}
		p.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-told:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.closed:
			return ErrClosed
		}
	}
}

func (p *HTTPPool) isOver() bool {
	select {
	case <-p.over:
		return true
	default:
		return false
	}
}

// lookup returns the open task named in r's path if it was issued to cl;
// otherwise it answers r and returns nil.
func (p *HTTPPool) lookup(w http.ResponseWriter, r *http.Request, cl *netClient) *task {
	tid := r.PathValue("task")
	if len(tid) != 2*taskIDBytes {
		p.refuse(w, r, http.StatusBadRequest, cl.id, "malformed task id")
		return nil
	}
	p.mu.Lock()
	t := p.tasks[tid]
	_, done := p.finished[tid]
	code, reason := 0, ""
	switch {
	case t == nil && done:
		code, reason = http.StatusConflict, "task already answered"
	case t == nil:
		code, reason = http.StatusNotFound, "unknown or expired task"
	case t.cl.id != cl.id:
		code, reason = http.StatusNotFound, "unknown or expired task (issued to another client)"
	case !t.issued:
		code, reason = http.StatusNotFound, "task not issued yet"
	}
	p.mu.Unlock()
	if code != 0 {
		p.refuse(w, r, code, cl.id, reason)
		return nil
	}
	return t
}

func (p *HTTPPool) serveHeartbeat(w http.ResponseWriter, r *http.Request) {
	cl := p.enter(w, r)
	if cl == nil {
		return
	}
	tid := r.PathValue("task")
	p.mu.Lock()
	t := p.tasks[tid]
	ok := t != nil && t.cl.id == cl.id
	p.mu.Unlock()
	if !ok {
		// The round moved on while the client worked (or the task is not
		// the client's): the client stops.
		p.refuse(w, r, http.StatusGone, cl.id, "heartbeat: task no longer wanted")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveResult accepts the result of an issued task, once.
func (p *HTTPPool) serveResult(w http.ResponseWriter, r *http.Request) {
	cl := p.enter(w, r)
	if cl == nil {
		return
	}
	t := p.lookup(w, r, cl)
	if t == nil {
		return
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != FrameContentType && ct != "text/plain") {
		p.refuse(w, r, http.StatusUnsupportedMediaType, cl.id, fmt.Sprintf("content type %q", r.Header.Get("Content-Type")))
		return
	}
	length, offset, resumable, err := uploadHeaders(r.Header)
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, cl.id, err.Error())
		return
	}
	if resumable && ct != FrameContentType {
		p.refuse(w, r, http.StatusBadRequest, cl.id, "only a frame can be uploaded resumably")
		return
	}
	limit := maxUploadBytes(p.cfg.Limits)
	if ct != FrameContentType {
		limit = MaxErrorBytes
	}
	if resumable && length > limit {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, fmt.Sprintf("%s %d exceeds the limits (%d)", HeaderUploadLength, length, limit))
		return
	}
	if r.ContentLength > limit {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, fmt.Sprintf("Content-Length %d exceeds the limits (%d)", r.ContentLength, limit))
		return
	}
	if resumable {
		p.receivePart(w, r, cl, t, length, offset)
		return
	}
	p.mu.Lock()
	if t.receiving {
		p.mu.Unlock()
		p.busy(w, r, cl)
		return
	}
	p.unidleLocked(t)
	t.part.drop(p) // a whole upload replaces any partial one
	t.part = nil
	d := p.beginIOLocked(t, w, false)
	p.mu.Unlock()
	defer p.endIO(t, d)
	body := &bodyReader{p: p, cl: cl, r: r.Body, d: d, charge: true}
	defer body.release()

	var reply *fl.Message
	var rerr error
	if ct == FrameContentType {
		// No hint: the vector grows as its bytes arrive, whatever the
		// Content-Length says.
		reply, _, err = readFrame(http.MaxBytesReader(w, body, limit), p.cfg.Limits, -1)
	} else {
		var b []byte
		b, err = io.ReadAll(http.MaxBytesReader(w, body, limit))
		rerr = &RemoteError{Client: cl.id, Message: strings.ToValidUTF8(string(b), "?")}
	}
	settleConn(w, r, d)
	p.mu.Lock()
	t.receiving = false
	open := t.open
	if err == nil && open {
		p.finishLocked(t, reply, rerr)
		cl.lastSeen = p.now()
	}
	p.mu.Unlock()
	var tooBig *http.MaxBytesError
	switch {
	case !open || errors.Is(err, errAborted):
		p.refuse(w, r, http.StatusGone, cl.id, "task no longer wanted")
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, errBudget):
		w.Header().Set("Retry-After", "1")
		p.refuse(w, r, http.StatusServiceUnavailable, cl.id, "upload buffer full")
	case errors.As(err, &tooBig):
		p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, "body too large")
	case errors.Is(err, ErrFrame):
		p.refuse(w, r, http.StatusBadRequest, cl.id, err.Error())
	default:
		p.refuse(w, r, http.StatusBadRequest, cl.id, "reading body: "+err.Error())
	}
}

// NewHTTPServer returns an http.Server that serves h with the TLS config
// tc (see [ServerTLSConfig]) and the bounds the network transport expects
// of its host: headers within 10 s (ReadHeaderTimeout) and 64 KiB
// (MaxHeaderBytes), idle connections closed after 2 minutes
// (IdleTimeout), HTTP/2 receive buffers of 8 MiB a connection and a
// stream, and at most 100 concurrent streams a connection. ReadTimeout
// and WriteTimeout stay 0: an [HTTPPool] sets the deadlines of each
// request itself (HTTPPoolConfig.ReadTimeout, WriteTimeout, MinRate),
// which a whole-server timeout could not do for long polls and large
// uploads. Serve it with ServeTLS(ln, "", "").
func NewHTTPServer(h http.Handler, tc *tls.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          100,
			MaxReceiveBufferPerConnection: 8 << 20,
			MaxReceiveBufferPerStream:     8 << 20,
		},
	}
}
