package transport

// The hostile-peer suite: each test mounts one attack of issue 15 on
// loopback against a live HTTPPool (or, for the client's side, against a
// live Client) and asserts a bound on the victim's heap, measured with
// runtime/metrics after a GC while the attack is in progress.
//
// The attackers speak HTTP/1.1 over raw TLS connections that they write
// to by hand and never read from unless they mean to, so they hold no
// buffers of their own in this process: the heap measured is the
// victim's.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/fedgo/fedgo/fl"
)

// liveHeap returns the bytes of live heap objects after two GCs.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

const mib = 1 << 20

// hostileConn is an attacker's HTTP/1.1 connection over TLS 1.3.
type hostileConn struct {
	t     testing.TB
	c     *tls.Conn
	br    *bufio.Reader
	id    string
	token string
	last  string // the method of the last request
}

func (e *netEnv) dialHostile(t testing.TB, id string) *hostileConn {
	t.Helper()
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	tc := e.roots.Clone()
	tc.NextProtos = []string{"http/1.1"}
	c, err := tls.Dial("tcp", u.Host, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &hostileConn{t: t, c: c, br: bufio.NewReader(c), id: id, token: tokenFor(id)}
}

// head writes a request's line and headers (with credentials).
func (h *hostileConn) head(method, path string, hdr ...string) error {
	h.last = method
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: fedgo\r\n%s: %s\r\nAuthorization: Bearer %s\r\n", method, path, HeaderClient, h.id, h.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(h.c, b.String())
	return err
}

// response reads the answer to the last request, waiting at most d.
func (h *hostileConn) response(d time.Duration) (*http.Response, []byte, error) {
	h.c.SetReadDeadline(time.Now().Add(d))
	defer h.c.SetReadDeadline(time.Time{})
	resp, err := http.ReadResponse(h.br, &http.Request{Method: h.last})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, b, err
}

// pollTask polls for the client's task and returns its id.
func (h *hostileConn) pollTask() string {
	h.t.Helper()
	if err := h.head("GET", PathTask); err != nil {
		h.t.Fatal(err)
	}
	resp, _, err := h.response(10 * time.Second)
	if err != nil || resp.StatusCode != http.StatusOK {
		h.t.Fatalf("poll of %s: %v, %v", h.id, resp, err)
	}
	return resp.Header.Get(HeaderTask)
}

// hostileIDs returns n client ids with a common prefix.
func hostileIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

// issueTasks registers the clients (over fresh connections), sends each a
// small task in the background and returns the task ids, each fetched by
// its client, and a cancel that withdraws the tasks (and waits for the
// Sends to return).
func issueTasks(t *testing.T, e *netEnv, ids []string) (map[string]string, func()) {
	t.Helper()
	tasks := map[string]string{}
	pollers := map[string]*hostileConn{}
	for _, id := range ids {
		h := e.dialHostile(t, id)
		if err := h.head("POST", PathRegister, "Content-Length", "0"); err != nil {
			t.Fatal(err)
		}
		if resp, _, err := h.response(5 * time.Second); err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("register %s: %v %v", id, resp, err)
		}
		pollers[id] = h
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, id := range ids {
		c := connOf(t, e.pool, id)
		wg.Go(func() { c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1, 2, 3}}) })
	}
	for _, id := range ids {
		tasks[id] = pollers[id].pollTask()
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return tasks, stop
}

