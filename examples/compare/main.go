// Command compare is fedgo's aggregator benchmark: it trains one workload
// under a grid of aggregation rules × attacks, with f of the n clients
// Byzantine, and reports the final accuracy of each cell and the time each
// aggregation took.
//
//	go run ./examples/compare
//	go run ./examples/compare -aggregators fedavg,nnm+trimmedmean,cc -attacks none,alie,ipm -byzantine 4
//	go run ./examples/compare -dataset fashion-mnist -clients 20 -rounds 20 -alpha 0.5
//
// The Byzantine clients are the last f of the n; every client takes part
// in every round (the cross-silo setting of the robustness papers). The
// attacks are omniscient where their papers say so: they see the round's
// honest updates. labelflip trains the Byzantine clients on flipped
// labels. It prints a table of final accuracy per cell and the mean
// aggregation time per rule, writes to -out (default ./out, ignored by
// git; checked before training) a heat map of the accuracies and one plot
// of accuracy per round for each attack, and prints a progress line per
// cell on stderr. With -json stdout holds only JSON, one object per cell:
// {"aggregator":…,"attack":…,"f":…,"n":…, "final_accuracy":…,
// "aggregate_ms":…}, then a summary as the last line: {"cells":…,
// "failed_cells":…, "aggregators":[…], "attacks":[…], "n":…, "f":…,
// "rounds":…, "dataset":…, "model":…, "seed":…, "wall_seconds":…,
// "plots": the -out directory or null}. A rule that aborts rounds is a result ("error" in the
// cell, "!" in the table); a cell that cannot run at all makes the program
// exit 1 after printing. It uses only fedgo's public packages. With
// -explain, rules that select
// (Krum, Multi-Krum, Bulyan, MDA, MoNNA, SMEA, CAF, NNM: robust.Explainer)
// also report what they chose in the last round and how many of those
// updates were Byzantine ("explain" in the JSON). The attacks opt-alie and
// opt-ipm tune ALIE's z or IPM's ε each round against the cell's own rule
// (attack.LineMax).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/fl/report/chart"
	"github.com/fedgo/fedgo/robust"
	"github.com/fedgo/fedgo/robust/attack"
	"github.com/fedgo/fedgo/transport"
)

var (
	defaultAggregators = []string{"fedavg", "mean", "median", "trimmedmean", "krum", "multikrum", "geomed", "bulyan", "cc", "normbound", "fltrust", "mda", "meamed", "caf", "nnm+trimmedmean", "bucketing+cc", "arc+mean"}
	defaultAttacks     = []string{"none", "signflip", "gaussian", "labelflip", "alie", "ipm", "minmax", "minsum", "mimic"}
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// Cell is one aggregator × attack run.
type Cell struct {
	Aggregator    string  `json:"aggregator"`
	Attack        string  `json:"attack"`
	F             int     `json:"f"`
	N             int     `json:"n"`
	FinalAccuracy float64 `json:"final_accuracy"`
	AggregateMS   float64 `json:"aggregate_ms"`
	Error         string  `json:"error,omitempty"`
	Explain       string  `json:"explain,omitempty"`
	accuracy      []float64
	failed        bool // the cell could not run (not: its rule aborted rounds)
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	b, err := loadBench(o)
	if err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(stdout, "%s on %s: n = %d clients, f = %d Byzantine, %d rounds, %d parameters\n\n",
			o.model, o.dataset, o.n, o.f, o.rounds, b.model.NumParams())
	}
	cells, err := runGrid(o, b, stdout, stderr)
	if err != nil {
		return err
	}
	if !o.json {
		printTable(stdout, o, cells)
	}
	if o.out != "" {
		if err := plots(o, cells); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "compare: plots in %s\n", filepath.Join(o.out, "compare_*.png"))
	}
	failed := 0
	for _, c := range cells {
		if c.failed {
			failed++
		}
	}
	if o.json {
		summary := map[string]any{"cells": len(cells), "failed_cells": failed, "aggregators": o.aggregators, "attacks": o.attacks,
			"n": o.n, "f": o.f, "rounds": o.rounds, "dataset": o.dataset, "model": o.model, "seed": o.seed,
			"wall_seconds": time.Since(start).Seconds(), "plots": nil}
		if o.out != "" {
			summary["plots"] = o.out
		}
		if err := report.WriteJSON(stdout, summary); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cells could not run (see their errors)", failed, len(cells))
	}
	return nil
}

