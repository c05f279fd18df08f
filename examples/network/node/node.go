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
	"math"
)

// ErrUsage marks an error the flag package has already printed: the
// programs exit 2 on it (and 0 on flag.ErrHelp, after -h).
var ErrUsage = errors.New("usage")

// parse parses args into fs, refusing positional arguments, and fills the
// workload's defaults, refusing the counts it cannot honour: a count given
// as 0 or less is an error (only a flag left out takes the data set's
// default), and so is -per-round above -clients. It returns the names of
// the flags given.
func parse(fs *flag.FlagSet, wl *Workload, args []string, stderr io.Writer) (map[string]bool, error) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range map[string]int{"rounds": wl.Rounds, "clients": wl.Clients, "local-epochs": wl.Epochs, "batch": wl.Batch, "per-round": wl.PerRound} {
		if (set[name] || name == "batch" || name == "per-round") && v < 1 {
			errs = append(errs, fmt.Errorf("-%s %d: want at least 1", name, v))
		}
	}
	for name, v := range map[string]float64{"lr": wl.LR, "server-lr": wl.ServerLR, "mu": wl.Mu, "alpha": wl.Alpha, "beta": wl.Beta, "dirichlet": wl.Dirichlet} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v == 0 && set[name] && (name == "lr" || name == "dirichlet") {
			errs = append(errs, fmt.Errorf("-%s %v: want a finite value, > 0 for lr and dirichlet, ≥ 0 for the rest", name, v))
		}
	}
	wl.Defaults()
	if wl.PerRound > wl.Clients && wl.Clients >= 1 {
		errs = append(errs, fmt.Errorf("-per-round %d: more than the %d clients", wl.PerRound, wl.Clients))
	}
	return set, errors.Join(errs...)
}

// Canceled reports whether err only says that the program was stopped.
func Canceled(err error) bool { return errors.Is(err, context.Canceled) }
