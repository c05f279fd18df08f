// Command dp trains with differentially private federated averaging
// (DP-FedAvg, McMahan et al. 2018): every round the server samples clients
// (Poisson with rate -q, or exactly -per-round of them), clips each update to
// -clip (or an adaptive clip norm with -adaptive), adds the exact discrete
// Gaussian to the sum in fixed point (accounted with its proven RDP bound;
// -accountant pld uses floating-point Gaussian noise instead, the only one
// the PLD accountant bounds) and divides by the expected number of
// clients. A privacy budget
// (-epsilon at -delta) fixes the noise (calibrated for -rounds rounds, or
// checked when -noise is given: the run stops when the budget is spent).
//
//	go run ./examples/dp
//	go run ./examples/dp -epsilon 2 -rounds 40 -adaptive
//	go run ./examples/dp -dataset fashion-mnist -clients 1000 -q 0.05 -epsilon 4
//
// DP is one field of the server's config: cfg.Privacy = privacy.NewCentralDP(...),
// which gives the sampler, the noised aggregation and the budget together
// (newPrivacy, newServer). The data sets are the quickstart's
// (Synthetic-IID by default, Synthetic(1,1) with -iid=false,
// Fashion-MNIST); DP needs many clients, so the default is 1000 synthetic
// clients of at most -max-samples examples each, a tenth of them in each
// round. The noise of this simulation is seeded from -seed, so runs are
// reproducible; -secure-noise draws it from crypto/rand, as a deployment
// must.
//
// Output: the table of the rounds (with ε spent) and a summary on stdout.
// With -json, stdout carries only JSON: one object per round
// (fl.RoundStats; ε is in "extra"), then the summary as the last line: the
// quickstart's fields (rounds, final_accuracy, final_loss, params_sha256,
// wall_seconds, train_seconds, bytes_up, bytes_down, failed_updates) and
// epsilon, delta, noise_multiplier, clip_norm and budget_exhausted; a
// progress line goes to stderr.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
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
		fmt.Fprintln(os.Stderr, "dp:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dp, err := newPrivacy(o)
	if err != nil {
		return err
	}
	if d := dp.Delta(); dp.NoiseMultiplier() > 0 && d >= 1/float64(o.clients) {
		fmt.Fprintf(stderr, "dp: warning: δ = %g ≥ 1/N = %g: a mechanism that publishes one client's data in the clear meets such a δ; choose δ well below 1/N\n", d, 1/float64(o.clients))
	}
	w, err := loadWorkload(o)
	if err != nil {
		return err
	}
	s, err := newServer(o, w, dp, stdout, stderr)
	if err != nil {
		return err
	}
	if !o.json && !o.quiet {
		describe(stdout, o, w, dp)
	}
	return trainAndReport(o, s, dp, stdout)
}

// newPrivacy returns DP-FedAvg for the flags: its sampler, noised
// aggregation and budget come from this one value.
func newPrivacy(o *options) (*privacy.CentralDP, error) {
	cfg := privacy.CentralConfig{
		ClipNorm: o.clip, NoiseMultiplier: o.noise, TargetEpsilon: o.epsilon, Delta: o.delta,
		Rounds: o.rounds, Population: o.clients, SampleRate: o.q, Sampling: accountant.Poisson,
		Adaptive: o.adaptive,
	}
	if o.perRound > 0 {
		cfg.Sampling, cfg.SampleRate = accountant.FixedSize, float64(o.perRound)/float64(o.clients)
	}
	if o.acct == "pld" {
		// The PLD accountant bounds the continuous Gaussian only.
		cfg.Accountant, cfg.Mechanism = accountant.KindPLD, privacy.MechanismGaussian
	}
	if !o.secure {
		cfg.Random = noiseSeed(o.seed)
	}
	return privacy.NewCentralDP(cfg)
}

// noiseSeed is the simulation's noise key: a ChaCha8 stream seeded from
// -seed. A deployment leaves CentralConfig.Random nil (crypto/rand).
func noiseSeed(seed uint64) io.Reader {
	var k [32]byte
	copy(k[:], "fedgo examples/dp noise key....")
	binary.LittleEndian.PutUint64(k[24:], seed)
	return rand.NewChaCha8(k)
}

// workload is the data split over clients and the model to train on it.
type workload struct {
	model model.Model
	ids   []string
	index map[string]int     // of each id in ids
	train []*dataset.Dataset // by client, in the order of ids
	test  *dataset.Dataset
}

// loadWorkload generates Synthetic with at most -max-samples examples a
// client, or splits Fashion-MNIST, and builds the model.
func loadWorkload(o *options) (*workload, error) {
	w := &workload{}
	if o.dataset == "synthetic" {
		splits, err := dataset.Synthetic(dataset.SyntheticConfig{Alpha: 1, Beta: 1, IID: o.iid, Clients: o.clients, MaxSamples: o.maxSamples, Seed: o.seed})
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
	m, err := newModel(o.model, w.test.Dim, w.test.Classes)
	w.model = m
	return w, err
}

// newModel returns the softmax regression, the MLP (64 hidden units, 128
// for inputs of more than 100 features) or the niid_bench CNN, which
// takes 28×28 single-channel images only.
func newModel(name string, dim, classes int) (model.Model, error) {
	var m model.Model = model.Softmax{Dim: dim, Classes: classes}
	switch name {
	case "mlp":
		hidden := []int{64}
		if dim > 100 {
			hidden = []int{128}
		}
		m = model.MLP{Dim: dim, Hidden: hidden, Classes: classes}
	case "cnn":
		if dim != 28*28 {
			return nil, fmt.Errorf("-model cnn needs 28×28 single-channel images, not %d features", dim)
		}
		m = model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, classes)
	}
	return m, m.Validate()
}