// bench is the workload every cell trains: the clients' data, the model,
// the Byzantine clients, the test set and FLTrust's root data set.
type bench struct {
	model model.Model
	ids   []string
	train []*dataset.Dataset // by client, in the order of ids
	test  *dataset.Dataset
	root  *dataset.Dataset
	byz   map[string]bool // the last f clients
}

// loadBench builds the data: Synthetic-IID (at most 300 examples a device)
// pooled and split again over the n clients, or Fashion-MNIST, split IID
// or by Dirichlet(α) label skew (Hsu et al. 2019). FLTrust's root data set
// is 100 clean examples taken from the test set, which are then left out
// of the evaluation.
func loadBench(o *options) (*bench, error) {
	var pooled, test *dataset.Dataset
	var err error
	if o.dataset == "synthetic" {
		splits, err := dataset.Synthetic(dataset.SyntheticConfig{Clients: o.n, IID: true, MaxSamples: 300, Seed: o.seed})
		if err != nil {
			return nil, err
		}
		trains, tests := make([]*dataset.Dataset, len(splits)), make([]*dataset.Dataset, len(splits))
		for i, s := range splits {
			trains[i], tests[i] = s.Train, s.Test
		}
		if test, err = dataset.Concat(tests...); err != nil {
			return nil, err
		}
		if pooled, err = dataset.Concat(trains...); err != nil {
			return nil, err
		}
	} else if pooled, test, err = dataset.LoadFashionMNIST(o.dataDir); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	var parts [][]int
	if o.iid {
		parts, err = dataset.IID(rng, pooled.Len(), o.n)
	} else {
		parts, err = dataset.Dirichlet(rng, pooled.Y, pooled.Classes, o.n, o.alpha)
	}
	if err != nil {
		return nil, err
	}
	b := &bench{byz: map[string]bool{}}
	classes := max(test.Classes, pooled.Classes)
	test.Classes = classes
	for i, p := range parts {
		d := pooled.Subset(p)
		d.Classes = classes
		b.train = append(b.train, d)
		b.ids = append(b.ids, fmt.Sprintf("client-%05d", i))
		if i >= o.n-o.f {
			b.byz[b.ids[i]] = true
		}
	}
	if b.model, err = newModel(o.model, test.Dim, classes); err != nil {
		return nil, err
	}
	rootN := min(100, test.Len()/10)
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	b.root, b.test = test.Subset(idx[:rootN]), test.Subset(idx[rootN:])
	return b, nil
}

// newModel returns the softmax regression, the MLP (64 hidden units, 128
// for inputs of more than 100 features) or the niid_bench CNN, which
// takes 28×28 single-channel images only.
func newModel(name string, dim, classes int) (model.Model, error) {
	var m model.Model = model.Softmax{Dim: dim, Classes: classes}
	switch name {
	case "mlp":
		hidden := 64
		if dim > 100 {
			hidden = 128
		}
		m = model.MLP{Dim: dim, Hidden: []int{hidden}, Classes: classes}
	case "cnn":
		if dim != 28*28 {
			return nil, fmt.Errorf("-model cnn needs 28×28 single-channel images, not %d features", dim)
		}
		m = model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, classes)
	}
	return m, m.Validate()
}

// trainer builds client i's trainer: its own data and shuffling seed.
func (b *bench) trainer(o *options, i int) (*model.Trainer, error) {
	return model.NewTrainer(model.TrainerConfig{
		Model: b.model, ID: b.ids[i], Train: b.train[i],
		LR: o.lr, Epochs: o.epochs, BatchSize: min(10, b.train[i].Len()),
		Seed: o.seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15),
	})
}

// evaluate scores params on the test set (fl.ServerConfig.Evaluate).
func (b *bench) evaluate(_ context.Context, params []float64) (fl.Metrics, error) {
	loss, acc, err := model.Evaluate(b.model, params, b.test)
	return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc, fl.KeyExamples: float64(b.test.Len())}, err
}

// initParams draws the initial global parameters from the seed.
func (b *bench) initParams(seed uint64) []float64 {
	p := make([]float64, b.model.NumParams())
	b.model.Init(rand.New(rand.NewPCG(seed, 0x1417)), p)
	return p
}

