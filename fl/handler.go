package fl

import (
	"context"
	"fmt"
	"time"
)

// Handler answers the server's messages on a client. Middleware wraps it,
// as in net/http.
type Handler interface {
	Handle(ctx context.Context, m *Message) (*Message, error)
}

// HandlerFunc adapts a function to a [Handler].
type HandlerFunc func(ctx context.Context, m *Message) (*Message, error)

// Handle calls f(ctx, m).
func (f HandlerFunc) Handle(ctx context.Context, m *Message) (*Message, error) { return f(ctx, m) }

// Middleware wraps a Handler with behaviour of its own: clipping, noise,
// compression, masking.
type Middleware func(Handler) Handler

// Wrap wraps h in mws, the first of mws outermost: Wrap(h, a, b) answers a
// message as a(b(h)). A middleware that must see the plain update (clipping)
// goes after one that turns it into protocol messages (secure aggregation):
// Wrap(h, secure, clip).
func Wrap(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// NewHandler returns the client runtime's base [Handler]: it answers
// [TypeTrain] with t's update ([TypeUpdate], Params = Delta) and
// [TypeEvaluate] with e's metrics ([TypeMetrics]). e may be nil, in which
// case evaluation requests are refused. The train reply's metrics include
// [KeyTrainSeconds], the wall time spent in t.Train.
//
// The handler is as safe for concurrent use as t and e are.
func NewHandler(t Trainer, e Evaluator) Handler {
	return &clientHandler{t: t, e: e}
}

type clientHandler struct {
	t Trainer
	e Evaluator
}

func (c *clientHandler) Handle(ctx context.Context, m *Message) (*Message, error) {
	switch m.Type {
	case TypeTrain:
		start := time.Now()
		u, err := c.t.Train(ctx, m.Params, m.Config)
		if err != nil {
			return nil, err
		}
		metrics := make(Metrics, len(u.Metrics)+1)
		for k, v := range u.Metrics {
			metrics[k] = v
		}
		metrics[KeyTrainSeconds] = time.Since(start).Seconds()
		return &Message{Type: TypeUpdate, Round: m.Round, Params: u.Delta, Weight: u.Weight, Metrics: metrics}, nil
	case TypeEvaluate:
		if c.e == nil {
			return nil, fmt.Errorf("%w: %q (client has no evaluator)", ErrUnknownType, m.Type)
		}
		met, err := c.e.Evaluate(ctx, m.Params)
		if err != nil {
			return nil, err
		}
		return &Message{Type: TypeMetrics, Round: m.Round, Metrics: met}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownType, m.Type)
}
