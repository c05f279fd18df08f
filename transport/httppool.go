package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
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
	// (clients should accept at least as much).
	Limits Limits
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
		MaxClients:    100_000,
		PollWait:      25 * time.Second,
		ClientTimeout: 30 * time.Second,
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
	if c.ClientTimeout > 0 && c.ClientTimeout < time.Second/10 {
		errs = append(errs, fmt.Errorf("ClientTimeout = %v, want ≥ 100ms", c.ClientTimeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("transport: invalid HTTPPoolConfig: %w", errors.Join(errs...))
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

	mu       sync.Mutex
	clients  map[string]*netClient
	tasks    map[string]*task
	frames   map[*fl.Message]*sharedFrame
	finished map[string]struct{}
	ring     []string // finished task ids, oldest first, at most finishedKept
	joined   chan struct{}
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
	polling  int
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
	part      *partUpload // the part of a resumable upload received so far
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
	return cl.polling > 0 || now.Sub(cl.lastSeen) < p.cfg.ClientTimeout
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
	t := &task{id: hex.EncodeToString(raw[:]), open: true, done: make(chan struct{})}

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
	t.part = nil
	delete(p.tasks, t.id)
	q := t.cl.queue
	for i, u := range q {
		if u == t {
			t.cl.queue = append(q[:i:i], q[i+1:]...)
			break
		}
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

// refuse answers a request with a 4xx or 5xx status and logs why.
func (p *HTTPPool) refuse(w http.ResponseWriter, r *http.Request, code int, client, reason string) {
	p.log.Warn("transport: request refused", "status", code, "method", r.Method, "path", r.URL.Path,
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
// again if the client lost it), or 204 after PollWait.
func (p *HTTPPool) servePoll(w http.ResponseWriter, r *http.Request) {
	cl := p.enter(w, r)
	if cl == nil {
		return
	}
	p.mu.Lock()
	cl.polling++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		cl.polling--
		cl.lastSeen = p.now()
		p.mu.Unlock()
	}()
	timer := time.NewTimer(p.cfg.PollWait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if len(cl.queue) > 0 {
			t := cl.queue[0]
			t.issued = true
			p.mu.Unlock()
			b := t.frame.b
			h := w.Header()
			h.Set("Content-Type", FrameContentType)
			h.Set("Content-Length", fmt.Sprint(len(b)))
			h.Set(HeaderTask, t.id)
			h.Set("Cache-Control", "no-store")
			n, err := w.Write(b)
			p.down.Add(int64(n))
			if err != nil {
				p.log.Debug("transport: task not delivered", "client", cl.id, "err", err)
			}
			return
		}
		if cl.wake == nil {
			cl.wake = make(chan struct{})
		}
		wake := cl.wake
		p.mu.Unlock()
		select {
		case <-wake:
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
		// Not worth a warning: the round moved on while the client worked.
		http.Error(w, "task no longer wanted", http.StatusGone)
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
	if resumable && length > maxUploadBytes(p.cfg.Limits) {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, fmt.Sprintf("%s %d exceeds the limits (%d)", HeaderUploadLength, length, maxUploadBytes(p.cfg.Limits)))
		return
	}
	if resumable {
		p.receivePart(w, r, cl, t, length, offset)
		return
	}
	p.mu.Lock()
	busy := t.receiving
	t.receiving = true
	t.part = nil // a whole upload replaces any partial one
	p.mu.Unlock()
	if busy {
		p.busy(w, r, cl)
		return
	}
	var reply *fl.Message
	var rerr error
	var n int64
	if ct == FrameContentType {
		body := http.MaxBytesReader(w, r.Body, maxUploadBytes(p.cfg.Limits))
		reply, n, err = readFrame(body, p.cfg.Limits, r.ContentLength)
	} else {
		var b []byte
		b, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxErrorBytes))
		n = int64(len(b))
		rerr = &RemoteError{Client: cl.id, Message: strings.ToValidUTF8(string(b), "?")}
	}
	p.up.Add(n)
	p.mu.Lock()
	t.receiving = false
	if err != nil {
		p.mu.Unlock()
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, "body too large")
		case errors.Is(err, ErrFrame):
			p.refuse(w, r, http.StatusBadRequest, cl.id, err.Error())
		default:
			p.refuse(w, r, http.StatusBadRequest, cl.id, "reading body: "+err.Error())
		}
		return
	}
	if !t.open {
		p.mu.Unlock()
		http.Error(w, "task no longer wanted", http.StatusGone)
		return
	}
	p.finishLocked(t, reply, rerr)
	cl.lastSeen = p.now()
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
