// Package transport carries fedgo's messages between the server and its
// clients: [Memory], an in-memory [fl.Pool] for simulations with fault
// injection, and the wire format both it and the network transport use
// ([AppendMessage], [DecodeMessage]).
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
//  3. Bound untrusted input with [Limits] when decoding bytes from a peer.
//
// # Concurrency
//
// A [Memory] pool is safe for concurrent use; at most Workers handlers run
// at once (GOMAXPROCS by default) and a Send that waits for a worker
// returns when its context is done. [DecodeMessage] and [AppendMessage]
// are safe for concurrent use.
//
// # Invariants
//
//   - Fault injection is a function of (seed, client id, round): the same
//     in every run, whatever the schedule.
//   - A decoded message never aliases the bytes it came from, and every
//     length read from the bytes is checked against [Limits] and the bytes
//     that remain before anything is allocated.
package transport
