// Command dp trains with differentially private federated averaging
// (DP-FedAvg, McMahan et al. 2018): every round the server samples clients
// (Poisson with rate -q, or exactly -per-round of them), clips each update to
// -clip (or an adaptive clip norm with -adaptive), adds Gaussian noise to the
// sum and divides by the expected number of clients. A privacy budget
// (-epsilon at -delta) fixes the noise (calibrated for -rounds rounds, or
// checked when -noise is given: the run stops when the budget is spent).
// It prints the rounds with accuracy and ε spent, and a summary.
//
//	go run ./examples/dp
//	go run ./examples/dp -epsilon 2 -rounds 40 -adaptive
//	go run ./examples/dp -dataset fashion-mnist -clients 1000 -q 0.05 -epsilon 4
//
// The data sets are the quickstart's (Synthetic-IID by default,
// Synthetic(1,1) with -iid=false, Fashion-MNIST); DP needs many clients, so
// the default is 1000 synthetic clients of at most -max-samples examples
// each, a tenth of them in each round.
//
// The noise of this simulation is seeded from -seed, so runs are
// reproducible; -secure-noise draws it from crypto/rand, as a deployment
// must.
//
// With -json the last line of stdout is one JSON object with the
// quickstart's fields (rounds, final_accuracy, final_loss, params_sha256,
// wall_seconds, train_seconds, bytes_up, bytes_down, failed_updates) and
// epsilon, delta, noise_multiplier, clip_norm and budget_exhausted.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
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
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/internal/workload"
	"github.com/fedgo/fedgo/privacy"
	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/transport"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dp:", err)
		os.Exit(1)
	}
}

