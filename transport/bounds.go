package transport

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Bounds on what peers make the network transport hold, and for how long
// (see the package documentation, section Security).

var (
	// errAborted ends the read or write of a request whose task closed.
	errAborted = errors.New("transport: the task closed")
	// errBudget ends an upload that would take the server's buffered
	// upload bytes over HTTPPoolConfig.MaxUploadBuffer.
	errBudget = errors.New("transport: the server's upload buffer is full")
)

// ioDeadline drives the deadline of one request's body read or answer
// write: k bytes must have moved by grace + k/rate after the start, and
// abort (when the request's task closes) ends the transfer at once. After
// finish, abort leaves the request alone (its handler has returned).
type ioDeadline struct {
	rc    *http.ResponseController
	write bool
	start time.Time
	grace time.Duration
	rate  int64

	mu   sync.Mutex
	done bool      // aborted or finished
	last time.Time // when the deadline was last set
	eof  bool      // the body was read to its end
	past bool      // abort set a deadline in the past
}

// deadlineEvery is how often a transfer's deadline is moved: in between,
// it keeps the deadline of the bytes moved when it was last set (stricter
// by at most deadlineEvery's worth of bytes), which spares an HTTP/2
// server a round trip to its connection's goroutine on every read.
const deadlineEvery = 100 * time.Millisecond

func newIODeadline(w http.ResponseWriter, write bool, grace time.Duration, rate int64) *ioDeadline {
	return &ioDeadline{rc: http.NewResponseController(w), write: write, start: time.Now(), grace: grace, rate: rate}
}

func (d *ioDeadline) set(t time.Time) {
	// ErrNotSupported (a ResponseWriter without deadlines, as in tests
	// with httptest.ResponseRecorder) leaves the transfer unbounded in
	// time, but still bounded in bytes.
	if d.write {
		d.rc.SetWriteDeadline(t)
	} else {
		d.rc.SetReadDeadline(t)
	}
}

// extend sets the deadline for a transfer that has moved n bytes; it
// fails with errAborted after abort.
func (d *ioDeadline) extend(n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return errAborted
	}
	now := time.Now()
	if !d.last.IsZero() && now.Sub(d.last) < deadlineEvery {
		return nil
	}
	d.last = now
	d.set(d.start.Add(d.grace + time.Duration(float64(n)/float64(d.rate)*float64(time.Second))))
	return nil
}

// abort ends the transfer: the pending read or write fails at once. A
// body read to its end is left alone: an HTTP/1.1 server is then reading
// the connection in the background, and a deadline in the past would
// cancel the context of every later request on it.
func (d *ioDeadline) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		d.done = true
		if !d.eof {
			d.set(time.Unix(1, 0))
			d.past = true
		}
	}
}

// sawEOF records that the body was read to its end.
func (d *ioDeadline) sawEOF() {
	d.mu.Lock()
	d.eof = true
	d.mu.Unlock()
}

// closeConn reports whether an HTTP/1.1 connection must be closed after
// this request: its body was not read to the end, or abort set a deadline
// in the past on the connection.
func (d *ioDeadline) closeConn() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.past || !d.eof
}

// finish detaches d from its request; called before the handler returns.
// (The HTTP server resets the connection's deadlines before its next
// request: TestWriteDeadlineCleared.)
func (d *ioDeadline) finish() {
	d.mu.Lock()
	d.done = true
	d.mu.Unlock()
}

// settleConn asks an HTTP/1.1 server to close the connection after r if
// its body read ended early or was aborted (see ioDeadline.closeConn);
// called once the body is read, before the answer is written.
func settleConn(w http.ResponseWriter, r *http.Request, d *ioDeadline) {
	if r.ProtoMajor == 1 && d.closeConn() {
		w.Header().Set("Connection", "close")
	}
}

// bodyReader reads a request body under an ioDeadline, counts the bytes
// into the pool's traffic as they arrive, and charges them to the pool's
// upload buffer when charge is set. (The upload counts as its client's
// activity while it lasts: netClient.uploads.)
type bodyReader struct {
	p       *HTTPPool
	cl      *netClient
	r       io.ReadCloser
	d       *ioDeadline
	n       int64
	charge  bool
	charged int64
}