// waitUp waits until the pool has received at least n upload bytes.
func waitUp(t *testing.T, p *HTTPPool, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		up, _ := p.Traffic()
		if up >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("MEASURE-ONLY: the pool received %d of the %d bytes sent", up, n)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hostileServer starts a pool whose clients are ids, with lim and the
// suite's deadlines, plus whatever tweak sets.
func hostileServer(t *testing.T, ids []string, lim Limits, tweak func(*HTTPPoolConfig)) *netEnv {
	t.Helper()
	return newNetServer(t, netOptions{pool: func(c *HTTPPoolConfig) {
		c.Limits = lim
		c.ClientTimeout = 5 * time.Second
		if tweak != nil {
			tweak(c)
		}
	}}, ids)
}

// TestHostileDeclaredLengths: 50 clients each declare the largest upload
// the limits allow (as a resumable upload, Content-Length = Upload-Length,
// and as a whole upload with its Content-Length) and send 1% of it. The
// server's heap grows by at most the bytes received plus a fixed overhead
// per upload, and an honest client's round completes meanwhile.
func TestHostileDeclaredLengths(t *testing.T) {
	const n = 50
	lim := LimitsFor(1<<20, 64) // ≈ 8.4 MB of parameters, as in the issue
	for _, resumable := range []bool{true, false} {
		t.Run(fmt.Sprintf("resumable=%v", resumable), func(t *testing.T) {
			ids := append(hostileIDs("h", n), "honest")
			e := hostileServer(t, ids, lim, nil)
			tasks, _ := issueTasks(t, e, ids[:n])
			maxUp := maxUploadBytes(lim)
			sent := maxUp / 100
			junk := make([]byte, sent)
			// A frame header declaring the largest vector, then zeros.
			head := []byte{'F', 'G', 2, 0, 6, 'u', 'p', 'd', 'a', 't', 'e', 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
			head = binary.AppendUvarint(head, uint64(lim.MaxParams))
			head = append(head, 0, 0, 0)
			copy(junk, head)
			base := liveHeap()
			for _, id := range ids[:n] {
				h := e.dialHostile(t, id)
				hdr := []string{"Content-Type", FrameContentType, "Content-Length", strconv.FormatInt(maxUp, 10)}
				if resumable {
					hdr = append(hdr, HeaderUploadLength, strconv.FormatInt(maxUp, 10), HeaderUploadOffset, "0")
				}
				if err := h.head("POST", PathResult+tasks[id], hdr...); err != nil {
					t.Fatal(err)
				}
				if _, err := h.c.Write(junk); err != nil {
					t.Fatal(err)
				}
			}
			waitUp(t, e.pool, n*sent)
			grew := liveHeap() - base
			bound := n*sent + n*(2*uploadChunk+64<<10) + 4*mib
			t.Logf("%d uploads declaring %.1f MiB each, %.2f MiB received in all: heap +%.1f MiB (bound %.1f MiB)",
				n, float64(maxUp)/mib, float64(n*sent)/mib, float64(grew)/mib, float64(bound)/mib)
			if grew > bound {
				t.Errorf("heap grew by %d bytes for %d bytes received (bound %d)", grew, n*sent, bound)
			}
			honestRound(t, e, "honest")
		})
	}
}

// honestRound runs one task through an honest client while attacks go on.
func honestRound(t *testing.T, e *netEnv, id string) {
	t.Helper()
	e.runClient(t, netOptions{}, id, scaler{k: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.pool.WaitClients(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var c fl.Conn
	for c == nil {
		for _, x := range fl.Reachable(e.pool) {
			if x.ID() == id {
				c = x
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the honest client did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1, 2}})
	if err != nil || len(r.Params) != 2 || r.Params[1] != 4 {
		t.Fatalf("honest client's round: %+v, %v", r, err)
	}
}

// TestHostileStalledUploadsFreedWhenTasksClose: four clients start
// uploads that declare 32 MiB, send 64 KiB and stall. When their tasks are
// withdrawn the server abandons the reads and drops the bytes: its heap
// returns to where it was.
func TestHostileStalledUploadsFreedWhenTasksClose(t *testing.T) {
	const n = 4
	lim := LimitsFor(4<<20, 64)
	ids := hostileIDs("s", n)
	e := hostileServer(t, ids, lim, nil)
	tasks, withdraw := issueTasks(t, e, ids)
	const declared, sent = 32 * mib, 64 << 10
	base := liveHeap()
	conns := make([]*hostileConn, n)
	for i, id := range ids {
		h := e.dialHostile(t, id)
		conns[i] = h
		hdr := []string{"Content-Type", FrameContentType, "Content-Length", strconv.Itoa(declared),
			HeaderUploadLength, strconv.Itoa(declared), HeaderUploadOffset, "0"}
		if err := h.head("POST", PathResult+tasks[id], hdr...); err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.Write(make([]byte, sent)); err != nil {
			t.Fatal(err)
		}
	}
	waitUp(t, e.pool, n*sent)
	during := liveHeap() - base
	withdraw()
	start := time.Now()
	for _, h := range conns {
		// The server ends the request: it answers, or closes the connection.
		h.response(5 * time.Second)
	}
	ended := time.Since(start)
	after := liveHeap() - base
	t.Logf("%d stalled uploads declaring %d MiB, %d KiB sent each: heap +%.1f MiB while stalled, +%.2f MiB after the tasks closed (reads ended after %v)",
		n, declared/mib, sent>>10, float64(during)/mib, float64(after)/mib, ended.Round(time.Millisecond))
	if during > n*(sent+2*uploadChunk)+4*mib {
		t.Errorf("heap grew by %d bytes while %d bytes were received", during, n*sent)
	}
	if after > 2*mib {
		t.Errorf("heap still %d bytes above the start after the tasks closed", after)
	}
	if ended > 3*time.Second {
		t.Errorf("the stalled reads ended %v after their tasks closed", ended)
	}
}

// TestHostileUnreadTask: a client polls six times for a 4M-parameter task
// and never reads the answers. At most MaxPolls of its polls are served,
// the writes end at their deadline, the task is not pinned once it is
// withdrawn, and the client drops out of the pool.
func TestHostileUnreadTask(t *testing.T) {
	lim := LimitsFor(4<<20, 64)
	e := hostileServer(t, []string{"lazy"}, lim, func(c *HTTPPoolConfig) {
		c.ClientTimeout = 300 * time.Millisecond
		c.PollWait = 200 * time.Millisecond
	})
	reg := e.dialHostile(t, "lazy")
	reg.head("POST", PathRegister, "Content-Length", "0")
	if resp, _, err := reg.response(5 * time.Second); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("register: %v %v", resp, err)
	}
	base := liveHeap()
	ctx, cancel := context.WithCancel(context.Background())
	res := sendBig(ctx, connOf(t, e.pool, "lazy"), 4<<20)
	conns := make([]*hostileConn, 6)
	for i := range conns {
		conns[i] = e.dialHostile(t, "lazy")
		conns[i].head("GET", PathTask)
	}
	time.Sleep(500 * time.Millisecond) // let the server write what the socket takes
	during := liveHeap() - base
	cancel()
	within(t, res, "Send returning")
	deadline := time.Now().Add(5 * time.Second)
	var after int64
	for {
		after = liveHeap() - base
		if after < 4*mib || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	inPool := true
	for stop := time.Now().Add(3 * time.Second); inPool && time.Now().Before(stop); {
		inPool = false
		for _, c := range fl.Reachable(e.pool) {
			inPool = inPool || c.ID() == "lazy"
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("6 unread polls of a 32 MiB task: heap +%.1f MiB while polled, +%.1f MiB after the task was withdrawn; still in the pool: %v",
		float64(during)/mib, float64(after)/mib, inPool)
	if after >= 4*mib {
		t.Errorf("the withdrawn task still pins %d bytes", after)
	}
	if inPool {
		t.Error("a client that never reads its task is still connected")
	}
}

// sendBig sends a task of n parameters in the background; the caller
// holds no reference to it.
//
//go:noinline
func sendBig(ctx context.Context, c fl.Conn, n int) <-chan sendResult {
	return sendAsync(ctx, c, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: make([]float64, n)})
}

// throttledConn writes at most 4 KiB per 4 ms (about 1 MB/s).
type throttledConn struct{ net.Conn }

func (c throttledConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 4<<10)
		time.Sleep(4 * time.Millisecond)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// TestHostileSlowUploadIsActivity: an honest client on a slow link
// uploads a result that takes four times ClientTimeout to send; the upload
// in progress counts as activity, so the result is taken.
func TestHostileSlowUploadIsActivity(t *testing.T) {
	for _, resume := range []int64{-1, 0} {
		t.Run(fmt.Sprintf("resume=%d", resume), func(t *testing.T) {
			e := hostileServer(t, []string{"slow"}, LimitsFor(1<<18, 8), func(c *HTTPPoolConfig) {
				c.ClientTimeout = 5000 * time.Millisecond
				c.Logger = slog.Default()
			})
			tc := e.roots.Clone()
			tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					return throttledConn{c}, err
				}}
			t.Cleanup(tr.CloseIdleConnections)
			big := make([]float64, 100_000) // 800 kB: ≈ 0.8 s at 1 MB/s
			e.runClient(t, netOptions{client: func(c *ClientConfig) {
				c.HTTPClient = &http.Client{Transport: tr}
				c.ResumeBytes = resume
				c.Logger = slog.Default()
			}}, "slow", fixedReply{big})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := e.pool.WaitClients(ctx, 1); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r, err := connOf(t, e.pool, "slow").Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1})
			t.Logf("upload of %.2f MB took %v with ClientTimeout 300ms: %v", float64(8*len(big))/1e6, time.Since(start).Round(time.Millisecond), err)
			if err != nil || len(r.Params) != len(big) {
				t.Fatalf("Send = %v", err)
			}
		})
	}
}

// TestHostileRedirect: a server that redirects (here HTTPS → plaintext
// HTTP) never receives the client's token or result at the new address.
func TestHostileRedirect(t *testing.T) {
	var leaked sync.Map
	plain := newPlainServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Method+" "+r.URL.Path, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	var redirected atomic.Int64
	e := newFakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, plain+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := e.clientConfig(t, netOptions{}, "victim")
	ran := make(chan error, 1)
	go func() { ran <- Dial(ctx, e.url, scaler{k: 1}, cfg) }()
	for stop := time.Now().Add(10 * time.Second); redirected.Load() < 3 && time.Now().Before(stop); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	err := <-ran
	n := 0
	leaked.Range(func(k, v any) bool { n++; t.Errorf("followed a redirect: %v with %q", k, v); return true })
	t.Logf("redirected client: %d redirects, %d requests reached the plaintext listener; Run = %v", redirected.Load(), n, err)
	if redirected.Load() == 0 {
		t.Error("the client made no request")
	}
}

// newPlainServer starts a plaintext HTTP server and returns its URL.
func newPlainServer(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// newFakeServer starts a TLS 1.3 server with the test PKI's certificate
// that answers with h instead of an HTTPPool.
func newFakeServer(t *testing.T, h http.Handler) *netEnv {
	t.Helper()
	e := newNetServer(t, netOptions{}, []string{"victim"})
	e.srv.Config.Handler = h
	return e
}

// hangRecorder records how long the requests it holds were held.
type hangRecorder struct {
	mu   sync.Mutex
	held map[string]time.Duration
	wg   sync.WaitGroup
	all  chan struct{} // closed once every kind in want was held
	want []string
}

func (h *hangRecorder) hold(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	h.wg.Add(1)
	defer h.wg.Done()
	start := time.Now()
	select {
	case <-r.Context().Done():
	case <-stop:
	}
	h.mu.Lock()
	key := r.Method + " " + r.URL.Path
	if i := strings.LastIndexByte(r.URL.Path, '/'); strings.Count(r.URL.Path, "/") > 2 {
		key = r.Method + " " + r.URL.Path[:i]
	}
	h.held[key] = max(h.held[key], time.Since(start))
	if h.all != nil {
		done := true
		for _, k := range h.want {
			_, ok := h.held[k]
			done = done && ok
		}
		if done {
			close(h.all)
			h.all = nil
		}
	}
	h.mu.Unlock()
}

// TestHostileServerHangs: a server that holds the client's register,
// heartbeat, HEAD and result requests without answering them does not
// hold the client: each request times out.
func TestHostileServerHangs(t *testing.T) {
	stop := make(chan struct{})
	kinds := []string{"POST /v1/register", "POST /v1/heartbeat", "POST /v1/result", "HEAD /v1/result"}
	all := make(chan struct{})
	rec := &hangRecorder{held: map[string]time.Duration{}, all: all, want: kinds}
	task := AppendFrame(nil, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1}})
	var registered sync.Once
	e := newFakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == PathRegister:
			first := false
			registered.Do(func() { first = true })
			if first {
				rec.hold(w, r, stop)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == PathTask:
			w.Header().Set(HeaderTask, strings.Repeat("ab", taskIDBytes))
			w.Write(task)
		default:
			rec.hold(w, r, stop)
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := e.clientConfig(t, netOptions{}, "victim")
	cfg.ResumeBytes = 1
	cfg.RequestTimeout = 300 * time.Millisecond
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		Dial(ctx, e.url, slowHandler{200 * time.Millisecond}, cfg)
	}()
	select {
	case <-all:
	case <-time.After(20 * time.Second):
	}
	cancel()
	<-ran
	close(stop)
	e.srv.Close() // waits for the handlers
	rec.wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	t.Logf("longest hold per request: %v", rec.held)
	for _, what := range kinds {
		d, ok := rec.held[what]
		if !ok {
			t.Errorf("no %s request was made", what)
		} else if d > 2*time.Second {
			t.Errorf("%s was held for %v", what, d)
		}
	}
}

// slowHandler answers after d, so that heartbeats are sent.
type slowHandler struct{ d time.Duration }

func (s slowHandler) Handle(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: m.Params, Weight: 1}, nil
}

