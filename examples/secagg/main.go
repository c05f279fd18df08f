// Command secagg runs secure aggregation (SecAgg / SecAgg+, package
// secagg) among -n simulated clients holding random vectors of length
// -dim, some of which drop out at a random step (-drop), and checks that
// the server's unmasked sum equals the plain sum of the survivors'
// quantized inputs. It prints, per protocol step, the time spent by the
// clients and by the server and the bytes each way.
//
//	go run ./examples/secagg
//	go run ./examples/secagg -n 1000 -dim 100000 -drop 0.1
//	go run ./examples/secagg -n 50 -k 10 -t 6 -malicious -seed 1
//	go run ./examples/secagg -fl -n 30 -rounds 10
//
// It drives the secagg state machines directly, in one process: every
// message is encoded by its sender and decoded by its receiver, so the
// bytes are those of a deployment. -k 0 lets secagg.ChooseParams pick the
// SecAgg+ degree and threshold (40 bits of security against 1/3 corrupt
// clients, 20 bits of correctness for a dropout fraction of -drop plus
// three standard deviations; the complete graph with a majority threshold
// when n is too small for the search); -k n-1 is the complete graph (the
// original SecAgg). -t 0 with -k set means ⌊k/2⌋+1. A client whose
// message fails (too few neighbours left to share with, for example)
// leaves the round, as a deployment's would.
//
// Randomness: with -seed every secret (keys, self masks, the inputs, the
// drops, the graph seed) comes from seeded generators, so a run repeats
// exactly. Without it secrets come from crypto/rand, as they must in a
// deployment.
//
// -fl runs the quickstart workload instead (softmax regression on
// Synthetic(1,1) over -n clients, -per-round of them a round) for -rounds
// rounds through the secure round workflow (package secagg/fedround) over
// the in-memory transport, and prints the quickstart's table: secure
// aggregation inside training.
//
// Output: a table of the steps and a verdict on stdout. With -json, stdout
// carries only JSON: one object per protocol step (step, clients,
// bytes_up, bytes_down, client_ms_each, server_ms), then the summary as
// the last line: n, dim, k, t, survivors, dropped (vanished), failed (left
// on an error), sum_ok, client_ms (mean time per client over all its
// steps), server_ms (total server time), bytes_per_client (mean bytes a
// client sends and receives). With -fl -json, one object per round
// (fl.RoundStats), then the quickstart's summary; a progress line goes to
// stderr.
package main

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
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
	"github.com/fedgo/fedgo/secagg"
	"github.com/fedgo/fedgo/secagg/fedround"
	"github.com/fedgo/fedgo/transport"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "secagg:", err)
		os.Exit(1)
	}
}

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

