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
// Compression is a pair of symmetric wrappers: each client's handler chain
// ends in transport.EncodeUplink with the client's own codec (error
// feedback keeps a residual per client), and the server's pool is wrapped
// in transport.CompressUplink, which decodes. See trainWith.
//
// Output: a table (codec, uplink bytes, ratio to float64, final accuracy,
// accuracy delta against no compression) on stdout, a progress line per
// run on stderr, and a plot of accuracy against cumulative uplink bytes in
// -out (compression.png). With -json, stdout carries one JSON object per
// codec, {"codec", "bytes_up", "ratio", "final_accuracy",
// "accuracy_delta"}, where ratio is the bytes of the same updates as
// float64 divided by bytes_up, then a summary as the last line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"github.com/fedgo/fedgo/compress"
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/fl/report/chart"
	"github.com/fedgo/fedgo/transport"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "compression:", err)
		os.Exit(1)
	}
}

// result is one codec's run.
type result struct {
	Codec         string  `json:"codec"`
	BytesUp       int64   `json:"bytes_up"`
	Ratio         float64 `json:"ratio"`
	FinalAccuracy float64 `json:"final_accuracy"`
	Delta         float64 `json:"accuracy_delta"` // against "none"; 0 when "none" did not run first
	cumBytes      []float64
	accuracy      []float64
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	w, err := loadWorkload(o)
	if err != nil {
		return err
	}
	if !o.json {
		name := o.model
		if o.model == "mlp" {
			name = fmt.Sprintf("MLP %v", o.hidden)
		}
		fmt.Fprintf(stdout, "%s on %s: %d parameters, %d clients, %d rounds\n\n", name, o.dataset, w.model.NumParams(), o.clients, o.rounds)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	var results []*result
	for i, name := range o.codecs {
		label := fmt.Sprintf("compression %s (%d/%d)", name, i+1, len(o.codecs))
		r, err := trainWith(ctx, w, o, name, stdout, stderr, label)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, r)
	}
	if results[0].Codec == "none" {
		for _, r := range results {
			r.Delta = r.FinalAccuracy - results[0].FinalAccuracy
		}
	}
	if o.plot != "" {
		if err := plot(o.plot, results); err != nil {
			return err
		}
	}
	if o.json {
		return writeJSON(stdout, o, results, time.Since(start))
	}
	printTable(stdout, o, results)
	return nil
}

// workload is the data split over clients and the model to train on it.
type workload struct {
	model model.Model
	ids   []string
	index map[string]int     // of each id in ids
	train []*dataset.Dataset // by client, in the order of ids
	test  *dataset.Dataset
}

// loadWorkload generates Synthetic (IID by default) with at most 1000
// examples a client, or splits Fashion-MNIST, and builds the model.
func loadWorkload(o *options) (*workload, error) {
	w := &workload{}
	if o.dataset == "synthetic" {
		splits, err := dataset.Synthetic(dataset.SyntheticConfig{Alpha: 1, Beta: 1, IID: o.iid, Clients: o.clients, MaxSamples: 1000, Seed: o.seed})
		if err != nil {
			return nil, err
		}
		tests := make([]*dataset.Dataset, len(splits))
		for i, s := range splits {
			w.train, tests[i] = append(w.train, s.Train), s.Test
		}
		if w.test, err = dataset.Concat(tests...); err != nil {
			return nil, err
		}
	} else {
		all, test, err := dataset.LoadFashionMNIST(o.dataDir)
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
		var parts [][]int
		if o.iid {
			parts, err = dataset.IID(rng, all.Len(), o.clients)
		} else {
			parts, err = dataset.Dirichlet(rng, all.Y, all.Classes, o.clients, 0.5)
		}
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			w.train = append(w.train, all.Subset(p))
		}
		w.test = test
	}
	w.index = make(map[string]int, len(w.train))
	for i := range w.train {
		w.ids = append(w.ids, fmt.Sprintf("client-%05d", i))
		w.index[w.ids[i]] = i
	}
	m, err := newModel(o.model, o.hidden, w.test.Dim, w.test.Classes)
	w.model = m
	return w, err
}

// newModel returns the softmax regression, the MLP of the given hidden
// widths or the niid_bench CNN, which takes 28×28 single-channel images
// only.
func newModel(name string, hidden []int, dim, classes int) (model.Model, error) {
	var m model.Model = model.MLP{Dim: dim, Hidden: hidden, Classes: classes}
	switch name {
	case "softmax":
		m = model.Softmax{Dim: dim, Classes: classes}
	case "cnn":
		if dim != 28*28 {
			return nil, fmt.Errorf("-model cnn needs 28×28 single-channel images, not %d features", dim)
		}
		m = model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, classes)
	}
	return m, m.Validate()
}