// TestHostileSlowBody: a body sent a byte at a time does not hold its
// request (and connection) beyond the read deadline.
func TestHostileSlowBody(t *testing.T) {
	e := hostileServer(t, []string{"drip"}, LimitsFor(1000, 8), func(c *HTTPPoolConfig) {
		c.ReadTimeout = 300 * time.Millisecond
	})
	tasks, _ := issueTasks(t, e, []string{"drip"})
	h := e.dialHostile(t, "drip")
	h.head("POST", PathResult+tasks["drip"], "Content-Type", FrameContentType, "Content-Length", "1000")
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, h.c)
		closed <- time.Since(start)
	}()
	var held time.Duration
	for i := 0; ; i++ {
		select {
		case held = <-closed:
		case <-time.After(100 * time.Millisecond):
			if _, err := h.c.Write([]byte{0}); err == nil && i < 50 {
				continue
			}
			held = time.Since(start)
		}
		break
	}
	t.Logf("a body at 10 bytes/s was held %v", held.Round(time.Millisecond))
	if held > 3*time.Second {
		t.Errorf("a body at 10 bytes/s was held %v", held)
	}
}

// zstdBomb returns a compressed frame whose payload decompresses to n
// zero bytes.
func zstdBomb(t testing.TB, n int) []byte {
	var b []byte
	w := &bytesWriter{&b}
	w.Write([]byte{'F', 'G', 2, frameZstd})
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(frameMaxWindow))
	if err != nil {
		t.Fatal(err)
	}
	head := []byte{6, 'u', 'p', 'd', 'a', 't', 'e', 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0}
	head = binary.AppendUvarint(head, uint64(n))
	enc.Write(append(head, 0, 0))
	zeros := make([]byte, 1<<20)
	for k := n; k > 0; k -= len(zeros) {
		enc.Write(zeros[:min(k, len(zeros))])
	}
	enc.Close()
	return b
}

