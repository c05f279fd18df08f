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
// aggregation time per rule, writes a heat map of the accuracies and one
// plot of accuracy per round for each attack, and with -json prints one
// JSON object per cell: {"aggregator":…,"attack":…,"f":…,"n":…,
// "final_accuracy":…,"aggregate_ms":…}. With -explain, rules that select
// (Krum, Multi-Krum, Bulyan, MDA, MoNNA, SMEA, CAF, NNM: robust.Explainer)
// also report what they chose in the last round and how many of those
// updates were Byzantine ("explain" in the JSON). The attacks opt-alie and
// opt-ipm tune ALIE's z or IPM's ε each round against the cell's own rule
// (attack.LineMax).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/robust"
	"github.com/fedgo/fedgo/robust/attack"
	"github.com/fedgo/fedgo/transport"
)

var (
	defaultAggregators = []string{"fedavg", "mean", "median", "trimmedmean", "krum", "multikrum", "geomed", "bulyan", "cc", "normbound", "fltrust", "mda", "meamed", "caf", "nnm+trimmedmean", "bucketing+cc", "arc+mean"}
	defaultAttacks     = []string{"none", "signflip", "gaussian", "labelflip", "alie", "ipm", "minmax", "minsum", "mimic"}
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type options struct {
	aggregators, attacks []string
	dataset, dataDir     string
	model, out           string
	n, f, rounds, epochs int
	lr, alpha, ipmEps    float64
	alieZ                float64
	iid, json, explain   bool
	seed                 uint64
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
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	aggs := fs.String("aggregators", strings.Join(defaultAggregators, ","), "comma-separated rules: fedavg, "+strings.Join(robust.Names, ", ")+"; prefix nnm+, bucketing+ or arc+ for a pre-aggregation step")
	atks := fs.String("attacks", strings.Join(defaultAttacks, ","), "comma-separated attacks: "+strings.Join(attack.Names, ", ")+", opt-alie, opt-ipm")
	fs.BoolVar(&o.explain, "explain", false, "report what selecting rules chose in the last round")
	fs.IntVar(&o.f, "byzantine", 4, "f, the number of Byzantine clients")
	fs.IntVar(&o.n, "clients", 20, "n, the number of clients (all take part in every round)")
	fs.IntVar(&o.rounds, "rounds", 20, "rounds")
	fs.IntVar(&o.epochs, "local-epochs", 2, "local epochs per round")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.5 synthetic, 0.05 Fashion-MNIST)")
	fs.Float64Var(&o.ipmEps, "ipm-eps", 10, "IPM's ε: Byzantine clients send −ε·mean (Xie et al. use 0.1 against median-like rules and large ε against others)")
	fs.Float64Var(&o.alieZ, "alie-z", 0, "ALIE's z (0: the z_max of Baruch et al. for the round's n and f)")
	fs.BoolVar(&o.iid, "iid", true, "IID split of the data over the clients")
	fs.Float64Var(&o.alpha, "alpha", 0, "non-IID: Dirichlet(α) label skew over the clients (sets -iid=false)")
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic (Synthetic-IID of Li et al. 2020, pooled and split) or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax or mlp")
	fs.StringVar(&o.out, "out", ".", "directory for the plots (compare_heatmap.png, compare_curves_ATTACK.png); empty: no plots")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per cell")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.alpha > 0 {
		o.iid = false
	} else if !o.iid {
		o.alpha = 0.5
	}
	if o.lr == 0 {
		o.lr = 0.5
		if o.dataset == "fashion-mnist" {
			o.lr = 0.05
		}
	}
	if o.f < 0 || o.n < 1 || 2*o.f >= o.n {
		return nil, fmt.Errorf("need 0 ≤ 2f < n, got f = %d, n = %d", o.f, o.n)
	}
	o.aggregators = split(*aggs)
	o.attacks = split(*atks)
	for _, a := range o.aggregators {
		r, err := newRule(a, o.f, o.seed, nil)
		if err != nil {
			return nil, err
		}
		if v, ok := r.(interface{ Validate(n int) error }); ok {
			if err := v.Validate(o.n); err != nil {
				return nil, fmt.Errorf("%s with n = %d, f = %d: %w", a, o.n, o.f, err)
			}
		}
	}
	for _, a := range o.attacks {
		if _, err := o.newAttack(a, "fedavg", nil); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// newAttack builds an attack by name, with the -ipm-eps and -alie-z knobs;
// opt-alie and opt-ipm search their scale against their own copy of the
// rule agg.
func (o *options) newAttack(name, agg string, root func() ([]float64, error)) (attack.Attack, error) {
	switch name {
	case "ipm":
		return attack.IPM{Epsilon: o.ipmEps}, nil
	case "alie":
		return attack.ALIE{Z: o.alieZ}, nil
	case "opt-alie", "opt-ipm":
		r, err := newRule(agg, o.f, o.seed, root)
		if err != nil {
			return nil, err
		}
		var a attack.Scalable = attack.ALIE{}
		if name == "opt-ipm" {
			a = attack.IPM{}
		}
		return attack.LineMax{Attack: a, Rule: r}, nil
	}
	return attack.New(name)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// newRule builds an aggregation rule by name; root feeds FLTrust.
func newRule(name string, f int, seed uint64, root func() ([]float64, error)) (fl.Aggregator, error) {
	if name == "fedavg" {
		return &fl.FedAvg{}, nil
	}
	a, err := robust.New(name, f, seed)
	if err != nil {
		return nil, err
	}
	if ft, ok := a.(*robust.FLTrust); ok {
		ft.Root = root
	}
	return a, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	w, err := workload.Build(workload.Config{
		Dataset: o.dataset, DataDir: o.dataDir, Model: o.model, Clients: o.n,
		IID: o.iid, Dirichlet: o.alpha, Resplit: true, MaxSamples: 300, Seed: o.seed,
	})
	if err != nil {
		return err
	}
	// FLTrust's root data set: 100 clean examples taken from the test set,
	// which are then left out of the evaluation.
	rootN := min(100, w.Test.Len()/10)
	idx := make([]int, w.Test.Len())
	for i := range idx {
		idx[i] = i
	}
	root, rest := w.Test.Subset(idx[:rootN]), w.Test.Subset(idx[rootN:])
	w.Test = rest

	byz := map[string]bool{}
	for _, id := range w.IDs[o.n-o.f:] {
		byz[id] = true
	}
	if !o.json {
		fmt.Fprintf(stdout, "%s on %s: n = %d clients, f = %d Byzantine, %d rounds, %d parameters\n\n",
			o.model, o.dataset, o.n, o.f, o.rounds, w.Model.NumParams())
	}
	var cells []*Cell
	for _, atk := range o.attacks {
		for _, agg := range o.aggregators {
			c := runCell(w, o, agg, atk, byz, root)
			cells = append(cells, c)
			if o.json {
				if err := report.JSON(stdout, c); err != nil {
					return err
				}
			}
		}
	}
	if !o.json {
		printTable(stdout, o, cells)
	}
	if o.out != "" {
		if err := plots(o, cells); err != nil {
			return err
		}
		if !o.json {
			fmt.Fprintf(stdout, "\nplots: %s\n", filepath.Join(o.out, "compare_*.png"))
		}
	}
	return nil
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

func runCell(w *workload.Workload, o *options, aggName, atkName string, byz map[string]bool, root *dataset.Dataset) *Cell {
	c := &Cell{Aggregator: aggName, Attack: atkName, F: o.f, N: o.n}
	fail := func(err error) *Cell { c.Error = err.Error(); return c }
	tc := model.TrainerConfig{LR: o.lr, Epochs: o.epochs, BatchSize: 10}
	ccfg := fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: 10}
	var s *fl.Server
	rootTrainer, err := model.NewTrainer(model.TrainerConfig{Model: w.Model, ID: "server-root", Train: root, LR: o.lr, Epochs: o.epochs, BatchSize: 10, Seed: o.seed})
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
		t, err := w.Trainer(id, tc)
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
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: w.IDs, Factory: factory, Seed: o.seed})
	if err != nil {
		return fail(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed = o.rounds, 0, o.seed
	cfg.Aggregator = &attack.Byzantine{Attack: atk, Clients: byz, Rule: tm, Seed: o.seed}
	cfg.ClientConfig = ccfg
	cfg.Evaluate = w.Evaluate
	cfg.MaxAborted = o.rounds // report a failing rule as a result, not an error
	cfg.Observer = fl.ObserverFuncs{End: func(st fl.RoundStats) {
		c.accuracy = append(c.accuracy, st.Central[fl.KeyAccuracy])
	}}
	if s, err = fl.NewServer(cfg, pool, w.Init()); err != nil {
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

func plots(o *options, cells []*Cell) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
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
	if err := report.HeatMap(filepath.Join(o.out, "compare_heatmap.png"), title, o.aggregators, o.attacks, grid, lo, hi); err != nil {
		return err
	}
	for j, atk := range o.attacks {
		var series []report.Series
		for i, agg := range o.aggregators {
			c := cells[j*len(o.aggregators)+i]
			xs := make([]float64, len(c.accuracy))
			for r := range xs {
				xs[r] = float64(r + 1)
			}
			series = append(series, report.Series{Name: agg, X: xs, Y: c.accuracy})
		}
		path := filepath.Join(o.out, "compare_curves_"+atk+".png")
		if err := report.LinePlot(path, "accuracy per round under "+atk, "round", "test accuracy", series, false); err != nil {
			return err
		}
	}
	return nil
}