// runGrid runs every cell, attack by attack, printing each cell's JSON
// line (with -json) and a progress line on stderr as it ends.
func runGrid(o *options, b *bench, stdout, stderr io.Writer) ([]*Cell, error) {
	var cells []*Cell
	total, start := len(o.attacks)*len(o.aggregators), time.Now()
	for _, atk := range o.attacks {
		for _, agg := range o.aggregators {
			c := runCell(b, o, agg, atk)
			cells = append(cells, c)
			if o.json {
				if err := report.WriteJSON(stdout, c); err != nil {
					return nil, err
				}
			}
			elapsed := time.Since(start)
			eta := elapsed / time.Duration(len(cells)) * time.Duration(total-len(cells))
			status := fmt.Sprintf("accuracy %.4f", c.FinalAccuracy)
			if c.Error != "" {
				status += " (" + c.Error + ")"
			}
			fmt.Fprintf(stderr, "compare: cell %d/%d %s under %s: %s; %s elapsed, ETA %s\n",
				len(cells), total, agg, atk, status, elapsed.Round(time.Second), eta.Round(time.Second))
		}
	}
	return cells, nil
}

// timed measures the time spent in an aggregator and remembers the clients
// of its last call, in order.
type timed struct {
	fl.Aggregator
	total   time.Duration
	calls   int
	clients []string
}

func (t *timed) Aggregate(dst []float64, us []fl.Update) error {
	t.clients = t.clients[:0]
	for _, u := range us {
		t.clients = append(t.clients, u.Client)
	}
	start := time.Now()
	err := t.Aggregator.Aggregate(dst, us)
	t.total += time.Since(start)
	t.calls++
	return err
}

