// Command compression trains one federated workload with each update codec
// (and without one) and compares the uplink bytes with the accuracy they
// buy. The default workload is an MLP with 14,210 parameters on the
// Synthetic-IID data of Li et al. 2020, 30 clients all taking part in every
// round, so that error feedback sees every client every round.
//
//	go run ./examples/compression
//	go run ./examples/compression -codec topk1%+ef -rounds 100
//	go run ./examples/compression -dataset fashion-mnist -json
//
// It prints a table (codec, uplink bytes, ratio to float64, final
// accuracy, accuracy delta against no compression) and writes a plot of
// accuracy against cumulative uplink bytes, one line per codec.
// With -json it prints one JSON object per codec:
// {"codec":…,"bytes_up":…,"ratio":…,"final_accuracy":…}, where ratio is the
// bytes of the same updates as float64 divided by bytes_up.
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/transport"
)

// defaultCodecs are the lines of the default run.
var defaultCodecs = []string{"none", "float16", "int8", "qsgd", "topk1%+ef", "randk1%+ef", "sign+ef"}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compression:", err)
		os.Exit(1)
	}
}

type options struct {
	codecs                                 []string
	dataset, dataDir, plot, hidden         string
	rounds, clients, perRound, epochs, bat int
	lr                                     float64
	iid, json, verbose                     bool
	seed                                   uint64
}

