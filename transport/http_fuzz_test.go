package transport

import (
	"bytes"
	"context"
	"errors"
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
		res := sendAsync(ctx, pool.Conns()[0], &fl.Message{Type: fl.TypeTrain, Round: 1})
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