type options struct {
	n, dim, k, t, bits       int
	drop, clip, weightCap    float64
	malicious, json, trust   bool
	seed                     uint64
	seeded                   bool
	fl                       bool
	rounds, perRound, epochs int
	lr                       float64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("secagg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 100, "number of clients")
	fs.IntVar(&o.dim, "dim", 10000, "vector length")
	fs.Float64Var(&o.drop, "drop", 0.1, "probability that a client drops out (at a random step)")
	fs.IntVar(&o.k, "k", 0, "SecAgg+ degree; 0 chooses it (and t) with secagg.ChooseParams, n-1 is the complete graph")
	fs.IntVar(&o.t, "t", 0, "threshold; 0 means ⌊k/2⌋+1 with -k, chosen with -k 0")
	fs.IntVar(&o.bits, "bits", 32, "bits of the aggregation ring Z_{2^b}")
	fs.BoolVar(&o.malicious, "malicious", false, "malicious-server mode (signed keys, consistency check)")
	fs.BoolVar(&o.trust, "trust-dealers", false, "clients skip the Feldman check of the shares they receive")
	fs.Uint64Var(&o.seed, "seed", 0, "seed every random choice (default: crypto/rand, as in a deployment)")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per step (per round with -fl), the summary last")
	fs.BoolVar(&o.fl, "fl", false, "train the quickstart workload through secure aggregation instead")
	fs.IntVar(&o.rounds, "rounds", 5, "-fl: rounds")
	fs.IntVar(&o.perRound, "per-round", 10, "-fl: clients sampled per round")
	fs.IntVar(&o.epochs, "local-epochs", 20, "-fl: local epochs per round")
	fs.Float64Var(&o.lr, "lr", 0.01, "-fl: local learning rate")
	fs.Float64Var(&o.clip, "clip", 1, "-fl: range [-clip, clip] of each coordinate of a client's delta")
	fs.Float64Var(&o.weightCap, "weight-cap", 0, "-fl: weigh each client by min(examples/cap, 1) in the secure mean; 0 means the unweighted mean")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			o.seeded = true
		}
	})
	switch {
	case o.n < 2 || o.n > secagg.MaxClients:
		return nil, fmt.Errorf("-n %d: want 2..%d", o.n, secagg.MaxClients)
	case o.dim < 1 || o.dim > secagg.MaxDim:
		return nil, fmt.Errorf("-dim %d: want 1..%d", o.dim, secagg.MaxDim)
	case !(o.drop >= 0 && o.drop < 1):
		return nil, fmt.Errorf("-drop %v: want a probability in [0, 1)", o.drop)
	case o.k < 0 || o.t < 0:
		return nil, fmt.Errorf("-k %d -t %d: want ≥ 0", o.k, o.t)
	case o.k == 0 && o.t != 0:
		return nil, errors.New("-t needs -k")
	case o.bits < 1 || o.bits > 64:
		return nil, fmt.Errorf("-bits %d: want 1..64", o.bits)
	case o.fl && o.perRound > o.n:
		return nil, fmt.Errorf("-per-round %d: more than the %d clients (-n)", o.perRound, o.n)
	case o.rounds < 1 || o.perRound < 2 || o.epochs < 1:
		return nil, fmt.Errorf("-rounds %d -per-round %d -local-epochs %d: want ≥ 1, ≥ 2, ≥ 1", o.rounds, o.perRound, o.epochs)
	case !(o.lr > 0) || !(o.clip > 0) || o.clip > 1e300 || o.lr > 1e300:
		return nil, fmt.Errorf("-lr %v -clip %v: want finite and > 0", o.lr, o.clip)
	case !(o.weightCap >= 0) || o.weightCap > 1e300:
		return nil, fmt.Errorf("-weight-cap %v: want finite and ≥ 0", o.weightCap)
	}
	if o.k > 0 && o.t == 0 {
		o.t = o.k/2 + 1
		if o.malicious && o.k < o.n-1 {
			o.t = o.k/2 + 2 // SecAgg+ in malicious mode (secagg.Params.Tolerance)
		}
	}
	return o, nil
}

// config returns the fedround config the options describe for rounds of n
// clients (it fixes k and t the way both modes use them). The parameter
// search plans for the drop rate plus three standard deviations of the
// number of clients that drop, since each drops independently.
func (o *options) config(n int) fedround.Config {
	cfg := fedround.DefaultConfig()
	cfg.Clip, cfg.Bits, cfg.Malicious, cfg.WeightCap = o.clip, o.bits, o.malicious, o.weightCap
	if o.drop > 0 {
		cfg.Dropout = min(o.drop+3*math.Sqrt(o.drop*(1-o.drop)/float64(n)), 0.9)
	}
	if o.k > 0 {
		cfg.Threshold = o.t
		if o.k != o.n-1 {
			cfg.Neighbors = o.k
		}
	}
	return cfg
}

// randSource returns a reader for secrets: seeded from (seed, stream) with
// -seed, else crypto/rand.
func (o *options) randSource(stream uint64) io.Reader {
	if !o.seeded {
		return crand.Reader
	}
	var key [32]byte
	for i := range 8 {
		key[i] = byte(o.seed >> (8 * i))
		key[8+i] = byte(stream >> (8 * i))
	}
	return rand.NewChaCha8(key)
}

