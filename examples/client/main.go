// Command client is one client of a federated deployment of the quickstart
// workload: it holds partition i of N of the data and trains for the
// server at -server, reconnecting (with backoff) when the connection or
// the server goes away, until the server says that its run is over (the
// client then exits 0) or it is interrupted.
//
//	go run ./examples/client -server https://127.0.0.1:8443 -dev /tmp/fedgo-dev-pki-123 -clients 10 -partition 3/10
//
// The workload flags (-clients, -seed, -dataset, ...) must match the
// server's. Run with -h for every flag.
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
	err := node.Client(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, node.ErrUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}
