// Package transport carries fedgo's messages between the server and its
// clients: [Memory], an in-memory [fl.Pool] for simulations with fault
// injection; [HTTPPool] and [Client]/[Dial], the network transport (HTTPS
// with TLS 1.3, pull model, see the sections Network transport, Wire format
// version 2, Network protocol and Security); the wire format
// ([WriteFrame], [ReadFrame], [AppendFrame]), version 2, which both
// transports use; and the codec integration that
// compresses updates ([EncodeUplink], [CompressUplink]) and parameters
// ([CompressDownlink], [DecodeDownlink]) with package compress.
//
// A simulation through [Memory] is a faithful rehearsal of a deployment:
// every message is encoded and decoded as it would be on the network, the
// bytes are counted exactly ([Memory.Traffic], read by the server into
// each round's stats), clients are built lazily by a factory so that
// 10,000 of them fit in one process, and failures are injected from a
// seeded source (dropouts, errors, stragglers beyond the round's deadline).
//
// # The host's duties
//
//  1. Give [MemoryConfig] a Factory that builds a client's handler from
//     its id, cheaply: it is called for every message.
//  2. Keep any per-client state that must survive rounds (error-feedback
//     residuals, for example) itself, keyed by client id.
//  3. Bound untrusted input with [Limits] when decoding bytes from a peer;
//     derive them from the model with [LimitsFor].
//
// # Concurrency
//
// [HTTPPool] and [Client] are safe for concurrent use and start no
// goroutine that outlives their callers' calls (the client's heartbeat
// goroutine is joined before each result is posted; its request timers
// are stopped before each request returns). A [Memory] pool is
// safe for concurrent use; at most Workers handlers run
// at once (GOMAXPROCS by default) and a Send that waits for a worker
// returns when its context is done. [ReadFrame] and [WriteFrame] are safe
// for concurrent use.
//
// # Invariants
//
//   - Fault injection is a function of (seed, client id, round): the same
//     in every run, whatever the schedule.
//   - A decoded message never aliases the bytes it came from, and every
//     length read from the bytes is checked against [Limits] and the bytes
//     that remain before anything is allocated.
//
// # Network transport
//
// [HTTPPool] is the server side: an [http.Handler] that the host mounts in
// its own http.Server (behind its own middleware, under a prefix with
// http.StripPrefix), and the [fl.Pool] through which an [fl.Server] reaches
// the clients that have registered. [Client] (or [Dial]) is the client
// side: it runs an [fl.Handler] against the server until its context is
// done. The server never connects to a client: clients pull their tasks
// with long polls, so they may sit behind NAT or a firewall.
//
// The host's duties on the server:
//
//  1. Serve the pool over TLS 1.3 only ([ServerTLSConfig]) from an
//     http.Server with header, idle and HTTP/2 bounds ([NewHTTPServer]);
//     with client certificates, give the tls.Config the client CA.
//  2. Give [HTTPPoolConfig] the clients' tokens, or set ClientCerts, or
//     both, and Limits from the model ([LimitsFor]); give each [Client]
//     the same Limits.
//  3. Wait for enough clients ([HTTPPool.WaitClients]) before the first
//     round, set fl.ServerConfig.RoundTimeout so that a round never waits
//     for ever, and set CheckpointDir so that a restarted server resumes
//     (fl.ReadCheckpoint, Server.Restore).
//  4. Leave the http.Server's ReadTimeout and WriteTimeout at 0 (the pool
//     sets each request's deadlines), or keep them above PollWait and
//     the longest upload; keep any proxy's idle timeout above PollWait.
//  5. When the run is over, call [HTTPPool.Finish] (with a timeout): the
//     clients learn it and their Run returns nil.
//  6. To stop: cancel the fl.Server's context, call [HTTPPool.Close] (it
//     releases the long polls), then http.Server.Shutdown.
//
// # Wire format, version 2
//
// Every task and every result travels as one frame, the whole body of an
// HTTP request or response (media type application/vnd.fedgo.frame). All
// integers marked uvarint are unsigned LEB128 (as encoding/binary writes
// them: 7 bits per byte, least significant group first, high bit set on
// every byte but the last; at most 10 bytes). All float64 are IEEE 754
// binary64, little-endian, bit for bit (NaN payloads, signed zeros and
// subnormals survive). Strings are UTF-8, written as a uvarint byte
// length followed by the bytes.
//
//	offset  size     field
//	0       2        magic "FG" (0x46 0x47)
//	2       1        version: 2
//	3       1        flags: bit 0 = the rest of the frame is one zstd
//	                 stream (RFC 8878); other bits must be 0
//	then, after decompression when flag bit 0 is set:
//	        string   type ("train", "update", "evaluate", "metrics", or a
//	                 protocol step such as "secagg/share-keys")
//	        uvarint  round (at most 2^31 - 1)
//	        8        weight, float64
//	        uvarint  n, the number of float64 in params
//	        uvarint  p, the number of bytes in payload
//	        config:  uvarint count, then count entries of
//	                 (string key, float64 value), keys in strictly
//	                 increasing byte order (so no duplicates)
//	        metrics: as config
//	        8·n      params, float64 each
//	        p        payload, opaque bytes (an encoded vector, see
//	                 package compress, or a protocol message)
//	        end of the body: nothing may follow
//
// A message has exactly one uncompressed encoding. The lengths n and p
// come before the data, so a reader checks them against its [Limits]
// (MaxParams, MaxPayload; MaxString for the type and keys; MaxEntries for
// config and metrics) before it allocates anything, and then fills the
// vector as the bytes arrive: a vector is never buffered twice, and its
// size is bounded only by the limits (uvarints are 64-bit: there is no
// 2 GiB cap). A zstd decoder must bound its window (this package accepts
// at most 8 MiB) and apply the same limits to the decompressed fields.
// [WriteFrame] writes a frame, [NewFrameReader] streams one, [AppendFrame]
// builds one in memory and [ReadFrame] decodes one. The in-memory
// transport [Memory] passes every message through the same frame, so a
// simulation counts the bytes a deployment sends (before zstd and HTTP).
// (Version 1, an earlier whole-buffer layout of the same fields, is
// retired: a decoder refuses it.)
//
// Example: the message {Type: "train", Round: 3, Weight: 1.5, Params:
// [1, -2], Payload: [0xab], Config: {"lr": 0.5}} is the 51 bytes
//
//	46 47 02 00  05 74 72 61 69 6e  03  00 00 00 00 00 00 f8 3f  02  01
//	01 02 6c 72 00 00 00 00 00 00 e0 3f  00
//	00 00 00 00 00 00 f0 3f  00 00 00 00 00 00 00 c0  ab
//
// # Network protocol
//
// HTTP API version 1, over HTTPS (TLS 1.3; HTTP/2 or HTTP/1.1), paths
// relative to where the host mounted the pool. Every request carries the
// client's credentials: either a TLS client certificate (the client id is
// its Subject CommonName) or the headers
//
//	Authorization: Bearer <token>
//	Fedgo-Client: <client id>    (printable ASCII, 1 to 256 bytes)
//
// Tokens are compared in constant time. Bad or missing credentials are
// answered 401 (403 when the Fedgo-Client header contradicts the
// certificate).
//
//	POST /v1/register
//	    Registers the client (no body). 204.
//	GET  /v1/task
//	    Long poll. 200 with a frame as the body and the header
//	    "Fedgo-Task: <id>" (32 lowercase hex digits, 128 random bits), or
//	    204 when no task came within the server's PollWait (25 s by
//	    default), or 410 with "Fedgo-Run: finished" once the server's run
//	    is over (the client then stops). 429: the client already has
//	    MaxPolls polls open. Polling also registers the client. If the
//	    client polls again before answering its task, the server assumes
//	    the task was lost (a broken download, a restarted client) and
//	    sends it again, under the same id.
//	POST /v1/result/<id>
//	    The answer to task <id>: a frame (Content-Type
//	    application/vnd.fedgo.frame), or the client handler's error as
//	    text (Content-Type text/plain; charset=utf-8, at most 4096 bytes).
//	    204: accepted. 409: already accepted (a re-post, see below).
//	    404: the task is unknown, was never given to this client, or its
//	    round is over; 410: the server stopped waiting for it while the
//	    body arrived. 400: the frame is malformed or exceeds the limits,
//	    or the body did not arrive in time; 413: the body is too large
//	    (its Content-Length or Upload-Length says so before any byte is
//	    read); 415: another content type; 503 (Retry-After: 1): another
//	    request for this result is being received (a broken upload the
//	    server has not noticed yet), or the server's upload buffer is
//	    full.
//	    A frame may be uploaded resumably (below): the request then
//	    carries "Upload-Length: L" (the frame's total bytes) and
//	    "Upload-Offset: N" (where its body starts in the frame; absent
//	    means 0), and its body is bytes N to N+k of the frame.
//	HEAD /v1/result/<id>
//	    How much of the resumable upload of task <id>'s result the server
//	    holds: 200 with "Upload-Offset: N" (0 when it holds nothing) and,
//	    when it holds a part, "Upload-Length: L" of that part's upload.
//	    404, 409 and 503 as for the POST.
//	POST /v1/heartbeat/<id>
//	    Sent every few seconds while the client works on task <id>
//	    (no body). 204: keep going; 410: the server no longer wants the
//	    result (the round's deadline passed): stop.
//
// The server answers 503 while it shuts down. A client treats network
// errors, timeouts and 5xx as transient: it retries with exponential
// backoff (100 ms doubling to 10 s, jittered to [d/2, d] from a seeded
// source). It never follows a redirect (the request fails with
// [ErrRedirect], and is retried like a network error). The
// server accepts a task's result once, and answers a re-post 409, after
// which the client moves on. A client handles one task at a time.
//
// Resumable result uploads (after the IETF resumable-uploads draft and
// tus; the headers carry canonical decimal integers: digits only, no
// sign, no leading zero, at most 2^63 - 1). A client uploads a frame of
// at least ClientConfig.ResumeBytes (1 MiB by default) resumably: it
// POSTs the whole frame with "Upload-Length: L" and "Upload-Offset: 0".
// The server checks L against its limits before it reads a byte (413 if
// over, the same bound as a whole upload's body, see [MaxFrameBytes]) and
// keeps the bytes that arrive, in chunks allocated as they arrive. If the connection breaks, the client asks
// HEAD /v1/result/<id> for the server's offset N and POSTs only bytes N
// to L of the frame with "Upload-Offset: N" and the same Upload-Length.
// A part whose offset is not the server's, or whose Upload-Length is not
// the held part's, is answered 409 with the server's Upload-Offset (and
// Upload-Length), and the client goes on from there; a 409 without
// Upload-Offset still means already accepted. Offset 0 is always
// accepted and starts the upload again (replacing any part). A part whose
// body ends cleanly before L is kept and answered 202 with the new
// Upload-Offset; a part that would overrun L is answered 413 and the held
// part is dropped. The server decodes the frame only when it holds all L
// bytes, and then answers as for a whole upload (204, 400, 410). A
// request without Upload-Length is a whole upload, as before; it drops
// any held part. Smaller results, error reports and uploads of which the
// server holds nothing are posted whole again under the same task id.
//
// A client is connected (listed by Conns) while it polls or uploads a
// result, and for ClientTimeout (30 s by default) after its last request
// or the last bytes of a task it downloaded; a Send to a client that
// stays silent that long returns [ErrClientGone], which wraps
// fl.ErrTimeout, so the round counts it as a dropout and goes on. Every
// refused request is answered with a 4xx or 5xx and logged once (slog,
// level Warn) with the client, the status and the reason; the log is
// rate-limited (a burst of 20 lines, then 10 a second, the lines dropped
// counted in the next one's "suppressed").
//
// # Security
//
//   - TLS 1.3 only; clients authenticate by certificate or by token.
//   - A result is accepted only for an open task (one whose Send has not
//     returned, so only in the current round) that was issued to the
//     client posting it, and only once: replays and duplicates are
//     refused. Task ids come from crypto/rand.
//   - Every part of a resumable upload, and every HEAD, is authenticated
//     and checked like a whole upload (open task, issued to this client,
//     not yet answered).
//   - A server restart loses no completed round: the fl.Server resumes
//     from its checkpoint and the clients reconnect on their own; the
//     round that was running is run again from the start.
//
// Memory is bounded by bytes received, never by a length a peer declares.
// Each bound, with its default (every one is mounted as an attack in
// hostile_test.go, which asserts the victim's heap):
//
//   - Frame fields: [Limits] (MaxParams 2^28, MaxPayload 2^31 − 1,
//     MaxEntries 1024, MaxString 256 by default: frames of about 4 GB);
//     [LimitsFor](dim, clients) gives dim parameters, 16·dim +
//     1024·clients + 64 KiB payload bytes, 256 entries, 128-byte strings.
//     Every length is checked before anything is allocated, on both
//     sides, after zstd decompression too.
//   - Bodies: at most [MaxFrameBytes](Limits) plus zstd's worst-case
//     expansion (the result POST, its Upload-Length, a task's
//     Content-Length on the client; 413 or an error before a byte is
//     read); an error report at most [MaxErrorBytes] (4096).
//   - Growth: a vector or payload is allocated at once only when its
//     bytes have all arrived (a resumable upload's last part); otherwise
//     it grows in chunks of 64 KiB as bytes arrive, joined at the end. A
//     resumable part is held in chunks of 64 KiB. A declared
//     Content-Length or Upload-Length reserves nothing.
//   - zstd: the decoder's window is at most the power of two that holds
//     MaxFrameBytes(Limits), and at most 8 MiB; its memory at most
//     MaxFrameBytes(Limits).
//   - Buffered uploads, all clients together: HTTPPoolConfig.MaxUploadBuffer
//     (1 GiB) over held parts and the bytes read so far of whole uploads;
//     when full, the idle parts held longest are dropped (their clients
//     start again), then uploads are answered 503.
//   - Polls: HTTPPoolConfig.MaxPolls (4) open at once per client (429
//     beyond); MaxClients (100,000) registered clients.
//   - Reads: a request body must deliver k bytes within ReadTimeout +
//     k/MinRate of its start (30 s + k/(16 KiB/s)); a read in progress is
//     abandoned at once when its task closes (answered elsewhere,
//     cancelled, timed out, round over), and its bytes are dropped.
//   - Writes: a task of k bytes must be written within WriteTimeout +
//     k/MinRate (30 s + k/(16 KiB/s)) and is abandoned when its task
//     closes, so a client that never reads cannot pin it; such a client
//     is no longer connected ClientTimeout (30 s) after it stopped taking
//     bytes.
//   - Headers, idle connections, HTTP/2 streams: [NewHTTPServer] (10 s
//     and 64 KiB for headers, 2 min idle, 100 streams a connection, 8 MiB
//     receive buffers).
//   - Client: every request has a deadline — the long poll PollTimeout
//     (60 s) for its answer's headers, every other request
//     RequestTimeout (30 s), and a body of k bytes (a task, a result)
//     RequestTimeout + k/MinRate (16 KiB/s); the client refuses any
//     redirect, so its token and results go nowhere but the server it was
//     given.
//   - Logs: every refusal is logged once at Warn, rate-limited (20 lines,
//     then 10 a second).
//
// [DevPKI] makes a throwaway CA and certificates for local trials.
package transport