// rng returns a math/rand generator for stream: seeded with -seed, else
// seeded from crypto/rand.
func (o *options) rng(stream uint64) *rand.Rand {
	var key [32]byte
	if _, err := io.ReadFull(o.randSource(stream), key[:]); err != nil {
		panic(err) // crypto/rand and ChaCha8 never fail
	}
	return rand.New(rand.NewChaCha8(key))
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.fl {
		return runFL(ctx, o, stdout, stderr)
	}
	res, err := simulate(ctx, o)
	if err != nil {
		return err
	}
	if o.json {
		err = res.writeJSON(stdout)
	} else {
		res.print(stdout)
	}
	if err == nil && !res.sumOK {
		err = errors.New("the unmasked sum differs from the plain sum of the survivors' inputs")
	}
	return err
}

// runFL trains the quickstart workload through the secure workflow:
// secure aggregation is the server's Exchange (fedround.New) and one
// middleware on each client (fedround.Middleware).
func runFL(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	seed := o.seed
	if !o.seeded {
		seed = 1 // the data and the model's init; secrets stay crypto/rand
	}
	train, test, err := syntheticClients(o.n, seed)
	if err != nil {
		return err
	}
	m := model.Softmax{Dim: test.Dim, Classes: test.Classes}
	cfg := o.config(min(o.perRound, o.n))
	cfg.Rand = o.randSource(streamSeed)
	ids, handlers, pki, err := secureClients(o, m, train, seed)
	if err != nil {
		return err
	}
	cfg.PeerKeys = pki
	exchange, err := fedround.New(cfg)
	if err != nil {
		return err
	}
	pool, err := transport.NewMemory(transport.MemoryConfig{IDs: ids, Seed: seed, Factory: handlers})
	if err != nil {
		return err
	}
	s, err := flServer(o, m, test, exchange, pool, seed, stdout, stderr)
	if err != nil {
		return err
	}
	p, err := cfg.RoundParams(min(o.perRound, o.n), m.NumParams())
	if err != nil {
		return err
	}
	if !o.json {
		mean := "unweighted mean"
		if cfg.WeightCap > 0 {
			mean = fmt.Sprintf("weights capped at %g examples", cfg.WeightCap)
		}
		fmt.Fprintf(stdout, "softmax on synthetic: %d clients, %d per round, %d parameters; secure aggregation k=%d t=%d, %d bits, clip %g, %s\n\n",
			o.n, min(o.perRound, o.n), m.NumParams(), degree(p), p.Threshold, p.Bits, cfg.Clip, mean)
	}
	start := time.Now()
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	sum := report.Summarize(h, s.Params(), time.Since(start))
	if o.json {
		return report.WriteJSON(stdout, sum)
	}
	sum.Print(stdout)
	return nil
}

// flServer returns the server of -fl: the secure exchange, -per-round
// clients a round, the test set evaluated every round.
func flServer(o *options, m model.Model, test *dataset.Dataset, exchange fl.Exchange, pool fl.Pool, seed uint64, stdout, stderr io.Writer) (*fl.Server, error) {
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Exchange = o.rounds, min(o.perRound, o.n), exchange
	cfg.Seed, cfg.MaxAborted = seed, o.rounds
	cfg.ClientConfig = fl.Config{fl.KeyLR: o.lr, fl.KeyEpochs: float64(o.epochs), fl.KeyBatchSize: 10}
	cfg.EvalEvery = 1
	cfg.Evaluate = func(ctx context.Context, params []float64) (fl.Metrics, error) {
		loss, acc, err := model.Evaluate(m, params, test)
		return fl.Metrics{fl.KeyLoss: loss, fl.KeyAccuracy: acc}, err
	}
	cfg.Observer = &report.Table{W: stdout}
	if o.json {
		cfg.Observer = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "secagg", Rounds: o.rounds})
	}
	init := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(seed, 0x1417)), init)
	return fl.NewServer(cfg, pool, init)
}

