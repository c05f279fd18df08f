package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawClient speaks the protocol by hand, to send what a Client never would.
type rawClient struct {
	t     *testing.T
	hc    *http.Client
	url   string
	id    string
	token string
}

func newRawClient(t *testing.T, e *netEnv, id, token string) *rawClient {
	tr := &http.Transport{TLSClientConfig: e.roots.Clone(), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &rawClient{t: t, hc: &http.Client{Transport: tr}, url: e.url, id: id, token: token}
}

func (c *rawClient) do(method, path, ctype string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.id != "" {
		req.Header.Set(HeaderClient, c.id)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// sendAsync runs Send in the background and returns its outcome channel.
type sendResult struct {
	m   *fl.Message
	err error
}

func sendAsync(ctx context.Context, c fl.Conn, m *fl.Message) <-chan sendResult {
	ch := make(chan sendResult, 1)
	go func() {
		r, err := c.Send(ctx, m)
		ch <- sendResult{r, err}
	}()
	return ch
}

func connOf(t *testing.T, p *HTTPPool, id string) fl.Conn {
	t.Helper()
	for _, c := range fl.Reachable(p) {
		if c.ID() == id {
			return c
		}
	}
	t.Fatalf("client %q is not in the pool", id)
	return nil
}

func TestHTTPBadInputIs4xxAndLogged(t *testing.T) {
	var logs lockedBuffer
	o := netOptions{log: slog.New(slog.NewTextHandler(&logs, nil)),
		pool: func(c *HTTPPoolConfig) { c.Limits = Limits{MaxParams: 8} }}
	e := newNetServer(t, o, []string{"a", "b"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	b := newRawClient(t, e, "b", tokenFor("b"))
	for _, c := range []*rawClient{a, b} {
		if code, _, _ := c.do("POST", PathRegister, "", nil); code != http.StatusNoContent {
			t.Fatalf("register %s: %d", c.id, code)
		}
	}
	refused := 0
	expect := func(what string, want, code int) {
		t.Helper()
		if code != want {
			t.Errorf("%s: HTTP %d, want %d", what, code, want)
		}
		refused++
	}
	frame := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: []float64{4, 5}, Weight: 1})
	code, _, _ := newRawClient(t, e, "a", tokenFor("b")).do("POST", PathRegister, "", nil)
	expect("wrong token", http.StatusUnauthorized, code)
	code, _, _ = newRawClient(t, e, "", tokenFor("a")).do("GET", PathTask, "", nil)
	expect("no client header", http.StatusUnauthorized, code)
	code, _, _ = newRawClient(t, e, "mallory", tokenFor("a")).do("POST", PathRegister, "", nil)
	expect("unknown client", http.StatusUnauthorized, code)
	code, _, _ = newRawClient(t, e, "a", "").do("POST", PathRegister, "", nil)
	expect("no token", http.StatusUnauthorized, code)
	code, _, _ = a.do("POST", PathResult+strings.Repeat("0f", taskIDBytes), FrameContentType, frame)
	expect("result for a task never issued", http.StatusNotFound, code)
	code, _, _ = a.do("POST", PathResult+"xyz", FrameContentType, frame)
	expect("malformed task id", http.StatusBadRequest, code)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := sendAsync(ctx, connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1, 2}})
	code, h, body := a.do("GET", PathTask, "", nil)
	if code != http.StatusOK {
		t.Fatalf("poll: HTTP %d", code)
	}
	task := h.Get(HeaderTask)
	if m, _, err := ReadFrame(bytes.NewReader(body), Limits{}); err != nil || m.Round != 1 || m.Params[1] != 2 {
		t.Fatalf("task %v, %v", m, err)
	}
	code, _, _ = b.do("POST", PathResult+task, FrameContentType, frame)
	expect("result for another client's task", http.StatusNotFound, code)
	code, _, _ = a.do("POST", PathResult+task, FrameContentType, frame[:len(frame)-3])
	expect("truncated frame", http.StatusBadRequest, code)
	code, _, _ = a.do("POST", PathResult+task, FrameContentType, append([]byte("XX"), frame[2:]...))
	expect("bad magic", http.StatusBadRequest, code)
	code, _, _ = a.do("POST", PathResult+task, "application/json", frame)
	expect("wrong content type", http.StatusUnsupportedMediaType, code)
	code, _, _ = a.do("POST", PathResult+task, ErrorContentType, bytes.Repeat([]byte("x"), MaxErrorBytes+1))
	expect("oversized error report", http.StatusRequestEntityTooLarge, code)
	big := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: make([]float64, 9)})
	code, _, _ = a.do("POST", PathResult+task, FrameContentType, big)
	expect("params over the limit", http.StatusBadRequest, code)

	// The task survives all of that: the right answer is accepted, once.
	if code, _, _ := a.do("POST", PathResult+task, FrameContentType, frame); code != http.StatusNoContent {
		t.Fatalf("valid result: HTTP %d", code)
	}
	r := within(t, res, "Send returning")
	if r.err != nil || r.m.Params[0] != 4 || r.m.Params[1] != 5 {
		t.Fatalf("Send = %+v, %v", r.m, r.err)
	}
	code, _, _ = a.do("POST", PathResult+task, FrameContentType, frame)
	expect("replayed result", http.StatusConflict, code)

	if n := strings.Count(logs.String(), "request refused"); n != refused {
		t.Errorf("%d log lines for %d refused requests:\n%s", n, refused, logs.String())
	}
	for _, want := range []string{"status=401", "status=404", "status=409", "status=413", "status=415", "client=a"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestHTTPReissuesALostTask(t *testing.T) {
	e := newNetServer(t, netOptions{}, []string{"a"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	a.do("POST", PathRegister, "", nil)
	res := sendAsync(context.Background(), connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain, Round: 2, Params: []float64{1}})
	_, h1, _ := a.do("GET", PathTask, "", nil)
	_, h2, _ := a.do("GET", PathTask, "", nil) // the first answer was "lost"
	if h1.Get(HeaderTask) == "" || h1.Get(HeaderTask) != h2.Get(HeaderTask) {
		t.Fatalf("tasks %q then %q, want the same one again", h1.Get(HeaderTask), h2.Get(HeaderTask))
	}
	reply := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 2, Params: []float64{7}})
	if code, _, _ := a.do("POST", PathResult+h2.Get(HeaderTask), FrameContentType, reply); code != http.StatusNoContent {
		t.Fatalf("result: HTTP %d", code)
	}
	if r := within(t, res, "Send returning"); r.err != nil || r.m.Params[0] != 7 {
		t.Fatalf("Send = %+v, %v", r.m, r.err)
	}
}

