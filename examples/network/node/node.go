// Package node holds the two programs of fedgo's network examples: the
// server ([Server], the body of examples/server) and a client ([Client],
// the body of examples/client), training the quickstart workload across
// processes over the network transport (HTTPS, TLS 1.3).
//
// Both build the workload from the same flags as examples/quickstart, with
// the same defaults, and the server uses the same fl.ServerConfig, so a
// run without faults ends with the parameters of the in-memory simulation
// of the same seed, bit for bit.
package node

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/fedgo/fedgo/internal/workload"
)

// Workload holds the flags that define the quickstart workload; server
// and clients must be given the same values.
type Workload = workload.Flags

// parse parses args into fs, refusing positional arguments.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// Canceled reports whether err only says that the program was stopped.
func Canceled(err error) bool { return errors.Is(err, context.Canceled) }