// syntheticClients returns the training data of n clients of
// Synthetic(1,1) and their pooled test data.
func syntheticClients(n int, seed uint64) ([]*dataset.Dataset, *dataset.Dataset, error) {
	splits, err := dataset.Synthetic(dataset.SyntheticConfig{Alpha: 1, Beta: 1, Clients: n, Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	train, tests := make([]*dataset.Dataset, n), make([]*dataset.Dataset, n)
	for i, s := range splits {
		train[i], tests[i] = s.Train, s.Test
	}
	test, err := dataset.Concat(tests...)
	return train, test, err
}

// secureClients returns the client ids and a factory of their handlers: a
// trainer behind the secure-aggregation middleware, whose state persists
// across the round's steps, and -drop's vanishing. In the malicious mode
// each client has an ed25519 identity, and pki holds the public keys.
func secureClients(o *options, m model.Model, train []*dataset.Dataset, seed uint64) ([]string, func(string) (fl.Handler, error), map[string]ed25519.PublicKey, error) {
	steps := []string{fedround.TypeTrain, fedround.TypeShareKeys, fedround.TypeMaskedInput, fedround.TypeUnmask}
	if o.malicious {
		// A client that vanishes at the reveal step (the answer to
		// share-keys) stops the round; here clients vanish after it.
		steps = []string{fedround.TypeTrain, fedround.TypeSeed, fedround.TypeMaskedInput, fedround.TypeUnmask, fedround.TypeConsistency}
	}
	ids := make([]string, len(train))
	index := make(map[string]int, len(train))
	states := make(map[string]*fedround.ClientState, len(train))
	ccfgs := make(map[string]fedround.ClientConfig, len(train))
	var pki map[string]ed25519.PublicKey
	if o.malicious {
		pki = make(map[string]ed25519.PublicKey, len(train))
	}
	for i := range train {
		id := fmt.Sprintf("client-%05d", i)
		ids[i], index[id], states[id] = id, i, &fedround.ClientState{}
		// TrustParams: the simulated clients accept the small rounds of
		// this example, which no parameters make safe against 1/3 corrupt
		// clients (in deployment, leave the client's parameter check on).
		cc := fedround.ClientConfig{Rand: o.randSource(uint64(i) + 1), TrustDealers: o.trust, TrustParams: true}
		if o.malicious {
			pub, priv, err := ed25519.GenerateKey(o.randSource(uint64(i) + 1<<41))
			if err != nil {
				return nil, nil, nil, err
			}
			cc.Identity, pki[id] = priv, pub
		}
		ccfgs[id] = cc
	}
	for id, cc := range ccfgs {
		cc.PeerKeys = pki
		ccfgs[id] = cc
	}
	factory := func(id string) (fl.Handler, error) {
		i := index[id]
		t, err := model.NewTrainer(model.TrainerConfig{
			Model: m, ID: id, Train: train[i], LR: o.lr, Epochs: o.epochs, BatchSize: min(10, train[i].Len()),
			Seed: seed ^ (uint64(i+1) * 0x9e3779b97f4a7c15),
		})
		if err != nil {
			return nil, err
		}
		h := fl.Wrap(fl.NewHandler(t, t), fedround.Middleware(states[id], ccfgs[id]))
		return dropper(h, id, seed, o.drop, steps), nil
	}
	return ids, factory, pki, nil
}

// dropper makes a client vanish, with probability drop in each round, at a
// step drawn uniformly from steps (the same in every run with the seed).
func dropper(h fl.Handler, id string, seed uint64, drop float64, steps []string) fl.Handler {
	if drop == 0 {
		return h
	}
	return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		r := rand.New(rand.NewPCG(seed^hash(id), uint64(m.Round)))
		if r.Float64() < drop && steps[r.IntN(len(steps))] == m.Type {
			return nil, fmt.Errorf("client %s vanished at %s: %w", id, m.Type, fl.ErrTimeout)
		}
		return h.Handle(ctx, m)
	})
}

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func degree(p secagg.Params) int {
	if p.Neighbors == 0 {
		return p.N - 1
	}
	return p.Neighbors
}
