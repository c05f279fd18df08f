// Command server is the server of a federated deployment of the
// quickstart workload: it serves fedgo's network transport (HTTPS, TLS
// 1.3, client certificates or bearer tokens), waits for its clients, and
// trains, printing the quickstart's table and summary.
//
//	go run ./examples/server -dev -clients 10 -rounds 20
//	# prints: dev PKI in /tmp/fedgo-dev-pki-123 (run clients with -dev /tmp/fedgo-dev-pki-123)
//	for i in $(seq 0 9); do go run ./examples/client -dev /tmp/fedgo-dev-pki-123 -clients 10 -partition $i/10 & done
//
// With -checkpoint DIR -resume, a restarted server resumes after the last
// completed round and its clients reconnect on their own. Run with -h for
// every flag; the workload flags are those of examples/quickstart and must
// match the clients'.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedgo/fedgo/examples/network/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := node.Server(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