// allocated returns the bytes allocated on the heap so far.
func allocated() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestHostileZstdBomb: a small compressed result that decompresses to
// 256 MiB is refused by a server whose limits come from the model, having
// allocated a bounded amount.
func TestHostileZstdBomb(t *testing.T) {
	bomb := zstdBomb(t, 256*mib)
	e := hostileServer(t, []string{"bomber"}, LimitsFor(610, 10), nil)
	tasks, _ := issueTasks(t, e, []string{"bomber"})
	h := e.dialHostile(t, "bomber")
	before := allocated()
	h.head("POST", PathResult+tasks["bomber"], "Content-Type", FrameContentType, "Content-Length", strconv.Itoa(len(bomb)))
	h.c.Write(bomb)
	resp, _, err := h.response(10 * time.Second)
	alloc := allocated() - before
	t.Logf("a %d-byte zstd frame of 256 MiB: %v, %v; %.1f MiB allocated", len(bomb), resp.Status, err, float64(alloc)/mib)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("answer %v, %v; want 400", resp, err)
	}
	if alloc > 16*mib {
		t.Errorf("allocated %d bytes for a %d-byte bomb", alloc, len(bomb))
	}
}

// TestHostileServerHugeTask: a server that sends a task declaring 2^26
// parameters (512 MiB, with a matching Content-Length) and then little of
// it, or a zstd bomb, does not make the client allocate the claim.
func TestHostileServerHugeTask(t *testing.T) {
	const n = 1 << 26
	head := []byte{'F', 'G', 2, 0, 5, 't', 'r', 'a', 'i', 'n', 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
	head = binary.AppendUvarint(head, n)
	head = append(head, 0, 0, 0)
	bomb := zstdBomb(t, 256*mib)
	for _, tc := range []struct {
		name string
		lim  Limits
		zstd bool
	}{{"declared/defaults", Limits{}, false}, {"declared/LimitsFor", LimitsFor(610, 10), false},
		{"zstd/LimitsFor", LimitsFor(610, 10), true}} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			served := make(chan struct{}, 16)
			e := newFakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case PathRegister:
					w.WriteHeader(http.StatusNoContent)
				case PathTask:
					w.Header().Set(HeaderTask, strings.Repeat("ab", taskIDBytes))
					if tc.zstd {
						w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
						w.Write(bomb)
						signal(served)
						return
					}
					w.Header().Set("Content-Length", strconv.Itoa(len(head)+8*n))
					w.Write(head)
					w.Write(make([]byte, 64<<10))
					w.(http.Flusher).Flush()
					signal(served)
					select {
					case <-stop:
					case <-r.Context().Done():
					}
				default:
					w.WriteHeader(http.StatusNoContent)
				}
			}))
			base := liveHeap()
			before := allocated()
			ctx, cancel := context.WithCancel(context.Background())
			cfg := e.clientConfig(t, netOptions{}, "victim")
			cfg.Limits = tc.lim
			done := make(chan struct{})
			go func() {
				defer close(done)
				Dial(ctx, e.url, scaler{k: 1}, cfg)
			}()
			// The declared task stalls the client's read; the bomb is
			// refused, and the client polls again.
			polls := 1
			if tc.zstd {
				polls = 2
			}
			var peak int64
			for range polls {
				select {
				case <-served:
				case <-time.After(10 * time.Second):
					t.Fatal("the client did not poll")
				}
				for range 3 {
					peak = max(peak, liveHeap()-base)
					time.Sleep(20 * time.Millisecond)
				}
			}
			cancel()
			close(stop)
			<-done
			alloc := allocated() - before
			t.Logf("hostile task (%s): client heap peak +%.1f MiB, %.1f MiB allocated", tc.name, float64(peak)/mib, float64(alloc)/mib)
			if peak > 16*mib {
				t.Errorf("the client's heap grew by %d bytes", peak)
			}
		})
	}
}