// runCell trains the bench under one rule and one attack. A rule that
// fails a round is a result (the round is aborted, the cell says so); a
// cell that cannot run at all is marked failed.
func runCell(b *bench, o *options, aggName, atkName string) *Cell {
	c := &Cell{Aggregator: aggName, Attack: atkName, F: o.f, N: o.n}
	fail := func(err error) *Cell { c.Error, c.failed = err.Error(), true; return c }
	byz, index := b.byz, map[string]int{}
	for i, id := range b.ids {
		index[id] = i
	}
	ccfg := fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: 10}
	var s *fl.Server
	rootTrainer, err := model.NewTrainer(model.TrainerConfig{Model: b.model, ID: "server-root", Train: b.root, LR: o.lr, Epochs: o.epochs, BatchSize: 10, Seed: o.seed})
	if err != nil {
		return fail(err)
	}
	rootUpdate := func() ([]float64, error) {
		cfg := ccfg.Clone()
		cfg[fl.KeyRound] = float64(s.Round() + 1)
		u, err := rootTrainer.Train(context.Background(), s.Params(), cfg)
		return u.Delta, err
	}
	rule, err := newRule(aggName, o.f, o.seed, rootUpdate)
	if err != nil {
		return fail(err)
	}
	atk, err := o.newAttack(atkName, aggName, rootUpdate)
	if err != nil {
		return fail(err)
	}
	tm := &timed{Aggregator: rule}
	poisoner, _ := atk.(attack.Poisoner)
	factory := func(id string) (fl.Handler, error) {
		t, err := b.trainer(o, index[id])
		if err != nil {
			return nil, err
		}
		if byz[id] && poisoner != nil {
			cfg := t.Config()
			if cfg.Train, err = poisoner.Poison(cfg.Train); err != nil {
				return nil, err
			}
			if t, err = model.NewTrainer(cfg); err != nil {
				return nil, err
			}
		}
		return fl.NewHandler(t, nil), nil
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: b.ids, Factory: factory, Seed: o.seed})
	if err != nil {
		return fail(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = o.rounds, 0, o.seed
	cfg.Aggregator = &attack.Byzantine{Attack: atk, Clients: byz, Rule: tm, Seed: o.seed}
	cfg.ClientConfig = ccfg
	cfg.Evaluate = b.evaluate
	cfg.MaxAborted = o.rounds // report a failing rule as a result, not an error
	cfg.Observer = fl.ObserverFuncs{End: func(st fl.RoundStats) {
		c.accuracy = append(c.accuracy, st.Central[fl.KeyAccuracy])
	}}
	if s, err = fl.NewServer(cfg, pool, b.initParams(o.seed)); err != nil {
		return fail(err)
	}
	h, err := s.Run(context.Background())
	if err != nil {
		return fail(err)
	}
	c.FinalAccuracy, _ = h.LastMetric(fl.KeyAccuracy)
	if tm.calls > 0 {
		c.AggregateMS = tm.total.Seconds() * 1e3 / float64(tm.calls)
	}
	if aborted := countAborted(h); aborted > 0 {
		c.Error = fmt.Sprintf("%d rounds aborted", aborted)
	}
	if o.explain {
		c.Explain = explain(rule, tm.clients, byz, true)
	}
	return c
}

// explain describes what the selecting rules and steps of agg chose in
// their last call: the chosen updates (as clients, while the inputs are
// still one per client) and how many of them were Byzantine.
func explain(agg any, clients []string, byz map[string]bool, perClient bool) string {
	var parts []string
	if p, ok := agg.(*robust.Pre); ok {
		steps := []robust.Step{p.Step}
		if ch, ok := p.Step.(robust.Chain); ok {
			steps = ch
		}
		for _, s := range steps {
			if e := explain(s, clients, byz, perClient); e != "" {
				parts = append(parts, e)
			}
			perClient = perClient && s.Outputs(len(clients)) == len(clients)
		}
		if e := explain(p.Rule, clients, byz, perClient); e != "" {
			parts = append(parts, e)
		}
		return strings.Join(parts, "; ")
	}
	ex, ok := agg.(robust.Explainer)
	if !ok {
		return ""
	}
	e := ex.Explain()
	name := func(i int) string {
		if perClient && i < len(clients) {
			return clients[i]
		}
		return fmt.Sprint(i)
	}
	if e.Selected != nil {
		var names []string
		nb := 0
		for _, i := range e.Selected {
			names = append(names, name(i))
			if perClient && i < len(clients) && byz[clients[i]] {
				nb++
			}
		}
		s := fmt.Sprintf("%s chose %d: %s", e.Rule, len(names), strings.Join(names, " "))
		if perClient {
			s += fmt.Sprintf(" (%d Byzantine)", nb)
		}
		parts = append(parts, s)
	}
	if e.Neighbours != nil && perClient {
		mixed := 0
		for _, nbs := range e.Neighbours {
			for _, i := range nbs {
				if i < len(clients) && byz[clients[i]] {
					mixed++
					break
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s: %d of %d mixes include a Byzantine update", e.Rule, mixed, len(e.Neighbours)))
	}
	return strings.Join(parts, "; ")
}

func countAborted(h *fl.History) int {
	n := 0
	for _, r := range h.Rounds {
		if r.Aborted {
			n++
		}
	}
	return n
}

func printTable(w io.Writer, o *options, cells []*Cell) {
	fmt.Fprintf(w, "final test accuracy (rows: aggregators, columns: attacks)\n%-18s", "")
	for _, a := range o.attacks {
		fmt.Fprintf(w, "  %9s", a)
	}
	fmt.Fprintf(w, "  %12s\n", "ms/aggregate")
	for i, agg := range o.aggregators {
		fmt.Fprintf(w, "%-18s", agg)
		var ms float64
		for j := range o.attacks {
			c := cells[j*len(o.aggregators)+i]
			v := fmt.Sprintf("%.4f", c.FinalAccuracy)
			if c.Error != "" {
				v += "!"
			}
			fmt.Fprintf(w, "  %9s", v)
			ms += c.AggregateMS / float64(len(o.attacks))
		}
		fmt.Fprintf(w, "  %12.3f\n", ms)
	}
	for _, c := range cells {
		if c.Error != "" {
			fmt.Fprintf(w, "! %s under %s: %s\n", c.Aggregator, c.Attack, c.Error)
		}
	}
	for _, c := range cells {
		if c.Explain != "" {
			fmt.Fprintf(w, "explain %s under %s (last round): %s\n", c.Aggregator, c.Attack, c.Explain)
		}
	}
}

// plots writes the heat map of final accuracies and one accuracy curve
// per attack.
func plots(o *options, cells []*Cell) error {
	grid := make([][]float64, len(o.aggregators))
	lo, hi := 1.0, 0.0
	for i := range grid {
		grid[i] = make([]float64, len(o.attacks))
		for j := range o.attacks {
			v := cells[j*len(o.aggregators)+i].FinalAccuracy
			grid[i][j] = v
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi <= lo {
		lo, hi = 0, 1
	}
	title := fmt.Sprintf("final accuracy, n = %d, f = %d", o.n, o.f)
	if err := chart.HeatMap(filepath.Join(o.out, "compare_heatmap.png"), title, "aggregator", "attack", o.aggregators, o.attacks, grid, lo, hi); err != nil {
		return err
	}
	for j, atk := range o.attacks {
		var series []chart.Series
		for i, agg := range o.aggregators {
			c := cells[j*len(o.aggregators)+i]
			xs := make([]float64, len(c.accuracy))
			for r := range xs {
				xs[r] = float64(r + 1)
			}
			series = append(series, chart.Series{Name: agg, X: xs, Y: c.accuracy})
		}
		path := filepath.Join(o.out, "compare_curves_"+atk+".png")
		if err := chart.Lines(path, "accuracy per round under "+atk, "round", "test accuracy", series, false); err != nil {
			return err
		}
	}
	return nil
}