// newServer returns the server over an in-memory pool of the clients,
// with dp as its Privacy and the printers of the output contract.
func newServer(o *options, w *workload, dp *privacy.CentralDP, stdout, stderr io.Writer) (*fl.Server, error) {
	pool, err := transport.NewMemory(transport.MemoryConfig{
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
			return fl.NewHandler(t, t), nil
		},
	})
	if err != nil {
		return nil, err
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Privacy, cfg.Seed = o.rounds, dp, o.seed // the sampler is dp's
	cfg.Optimizer = fl.SGD{LR: o.serverLR}
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch)}
	cfg.EvalEvery = 1
	cfg.Evaluate = func(ctx context.Context, params []float64) (fl.Metrics, error) {
		loss, acc, err := model.Evaluate(w.model, params, w.test)
		return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc}, err
	}
	switch {
	case o.quiet:
	case o.json:
		cfg.Observer = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "dp", Rounds: o.rounds})
	default:
		cols := []report.Column{{Name: "epsilon", Format: extra(privacy.KeyEpsilon)}}
		if o.adaptive {
			cols = append(cols, report.Column{Name: "clip", Format: extra(privacy.KeyClipNorm)})
		}
		cfg.Observer = &report.Table{W: stdout, Extra: cols}
	}
	init := make([]float64, w.model.NumParams())
	w.model.Init(rand.New(rand.NewPCG(o.seed, 0x1417)), init)
	return fl.NewServer(cfg, pool, init)
}

// extra formats a value the privacy recorded in a round's stats.
func extra(key string) func(fl.RoundStats) string {
	return func(s fl.RoundStats) string {
		if v, ok := s.Extra[key]; ok && !math.IsInf(v, 0) {
			return fmt.Sprintf("%.4f", v)
		}
		return "-"
	}
}

func describe(stdout io.Writer, o *options, w *workload, dp *privacy.CentralDP) {
	sampling := fmt.Sprintf("Poisson q = %g (%.1f clients a round expected)", o.q, o.q*float64(o.clients))
	if o.perRound > 0 {
		sampling = fmt.Sprintf("%d clients a round (fixed size)", o.perRound)
	}
	examples := 0
	for _, d := range w.train {
		examples += d.Len()
	}
	fmt.Fprintf(stdout, "DP-FedAvg, %s on %s: %d clients (%d examples), %s, %d parameters\n",
		o.model, o.dataset, o.clients, examples, sampling, w.model.NumParams())
	switch {
	case dp.NoiseMultiplier() == 0:
		fmt.Fprintf(stdout, "no noise: clipping to %g only, NOT differentially private\n\n", o.clip)
	case o.epsilon > 0:
		fmt.Fprintf(stdout, "budget (ε = %g, δ = %.3g): noise multiplier %.4f (%s), clip %g, %d rounds allowed\n\n",
			o.epsilon, dp.Delta(), dp.NoiseMultiplier(), map[bool]string{true: "given", false: "calibrated"}[o.noise > 0], o.clip, dp.MaxRounds())
	default:
		fmt.Fprintf(stdout, "no budget: noise multiplier %.4f, clip %g, δ = %.3g\n\n", dp.NoiseMultiplier(), o.clip, dp.Delta())
	}
}

// trainAndReport runs the rounds until done or the budget is spent, and
// prints the summary with the privacy spent.
func trainAndReport(o *options, s *fl.Server, dp *privacy.CentralDP, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	h, err := s.Run(ctx)
	exhausted := errors.Is(err, privacy.ErrBudgetExhausted)
	if err != nil && !exhausted {
		return err
	}
	sum := report.Summarize(h, s.Params(), time.Since(start))
	eps, _ := dp.Epsilon()
	if o.json {
		f := sum.Fields()
		f["delta"], f["noise_multiplier"], f["clip_norm"], f["budget_exhausted"] = dp.Delta(), dp.NoiseMultiplier(), dp.ClipNorm(), exhausted
		f["epsilon"] = nil // no noise: ε is infinite, which JSON cannot hold
		if !math.IsInf(eps, 0) {
			f["epsilon"] = eps
		}
		return report.WriteJSON(stdout, f)
	}
	if exhausted {
		fmt.Fprintf(stdout, "\nstopped after round %d: %v\n", s.Round(), err)
	}
	sum.Print(stdout)
	if dp.NoiseMultiplier() > 0 {
		fmt.Fprintf(stdout, "privacy: (ε = %.4f, δ = %.3g) after %d noised rounds, noise multiplier %.4f, final clip norm %.4g\n",
			eps, dp.Delta(), dp.Rounds(), dp.NoiseMultiplier(), dp.ClipNorm())
	}
	return nil
}
