package fl

import (
	"context"
	"fmt"
	"slices"
)

// Conn is the server's link to one client.
type Conn interface {
	ID() string
	// Send delivers m and returns the client's reply. It must return
	// promptly when ctx is done.
	Send(ctx context.Context, m *Message) (*Message, error)
}

// Pool is the population of clients a server can address.
//
// The server reads Population once a round and looks up only the clients
// it sampled, so a round costs O(sampled clients), whatever the size of the
// population: a pool may build its connections lazily.
type Pool interface {
	// Population returns the ids of every registered client, sorted and
	// without repeats. The caller must not modify the slice; a pool whose
	// population changes returns a new slice (copy on write) and never
	// changes one it has returned.
	Population() []string
	// Conn returns the connection to client id, or false when the client
	// is registered but not reachable now (offline, disconnected). The
	// server counts an unreachable sampled client as a failure
	// ([FailUnreachable]).
	Conn(id string) (Conn, bool)
}

// TrafficCounter is implemented by a [Pool] that counts the bytes it moves,
// as encoded on the wire. The server reads it before and after each round.
type TrafficCounter interface {
	// Traffic returns the bytes received from clients (up) and sent to
	// them (down) so far.
	Traffic() (up, down int64)
}

// Encoder is implemented by a [Pool] that encodes what it carries (package
// transport's compression wrappers): Encoding names the codecs applied to
// updates (uplink) and to parameters (downlink), "" for none. An [Exchange]
// that cannot work with an encoding (secure aggregation masks dense vectors)
// refuses it before round 1; see [PoolEncoding].
type Encoder interface {
	Encoding() (uplink, downlink string)
}

// Unwrapper is implemented by a [Pool] that wraps another one; Unwrap
// returns the inner pool.
type Unwrapper interface {
	Unwrap() Pool
}

// PoolEncoding returns the uplink and downlink codecs that p and the pools it
// wraps apply, joined with "+" when several do.
func PoolEncoding(p Pool) (uplink, downlink string) {
	join := func(a, b string) string {
		switch {
		case a == "":
			return b
		case b == "":
			return a
		}
		return a + "+" + b
	}
	for p != nil {
		if e, ok := p.(Encoder); ok {
			u, d := e.Encoding()
			uplink, downlink = join(uplink, u), join(downlink, d)
		}
		w, ok := p.(Unwrapper)
		if !ok {
			break
		}
		p = w.Unwrap()
	}
	return uplink, downlink
}

// NewPool returns a static pool of conns, every one reachable. It returns
// an error if two conns have the same id or an id is empty.
func NewPool(conns ...Conn) (Pool, error) {
	p := &staticPool{byID: make(map[string]Conn, len(conns))}
	for _, c := range conns {
		id := c.ID()
		if id == "" {
			return nil, fmt.Errorf("%w: a connection has an empty id", ErrConfig)
		}
		if _, dup := p.byID[id]; dup {
			return nil, fmt.Errorf("%w: two connections have the id %q", ErrConfig, id)
		}
		p.byID[id] = c
		p.ids = append(p.ids, id)
	}
	slices.Sort(p.ids)
	return p, nil
}

type staticPool struct {
	ids  []string
	byID map[string]Conn
}

func (p *staticPool) Population() []string { return p.ids }

func (p *staticPool) Conn(id string) (Conn, bool) {
	c, ok := p.byID[id]
	return c, ok
}

// Reachable returns the connections of p's clients that are reachable now,
// in id order. It costs O(population); the server never calls it.
func Reachable(p Pool) []Conn {
	var out []Conn
	for _, id := range p.Population() {
		if c, ok := p.Conn(id); ok {
			out = append(out, c)
		}
	}
	return out
}
