package natspool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// RunnerConfig configures a [Runner].
type RunnerConfig struct {
	// Conn is the client side's NATS connection. Required. The runner
	// does not close it.
	Conn *nats.Conn
	// Prefix of the subjects; "" means DefaultPrefix.
	Prefix string
	// IDs are the clients this runner serves, one subscription each. Nil
	// means every client under Prefix (the wildcard Prefix.*): a worker
	// that hosts a virtual population.
	IDs []string
	// Queue, if set, makes the subscriptions members of this NATS queue
	// group: each request goes to one of the runners that share the
	// group, so N workers share one population.
	Queue string
	// Factory returns the handler of client id; it is called for every
	// request, so a worker holds no state per virtual client (a host
	// whose clients keep state keeps it itself). Required.
	Factory func(id string) (fl.Handler, error)
	// Workers bounds the requests handled at once; 0 means GOMAXPROCS.
	Workers int
	// Pending and PendingBytes bound the requests a subscription buffers
	// while every worker is busy (so a worker's memory is bounded by
	// PendingBytes plus Workers running clients, whatever the population);
	// 0 means 65536 requests and 64 MiB. NATS drops requests beyond them
	// (a slow consumer) and their clients time out at the server, so a
	// round over workers needs a RoundTimeout.
	Pending      int
	PendingBytes int
	// Limits bound the frames the runner accepts.
	Limits transport.Limits
	// JetStream, if set, takes tasks from the JetStream stream the pool
	// publishes them to (the same config), with a durable consumer per
	// client, or one shared by the Queue when IDs is nil; nil means core
	// NATS subscriptions.
	JetStream *JetStream
	// Logger receives the runner's log; nil discards it.
	Logger *slog.Logger
}

// Runner serves client handlers on their NATS subjects: it decodes each
// request's frame (bounded by Limits), calls the client's handler with a
// deadline from the request's fl.KeyDeadline, and replies with the
// handler's message as a frame, or with its error in the ErrorHeader.
type Runner struct {
	mu      sync.Mutex
	running map[string]context.CancelFunc // by client id + task id
	cfg     RunnerConfig
	log     *slog.Logger
	ready   chan struct{}
	once    sync.Once
}

// NewRunner returns a runner; it subscribes when Run is called.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("natspool: RunnerConfig.Conn is nil"))
	}
	if cfg.Factory == nil {
		errs = append(errs, errors.New("natspool: RunnerConfig.Factory is nil"))
	}
	if cfg.Workers < 0 || cfg.Pending < 0 || cfg.PendingBytes < 0 {
		errs = append(errs, errors.New("natspool: negative Workers or Pending"))
	}
	for _, id := range cfg.IDs {
		if err := CheckID(id); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", fl.ErrConfig, errors.Join(errs...))
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Pending == 0 {
		cfg.Pending = 65536
	}
	if cfg.PendingBytes == 0 {
		cfg.PendingBytes = 64 << 20
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: log, ready: make(chan struct{}), running: map[string]context.CancelFunc{}}, nil
}