func (b *bodyReader) Read(q []byte) (int, error) {
	if err := b.d.extend(b.n); err != nil {
		return 0, err
	}
	if b.charge {
		if !b.p.reserve(int64(len(q))) {
			return 0, errBudget
		}
		b.charged += int64(len(q))
	}
	n, err := b.r.Read(q)
	if b.charge {
		b.p.unreserve(int64(len(q) - n))
		b.charged -= int64(len(q) - n)
	}
	b.n += int64(n)
	if n > 0 {
		b.p.up.Add(int64(n))
	}
	if err == io.EOF {
		b.d.sawEOF()
	}
	if err != nil && err != io.EOF && b.d.isAborted() {
		err = errAborted
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.r.Close() }

// release returns the bytes charged by b to the pool's upload buffer.
func (b *bodyReader) release() {
	b.p.unreserve(b.charged)
	b.charged = 0
}

func (d *ioDeadline) isAborted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// reserve charges n bytes to the pool's upload buffer. If that would
// exceed MaxUploadBuffer, it first drops held parts of resumable uploads
// that no request is adding to, the longest held first (their clients
// upload them again from the start); it fails if that is not enough.
func (p *HTTPPool) reserve(n int64) bool {
	if p.buffered.Add(n) <= p.cfg.MaxUploadBuffer {
		return true
	}
	p.buffered.Add(-n)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.buffered.Add(n) <= p.cfg.MaxUploadBuffer {
			return true
		}
		p.buffered.Add(-n)
		if !p.evictLocked() {
			return false
		}
	}
}

// unidleLocked removes t from the idle parts; called with p.mu held
// before t.part is taken or dropped.
func (p *HTTPPool) unidleLocked(t *task) {
	if t.part != nil {
		p.idle = slices.DeleteFunc(p.idle, func(u *task) bool { return u == t })
	}
}

// evictLocked drops the longest-held idle part; it reports false if there
// is none. Called with p.mu held.
func (p *HTTPPool) evictLocked() bool {
	for len(p.idle) > 0 {
		t := p.idle[0]
		p.idle[0] = nil
		p.idle = p.idle[1:]
		if t.part != nil && t.open && !t.receiving {
			p.warn("transport: held upload dropped to make room", "client", t.cl.id, "task", t.id, "bytes", t.part.n)
			t.part.drop(p)
			t.part = nil
			return true
		}
	}
	return false
}

func (p *HTTPPool) unreserve(n int64) { p.buffered.Add(-n) }

// touch marks cl seen now.
func (p *HTTPPool) touch(cl *netClient) {
	p.mu.Lock()
	cl.lastSeen = p.now()
	p.mu.Unlock()
}

// partUpload is the part of a resumable result upload that a server has
// received: its first n bytes, of length in all, in chunks of uploadChunk
// bytes allocated as the bytes arrive and charged to the pool's upload
// buffer (charged bytes in all).
type partUpload struct {
	length  int64
	n       int64
	chunks  [][]byte
	charged int64
}

// readFrom appends the bytes of r to the part until io.EOF; it fails with
// errUploadTooLong rather than hold more than length bytes, and with
// errBudget when the pool's upload buffer is full.
func (u *partUpload) readFrom(p *HTTPPool, r io.Reader) error {
	for {
		if u.n == u.length {
			// Any byte more is an overrun.
			var one [1]byte
			for {
				k, err := r.Read(one[:])
				if k > 0 {
					return errUploadTooLong
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}
		last := len(u.chunks) - 1
		if last < 0 || len(u.chunks[last]) == cap(u.chunks[last]) {
			size := min(uploadChunk, u.length-u.n)
			if !p.reserve(size) {
				return errBudget
			}
			u.charged += size
			u.chunks = append(u.chunks, make([]byte, 0, size))
			last++
		}
		c := u.chunks[last]
		k, err := r.Read(c[len(c):cap(c)])
		u.chunks[last] = c[:len(c)+k]
		u.n += int64(k)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// reader returns a reader of the part's bytes.
func (u *partUpload) reader() io.Reader {
	rs := make([]io.Reader, len(u.chunks))
	for i, c := range u.chunks {
		rs[i] = bytes.NewReader(c)
	}
	return io.MultiReader(rs...)
}

// drop releases the part's bytes.
func (u *partUpload) drop(p *HTTPPool) {
	if u == nil {
		return
	}
	p.unreserve(u.charged)
	u.charged, u.chunks, u.n = 0, nil, 0
}

// logLimiter lets through a burst of log lines and then one a tick,
// counting the lines it drops so that the next line reports them.
type logLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
}

const (
	logBurst = 20
	logRate  = 10 // lines a second once the burst is spent
)

// allow reports whether a line may be logged now, and how many were
// dropped since the last one.
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = logBurst
	} else {
		l.tokens = min(logBurst, l.tokens+now.Sub(l.last).Seconds()*logRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	d := l.dropped
	l.dropped = 0
	return true, d
}

// warn logs a refusal at level Warn, rate-limited.
func (p *HTTPPool) warn(msg string, args ...any) {
	ok, dropped := p.logs.allow(time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	p.log.Warn(msg, args...)
}
