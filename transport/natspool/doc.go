// Package natspool is a transport over NATS (https://nats.io): an
// [fl.Pool] whose clients are reached through a NATS server or cluster,
// and a [Runner] that serves client handlers on their subjects, either one
// subscription per client (a device) or a wildcard subscription in a queue
// group (a worker process hosting many virtual clients of a simulation, so
// that N workers on any number of machines share one population).
//
// Client id is served on the subject Prefix.id ([Subject]); the server
// sends each message as one NATS request carrying the version-2 wire frame
// of package transport ([transport.WriteFrame], [transport.ReadFrame]) and
// waits for one reply, a frame, or an error in the [ErrorHeader] header.
// Simulated bytes are deployed bytes: a run over natspool and a run over
// transport.Memory with the same seed end with the same parameter bits and
// count the same bytes (tested), and so do workers in a queue group.
//
// When not to use it: a federation small enough for one HTTPS server
// (transport.HTTPPool) needs no broker. NATS's max_payload (1 MiB by
// default, at most 64 MiB) bounds a frame: a model of more than about
// 130,000 float64 parameters needs max_payload raised on every server, and
// above 64 MiB a transport that streams (HTTPS).
//
// # Delivery guarantees
//
// Core NATS request/reply is at most once: a request published while no
// runner serves the subject fails at once ([ErrNoClient], which wraps
// fl.ErrUnreachable); a request or reply lost with a failed node or a slow
// consumer is never redelivered, and the server counts the client as timed
// out when the round's deadline passes. The round engine's quorum is what
// makes a round complete through failures (a three-node cluster with one
// node shut down mid-round is tested). A queue group delivers each request
// to one member; members do not balance by load, and a member whose
// buffers ([RunnerConfig.Pending], PendingBytes) are full drops requests.
// Nothing is retried, so no client is asked twice in a round.
//
// With [Config.JetStream] (and the same [RunnerConfig.JetStream] on the
// clients) the server publishes each task into a JetStream stream (work
// queue retention, MaxAge) and waits for the reply on Prefix.reply.id.nonce:
// a client that is offline when the round starts gets its task when it
// comes back, while the round still waits for it (tested). Delivery to
// the handler is still at most once: the runner acknowledges a task before
// it runs it, so a runner that dies mid-task loses it (the server counts a
// timeout) rather than run it twice, and it drops unanswered a task whose
// deadline (DeadlineHeader) has passed, so no client trains for a round
// that has moved on (tested). In this mode the clients also need the
// JetStream API permissions for their durable consumer ("fedgo-id", or the
// workers' shared Queue consumer), and publish permission on
// Prefix.reply.id.> (their own replies only); the runner refuses a task
// whose reply subject is outside it.
//
// # Security
//
// natspool relies on NATS for transport security and authentication, and
// on the host to configure them:
//  1. Use TLS on every connection (nats.Secure / the server's tls block);
//     natspool adds none of its own. (Tested: over a server requiring
//     TLS 1.3, a client without the CA cannot connect.)
//  2. Authenticate every connection: user/password, NKEYs or JWT
//     credentials (nats.UserInfo, nats.Nkey, nats.UserCredentials).
//  3. Give each client only its own subjects: subscribe allow Prefix.id
//     and Prefix.cancel.id (the server's cancellations), publish deny
//     ">", allow_responses (max 1). Then a client cannot
//     read another's parameters or replies (the server's replies travel
//     on its _INBOX subjects, which no client may subscribe to) and cannot
//     forge requests to another client; the server's user may publish to
//     Prefix.> and subscribe to _INBOX.>. Tested against a client that
//     tries each (with user/password and NKEY users).
//  4. Workers of a simulation share a wildcard subscription: they are
//     trusted with every virtual client's data, as one process is.
//
// Every frame is bounded by [transport.Limits] both ways: a reply larger
// than the limits or malformed is refused (wrapping transport.ErrFrame)
// before anything is allocated beyond the bytes received, and a request
// over them fails before it is sent. Deadlines and cancellation: the
// server's context bounds each request; a runner gives each handler the
// deadline the request's fl.KeyDeadline states, and when the server stops
// waiting it publishes the request's id ([TaskHeader]) on Prefix.cancel.id
// and the runner cancels that handler's context (best effort: a
// cancellation lost with a node leaves the handler to its deadline).
//
// # Concurrency
//
// A Pool is safe for concurrent use; it does not own its NATS connection.
// Runner.Run blocks until its context is done, handles at most Workers
// requests at once, and returns after every handler it started has
// returned.
package natspool