// TestHostileUploadBufferCap: ten clients each upload 1 MiB parts that
// they never finish, against a server whose upload buffer holds 4 MiB:
// the buffer never exceeds its bound (the parts held longest are dropped
// to make room), the heap grows by at most the bound plus a fixed
// overhead, and an honest client's round still completes at once.
func TestHostileUploadBufferCap(t *testing.T) {
	const n, part, bound = 10, 1 * mib, 4 * mib
	ids := append(hostileIDs("b", n), "honest")
	e := hostileServer(t, ids, LimitsFor(1<<20, 64), func(c *HTTPPoolConfig) { c.MaxUploadBuffer = bound })
	tasks, _ := issueTasks(t, e, ids[:n])
	base := liveHeap()
	for _, id := range ids[:n] {
		h := e.dialHostile(t, id)
		h.head("POST", PathResult+tasks[id], "Content-Type", FrameContentType, "Content-Length", strconv.Itoa(part),
			HeaderUploadLength, strconv.Itoa(2*part), HeaderUploadOffset, "0")
		h.c.Write(make([]byte, part))
		resp, _, err := h.response(5 * time.Second)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %v, %v", id, resp, err)
		}
		if b := e.pool.buffered.Load(); b > bound {
			t.Errorf("%d bytes buffered, over the bound %d", b, bound)
		}
	}
	grew := liveHeap() - base
	held := 0
	for _, id := range ids[:n] {
		h := e.dialHostile(t, id)
		h.head("HEAD", PathResult+tasks[id])
		if resp, _, err := h.response(5 * time.Second); err == nil && resp.Header.Get(HeaderUploadOffset) != "0" {
			held++
		}
	}
	t.Logf("%d parts of 1 MiB against a 4 MiB buffer: %d held, %.1f MiB buffered, heap +%.1f MiB",
		n, held, float64(e.pool.buffered.Load())/mib, float64(grew)/mib)
	if held != bound/part {
		t.Errorf("%d parts held, want the last %d", held, bound/part)
	}
	if grew > bound+4*mib {
		t.Errorf("heap grew by %d bytes, bound %d", grew, bound)
	}
	start := time.Now()
	honestRound(t, e, "honest")
	// Starved, it would wait for the hostile clients' ClientTimeout (5 s).
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the honest round took %v", d)
	}
}