func TestHTTPVanishedClientIsADropout(t *testing.T) {
	e := newNetServer(t, netOptions{pool: func(c *HTTPPoolConfig) { c.ClientTimeout = 200 * time.Millisecond }}, []string{"a"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	a.do("POST", PathRegister, "", nil)
	res := sendAsync(context.Background(), connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1}})
	if code, _, _ := a.do("GET", PathTask, "", nil); code != http.StatusOK {
		t.Fatalf("poll: HTTP %d", code)
	}
	// The client took its task and vanished: no heartbeat, no result.
	r := within(t, res, "Send returning")
	if !errors.Is(r.err, ErrClientGone) || !errors.Is(r.err, fl.ErrTimeout) {
		t.Fatalf("Send = %v, want ErrClientGone wrapping fl.ErrTimeout", r.err)
	}
	if n := len(fl.Reachable(e.pool)); n != 0 {
		t.Errorf("%d conns after the client vanished, want 0", n)
	}
	if _, err := (&httpConn{p: e.pool, id: "a"}).Send(context.Background(), &fl.Message{}); !errors.Is(err, ErrClientGone) {
		t.Errorf("Send to a forgotten client = %v, want ErrClientGone", err)
	}
}

func TestHTTPTaskTimeout(t *testing.T) {
	e := newNetServer(t, netOptions{pool: func(c *HTTPPoolConfig) { c.TaskTimeout = 50 * time.Millisecond }}, []string{"a"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	a.do("POST", PathRegister, "", nil)
	_, err := connOf(t, e.pool, "a").Send(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 1})
	if !errors.Is(err, ErrTaskTimeout) || !errors.Is(err, fl.ErrTimeout) {
		t.Fatalf("Send = %v, want ErrTaskTimeout wrapping fl.ErrTimeout", err)
	}
}

func TestHTTPCloseReleasesPollsAndSends(t *testing.T) {
	e := newNetServer(t, netOptions{}, []string{"a", "b"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	a.do("POST", PathRegister, "", nil)
	res := sendAsync(context.Background(), connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain})
	polled := make(chan int, 1)
	go func() {
		code, _, _ := newRawClient(t, e, "b", tokenFor("b")).do("GET", PathTask, "", nil)
		polled <- code
	}()
	waitFor(t, func() bool {
		e.pool.mu.Lock()
		defer e.pool.mu.Unlock()
		cl := e.pool.clients["b"]
		return cl != nil && cl.polling > 0
	})
	e.pool.Close()
	if r := within(t, res, "Send returning"); !errors.Is(r.err, ErrClosed) {
		t.Errorf("Send = %v, want ErrClosed", r.err)
	}
	if code := within(t, polled, "the poll returning"); code != http.StatusServiceUnavailable {
		t.Errorf("poll: HTTP %d, want 503", code)
	}
}

// waitFor polls cond (a state reached by other goroutines) with a bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHTTPClientWithBadTokenStops(t *testing.T) {
	e := newNetServer(t, netOptions{}, []string{"a"})
	err := Dial(context.Background(), e.url, echoAll{}, ClientConfig{ID: "a", Token: tokenFor("b"), TLS: e.roots})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Dial = %v, want ErrUnauthorized", err)
	}
	// A client certificate from another CA is refused during the handshake.
	other, err := NewDevPKI(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := other.ClientCert("a")
	pki, _ := testPKI()
	tr := &http.Transport{TLSClientConfig: ClientTLSConfig(pki.Roots, &cert)}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Post(e.url+PathRegister, "", nil); err == nil {
		t.Error("a certificate from an unknown CA was accepted")
	}
}

func TestHTTPRefusesOldTLS(t *testing.T) {
	e := newNetServer(t, netOptions{}, []string{"a"})
	cfg := e.roots.Clone()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	conn, err := tls.Dial("tcp", e.srv.Listener.Addr().String(), cfg)
	if err == nil {
		conn.Close()
		t.Fatal("a TLS 1.2 handshake succeeded")
	}
}

// TestHTTPClientRestartedMidTask: a client killed while it trains comes
// back, is given the same task again, and the round gets its answer.
func TestHTTPClientRestartedMidTask(t *testing.T) {
	e := newNetServer(t, netOptions{}, []string{"a"})
	b := blocker{started: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	ctx, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Dial(ctx, e.url, b, e.clientConfig(t, netOptions{}, "a")) }()
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.pool.WaitClients(wctx, 1); err != nil {
		t.Fatal(err)
	}
	res := sendAsync(context.Background(), connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain, Round: 4, Params: []float64{3}})
	within(t, b.started, "the first client starting the task")
	kill()
	within(t, done, "the killed client's Run returning")
	e.runClient(t, netOptions{}, "a", scaler{k: 2})
	if r := within(t, res, "Send returning"); r.err != nil || r.m.Params[0] != 6 || r.m.Round != 4 {
		t.Fatalf("Send = %+v, %v", r.m, r.err)
	}
}

