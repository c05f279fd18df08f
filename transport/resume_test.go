package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// doHdr sends a request with extra headers and returns the status, the
// answer's headers and body.
func (c *rawClient) doHdr(method, path, ctype string, hdr map[string]string, body []byte) (int, http.Header) {
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
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func uploadHdr(length, offset int) map[string]string {
	return map[string]string{HeaderUploadLength: strconv.Itoa(length), HeaderUploadOffset: strconv.Itoa(offset)}
}

// bigMessage is a result of dim params with awkward floats (NaN payloads,
// signed zeros, subnormals, infinities) among seeded random values.
func bigMessage(dim int) *fl.Message {
	rng := rand.New(rand.NewPCG(7, 11))
	p := make([]float64, dim)
	for i := range p {
		p[i] = rng.NormFloat64()
	}
	special := []float64{math.Float64frombits(0x7ff8_dead_beef_0001), math.Copysign(0, -1), 5e-324, math.Inf(-1)}
	for i, x := range special {
		p[(i*dim)/len(special)] = x
	}
	return &fl.Message{Type: fl.TypeUpdate, Round: 1, Weight: 3.25, Params: p,
		Payload: []byte{1, 2, 3}, Metrics: map[string]float64{"loss": 0.5}}
}

// cutTransport counts the bytes read from the body of every result POST,
// cuts the first one after cutAfter bytes, and records the offsets the
// server announces in answers to HEAD.
type cutTransport struct {
	base     http.RoundTripper
	cutAfter int64

	mu    sync.Mutex
	cut   bool
	posts []int64
	heads []string
}

var errCut = errors.New("test: connection cut")

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.Contains(r.URL.Path, PathResult) {
		return c.base.RoundTrip(r)
	}
	if r.Method == http.MethodHead {
		resp, err := c.base.RoundTrip(r)
		if err == nil && resp.StatusCode == http.StatusOK {
			c.mu.Lock()
			c.heads = append(c.heads, resp.Header.Get(HeaderUploadOffset))
			c.mu.Unlock()
		}
		return resp, err
	}
	c.mu.Lock()
	i := len(c.posts)
	c.posts = append(c.posts, 0)
	limit := int64(-1)
	if !c.cut {
		c.cut, limit = true, c.cutAfter
	}
	c.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.Body = &countBody{rc: r.Body, c: c, i: i, limit: limit}
	return c.base.RoundTrip(r2)
}

type countBody struct {
	rc    io.ReadCloser
	c     *cutTransport
	i     int
	limit int64
	n     int64
}

func (b *countBody) Read(p []byte) (int, error) {
	if b.limit >= 0 {
		if b.n >= b.limit {
			return 0, errCut
		}
		p = p[:min(int64(len(p)), b.limit-b.n)]
	}
	k, err := b.rc.Read(p)
	b.n += int64(k)
	b.c.mu.Lock()
	b.c.posts[b.i] += int64(k)
	b.c.mu.Unlock()
	return k, err
}

func (b *countBody) Close() error { return b.rc.Close() }

type replyWith struct{ m *fl.Message }

func (f replyWith) Handle(context.Context, *fl.Message) (*fl.Message, error) { return f.m, nil }