// TestHostilePollCap: one client opens six polls at once; MaxPolls (4)
// of them wait (until the pool closes), the others are refused 429.
func TestHostilePollCap(t *testing.T) {
	e := hostileServer(t, []string{"greedy"}, LimitsFor(10, 1), func(c *HTTPPoolConfig) {
		c.PollWait = time.Minute
	})
	conns := make([]*hostileConn, 6)
	answers := make(chan int, len(conns))
	for i := range conns {
		conns[i] = e.dialHostile(t, "greedy")
		conns[i].head("GET", PathTask)
		go func() {
			resp, _, err := conns[i].response(20 * time.Second)
			if err != nil {
				answers <- 0
				return
			}
			answers <- resp.StatusCode
		}()
	}
	codes := map[int]int{}
	for range 2 {
		codes[<-answers]++
	}
	e.pool.Close() // answers the waiting polls 503
	for range 4 {
		codes[<-answers]++
	}
	t.Logf("6 polls at once: %v", codes)
	if codes[http.StatusTooManyRequests] != 2 || codes[http.StatusServiceUnavailable] != 4 {
		t.Errorf("answers %v, want 2 × 429, then 4 × 503 at Close", codes)
	}
}

// TestHostileRefusalsLogged: heartbeats and results for tasks the server
// no longer wants are refused with a line at level Warn each, and a flood
// of refusals is rate-limited (a burst, then the rest counted).
func TestHostileRefusalsLogged(t *testing.T) {
	var logs lockedBuffer
	e := newNetServer(t, netOptions{log: slog.New(slog.NewTextHandler(&logs, nil))}, []string{"late"})
	tasks, withdraw := issueTasks(t, e, []string{"late"})
	withdraw()
	h := e.dialHostile(t, "late")
	frame := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: []float64{1}})
	h.head("POST", PathResult+tasks["late"], "Content-Type", FrameContentType, "Content-Length", strconv.Itoa(len(frame)))
	h.c.Write(frame)
	if resp, _, err := h.response(5 * time.Second); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("late result: %v, %v", resp, err)
	}
	h.head("POST", PathHeartbeat+tasks["late"], "Content-Length", "0")
	if resp, _, err := h.response(5 * time.Second); err != nil || resp.StatusCode != http.StatusGone {
		t.Fatalf("late heartbeat: %v, %v", resp, err)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "status=410") || !strings.Contains(out, "status=404") {
		t.Errorf("refusals not logged at Warn:\n%s", out)
	}
	// A flood: 200 bad heartbeats in a burst.
	start := time.Now()
	for range 200 {
		h.head("POST", PathHeartbeat+tasks["late"], "Content-Length", "0")
		h.response(5 * time.Second)
	}
	lines := strings.Count(logs.String(), "request refused")
	bound := 2 + logBurst + int(logRate*time.Since(start).Seconds()) + 1
	t.Logf("202 refusals in %v: %d lines (bound %d)", time.Since(start).Round(time.Millisecond), lines, bound)
	if lines > bound || lines >= 202 {
		t.Errorf("%d log lines for a flood of 200 refusals, bound %d", lines, bound)
	}
	if !strings.Contains(logs.String(), "suppressed=") {
		time.Sleep(200 * time.Millisecond)
		h.head("POST", PathHeartbeat+tasks["late"], "Content-Length", "0")
		h.response(5 * time.Second)
		if !strings.Contains(logs.String(), "suppressed=") {
			t.Errorf("the dropped lines are not counted:\n%s", logs.String())
		}
	}
}

