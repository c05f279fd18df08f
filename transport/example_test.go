package transport_test

import (
	"context"
	"fmt"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// An in-memory pool whose clients answer with their own index. Every
// message is encoded on the way: Traffic counts the bytes a network would
// carry.
func ExampleNewMemory() {
	pool, err := transport.NewMemory(transport.MemoryConfig{
		IDs: []string{"a", "b"},
		Factory: func(id string) (fl.Handler, error) {
			return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
				return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{float64(len(id))}, Weight: 1}, nil
			}), nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{0, 0}}
	for _, c := range fl.Reachable(pool) {
		r, _ := c.Send(context.Background(), req)
		fmt.Println(c.ID(), r.Params)
	}
	up, down := pool.Traffic()
	fmt.Println(up, down, 2*transport.FrameSize(req))
	// Output:
	// a [1]
	// b [1]
	// 64 78 78
}