// TestHTTPServerRestartResumes kills the server in the middle of a round
// and starts a new one from the checkpoint on the same address; the
// clients reconnect on their own and the final parameters are those of an
// uninterrupted in-memory run.
func TestHTTPServerRestartResumes(t *testing.T) {
	const dim, rounds, n = 20, 6, 6
	handlers := toyHandlers(n, dim)
	init := make([]float64, dim)
	ckpt := t.TempDir()
	cfg := toyServerConfig(rounds)
	cfg.CheckpointDir = ckpt

	ref, _ := NewMemory(MemoryConfig{IDs: ids(n), Factory: func(id string) (fl.Handler, error) { return handlers[id], nil }})
	refCfg := toyServerConfig(rounds)
	s, _ := fl.NewServer(refCfg, ref, init)
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := s.Params()

	pki, _ := testPKI()
	cert, _ := pki.ServerCert()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	tokens := map[string]string{}
	for _, id := range ids(n) {
		tokens[id] = tokenFor(id)
	}
	serve := func(ln net.Listener) (*HTTPPool, func()) {
		pool, err := NewHTTPPool(HTTPPoolConfig{Tokens: tokens})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: pool, TLSConfig: ServerTLSConfig(cert, nil, false)}
		done := make(chan error, 1)
		go func() { done <- srv.ServeTLS(ln, "", "") }()
		return pool, func() {
			pool.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			<-done
		}
	}
	pool, stop := serve(ln)
	e := &netEnv{url: "https://" + addr, roots: ClientTLSConfig(pki.Roots, nil)}
	for id, h := range handlers {
		e.runClient(t, netOptions{}, id, h)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pool.WaitClients(wctx, n); err != nil {
		t.Fatal(err)
	}

	// Three rounds, then the server dies as round 4 starts.
	rctx, kill := context.WithCancel(context.Background())
	cfg.Observer = &killAt{round: 4, kill: kill}
	s1, _ := fl.NewServer(cfg, pool, init)
	if _, err := s1.Run(rctx); !errors.Is(err, context.Canceled) || s1.Round() != 3 {
		t.Fatalf("first server: %v after %d rounds", err, s1.Round())
	}
	stop()

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pool2, stop2 := serve(ln2)
	defer stop2()
	cfg.Observer = nil
	s2, _ := fl.NewServer(cfg, pool2, init)
	cp, err := fl.ReadCheckpoint(filepath.Join(ckpt, fl.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Restore(cp); err != nil || s2.Round() != 3 {
		t.Fatalf("restore: %v at round %d", err, s2.Round())
	}
	if err := pool2.WaitClients(wctx, n); err != nil {
		t.Fatal(err)
	}
	h, err := s2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Rounds) != rounds {
		t.Fatalf("%d rounds of history, want %d", len(h.Rounds), rounds)
	}
	for i, r := range h.Rounds {
		if r.Round != i+1 || r.Accepted != 4 {
			t.Errorf("history[%d] = round %d with %d accepted", i, r.Round, r.Accepted)
		}
	}
	got := s2.Params()
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("param %d = %v after the restart, %v uninterrupted", i, got[i], want[i])
		}
	}
}