// TestClientsFinish: when the server's run is over, Finish tells the
// clients and their Run returns nil.
func TestClientsFinish(t *testing.T) {
	ids := []string{"a", "b", "c"}
	e := newNetServer(t, netOptions{}, ids)
	done := make(chan error, len(ids))
	for _, id := range ids {
		go func() { done <- Dial(context.Background(), e.url, scaler{k: 1}, e.clientConfig(t, netOptions{}, id)) }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.pool.WaitClients(ctx, len(ids)); err != nil {
		t.Fatal(err)
	}
	s, err := fl.NewServer(toyServerConfig(2), e.pool, []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	for range ids {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-ctx.Done():
			t.Fatal("a client did not finish")
		}
	}
}

// TestHostileIdleAndSlowHeaders: against NewHTTPServer's bounds (shortened
// here), idle connections are closed after IdleTimeout and a request
// whose headers trickle in is cut at ReadHeaderTimeout.
func TestHostileIdleAndSlowHeaders(t *testing.T) {
	pki, err := testPKI()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ServerCert()
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(http.NotFoundHandler(), ServerTLSConfig(cert, nil, false))
	if srv.ReadHeaderTimeout != 10*time.Second || srv.IdleTimeout != 2*time.Minute || srv.MaxHeaderBytes != 64<<10 ||
		srv.HTTP2.MaxConcurrentStreams != 100 {
		t.Errorf("NewHTTPServer bounds: %+v", srv)
	}
	srv.ReadHeaderTimeout, srv.IdleTimeout = 200*time.Millisecond, 200*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	e := &netEnv{url: "https://" + ln.Addr().String(), roots: ClientTLSConfig(pki.Roots, nil)}
	const n = 20
	closed := make(chan time.Duration, n+1)
	start := time.Now()
	watch := func(h *hostileConn) {
		h.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, h.c)
		closed <- time.Since(start)
	}
	for range n {
		h := e.dialHostile(t, "idle")
		h.head("GET", "/") // answered 404, then idle
		go watch(h)
	}
	slow := e.dialHostile(t, "slow")
	io.WriteString(slow.c, "GET / HTTP/1.1\r\nHost: x\r\n")
	go func() {
		for range 40 {
			if _, err := io.WriteString(slow.c, "X-Drip: 1\r\n"); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go watch(slow)
	var longest time.Duration
	for range n + 1 {
		longest = max(longest, <-closed)
	}
	t.Logf("%d idle connections and a trickling header: all closed within %v", n, longest.Round(time.Millisecond))
	if longest > 2*time.Second {
		t.Errorf("a connection was held %v", longest)
	}
}

// TestHostileUnreadTaskHTTP2: the same over HTTP/2, where a poll is a
// stream: three polls whose answers are never read end when the task is
// withdrawn, and the task's 32 MiB frame is not pinned (the client side's
// stream buffers, at most 4 MiB a stream, are in this process too).
func TestHostileUnreadTaskHTTP2(t *testing.T) {
	e := hostileServer(t, []string{"lazy2"}, LimitsFor(4<<20, 64), func(c *HTTPPoolConfig) {
		c.ClientTimeout = 300 * time.Millisecond
		c.PollWait = 5 * time.Second
	})
	tr := &http.Transport{TLSClientConfig: e.roots.Clone(), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	do := func() *http.Response {
		req, _ := http.NewRequest("GET", e.url+PathTask, nil)
		req.Header.Set(HeaderClient, "lazy2")
		req.Header.Set("Authorization", "Bearer "+tokenFor("lazy2"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	reg := e.dialHostile(t, "lazy2")
	reg.head("POST", PathRegister, "Content-Length", "0")
	if resp, _, err := reg.response(5 * time.Second); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("register: %v %v", resp, err)
	}
	base := liveHeap()
	ctx, cancel := context.WithCancel(context.Background())
	res := sendBig(ctx, connOf(t, e.pool, "lazy2"), 4<<20)
	for range 3 {
		if resp := do(); resp.StatusCode != http.StatusOK {
			t.Fatalf("poll: %s", resp.Status)
		}
	}
	cancel()
	within(t, res, "Send returning")
	var polls int
	var after int64
	for stop := time.Now().Add(5 * time.Second); time.Now().Before(stop); time.Sleep(20 * time.Millisecond) {
		e.pool.mu.Lock()
		polls = 0
		if cl := e.pool.clients["lazy2"]; cl != nil {
			polls = cl.polls
		}
		e.pool.mu.Unlock()
		if after = liveHeap() - base; polls == 0 && after < 16*mib {
			break
		}
	}
	t.Logf("3 unread HTTP/2 polls of a 32 MiB task: %d still served, heap +%.1f MiB after the task was withdrawn", polls, float64(after)/mib)
	if polls != 0 || after >= 16*mib {
		t.Errorf("%d polls still served, heap +%d bytes", polls, after)
	}
}

// TestWriteDeadlineCleared: over one HTTP/1.1 connection, a poll that
// writes a task and a later long poll that outlasts the first one's write
// deadline: the second is answered (the deadline does not outlive its
// request).
func TestWriteDeadlineCleared(t *testing.T) {
	e := hostileServer(t, []string{"keep"}, LimitsFor(10, 1), func(c *HTTPPoolConfig) {
		c.WriteTimeout = 100 * time.Millisecond
		c.PollWait = 400 * time.Millisecond
	})
	tasks, _ := issueTasks(t, e, []string{"keep"})
	h := e.dialHostile(t, "keep")
	h.head("GET", PathTask)
	if resp, _, err := h.response(5 * time.Second); err != nil || resp.Header.Get(HeaderTask) != tasks["keep"] {
		t.Fatalf("poll: %v, %v", resp, err)
	}
	// The task is still open: answer it, then poll again and wait.
	frame := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: []float64{1}})
	h.head("POST", PathResult+tasks["keep"], "Content-Type", FrameContentType, "Content-Length", strconv.Itoa(len(frame)))
	h.c.Write(frame)
	if resp, _, err := h.response(5 * time.Second); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("result: %v, %v", resp, err)
	}
	h.head("GET", PathTask)
	resp, _, err := h.response(5 * time.Second)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("second poll on the connection: %v, %v", resp, err)
	}
}

// TestHostileLargestDeclaredUpload: under the default limits, one client
// declares the largest upload they allow (about 4.3 GB) as Content-Length
// and Upload-Length, and sends 64 KiB: the server's heap grows by about
// what it received.
func TestHostileLargestDeclaredUpload(t *testing.T) {
	e := hostileServer(t, []string{"huge"}, Limits{}, nil)
	tasks, _ := issueTasks(t, e, []string{"huge"})
	maxUp := maxUploadBytes(Limits{})
	const sent = 64 << 10
	base := liveHeap()
	h := e.dialHostile(t, "huge")
	h.head("POST", PathResult+tasks["huge"], "Content-Type", FrameContentType, "Content-Length", strconv.FormatInt(maxUp, 10),
		HeaderUploadLength, strconv.FormatInt(maxUp, 10), HeaderUploadOffset, "0")
	h.c.Write(make([]byte, sent))
	waitUp(t, e.pool, sent)
	grew := liveHeap() - base
	t.Logf("an upload declaring %.2f GB, 64 KiB sent: heap +%.2f MiB", float64(maxUp)/1e9, float64(grew)/mib)
	if grew > sent+2*uploadChunk+mib {
		t.Errorf("heap grew by %d bytes for %d received", grew, sent)
	}
}

// signal sends on ch if it has room.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