// TestHTTPResumeAfterBrokenUpload cuts a client's 4 MB upload halfway: the
// client asks the server what it holds and sends only the rest, and the
// server delivers the result bit for bit.
func TestHTTPResumeAfterBrokenUpload(t *testing.T) {
	for _, zstd := range []bool{false, true} {
		t.Run("zstd="+strconv.FormatBool(zstd), func(t *testing.T) {
			want := bigMessage(1 << 19)
			var size int64
			if zstd {
				var b []byte
				if _, err := WriteFrame(&bytesWriter{&b}, want, Limits{}, FrameOptions{Zstd: true}); err != nil {
					t.Fatal(err)
				}
				size = int64(len(b))
			} else {
				size = FrameSize(want)
			}
			o := netOptions{zstd: zstd}
			e := newNetServer(t, o, []string{"a"})
			tr := &http.Transport{TLSClientConfig: e.roots.Clone(), ForceAttemptHTTP2: true}
			t.Cleanup(tr.CloseIdleConnections)
			ct := &cutTransport{base: tr, cutAfter: size / 2}
			cfg := e.clientConfig(t, o, "a")
			cfg.HTTPClient = &http.Client{Transport: ct}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Dial(ctx, e.url, replyWith{want}, cfg) }()
			defer func() {
				cancel()
				<-done
			}()
			wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer wcancel()
			if err := e.pool.WaitClients(wctx, 1); err != nil {
				t.Fatal(err)
			}
			got, err := connOf(t, e.pool, "a").Send(wctx, &fl.Message{Type: fl.TypeTrain, Round: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !sameMessage(got, want) {
				t.Fatal("delivered message differs from the one sent")
			}
			ct.mu.Lock()
			defer ct.mu.Unlock()
			if len(ct.posts) != 2 || len(ct.heads) == 0 {
				t.Fatalf("posts %v, heads %v: want a cut post, a HEAD, then one resumed post", ct.posts, ct.heads)
			}
			held, err := strconv.ParseInt(ct.heads[len(ct.heads)-1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if ct.posts[0] != size/2 || held <= 0 || held > size/2 {
				t.Errorf("first post sent %d bytes, server held %d: want %d sent, 0 < held ≤ sent", ct.posts[0], held, size/2)
			}
			if ct.posts[1] != size-held {
				t.Errorf("resumed post sent %d bytes, want the %d - %d = %d that remained", ct.posts[1], size, held, size-held)
			}
			if up, _ := e.pool.Traffic(); up != size {
				t.Errorf("server received %d bytes, want the upload's %d exactly once", up, size)
			}
		})
	}
}

// TestHTTPResumeProtocol speaks the resumable upload by hand.
func TestHTTPResumeProtocol(t *testing.T) {
	e := newNetServer(t, netOptions{}, []string{"a", "b"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	b := newRawClient(t, e, "b", tokenFor("b"))
	for _, c := range []*rawClient{a, b} {
		if code, _, _ := c.do("POST", PathRegister, "", nil); code != http.StatusNoContent {
			t.Fatalf("register %s: %d", c.id, code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := sendAsync(ctx, connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain, Round: 1})
	code, hdr, _ := a.do("GET", PathTask, "", nil)
	if code != http.StatusOK {
		t.Fatalf("poll: %d", code)
	}
	path := PathResult + hdr.Get(HeaderTask)
	want := bigMessage(2000)
	frame := AppendFrame(nil, want)
	L := len(frame)

	check := func(what string, wantCode int, wantOff string, code int, h http.Header) {
		t.Helper()
		if code != wantCode {
			t.Errorf("%s: HTTP %d, want %d", what, code, wantCode)
		}
		if wantOff != "" && h.Get(HeaderUploadOffset) != wantOff {
			t.Errorf("%s: %s %q, want %q", what, HeaderUploadOffset, h.Get(HeaderUploadOffset), wantOff)
		}
	}
	code, h := a.doHdr("HEAD", path, "", nil, nil)
	check("HEAD before any byte", http.StatusOK, "0", code, h)
	code, h = a.doHdr("POST", path, FrameContentType, uploadHdr(L, 0), frame[:1000])
	check("first part", http.StatusAccepted, "1000", code, h)
	code, h = a.doHdr("HEAD", path, "", nil, nil)
	check("HEAD after a part", http.StatusOK, "1000", code, h)
	if h.Get(HeaderUploadLength) != strconv.Itoa(L) {
		t.Errorf("HEAD: %s %q, want %d", HeaderUploadLength, h.Get(HeaderUploadLength), L)
	}
	code, h = a.doHdr("POST", path, FrameContentType, uploadHdr(L, 500), frame[500:])
	check("offset behind the server's", http.StatusConflict, "1000", code, h)
	code, h = a.doHdr("POST", path, FrameContentType, uploadHdr(L, 1500), frame[1500:])
	check("offset ahead of the server's", http.StatusConflict, "1000", code, h)
	code, h = a.doHdr("POST", path, FrameContentType, uploadHdr(L+1, 1000), frame[1000:])
	check("another length", http.StatusConflict, "1000", code, h)
	code, h = a.doHdr("POST", path, FrameContentType, map[string]string{HeaderUploadLength: strconv.Itoa(L), HeaderUploadOffset: "01000"}, frame[1000:])
	check("non-canonical offset", http.StatusBadRequest, "", code, h)
	code, h = a.doHdr("POST", path, ErrorContentType, uploadHdr(L, 1000), frame[1000:])
	check("resumable text", http.StatusBadRequest, "", code, h)

	// Every part is authenticated and must come from the task's client.
	for _, c := range []*rawClient{newRawClient(t, e, "a", tokenFor("b")), newRawClient(t, e, "a", "")} {
		code, _ = c.doHdr("HEAD", path, "", nil, nil)
		check("unauthenticated HEAD", http.StatusUnauthorized, "", code, nil)
		code, _ = c.doHdr("POST", path, FrameContentType, uploadHdr(L, 1000), frame[1000:])
		check("unauthenticated resume", http.StatusUnauthorized, "", code, nil)
	}
	code, _ = b.doHdr("HEAD", path, "", nil, nil)
	check("other client's HEAD", http.StatusNotFound, "", code, nil)
	code, _ = b.doHdr("POST", path, FrameContentType, uploadHdr(L, 1000), frame[1000:])
	check("other client's resume", http.StatusNotFound, "", code, nil)

	// The refusals left the part as it was: resume from the server's offset.
	code, h = a.doHdr("HEAD", path, "", nil, nil)
	check("HEAD after refusals", http.StatusOK, "1000", code, h)
	code, h = a.doHdr("POST", path, FrameContentType, uploadHdr(L, 1000), frame[1000:])
	check("resume", http.StatusNoContent, "", code, h)
	r := within(t, res, "Send")
	if r.err != nil || !sameMessage(r.m, want) {
		t.Fatalf("Send = %v; delivered message differs: %v", r.err, !sameMessage(r.m, want))
	}
	code, _ = a.doHdr("HEAD", path, "", nil, nil)
	check("HEAD after acceptance", http.StatusConflict, "", code, nil)
	code, _ = a.doHdr("POST", path, FrameContentType, uploadHdr(L, 1000), frame[1000:])
	check("resume after acceptance", http.StatusConflict, "", code, nil)
}

// TestHTTPResumeLimits: an upload declared over the limits is refused
// before a byte is read, a part that overruns its declared length is
// refused and dropped, and a closed task drops its part.
func TestHTTPResumeLimits(t *testing.T) {
	lim := Limits{MaxParams: 1000, MaxPayload: 100, MaxEntries: 4, MaxString: 16}
	e := newNetServer(t, netOptions{pool: func(c *HTTPPoolConfig) { c.Limits = lim }}, []string{"a"})
	a := newRawClient(t, e, "a", tokenFor("a"))
	if code, _, _ := a.do("POST", PathRegister, "", nil); code != http.StatusNoContent {
		t.Fatalf("register: %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := sendAsync(ctx, connOf(t, e.pool, "a"), &fl.Message{Type: fl.TypeTrain, Round: 1})
	code, hdr, _ := a.do("GET", PathTask, "", nil)
	if code != http.StatusOK {
		t.Fatalf("poll: %d", code)
	}
	path := PathResult + hdr.Get(HeaderTask)
	maxLen := int(maxUploadBytes(lim))
	body := make([]byte, 100)
	for _, length := range []int{maxLen + 1, math.MaxInt64} {
		code, _ := a.doHdr("POST", path, FrameContentType, uploadHdr(length, 0), body)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("Upload-Length %d over the limit %d: HTTP %d, want 413", length, maxLen, code)
		}
	}
	if up, _ := e.pool.Traffic(); up != 0 {
		t.Errorf("server read %d bytes of refused uploads, want 0", up)
	}
	if code, h := a.doHdr("POST", path, FrameContentType, uploadHdr(maxLen, 0), body); code != http.StatusAccepted || h.Get(HeaderUploadOffset) != "100" {
		t.Errorf("Upload-Length at the limit: HTTP %d, offset %q; want 202, 100", code, h.Get(HeaderUploadOffset))
	}
	// A body longer than the upload's rest.
	if code, _ := a.doHdr("POST", path, FrameContentType, uploadHdr(150, 100), body); code != http.StatusConflict {
		t.Errorf("other length: HTTP %d, want 409", code)
	}
	if code, _ := a.doHdr("POST", path, FrameContentType, uploadHdr(150, 0), body[:50]); code != http.StatusAccepted {
		t.Errorf("restart at 0: HTTP %d, want 202", code)
	}
	if code, _ := a.doHdr("POST", path, FrameContentType, uploadHdr(150, 50), make([]byte, 120)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("part overrunning the length: HTTP %d, want 413", code)
	}
	if code, h := a.doHdr("HEAD", path, "", nil, nil); code != http.StatusOK || h.Get(HeaderUploadOffset) != "0" {
		t.Errorf("after an overrun: HTTP %d, offset %q; want 200, 0 (part dropped)", code, h.Get(HeaderUploadOffset))
	}
	if code, _ := a.doHdr("POST", path, FrameContentType, uploadHdr(150, 0), body[:50]); code != http.StatusAccepted {
		t.Errorf("part: HTTP %d, want 202", code)
	}
	cancel()
	if r := within(t, res, "Send"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", r.err)
	}
	if code, _ := a.doHdr("HEAD", path, "", nil, nil); code != http.StatusNotFound {
		t.Errorf("HEAD of a closed task: HTTP %d, want 404", code)
	}
	e.pool.mu.Lock()
	defer e.pool.mu.Unlock()
	for id, t2 := range e.pool.tasks {
		if t2.part != nil {
			t.Errorf("task %s keeps a part after closing", id)
		}
	}
}

// parseUploadNumberRef is the definition: a canonical decimal numeral of
// a value in [0, 2^63 - 1].
func parseUploadNumberRef(s string) (int64, bool) {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	v := new(big.Int)
	for _, ch := range []byte(s) {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v.Mul(v, big.NewInt(10))
		v.Add(v, big.NewInt(int64(ch-'0')))
	}
	if !v.IsInt64() {
		return 0, false
	}
	return v.Int64(), true
}

func FuzzUploadNumber(f *testing.F) {
	for _, s := range []string{"", "0", "00", "7", "1000", "01", "-1", "+1", " 1", "1 ", "1e3", "0x10",
		"9223372036854775807", "9223372036854775808", "99999999999999999999", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseUploadNumber(s)
		want, ok := parseUploadNumberRef(s)
		if (err == nil) != ok || got != want {
			t.Fatalf("parseUploadNumber(%q) = %d, %v; want %d, ok %v", s, got, err, want, ok)
		}
		if ok && strconv.FormatInt(got, 10) != s {
			t.Fatalf("%q parsed to %d, which prints differently", s, got)
		}
	})
}

// FuzzHTTPResumableResult posts a frame in two parts with arbitrary
// header values and a cut point: the handler answers 202, 204 or a 4xx,
// never panics, and a 204 delivers exactly what the bytes decode to.
func FuzzHTTPResumableResult(f *testing.F) {
	valid := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: []float64{1, 2}, Weight: 3})
	n := strconv.Itoa(len(valid))
	f.Add(n, "0", n, "9", valid, 9)
	f.Add(n, "0", n, "0", valid, 0)
	f.Add(n, "", n, "5", valid, 5)
	f.Add("999999999999", "0", n, "9", valid, 9)
	f.Add(n, "0", n, "8", valid, 9)
	f.Add("03", "-1", "x", "", valid[:3], 1)
	f.Add("3", "0", "3", "1", []byte("FG\x02"), 1)
	f.Fuzz(func(t *testing.T, len1, off1, len2, off2 string, body []byte, cut int) {
		pool, err := NewHTTPPool(HTTPPoolConfig{Tokens: map[string]string{"a": tokenFor("a")},
			Limits: Limits{MaxParams: 64, MaxPayload: 1024, MaxEntries: 8, MaxString: 32}})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		call := func(method, path string, hdr map[string]string, body []byte) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			req.Header.Set(HeaderClient, "a")
			req.Header.Set("Authorization", "Bearer "+tokenFor("a"))
			req.Header.Set("Content-Type", FrameContentType)
			for k, v := range hdr {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			pool.ServeHTTP(rec, req)
			return rec
		}
		if rec := call("POST", PathRegister, nil, nil); rec.Code != http.StatusNoContent {
			t.Fatalf("register: %d", rec.Code)
		}
		ctx, cancel := context.WithCancel(context.Background())
		res := sendAsync(ctx, fl.Reachable(pool)[0], &fl.Message{Type: fl.TypeTrain, Round: 1})
		poll := call("GET", PathTask, nil, nil)
		if poll.Code != http.StatusOK {
			t.Fatalf("poll: %d", poll.Code)
		}
		path := PathResult + poll.Header().Get(HeaderTask)
		cut = min(max(cut, 0), len(body))
		var codes []int
		var sent []byte // the bytes a 204 must have decoded
		for _, part := range []struct {
			l, o string
			b    []byte
		}{{len1, off1, body[:cut]}, {len2, off2, body[cut:]}} {
			rec := call("POST", path, map[string]string{HeaderUploadLength: part.l, HeaderUploadOffset: part.o}, part.b)
			codes = append(codes, rec.Code)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("HTTP %d", rec.Code)
			}
			if rec.Code == http.StatusNoContent {
				sent = part.b
				if len(codes) == 2 && part.o != "" && part.o != "0" {
					sent = body
				}
				break
			}
		}
		cancel()
		r := <-res
		if codes[len(codes)-1] == http.StatusNoContent {
			want, _, err := ReadFrame(bytes.NewReader(sent), pool.cfg.Limits)
			if err != nil || r.err != nil || !sameMessage(r.m, want) {
				t.Fatalf("codes %v but Send = %+v, %v; body decodes to %+v, %v", codes, r.m, r.err, want, err)
			}
		} else if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("codes %v but Send = %+v, %v", codes, r.m, r.err)
		}
	})
}

// TestPartReadFrom: a part is read until EOF but never past its length,
// grows in chunks of at most uploadChunk bytes, continues where an
// earlier part ended, charges the pool's upload buffer for what it holds
// and stops at the buffer's bound.
func TestPartReadFrom(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789"), 20000) // 200,000 bytes, over uploadChunk
	for _, tc := range []struct {
		prefix, n, length int
		budget            int64
		wantErr           error
	}{
		{0, 0, 10, 0, nil},
		{0, 10, 10, 0, nil},
		{3, 7, 10, 0, nil},
		{0, 11, 10, 0, errUploadTooLong},
		{5, 6, 10, 0, errUploadTooLong},
		{0, 200000, 200000, 0, nil},
		{100, 199900, 200000, 0, nil},
		{70000, 130000, 200000, 0, nil},
		{0, 200000, 199999, 0, errUploadTooLong},
		{0, 200000, 200000, 3 * uploadChunk, errBudget},
	} {
		pool, err := NewHTTPPool(HTTPPoolConfig{Tokens: map[string]string{"a": tokenFor("a")}, MaxUploadBuffer: tc.budget})
		if err != nil {
			t.Fatal(err)
		}
		u := &partUpload{length: int64(tc.length)}
		if err := u.readFrom(pool, bytes.NewReader(src[:tc.prefix])); err != nil {
			t.Fatalf("%+v: prefix: %v", tc, err)
		}
		err = u.readFrom(pool, iotestOneByte{bytes.NewReader(src[tc.prefix : tc.prefix+tc.n])})
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%+v: err %v", tc, err)
			continue
		}
		got, _ := io.ReadAll(u.reader())
		if int64(len(got)) != u.n || len(got) > tc.length {
			t.Errorf("%+v: %d bytes (n = %d), length %d", tc, len(got), u.n, tc.length)
		}
		if err == nil && !bytes.Equal(got, src[:tc.prefix+tc.n]) {
			t.Errorf("%+v: got %d bytes, want the %d given", tc, len(got), tc.prefix+tc.n)
		}
		if !bytes.Equal(got, src[:len(got)]) {
			t.Errorf("%+v: the bytes held are not the bytes sent", tc)
		}
		held := int64(0)
		for _, c := range u.chunks {
			if cap(c) > uploadChunk {
				t.Errorf("%+v: a chunk of %d bytes", tc, cap(c))
			}
			held += int64(cap(c))
		}
		if held > u.n+uploadChunk || u.charged != held || pool.buffered.Load() != held {
			t.Errorf("%+v: holds %d bytes for %d received; charged %d, pool %d", tc, held, u.n, u.charged, pool.buffered.Load())
		}
		if tc.budget > 0 && pool.buffered.Load() > tc.budget {
			t.Errorf("%+v: %d bytes buffered, over the bound %d", tc, pool.buffered.Load(), tc.budget)
		}
		u.drop(pool)
		if pool.buffered.Load() != 0 {
			t.Errorf("%+v: %d bytes still charged after drop", tc, pool.buffered.Load())
		}
	}
}

// iotestOneByte reads at most 7 bytes at a time, to split reads at odd
// places.
type iotestOneByte struct{ r io.Reader }

func (r iotestOneByte) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), 7)]) }