// trainWith runs the workload with the uplink codec name ("none": plain
// float64 parameters, no wrappers).
func trainWith(ctx context.Context, w *workload, o *options, name string, stdout, stderr io.Writer, label string) (*result, error) {
	var mu sync.Mutex
	codecs := map[string]compress.Codec{} // each client's own codec, kept across rounds
	codecFor := func(id string) compress.Codec {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := codecs[id]; !ok {
			h := fnv.New64a()
			h.Write([]byte(id))
			codecs[id], _ = compress.ParseSeeded(name, o.seed^h.Sum64()) // the name parsed in parseFlags
		}
		return codecs[id]
	}
	mem, err := transport.NewMemory(transport.MemoryConfig{
		IDs: w.ids, Seed: o.seed,
		Factory: func(id string) (fl.Handler, error) {
			i := w.index[id]
			t, err := model.NewTrainer(model.TrainerConfig{
				Model: w.model, ID: id, Train: w.train[i], LR: o.lr, Epochs: o.epochs,
				BatchSize: min(o.batch, w.train[i].Len()), Seed: o.seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15),
			})
			if err != nil {
				return nil, err
			}
			if name == "none" {
				return fl.NewHandler(t, t), nil
			}
			return fl.Wrap(fl.NewHandler(t, t), transport.EncodeUplink(codecFor(id))), nil
		},
	})
	if err != nil {
		return nil, err
	}
	var pool fl.Pool = mem
	if name != "none" {
		dec, _ := compress.Parse(name) // parsed in parseFlags
		pool = transport.CompressUplink(mem, dec, 0)
	}
	return simulate(ctx, w, o, name, pool, stdout, stderr, label)
}

// simulate runs the server and records accuracy against cumulative uplink
// bytes after every round.
func simulate(ctx context.Context, w *workload, o *options, name string, pool fl.Pool, stdout, stderr io.Writer, label string) (*result, error) {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = o.rounds, o.perRound, o.seed
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch)}
	cfg.EvalEvery = 1
	cfg.Evaluate = func(ctx context.Context, params []float64) (fl.Metrics, error) {
		loss, acc, err := model.Evaluate(w.model, params, w.test)
		return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc}, err
	}
	r := &result{Codec: name}
	var cum int64
	var updates int
	record := fl.ObserverFuncs{End: func(s fl.RoundStats) {
		cum += s.BytesUp
		updates += s.Accepted
		r.cumBytes = append(r.cumBytes, float64(cum))
		r.accuracy = append(r.accuracy, s.Central[fl.KeyAccuracy])
	}}
	var table fl.Observer
	if o.verbose && !o.json {
		fmt.Fprintf(stdout, "== %s\n", name)
		table = &report.Table{W: stdout}
	}
	cfg.Observer = report.Observers(record, table, &report.Progress{W: stderr, Label: label, Rounds: o.rounds})
	init := make([]float64, w.model.NumParams())
	w.model.Init(rand.New(rand.NewPCG(o.seed, 0x1417)), init)
	s, err := fl.NewServer(cfg, pool, init)
	if err != nil {
		return nil, err
	}
	h, err := s.Run(ctx)
	if err != nil {
		return nil, err
	}
	r.BytesUp = cum
	r.FinalAccuracy, _ = h.LastMetric(fl.KeyAccuracy)
	if cum > 0 {
		r.Ratio = float64(updates) * 8 * float64(w.model.NumParams()) / float64(cum)
	}
	return r, nil
}

func plot(path string, results []*result) error {
	series := make([]chart.Series, len(results))
	for i, r := range results {
		series[i] = chart.Series{Name: r.Codec, X: r.cumBytes, Y: r.accuracy}
	}
	return chart.Lines(path, "accuracy vs uplink bytes", "cumulative uplink bytes (log scale)", "test accuracy", series, true)
}

func printTable(stdout io.Writer, o *options, results []*result) {
	fmt.Fprintf(stdout, "%-14s  %12s  %8s  %9s  %9s\n", "codec", "uplink", "ratio", "accuracy", "delta")
	for _, r := range results {
		delta := fmt.Sprintf("%+.4f", r.Delta)
		if results[0].Codec != "none" {
			delta = "-"
		}
		fmt.Fprintf(stdout, "%-14s  %12s  %7.1fx  %9.4f  %9s\n", r.Codec, report.Bytes(r.BytesUp), r.Ratio, r.FinalAccuracy, delta)
	}
	if o.plot != "" {
		fmt.Fprintf(stdout, "\nplot: %s\n", o.plot)
	}
}

// writeJSON writes one line per codec, then the summary line.
func writeJSON(stdout io.Writer, o *options, results []*result, wall time.Duration) error {
	for _, r := range results {
		if err := report.WriteJSON(stdout, r); err != nil {
			return err
		}
	}
	summary := map[string]any{"codecs": o.codecs, "rounds": o.rounds, "clients": o.clients, "dataset": o.dataset, "wall_seconds": wall.Seconds(), "plot": nil}
	if o.plot != "" {
		summary["plot"] = o.plot
	}
	return report.WriteJSON(stdout, summary)
}

// plotPath is where the plot goes in the -out directory.
func plotPath(out string) string {
	if out == "" {
		return ""
	}
	return filepath.Join(out, "compression.png")
}