// Serve serves one client's handler on its subject until ctx is done.
func Serve(ctx context.Context, nc *nats.Conn, prefix, id string, h fl.Handler) error {
	r, err := NewRunner(RunnerConfig{Conn: nc, Prefix: prefix, IDs: []string{id}, Workers: 1,
		Factory: func(string) (fl.Handler, error) { return h, nil }})
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// Ready returns a channel closed once Run's subscriptions are known to the
// NATS server (a request sent after that reaches the runner).
func (r *Runner) Ready() <-chan struct{} { return r.ready }

// Run subscribes and serves requests until ctx is done; it then
// unsubscribes, waits for the requests in progress, and returns ctx.Err().
// It returns an error at once if it cannot subscribe (a permission the
// NATS account lacks surfaces here or in the connection's error handler).
func (r *Runner) Run(ctx context.Context) error {
	nc := r.cfg.Conn
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, r.cfg.Workers)
	var wg sync.WaitGroup
	handle := func(msg *nats.Msg) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.serve(ctx, msg)
		}()
	}
	if r.cfg.JetStream != nil {
		cancels, err := r.subscribeCancels()
		if err != nil {
			return err
		}
		defer unsubscribe(cancels)
		stopJS, err := r.runJetStream(ctx, func(id, task string, data []byte, reply string) {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := checkReply(r.cfg.Prefix, id, reply); err != nil {
					r.log.Warn("natspool: task refused", "client", id, "err", err)
					return
				}
				m, err := r.answer(ctx, id, task, data)
				r.respond(id, reply, m, err)
			}()
		})
		if err != nil {
			return err
		}
		defer wg.Wait()
		defer stopJS()
		r.once.Do(func() { close(r.ready) })
		<-ctx.Done()
		return ctx.Err()
	}
	cancels, err := r.subscribeCancels()
	if err != nil {
		return err
	}
	defer unsubscribe(cancels)
	subjects := []string{r.cfg.Prefix + ".*"}
	if r.cfg.IDs != nil {
		subjects = subjects[:0]
		for _, id := range r.cfg.IDs {
			subjects = append(subjects, Subject(r.cfg.Prefix, id))
		}
	}
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
		wg.Wait()
	}()
	for _, subj := range subjects {
		var s *nats.Subscription
		var err error
		if r.cfg.Queue != "" {
			s, err = nc.QueueSubscribe(subj, r.cfg.Queue, handle)
		} else {
			s, err = nc.Subscribe(subj, handle)
		}
		if err != nil {
			return fmt.Errorf("natspool: subscribing to %s: %w", subj, err)
		}
		subs = append(subs, s)
		s.SetPendingLimits(r.cfg.Pending, r.cfg.PendingBytes)
	}
	// Make the subscriptions known to the server before returning control
	// to the caller's timeline: a request sent after this sees them.
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	err = nc.FlushWithContext(fctx)
	fcancel()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("natspool: flushing the subscriptions: %w", err)
	}
	r.once.Do(func() { close(r.ready) })
	<-ctx.Done()
	return ctx.Err()
}

// serve answers one core NATS request.
func (r *Runner) serve(ctx context.Context, msg *nats.Msg) {
	id := strings.TrimPrefix(msg.Subject, r.cfg.Prefix+".")
	reply, err := r.answer(ctx, id, msg.Header.Get(TaskHeader), msg.Data)
	if msg.Reply != "" {
		r.respond(id, msg.Reply, reply, err)
	}
}

func (r *Runner) answer(ctx context.Context, id, task string, data []byte) (*fl.Message, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if task != "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		key := id + "/" + task
		r.mu.Lock()
		r.running[key] = cancel
		r.mu.Unlock()
		defer func() { r.mu.Lock(); delete(r.running, key); r.mu.Unlock() }()
	}
	m, _, err := transport.ReadFrame(bytes.NewReader(data), r.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if d, ok := m.Config[fl.KeyDeadline]; ok && d > 0 && !math.IsInf(d, 0) && d < 1e9 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(d*float64(time.Second)))
		defer cancel()
	}
	h, err := r.cfg.Factory(id)
	if err != nil {
		return nil, fmt.Errorf("natspool: building client %q: %w", id, err)
	}
	reply, err := h.Handle(ctx, m)
	if err != nil {
		return nil, err
	}
	if reply == nil {
		return nil, fmt.Errorf("natspool: client %q returned no message", id)
	}
	if reply.Round < 0 {
		return nil, fmt.Errorf("natspool: client %q: negative round", id)
	}
	return reply, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// subscribeCancels subscribes, until ctx is done, to the server's
// cancellations of the runner's clients' tasks (every runner of a queue
// group receives them; the one running the task cancels it).
func (r *Runner) subscribeCancels() ([]*nats.Subscription, error) {
	subjects := []string{cancelSubject(r.cfg.Prefix, "*")}
	if r.cfg.IDs != nil {
		subjects = subjects[:0]
		for _, id := range r.cfg.IDs {
			subjects = append(subjects, cancelSubject(r.cfg.Prefix, id))
		}
	}
	var subs []*nats.Subscription
	for _, subj := range subjects {
		s, err := r.cfg.Conn.Subscribe(subj, func(m *nats.Msg) {
			id := strings.TrimPrefix(m.Subject, r.cfg.Prefix+".cancel.")
			r.mu.Lock()
			cancel := r.running[id+"/"+string(m.Data)]
			r.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		})
		if err != nil {
			unsubscribe(subs)
			return nil, fmt.Errorf("natspool: subscribing to %s: %w", subj, err)
		}
		subs = append(subs, s)
	}
	return subs, nil
}

func unsubscribe(subs []*nats.Subscription) {
	for _, s := range subs {
		s.Unsubscribe()
	}
}
