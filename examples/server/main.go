// Command server is the server of a federated deployment of the
// quickstart workload: it serves fedgo's network transport (HTTPS, TLS
// 1.3, client certificates or bearer tokens), waits for its clients, and
// trains, printing the quickstart's table and summary. With -json, stdout
// holds only JSON (one object per round, the summary last) and the lines
// for a person go to stderr.
//
//	go run ./examples/server -dev -clients 10 -rounds 20
//	# prints: dev PKI in /tmp/fedgo-dev-pki-123 (run clients with -dev /tmp/fedgo-dev-pki-123)
//	for i in $(seq 0 9); do go run ./examples/client -dev /tmp/fedgo-dev-pki-123 -clients 10 -partition $i/10 & done
//
// With -checkpoint DIR -resume, a restarted server resumes after the last
// completed round and its clients reconnect on their own. Run with -h for
// every flag (-h exits 0); the workload flags are those of
// examples/quickstart and must match the clients'. A count of 0 or less,
// or -per-round above -clients, is refused before the server starts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedgo/fedgo/examples/network/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := node.Server(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, node.ErrUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
