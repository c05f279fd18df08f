package fl

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnknownType is returned by a client handler for a message type it
// does not know.
var ErrUnknownType = errors.New("fl: unknown message type")

// NewClient returns the client runtime's base [Handler]: it answers
// [TypeTrain] with t's update ([TypeUpdate], Params = Delta) and
// [TypeEvaluate] with e's metrics ([TypeMetrics]). e may be nil, in which
// case evaluation requests are refused. The train reply's metrics include
// [KeyTrainSeconds], the wall time spent in t.Train.
//
// The handler is as safe for concurrent use as t and e are.
func NewClient(t Trainer, e Evaluator) Handler {
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
		metrics[KeyTrainSeconds] = secondsSince(start)
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