type options struct {
	dataset, dataDir, model, acct                    string
	clients, perRound, rounds, epochs, batch, maxSmp int
	epsilon, delta, noise, clip, q, lr, serverLR     float64
	adaptive, iid, json, quiet, secure               bool
	seed                                             uint64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("dp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.dataDir, "data", "", "directory of the Fashion-MNIST files (default: the Debian package's)")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax or mlp")
	fs.BoolVar(&o.iid, "iid", true, "IID data: Synthetic-IID, or an IID split of Fashion-MNIST (-iid=false: Synthetic(1,1), or a Dirichlet(0.5) split)")
	fs.IntVar(&o.clients, "clients", 1000, "clients N (DP needs many)")
	fs.IntVar(&o.maxSmp, "max-samples", 50, "synthetic: cap on each client's examples")
	fs.Float64Var(&o.q, "q", 0, "Poisson sampling rate q (default 0.1 unless -per-round is set)")
	fs.IntVar(&o.perRound, "per-round", 0, "fixed-size sampling of exactly this many clients a round (instead of -q)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 100 for synthetic, 40 for Fashion-MNIST)")
	fs.Float64Var(&o.epsilon, "epsilon", 5, "privacy budget ε; 0 means no budget (ε is still reported when there is noise)")
	fs.Float64Var(&o.delta, "delta", 0, "δ of the budget (default 1/N^1.1)")
	fs.Float64Var(&o.noise, "noise", 0, "noise multiplier z; 0 means calibrate it to -epsilon over -rounds (no noise without a budget)")
	fs.Float64Var(&o.clip, "clip", 1, "clip norm C of the updates (the initial one with -adaptive)")
	fs.BoolVar(&o.adaptive, "adaptive", false, "adaptive clipping toward the median update norm (Andrew et al. 2021)")
	fs.StringVar(&o.acct, "accountant", "rdp", "privacy accountant: rdp or pld")
	fs.IntVar(&o.epochs, "local-epochs", 0, "local epochs per round (default 5 for synthetic, 1 for Fashion-MNIST)")
	fs.IntVar(&o.batch, "batch", 10, "local minibatch size")
	fs.Float64Var(&o.lr, "lr", 0, "local learning rate (default 0.2 for synthetic, 0.05 for Fashion-MNIST)")
	fs.Float64Var(&o.serverLR, "server-lr", 1, "server learning rate")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice (and of the noise, unless -secure-noise)")
	fs.BoolVar(&o.secure, "secure-noise", false, "draw the noise from crypto/rand (not reproducible)")
	fs.BoolVar(&o.json, "json", false, "print a JSON summary as the last line of stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the per-round table")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fashion := o.dataset == "fashion-mnist"
	workload.PickInt(&o.rounds, fashion, 100, 40)
	workload.PickInt(&o.epochs, fashion, 5, 1)
	workload.PickFloat(&o.lr, fashion, 0.2, 0.05)
	switch {
	case o.clients < 1:
		return nil, fmt.Errorf("-clients %d, want ≥ 1", o.clients)
	case o.rounds < 1:
		return nil, fmt.Errorf("-rounds %d, want ≥ 1", o.rounds)
	case o.q != 0 && o.perRound != 0:
		return nil, errors.New("set -q (Poisson sampling) or -per-round (fixed size), not both")
	case o.perRound < 0 || o.perRound > o.clients:
		return nil, fmt.Errorf("-per-round %d, want in [1, %d]", o.perRound, o.clients)
	case o.acct != "rdp" && o.acct != "pld":
		return nil, fmt.Errorf("-accountant %q, want rdp or pld", o.acct)
	}
	if o.q == 0 && o.perRound == 0 {
		o.q = 0.1
	}
	return o, nil
}

// noiseSeed is the simulation's noise key: a ChaCha8 stream seeded from
// -seed, read by privacy.NewSource.
func noiseSeed(seed uint64) io.Reader {
	var k [32]byte
	copy(k[:], "fedgo examples/dp noise key....")
	binary.LittleEndian.PutUint64(k[24:], seed)
	return rand.NewChaCha8(k)
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	w, err := workload.Build(workload.Config{
		Dataset: o.dataset, DataDir: o.dataDir, Model: o.model, Clients: o.clients,
		Alpha: 1, Beta: 1, IID: o.iid, MaxSamples: o.maxSmp, Seed: o.seed,
	})
	if err != nil {
		return err
	}
	dcfg := privacy.CentralConfig{
		ClipNorm: o.clip, NoiseMultiplier: o.noise, TargetEpsilon: o.epsilon, Delta: o.delta,
		Rounds: o.rounds, Population: o.clients, SampleRate: o.q, Sampling: accountant.Poisson,
		Adaptive: o.adaptive,
	}
	if o.perRound > 0 {
		dcfg.Sampling, dcfg.SampleRate = accountant.FixedSize, float64(o.perRound)/float64(o.clients)
	}
	if o.acct == "pld" {
		dcfg.Accountant = accountant.KindPLD
	}
	if !o.secure {
		dcfg.Random = noiseSeed(o.seed)
	}
	dp, err := privacy.NewCentralDP(dcfg)
	if err != nil {
		return err
	}
	pool, err := w.Pool(model.TrainerConfig{LR: o.lr, Epochs: o.epochs, BatchSize: o.batch}, transport.Faults{})
	if err != nil {
		return err
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = o.rounds
	cfg.ClientsPerRound = 0
	cfg.Privacy = dp
	cfg.Optimizer = fl.SGD{LR: o.serverLR}
	cfg.Seed = o.seed
	cfg.Evaluate = w.Evaluate
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: float64(o.batch)}
	if !o.quiet {
		cols := []report.Column{{Name: "epsilon", Format: func(s fl.RoundStats) string {
			if e, ok := s.Extra[privacy.KeyEpsilon]; ok {
				return fmt.Sprintf("%.4f", e)
			}
			return "-"
		}}}
		if o.adaptive {
			cols = append(cols, report.Column{Name: "clip", Format: func(s fl.RoundStats) string {
				return fmt.Sprintf("%.4f", s.Extra[privacy.KeyClipNorm])
			}})
		}
		cfg.Observer = &report.Table{W: stdout, Extra: cols}
	}
	s, err := fl.NewServer(cfg, pool, w.Init())
	if err != nil {
		return err
	}
	if !o.quiet {
		sampling := fmt.Sprintf("Poisson q = %g (%.1f clients a round expected)", dcfg.SampleRate, dcfg.SampleRate*float64(o.clients))
		if o.perRound > 0 {
			sampling = fmt.Sprintf("%d clients a round (fixed size)", o.perRound)
		}
		fmt.Fprintf(stdout, "DP-FedAvg, %s on %s: %d clients (%d examples), %s, %d parameters\n",
			o.model, o.dataset, o.clients, w.Examples(), sampling, w.Model.NumParams())
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	h, err := s.Run(ctx)
	exhausted := errors.Is(err, privacy.ErrBudgetExhausted)
	if err != nil && !exhausted {
		return err
	}
	if exhausted {
		fmt.Fprintf(stdout, "\nstopped after round %d: %v\n", s.Round(), err)
	}
	sum := report.Summarize(h, workload.ParamsSHA256(s.Params()), time.Since(start))
	sum.Print(stdout)
	eps, _ := dp.Epsilon()
	if dp.NoiseMultiplier() > 0 {
		fmt.Fprintf(stdout, "privacy: (ε = %.4f, δ = %.3g) after %d noised rounds, noise multiplier %.4f, final clip norm %.4g\n",
			eps, dp.Delta(), dp.Rounds(), dp.NoiseMultiplier(), dp.ClipNorm())
	}
	if !o.json {
		return nil
	}
	return report.JSON(stdout, jsonSummary(sum, dp, eps, exhausted))
}

// jsonSummary merges the quickstart's summary with the privacy fields.
// (report.Summary has its own MarshalJSON, so it cannot be embedded.)
func jsonSummary(sum report.Summary, dp *privacy.CentralDP, eps float64, exhausted bool) map[string]any {
	b, _ := json.Marshal(sum)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	out["delta"] = dp.Delta()
	out["noise_multiplier"] = dp.NoiseMultiplier()
	out["clip_norm"] = dp.ClipNorm()
	out["budget_exhausted"] = exhausted
	out["epsilon"] = nil // no noise: ε is infinite, which JSON cannot hold
	if !math.IsInf(eps, 0) {
		out["epsilon"] = eps
	}
	return out
}
