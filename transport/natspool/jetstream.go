package natspool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// JetStream configures the optional durable delivery of tasks: the server
// publishes each request into a JetStream stream instead of sending a core
// NATS request, so a client that is offline when the round starts gets
// its task when it comes back, as long as the round still waits for it.
// Both sides must use the same JetStream config and Prefix.
type JetStream struct {
	// Stream names the stream of tasks; "" means "FEDGO_TASKS". The pool
	// creates it (or updates it) over the subjects Prefix.task.*.
	Stream string
	// MaxAge bounds how long a task waits in the stream; 0 means 10
	// minutes. A task whose round has stopped waiting (its deadline, sent
	// in the DeadlineHeader) is dropped by the runner unanswered.
	MaxAge time.Duration
}

// Headers of a JetStream task.
const (
	// ReplyHeader holds the subject the runner publishes the reply to:
	// Prefix.reply.id.nonce, so that per-client permissions can let a
	// client publish replies as itself only.
	ReplyHeader = "Fedgo-Reply"
	// DeadlineHeader holds the task's deadline in Unix nanoseconds.
	DeadlineHeader = "Fedgo-Deadline"
)

func (j *JetStream) stream() string {
	if j.Stream == "" {
		return "FEDGO_TASKS"
	}
	return j.Stream
}

func taskSubject(prefix, id string) string  { return Subject(prefix, "task."+id) }
func replySubject(prefix, id string) string { return Subject(prefix, "reply."+id+"."+nuid.Next()) }

// setupStream creates or updates the stream of tasks.
func setupStream(nc *nats.Conn, prefix string, j *JetStream) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	age := j.MaxAge
	if age <= 0 {
		age = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: j.stream(), Subjects: []string{taskSubject(prefix, "*")}, MaxAge: age,
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natspool: JetStream stream %s: %w", j.stream(), err)
	}
	return js, nil
}

// sendJetStream publishes m's frame as a durable task and waits for the
// reply on a subject of its own.
func (c *conn) sendJetStream(ctx context.Context, frame []byte, task string) (*nats.Msg, error) {
	p := c.p
	reply := replySubject(p.prefix(), c.id)
	sub, err := p.cfg.Conn.SubscribeSync(reply)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	msg := &nats.Msg{Subject: taskSubject(p.prefix(), c.id), Data: frame, Header: nats.Header{}}
	msg.Header.Set(ReplyHeader, reply)
	msg.Header.Set(TaskHeader, task)
	if d, ok := ctx.Deadline(); ok {
		msg.Header.Set(DeadlineHeader, strconv.FormatInt(d.UnixNano(), 10))
	}
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		return nil, err
	}
	return sub.NextMsgWithContext(ctx)
}

func (p *Pool) prefix() string {
	if p.cfg.Prefix == "" {
		return DefaultPrefix
	}
	return p.cfg.Prefix
}

// runJetStream consumes tasks until ctx is done: one durable consumer per
// id, or with IDs nil one shared by every runner of the Queue (the
// stream's work-queue retention gives each task to one of them).
func (r *Runner) runJetStream(ctx context.Context, handle func(id, task string, data []byte, reply string)) (stop func(), err error) {
	js, err := setupStream(r.cfg.Conn, r.cfg.Prefix, r.cfg.JetStream)
	if err != nil {
		return nil, err
	}
	type target struct{ durable, filter string }
	var targets []target
	if r.cfg.IDs == nil {
		q := r.cfg.Queue
		if q == "" {
			q = "fedgo-workers"
		}
		targets = append(targets, target{q, taskSubject(r.cfg.Prefix, "*")})
	}
	for _, id := range r.cfg.IDs {
		targets = append(targets, target{"fedgo-" + id, taskSubject(r.cfg.Prefix, id)})
	}
	var ccs []jetstream.ConsumeContext
	stop = func() {
		for _, cc := range ccs {
			cc.Stop()
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, t := range targets {
		cons, err := js.CreateOrUpdateConsumer(cctx, r.cfg.JetStream.stream(), jetstream.ConsumerConfig{
			Durable: t.durable, FilterSubject: t.filter, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4 * r.cfg.Workers,
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("natspool: JetStream consumer %s: %w", t.durable, err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			// At most once: acknowledge before handling, so that a task
			// is never run twice (a runner that dies mid-task loses it,
			// and the server counts a timeout).
			m.Ack()
			h := m.Headers()
			if d, err := strconv.ParseInt(h.Get(DeadlineHeader), 10, 64); err == nil && time.Now().UnixNano() > d {
				return
			}
			id := strings.TrimPrefix(m.Subject(), r.cfg.Prefix+".task.")
			handle(id, h.Get(TaskHeader), m.Data(), h.Get(ReplyHeader))
		}, jetstream.PullMaxMessages(max(2, r.cfg.Workers)))
		if err != nil {
			stop()
			return nil, err
		}
		ccs = append(ccs, cc)
	}
	return stop, nil
}

// checkReply refuses a reply subject outside the client's own space.
func checkReply(prefix, id, reply string) error {
	if !strings.HasPrefix(reply, prefix+".reply."+id+".") {
		return errors.New("natspool: task with a reply subject outside the client's")
	}
	return nil
}

// respond publishes a reply for client id to subject reply.
func (r *Runner) respond(id, reply string, m *fl.Message, herr error) {
	out := &nats.Msg{Subject: reply}
	if herr == nil {
		var buf bytes.Buffer
		buf.Grow(int(transport.FrameSize(m)))
		if _, err := transport.WriteFrame(&buf, m, r.cfg.Limits, transport.FrameOptions{}); err != nil {
			herr = err
		} else {
			out.Data = buf.Bytes()
		}
	}
	if herr != nil {
		out.Header = nats.Header{}
		out.Header.Set(ErrorHeader, truncate(herr.Error(), 1024))
	}
	if err := r.cfg.Conn.PublishMsg(out); err != nil {
		r.log.Warn("natspool: reply failed", "client", id, "err", err)
	}
}
