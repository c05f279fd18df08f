package fltest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// NewPoolFunc builds the pool under test over clients with the given ids,
// client id answering with handler(id). It may register cleanups with t.
type NewPoolFunc func(t *testing.T, ids []string, handler func(id string) fl.Handler) fl.Pool

// TestPool runs the conformance suite of an [fl.Pool] on the pools newPool
// builds: the population is the registered ids, sorted and without repeats,
// and stable across calls; every registered client is reachable by its own
// Conn, which carries each message to that client and no other; an unknown
// id has no Conn; concurrent sends to every client all arrive; and a send
// returns once its context is done, even when the client never answers.
func TestPool(t *testing.T, newPool NewPoolFunc) {
	t.Helper()
	ids := []string{"pool-c", "pool-a", "pool-e", "pool-b", "pool-d"}
	t.Run("Population", func(t *testing.T) {
		p := newPool(t, ids, echo)
		pop := p.Population()
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(pop, want) {
			t.Fatalf("Population = %v, want %v", pop, want)
		}
		if again := p.Population(); !slices.Equal(again, want) {
			t.Fatalf("second Population = %v", again)
		}
		if _, ok := p.Conn("no-such-client"); ok {
			t.Error("Conn of an unknown id")
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		p := newPool(t, ids, echo)
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			c, ok := p.Conn(id)
			if !ok {
				t.Fatalf("client %s not reachable", id)
			}
			if c.ID() != id {
				t.Fatalf("Conn(%q).ID() = %q", id, c.ID())
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = roundTrip(c, i)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		p := newPool(t, ids[:1], func(string) fl.Handler {
			return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil, errors.New("released")
			})
		})
		c, ok := p.Conn(ids[0])
		if !ok {
			t.Fatal("client not reachable")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1}})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Error("Send to a client that never answered returned no error")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Send did not return after its context was done")
		}
	})
}

// echo answers a train message with an update that names the client:
// Weight is the round, Metrics["client"] the length of its id, and Params
// the params received plus the id's length.
func echo(id string) fl.Handler {
	return fl.HandlerFunc(func(_ context.Context, m *fl.Message) (*fl.Message, error) {
		if m.Type != fl.TypeTrain {
			return nil, fmt.Errorf("%w: %q", fl.ErrUnknownType, m.Type)
		}
		out := make([]float64, len(m.Params))
		for i, v := range m.Params {
			out[i] = v + float64(len(id))
		}
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: out, Weight: float64(m.Round), Metrics: fl.Metrics{"client": float64(len(id)), "first": float64(id[len(id)-1])}}, nil
	})
}

// roundTrip sends client i a message of its own and checks the answer
// came from that client.
func roundTrip(c fl.Conn, i int) error {
	params := []float64{float64(i), 0.5, -3}
	r, err := c.Send(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: 10 + i, Params: params, Config: fl.Config{"x": 1}})
	if err != nil {
		return fmt.Errorf("client %s: %w", c.ID(), err)
	}
	id := c.ID()
	switch {
	case r.Type != fl.TypeUpdate || r.Round != 10+i || r.Weight != float64(10+i):
		return fmt.Errorf("client %s: reply %q round %d weight %v", id, r.Type, r.Round, r.Weight)
	case r.Metrics["client"] != float64(len(id)) || r.Metrics["first"] != float64(id[len(id)-1]):
		return fmt.Errorf("client %s: reply from another client (%v)", id, r.Metrics)
	case len(r.Params) != len(params) || r.Params[0] != params[0]+float64(len(id)):
		return fmt.Errorf("client %s: params %v", id, r.Params)
	}
	return nil
}
