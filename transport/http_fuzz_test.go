package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// FuzzHTTPResult posts arbitrary bodies, under arbitrary content types, as
// the result of a live task: the handler answers 204 or a 4xx, never
// panics, and a 204 delivers exactly what the body decodes to.
func FuzzHTTPResult(f *testing.F) {
	valid := AppendFrame(nil, &fl.Message{Type: fl.TypeUpdate, Round: 1, Params: []float64{1, 2}, Weight: 3})
	f.Add(FrameContentType, valid)
	f.Add(FrameContentType, valid[:7])
	f.Add(FrameContentType, []byte("FG\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f"))
	f.Add(ErrorContentType, []byte("out of memory"))
	f.Add("text/plain", []byte{0xff, 0xfe})
	f.Add("application/json", []byte("{}"))
	f.Add("", valid)
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		pool, err := NewHTTPPool(HTTPPoolConfig{Tokens: map[string]string{"a": tokenFor("a")},
			Limits: Limits{MaxParams: 64, MaxPayload: 1024, MaxEntries: 8, MaxString: 32}})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		call := func(method, path, ctype string, body []byte) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			req.Header.Set(HeaderClient, "a")
			req.Header.Set("Authorization", "Bearer "+tokenFor("a"))
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			rec := httptest.NewRecorder()
			pool.ServeHTTP(rec, req)
			return rec
		}
		if rec := call("POST", PathRegister, "", nil); rec.Code != http.StatusNoContent {
			t.Fatalf("register: %d", rec.Code)
		}
		ctx, cancel := context.WithCancel(context.Background())
		res := sendAsync(ctx, fl.Reachable(pool)[0], &fl.Message{Type: fl.TypeTrain, Round: 1})
		poll := call("GET", PathTask, "", nil)
		if poll.Code != http.StatusOK {
			t.Fatalf("poll: %d", poll.Code)
		}
		rec := call("POST", PathResult+poll.Header().Get(HeaderTask), ctype, body)
		cancel()
		r := <-res
		switch {
		case rec.Code == http.StatusNoContent:
			var re *RemoteError
			if errors.As(r.err, &re) {
				return
			}
			want, _, err := ReadFrame(bytes.NewReader(body), pool.cfg.Limits)
			if err != nil || r.err != nil || !sameMessage(r.m, want) {
				t.Fatalf("204 but Send = %+v, %v; body decodes to %+v, %v", r.m, r.err, want, err)
			}
		case rec.Code >= 400 && rec.Code < 500:
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("HTTP %d but Send = %+v, %v", rec.Code, r.m, r.err)
			}
		default:
			t.Fatalf("HTTP %d", rec.Code)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzClientPoll answers a client's poll with arbitrary status, task id
// and body, as a hostile or broken server might: the client returns a
// task or an error, never panics, and a task is exactly what the body
// decodes to.
func FuzzClientPoll(f *testing.F) {
	valid := AppendFrame(nil, &fl.Message{Type: fl.TypeTrain, Round: 2, Params: []float64{1, 2}})
	id := "0123456789abcdef0123456789abcdef"
	f.Add(200, id, valid)
	f.Add(200, id, valid[:9])
	f.Add(200, "not-an-id", valid)
	f.Add(204, "", []byte(nil))
	f.Add(401, "", []byte("no"))
	f.Add(503, "", []byte("later"))
	f.Add(200, id, []byte("FG\x02\x01garbage"))
	lim := Limits{MaxParams: 64, MaxPayload: 1024, MaxEntries: 8, MaxString: 32}
	f.Fuzz(func(t *testing.T, status int, task string, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set(HeaderTask, task)
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
				ContentLength: int64(len(body)), Request: r}, nil
		})}
		c, err := NewClient("https://example.invalid", echoAll{}, ClientConfig{ID: "a", Token: "t", HTTPClient: hc, Limits: lim})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.poll(context.Background())
		if err != nil || got == nil {
			return
		}
		want, _, err := ReadFrame(bytes.NewReader(body), lim)
		if status != http.StatusOK || err != nil || got.id != task || !sameMessage(got.msg, want) {
			t.Fatalf("status %d task %q: client took %+v", status, task, got)
		}
	})
}
