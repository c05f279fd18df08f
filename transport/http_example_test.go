package transport_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// An HTTPPool mounted in a TLS 1.3 server, and one client that answers
// its tasks by doubling the parameters.
func ExampleHTTPPool() {
	dir, _ := os.MkdirTemp("", "example-pki-")
	defer os.RemoveAll(dir)
	pki, err := transport.NewDevPKI(dir, nil) // a throwaway CA, for the example only
	if err != nil {
		panic(err)
	}
	cert, _ := pki.ServerCert()

	// The server side: the pool is an http.Handler.
	pool, err := transport.NewHTTPPool(transport.HTTPPoolConfig{
		Tokens: map[string]string{"alice": "alice-secret-token-0001"},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewUnstartedServer(pool)
	srv.EnableHTTP2 = true
	srv.TLS = transport.ServerTLSConfig(cert, nil, false)
	srv.StartTLS()
	defer srv.Close()
	defer pool.Close()

	// The client side: Dial runs the handler until ctx is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	double := fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		out := make([]float64, len(m.Params))
		for i, x := range m.Params {
			out[i] = 2 * x
		}
		return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: out, Weight: 1}, nil
	})
	go func() {
		done <- transport.Dial(ctx, srv.URL, double, transport.ClientConfig{
			ID: "alice", Token: "alice-secret-token-0001", TLS: transport.ClientTLSConfig(pki.Roots, nil),
		})
	}()

	if err := pool.WaitClients(ctx, 1); err != nil {
		panic(err)
	}
	for _, c := range fl.Reachable(pool) {
		reply, err := c.Send(ctx, &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{1, 2, 3}})
		fmt.Println(c.ID(), reply.Type, reply.Params, err)
	}
	cancel()
	fmt.Println(<-done)
	// Output:
	// alice update [2 4 6] <nil>
	// context canceled
}

// The frame of a message, byte for byte as the package documentation
// describes it.
func ExampleAppendFrame() {
	b := transport.AppendFrame(nil, &fl.Message{Type: "train", Round: 3, Weight: 1.5,
		Params: []float64{1, -2}, Payload: []byte{0xab}, Config: fl.Config{"lr": 0.5}})
	fmt.Printf("% x\n", b[:11])
	fmt.Println(len(b), "bytes")
	// Output:
	// 46 47 02 00 05 74 72 61 69 6e 03
	// 51 bytes
}
