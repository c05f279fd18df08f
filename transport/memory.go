package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/internal/detmath"
)

// Errors of the in-memory transport's fault injection.
var (
	// ErrDropped is returned for a client that vanished for the call. It
	// wraps fl.ErrTimeout: in a deployment the server would see no answer.
	ErrDropped = fmt.Errorf("transport: client dropped out: %w", fl.ErrTimeout)
	// ErrInjected is the error a client returns when Faults.Error fires.
	ErrInjected = errors.New("transport: injected client failure")
	// ErrStraggler is returned for a client whose simulated latency exceeds
	// the round's deadline. It wraps fl.ErrTimeout.
	ErrStraggler = fmt.Errorf("transport: client answered after the deadline: %w", fl.ErrTimeout)
)

// Faults describe the failures a [Memory] pool injects. Each client's fate
// in a round is drawn from a source seeded by (MemoryConfig.Seed, client
// id, round), so it is the same in every run with the same seed, whatever
// the goroutine schedule.
type Faults struct {
	// Drop is the probability that a client vanishes for a round.
	Drop float64
	// Error is the probability that a client answers with an error.
	Error float64
	// Latency, if set, draws a client's simulated answer time. A client
	// whose latency exceeds the round's deadline (fl.KeyDeadline in the
	// request's Config) is a straggler: it returns ErrStraggler without
	// running, as the server would have stopped waiting for it.
	Latency func(rng *rand.Rand) time.Duration
	// Sleep makes a client actually wait for its simulated latency (or
	// until the context is done) before answering.
	Sleep bool
}

// LogNormalLatency returns a Faults.Latency drawing exp(N(ln median, σ²)):
// a heavy-tailed straggler distribution.
func LogNormalLatency(median time.Duration, sigma float64) func(*rand.Rand) time.Duration {
	return func(rng *rand.Rand) time.Duration {
		return time.Duration(float64(median) * detmath.Exp(float64(sigma*detmath.Normal(rng))))
	}
}

// MemoryConfig configures a [Memory] pool.
type MemoryConfig struct {
	// IDs names the clients. Required, without duplicates.
	IDs []string
	// Factory builds the handler of client id each time it is called, so
	// that a pool of 10,000 clients holds no per-client model: memory holds
	// one handler per running worker. A host whose clients keep state
	// across rounds keeps it itself (for example in a map the factory
	// reads). Required.
	Factory func(id string) (fl.Handler, error)
	// Workers bounds the clients running at once. 0 means GOMAXPROCS.
	Workers int
	// Faults to inject; the zero value injects none.
	Faults Faults
	// Seed seeds the fault injection.
	Seed uint64
	// Limits bound the decoding of messages, as on a network.
	Limits Limits
}

// Validate reports whether the config is usable.
func (c *MemoryConfig) Validate() error {
	if len(c.IDs) == 0 {
		return fmt.Errorf("%w: transport.MemoryConfig.IDs is empty", fl.ErrConfig)
	}
	if c.Factory == nil {
		return fmt.Errorf("%w: transport.MemoryConfig.Factory is nil", fl.ErrConfig)
	}
	seen := make(map[string]bool, len(c.IDs))
	for _, id := range c.IDs {
		if seen[id] {
			return fmt.Errorf("%w: transport.MemoryConfig: duplicate client id %q", fl.ErrConfig, id)
		}
		seen[id] = true
	}
	for _, p := range []float64{c.Faults.Drop, c.Faults.Error} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%w: transport.MemoryConfig: fault probability %v not in [0, 1]", fl.ErrConfig, p)
		}
	}
	if c.Workers < 0 {
		return fmt.Errorf("%w: transport.MemoryConfig: Workers = %d, want ≥ 0", fl.ErrConfig, c.Workers)
	}
	return nil
}

// Memory is an in-memory [fl.Pool] for simulations. Every message is
// encoded to the version-2 frame and decoded on the other side, exactly as
// the network transport does (without its optional zstd stage), so the bytes it counts are the bytes a
// deployment would send, and no client can alias the server's memory.
//
// Memory is safe for concurrent use.
type Memory struct {
	cfg  MemoryConfig
	ids  []string // sorted
	sem  chan struct{}
	up   atomic.Int64
	down atomic.Int64
	bufs sync.Pool
}

var (
	_ fl.Pool           = (*Memory)(nil)
	_ fl.TrafficCounter = (*Memory)(nil)
)

// NewMemory returns an in-memory pool of the configured clients.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.IDs = slices.Clone(cfg.IDs)
	slices.Sort(cfg.IDs)
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p := &Memory{cfg: cfg, ids: cfg.IDs, sem: make(chan struct{}, workers)}
	return p, nil
}

// Population returns the clients' ids, sorted.
func (p *Memory) Population() []string { return p.ids }

// Conn returns a connection to client id. Connections are made on demand,
// so an idle client costs only its id.
func (p *Memory) Conn(id string) (fl.Conn, bool) {
	if _, ok := slices.BinarySearch(p.ids, id); !ok {
		return nil, false
	}
	return &memConn{p: p, id: id, hash: hashID(id)}, true
}

// Traffic returns the bytes moved so far, as encoded on the wire.
func (p *Memory) Traffic() (up, down int64) { return p.up.Load(), p.down.Load() }

func hashID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

type memConn struct {
	p    *Memory
	id   string
	hash uint64
}

func (c *memConn) ID() string { return c.id }

func (c *memConn) getBuf() *[]byte {
	if b, ok := c.p.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}

// Send delivers m to the client and returns its answer, both passed through
// the wire encoding.
func (c *memConn) Send(ctx context.Context, m *fl.Message) (*fl.Message, error) {
	p := c.p
	buf := c.getBuf()
	defer p.bufs.Put(buf)
	*buf = AppendFrame((*buf)[:0], m)
	p.down.Add(int64(len(*buf)))

	f := &p.cfg.Faults
	rng := rand.New(rand.NewPCG(p.cfg.Seed^c.hash, uint64(m.Round)))
	dropped := rng.Float64() < f.Drop
	failed := rng.Float64() < f.Error
	var latency time.Duration
	if f.Latency != nil {
		latency = f.Latency(rng)
	}
	if dropped {
		return nil, ErrDropped
	}
	if f.Sleep && latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	if d, ok := m.Config[fl.KeyDeadline]; ok && latency.Seconds() > d {
		return nil, ErrStraggler
	}
	if failed {
		return nil, ErrInjected
	}

	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	reply, err := c.run(ctx, *buf)
	<-p.sem
	if err != nil {
		return nil, err
	}
	*buf = AppendFrame((*buf)[:0], reply)
	p.up.Add(int64(len(*buf)))
	r, _, err := readFrame(bytes.NewReader(*buf), p.cfg.Limits, int64(len(*buf)))
	return r, err
}

func (c *memConn) run(ctx context.Context, req []byte) (*fl.Message, error) {
	dm, _, err := readFrame(bytes.NewReader(req), c.p.cfg.Limits, int64(len(req)))
	if err != nil {
		return nil, err
	}
	h, err := c.p.cfg.Factory(c.id)
	if err != nil {
		return nil, fmt.Errorf("transport: building client %q: %w", c.id, err)
	}
	reply, err := h.Handle(ctx, dm)
	if err != nil {
		return nil, err
	}
	if reply == nil {
		return nil, fmt.Errorf("transport: client %q returned no message", c.id)
	}
	if reply.Round < 0 {
		return nil, fmt.Errorf("transport: client %q: negative round", c.id)
	}
	return reply, nil
}