type killAt struct {
	round int
	kill  context.CancelFunc
}

func (k *killAt) RoundStart(r int, _ []string) {
	if r == k.round {
		k.kill()
	}
}
func (k *killAt) RoundEnd(fl.RoundStats) {}

func TestClientBackoff(t *testing.T) {
	mk := func(seed uint64) *Client {
		c, err := NewClient("https://127.0.0.1:1", echoAll{}, ClientConfig{ID: "a", Seed: seed,
			MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, c := mk(1), mk(1), mk(2)
	differ := false
	for fails := 1; fails <= 12; fails++ {
		d := min(2*time.Second, 100*time.Millisecond<<(fails-1))
		x, y, z := a.backoff(fails), b.backoff(fails), c.backoff(fails)
		if x != y {
			t.Errorf("fail %d: same seed gave %v and %v", fails, x, y)
		}
		if x < d/2 || x > d {
			t.Errorf("fail %d: backoff %v outside [%v, %v]", fails, x, d/2, d)
		}
		differ = differ || x != z
	}
	if !differ {
		t.Error("different seeds gave the same jitter")
	}
}

func TestHTTPConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  HTTPPoolConfig
		ok   bool
	}{
		{"tokens", HTTPPoolConfig{Tokens: map[string]string{"a": tokenFor("a")}}, true},
		{"certs", HTTPPoolConfig{ClientCerts: true}, true},
		{"default", DefaultHTTPPoolConfig(), false},
		{"default with certs", func() HTTPPoolConfig { c := DefaultHTTPPoolConfig(); c.ClientCerts = true; return c }(), true},
		{"no auth", HTTPPoolConfig{}, false},
		{"short token", HTTPPoolConfig{Tokens: map[string]string{"a": "123"}}, false},
		{"bad id", HTTPPoolConfig{Tokens: map[string]string{"a b": tokenFor("a")}}, false},
		{"negative", HTTPPoolConfig{ClientCerts: true, PollWait: -1}, false},
		{"tiny timeout", HTTPPoolConfig{ClientCerts: true, ClientTimeout: time.Millisecond}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  ClientConfig
		ok   bool
	}{
		{"token", ClientConfig{ID: "a", Token: "t"}, true},
		{"cert", ClientConfig{}, true},
		{"default", DefaultClientConfig(), true},
		{"token without id", ClientConfig{Token: "t"}, false},
		{"backoff", ClientConfig{MinBackoff: 2, MaxBackoff: 1}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("client %s: Validate = %v", tc.name, err)
		}
	}
	if _, err := NewClient("http://127.0.0.1:1", echoAll{}, ClientConfig{}); err == nil {
		t.Error("NewClient accepted a plain-http URL")
	}
}

// TestHTTPNoGoroutineOutlivesRun: once the clients' Run calls have
// returned and the server is closed, the goroutines of the transport are
// gone (the pool starts none of its own).
func TestHTTPNoGoroutineOutlivesRun(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newNetServer(t, netOptions{}, []string{"a", "b"})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, id := range []string{"a", "b"} {
		wg.Go(func() { Dial(ctx, e.url, scaler{k: 1}, e.clientConfig(t, netOptions{}, id)) })
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := e.pool.WaitClients(wctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, c := range fl.Reachable(e.pool) {
		if _, err := c.Send(context.Background(), &fl.Message{Type: fl.TypeTrain, Params: []float64{1}}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	e.pool.Close()
	e.srv.Close()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

// TestHTTPServerRoundSurvivesAVanishedClient: a client that dies in the
// middle of its task is counted as a timeout after ClientTimeout, and the
// round completes with the others.
func TestHTTPServerRoundSurvivesAVanishedClient(t *testing.T) {
	o := netOptions{pool: func(c *HTTPPoolConfig) {
		c.ClientTimeout = 300 * time.Millisecond
		c.Tokens["zz"] = tokenFor("zz")
	}}
	handlers := toyHandlers(2, 3)
	e := startNet(t, o, handlers)
	b := blocker{started: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	ctx, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Dial(ctx, e.url, b, e.clientConfig(t, o, "zz")) }()
	defer func() { kill(); <-done }()
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.pool.WaitClients(wctx, 3); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-b.started
		kill() // the client dies while it trains
	}()
	cfg := toyServerConfig(1)
	cfg.ClientsPerRound = 3
	s, err := fl.NewServer(cfg, e.pool, make([]float64, 3))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.RunRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Accepted != 2 || st.Failed != 1 || st.Failures[fl.FailTimeout] != 1 || st.Aborted {
		t.Errorf("round stats %+v, want 2 accepted and 1 timeout", st)
	}
}
