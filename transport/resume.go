package transport

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Resumable result uploads (see the package documentation, "Network
// protocol"). The headers follow the IETF resumable-uploads draft and tus.
const (
	// HeaderUploadLength declares the total bytes of a resumable result
	// upload; the server checks it against its limits before it reads any
	// byte of the body.
	HeaderUploadLength = "Upload-Length"
	// HeaderUploadOffset is, in a request, the offset in the whole upload
	// of the body's first byte; in an answer, the number of bytes the
	// server holds.
	HeaderUploadOffset = "Upload-Offset"

	uploadChunk = 64 << 10 // bytes a partial upload grows by, as they arrive
)

// parseUploadNumber parses the value of an Upload-Length or Upload-Offset
// header: a non-negative decimal integer in canonical form (digits only,
// no sign, no leading zero unless the value is 0) that fits an int64.
func parseUploadNumber(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("want 1 to 19 decimal digits, got %d bytes", len(s))
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("byte %d is not a decimal digit", i)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return v, nil
}

// uploadHeaders reads a result request's resumable-upload headers. It
// returns resumable false when neither header is present (a whole upload).
func uploadHeaders(h http.Header) (length, offset int64, resumable bool, err error) {
	lv, hasLen := h[HeaderUploadLength]
	ov, hasOff := h[HeaderUploadOffset]
	if !hasLen && !hasOff {
		return 0, 0, false, nil
	}
	if !hasLen || len(lv) != 1 {
		return 0, 0, false, fmt.Errorf("want exactly one %s header", HeaderUploadLength)
	}
	if length, err = parseUploadNumber(lv[0]); err != nil {
		return 0, 0, false, fmt.Errorf("%s: %w", HeaderUploadLength, err)
	}
	if hasOff {
		if len(ov) != 1 {
			return 0, 0, false, fmt.Errorf("want at most one %s header", HeaderUploadOffset)
		}
		if offset, err = parseUploadNumber(ov[0]); err != nil {
			return 0, 0, false, fmt.Errorf("%s: %w", HeaderUploadOffset, err)
		}
	}
	if length == 0 || offset >= length {
		return 0, 0, false, fmt.Errorf("%s %d with %s %d: want 0 ≤ offset < length", HeaderUploadOffset, offset, HeaderUploadLength, length)
	}
	return length, offset, true, nil
}

// maxUploadBytes bounds a result body (and a resumable upload's declared
// length): the largest frame the limits allow, with room for zstd's
// worst-case expansion.
func maxUploadBytes(lim Limits) int64 {
	limit := MaxFrameBytes(lim)
	return limit + limit/64 + 4096
}

// busy answers a request for a task whose result is being received: the
// client should retry shortly (a broken upload may not have been noticed
// by the server yet).
func (p *HTTPPool) busy(w http.ResponseWriter, r *http.Request, cl *netClient) {
	w.Header().Set("Retry-After", "1")
	p.refuse(w, r, http.StatusServiceUnavailable, cl.id, "a result for this task is being received")
}

// uploadState is what the server holds of an upload: n of length bytes
// (nothing when length is 0). A snapshot, taken while the part cannot
// change (with p.mu held, or by the request that owns the part).
type uploadState struct{ n, length int64 }

func stateOf(part *partUpload) uploadState {
	if part == nil {
		return uploadState{}
	}
	return uploadState{part.n, part.length}
}

// setUploadState writes the server's part of an upload into h.
func setUploadState(h http.Header, st uploadState) {
	h.Set("Cache-Control", "no-store")
	h.Set(HeaderUploadOffset, strconv.FormatInt(st.n, 10))
	if st.length > 0 {
		h.Set(HeaderUploadLength, strconv.FormatInt(st.length, 10))
	}
}

// serveUploadState answers HEAD /v1/result/{task}: how many bytes of the
// task's result the server holds.
func (p *HTTPPool) serveUploadState(w http.ResponseWriter, r *http.Request) {
	cl := p.enter(w, r)
	if cl == nil {
		return
	}
	t := p.lookup(w, r, cl)
	if t == nil {
		return
	}
	p.mu.Lock()
	receiving, st := t.receiving, stateOf(t.part)
	p.mu.Unlock()
	if receiving {
		p.busy(w, r, cl)
		return
	}
	setUploadState(w.Header(), st)
	w.WriteHeader(http.StatusOK)
}

// receivePart receives one part of a resumable upload of task t's result
// (a frame of length bytes, this part starting at offset) and, when the
// upload is complete, decodes and accepts it. The part grows in chunks as
// its bytes arrive, whatever the request declares.
func (p *HTTPPool) receivePart(w http.ResponseWriter, r *http.Request, cl *netClient, t *task, length, offset int64) {
	p.mu.Lock()
	if t.receiving {
		p.mu.Unlock()
		p.busy(w, r, cl)
		return
	}
	part := t.part
	if offset != 0 && (part == nil || part.n != offset || part.length != length) {
		setUploadState(w.Header(), stateOf(part))
		p.mu.Unlock()
		p.refuse(w, r, http.StatusConflict, cl.id, fmt.Sprintf("upload offset %d of %d does not match the server's", offset, length))
		return
	}
	if offset == 0 {
		part.drop(p) // a fresh upload replaces any part
		part = &partUpload{length: length}
	}
	p.unidleLocked(t)
	t.part = nil // this request owns the part until it is done
	d := p.beginIOLocked(t, w, false)
	p.mu.Unlock()
	defer p.endIO(t, d)

	if rest := length - offset; r.ContentLength > rest {
		part.drop(p)
		p.settlePart(t, nil)
		p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, fmt.Sprintf("body of %d bytes exceeds the %d left of the upload", r.ContentLength, rest))
		return
	}
	err := part.readFrom(p, &bodyReader{p: p, cl: cl, r: r.Body, d: d})
	settleConn(w, r, d)
	switch {
	case errors.Is(err, errUploadTooLong):
		part.drop(p)
		p.settlePart(t, nil)
		p.refuse(w, r, http.StatusRequestEntityTooLarge, cl.id, "body exceeds "+HeaderUploadLength)
		return
	case errors.Is(err, errAborted):
		part.drop(p)
		p.settlePart(t, nil)
		p.refuse(w, r, http.StatusGone, cl.id, "task no longer wanted")
		return
	case err != nil || part.n < length:
		// A broken or timed-out connection, a full upload buffer, or a
		// part that ends early: keep what arrived for a resume. Once
		// settled, the part is the task's (it may be dropped at once).
		st := stateOf(part)
		if !p.settlePart(t, part) {
			p.refuse(w, r, http.StatusGone, cl.id, "task no longer wanted")
			return
		}
		setUploadState(w.Header(), st)
		switch {
		case errors.Is(err, errBudget):
			w.Header().Set("Retry-After", "1")
			p.refuse(w, r, http.StatusServiceUnavailable, cl.id, fmt.Sprintf("upload buffer full (kept %d of %d bytes)", st.n, length))
		case err != nil:
			p.refuse(w, r, http.StatusBadRequest, cl.id, fmt.Sprintf("reading body (kept %d of %d bytes): %v", st.n, length, err))
		default:
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	reply, _, err := readFrame(part.reader(), p.cfg.Limits, length)
	part.drop(p)
	p.mu.Lock()
	t.receiving = false
	if !t.open {
		p.mu.Unlock()
		p.refuse(w, r, http.StatusGone, cl.id, "task no longer wanted")
		return
	}
	if err != nil {
		p.mu.Unlock()
		p.refuse(w, r, http.StatusBadRequest, cl.id, err.Error())
		return
	}
	p.finishLocked(t, reply, nil)
	cl.lastSeen = p.now()
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// settlePart ends a request's hold on t, keeping part (nil drops it) if t
// is still open; it reports whether t is. A part that is not kept is
// dropped.
func (p *HTTPPool) settlePart(t *task, part *partUpload) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.receiving = false
	if !t.open {
		part.drop(p)
		return false
	}
	t.part = part
	if part != nil {
		p.idle = append(p.idle, t)
	}
	t.cl.lastSeen = p.now()
	return true
}

var errUploadTooLong = errors.New("transport: body exceeds the declared upload length")