// line is the result of one codec's run.
type line struct {
	Codec         string  `json:"codec"`
	BytesUp       int64   `json:"bytes_up"`
	Ratio         float64 `json:"ratio"`
	FinalAccuracy float64 `json:"final_accuracy"`
	Delta         float64 `json:"accuracy_delta"`
	cumBytes      []float64
	accuracy      []float64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("compression", flag.ContinueOnError)
	fs.SetOutput(stderr)
	codec := fs.String("codec", "", "run only this codec (names as in compress.Parse, e.g. topk1%+ef, int8, qsgd, sign+ef, float16+zstd; none = no codec); default: "+strings.Join(defaultCodecs, " "))
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (implies -dataset fashion-mnist)")
	fs.StringVar(&o.hidden, "hidden", "200", "MLP hidden layer widths, comma-separated")
	fs.IntVar(&o.rounds, "rounds", 120, "rounds")
	fs.IntVar(&o.clients, "clients", 30, "clients")
	fs.IntVar(&o.perRound, "per-round", 0, "clients per round (0 = all)")
	fs.IntVar(&o.epochs, "local-epochs", 2, "local epochs per round")
	fs.IntVar(&o.bat, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0.1, "local learning rate")
	fs.BoolVar(&o.iid, "iid", true, "IID data (Synthetic-IID, or an IID split of Fashion-MNIST); -iid=false gives Synthetic(1,1) / Dirichlet(0.5)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.StringVar(&o.plot, "plot", "compression.png", "write the accuracy-vs-bytes plot here (.png or .svg; empty: no plot)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per codec")
	fs.BoolVar(&o.verbose, "v", false, "print the per-round table of every run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.dataDir != "" {
		o.dataset = "fashion-mnist"
	}
	o.codecs = defaultCodecs
	if *codec != "" {
		o.codecs = []string{*codec}
	}
	for _, c := range o.codecs {
		if c == "none" {
			continue
		}
		if _, err := compress.Parse(c); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	hidden, err := workload.ParseHidden(o.hidden)
	if err != nil {
		return err
	}
	w, err := workload.Build(workload.Config{
		Dataset: o.dataset, DataDir: o.dataDir, Model: "mlp", Hidden: hidden,
		Clients: o.clients, Alpha: 1, Beta: 1, IID: o.iid, Seed: o.seed, MaxSamples: 1000,
	})
	if err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(stdout, "MLP %v on %s: %d parameters, %d clients, %d rounds\n\n", hidden, o.dataset, w.Model.NumParams(), o.clients, o.rounds)
	}
	var lines []*line
	for _, name := range o.codecs {
		l, err := trainWith(w, o, name, stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		lines = append(lines, l)
	}
	base := lines[0].FinalAccuracy
	for _, l := range lines {
		if lines[0].Codec == "none" {
			l.Delta = l.FinalAccuracy - base
		}
	}
	if o.plot != "" {
		series := make([]report.Series, len(lines))
		for i, l := range lines {
			series[i] = report.Series{Name: l.Codec, X: l.cumBytes, Y: l.accuracy}
		}
		if err := report.LinePlot(o.plot, "accuracy vs uplink bytes", "cumulative uplink bytes", "test accuracy", series, true); err != nil {
			return err
		}
	}
	if o.json {
		for _, l := range lines {
			if err := report.JSON(stdout, l); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(stdout, "%-14s  %12s  %8s  %9s  %9s\n", "codec", "uplink", "ratio", "accuracy", "delta")
	for _, l := range lines {
		delta := fmt.Sprintf("%+.4f", l.Delta)
		if lines[0].Codec != "none" {
			delta = "-"
		}
		fmt.Fprintf(stdout, "%-14s  %12s  %7.1fx  %9.4f  %9s\n", l.Codec, report.Bytes(l.BytesUp), l.Ratio, l.FinalAccuracy, delta)
	}
	if o.plot != "" {
		fmt.Fprintf(stdout, "\nplot: %s\n", o.plot)
	}
	return nil
}

// trainWith runs the workload with the uplink codec name ("none": plain
// float64 Params, no codec).
func trainWith(w *workload.Workload, o *options, name string, stdout io.Writer) (*line, error) {
	var mws []fl.Middleware
	cfg := fl.DefaultServerConfig()
	if name != "none" {
		// Each client keeps its own codec across rounds: error feedback's
		// residual is per client state.
		var mu sync.Mutex
		codecs := map[string]compress.Codec{}
		codecFor := func(id string) compress.Codec {
			mu.Lock()
			defer mu.Unlock()
			c, ok := codecs[id]
			if !ok {
				h := fnv.New64a()
				h.Write([]byte(id))
				c, _ = compress.ParseSeeded(name, o.seed^h.Sum64())
				codecs[id] = c
			}
			return c
		}
		dec, _ := compress.Parse(name)
		tc := model.TrainerConfig{LR: o.lr, Epochs: o.epochs, BatchSize: o.bat}
		factory := func(id string) (fl.Handler, error) {
			t, err := w.Trainer(id, tc)
			if err != nil {
				return nil, err
			}
			return fl.Wrap(fl.NewHandler(t, t), transport.EncodeUplink(codecFor(id))), nil
		}
		pool, err := transport.NewMemory(transport.MemoryConfig{IDs: w.IDs, Factory: factory, Seed: o.seed})
		if err != nil {
			return nil, err
		}
		return simulate(w, o, name, cfg, transport.CompressUplink(pool, dec, 0), stdout)
	}
	pool, err := w.Pool(model.TrainerConfig{LR: o.lr, Epochs: o.epochs, BatchSize: o.bat}, transport.Faults{}, mws...)
	if err != nil {
		return nil, err
	}
	return simulate(w, o, name, cfg, pool, stdout)
}

func simulate(w *workload.Workload, o *options, name string, cfg fl.ServerConfig, pool fl.Pool, stdout io.Writer) (*line, error) {
	cfg.Rounds = o.rounds
	cfg.ClientsPerRound = o.perRound
	cfg.Seed = o.seed
	cfg.Evaluate = w.Evaluate
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.bat)}
	l := &line{Codec: name}
	var cum int64
	var updates int
	obs := fl.ObserverFuncs{End: func(s fl.RoundStats) {
		cum += s.BytesUp
		updates += s.Accepted
		l.cumBytes = append(l.cumBytes, float64(cum))
		l.accuracy = append(l.accuracy, s.Central[fl.KeyAccuracy])
	}}
	var table fl.Observer = obs
	if o.verbose && !o.json {
		fmt.Fprintf(stdout, "== %s\n", name)
		tab := &report.Table{W: stdout}
		table = fl.ObserverFuncs{End: func(s fl.RoundStats) { obs.RoundEnd(s); tab.RoundEnd(s) }}
	}
	cfg.Observer = table
	s, err := fl.NewServer(cfg, pool, w.Init())
	if err != nil {
		return nil, err
	}
	h, err := s.Run(context.Background())
	if err != nil {
		return nil, err
	}
	l.BytesUp = cum
	l.FinalAccuracy, _ = h.LastMetric(fl.KeyAccuracy)
	if cum > 0 {
		l.Ratio = float64(updates) * 8 * float64(w.Model.NumParams()) / float64(cum)
	}
	return l, nil
}
