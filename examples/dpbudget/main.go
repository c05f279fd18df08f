// Command dpbudget answers "what does my plan cost?" without training: the
// (ε, δ) of -steps rounds of the sampled Gaussian mechanism with noise
// multiplier -sigma and sampling rate -q, or, with -target-epsilon, the
// smallest noise multiplier that meets a budget.
//
//	go run ./examples/dpbudget -q 0.01 -sigma 1.1 -steps 1000 -delta 1e-5
//	go run ./examples/dpbudget -q 0.01 -steps 1000 -target-epsilon 3
//	go run ./examples/dpbudget -sampling fixed -n 1000 -q 0.05 -sigma 1 -steps 200
//	go run ./examples/dpbudget -accountant pld -q 0.01 -sigma 1.1 -steps 1000
//
// Sampling is Poisson with rate q (add/remove one client), or fixed-size
// with -sampling fixed: exactly q·n of n clients each step (replace one
// client; only the RDP accountant bounds it). The accountant's ε is an upper
// bound, never an estimate.
//
// Output: the answer in words on stdout. With -json, stdout is one JSON
// object and nothing else: epsilon, delta, noise_multiplier, steps, q,
// accountant, sampling, n (fixed-size sampling), and order (the optimal RDP
// order, with -accountant rdp).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/privacy/accountant"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "dpbudget:", err)
		os.Exit(1)
	}
}

// errUsage marks an error the flag package has already printed.
var errUsage = errors.New("usage")

// Answer is the JSON object printed by -json.
type Answer struct {
	Epsilon         float64  `json:"epsilon"`
	Delta           float64  `json:"delta"`
	NoiseMultiplier float64  `json:"noise_multiplier"`
	Steps           int      `json:"steps"`
	Q               float64  `json:"q"`
	Accountant      string   `json:"accountant"`
	Sampling        string   `json:"sampling"`
	Population      int      `json:"n,omitempty"`
	Order           *float64 `json:"order,omitempty"`
}

type options struct {
	q, sigma, delta, target float64
	steps, n                int
	acct, sampling          string
	rdpMethod               accountant.RDPMethod
	json                    bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("dpbudget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Float64Var(&o.q, "q", 0.01, "sampling rate q in (0, 1]: Poisson rate, or m/n for fixed-size sampling")
	fs.Float64Var(&o.sigma, "sigma", 0, "noise multiplier σ (noise standard deviation / L2 sensitivity)")
	fs.IntVar(&o.steps, "steps", 1000, "number of rounds (steps)")
	fs.Float64Var(&o.delta, "delta", 1e-5, "δ")
	fs.StringVar(&o.acct, "accountant", "rdp", "accountant: rdp or pld")
	fs.StringVar(&o.sampling, "sampling", "poisson", "sampling: poisson or fixed")
	fs.IntVar(&o.n, "n", 0, "population size, for -sampling fixed")
	fs.Float64Var(&o.target, "target-epsilon", 0, "calibrate σ to meet this ε instead of taking -sigma")
	method := fs.String("rdp-method", "exact", "RDP at fractional orders (Poisson sampling, -accountant rdp): exact (the paper's formula, tightest), opacus (as Opacus / TF Privacy compute it), dp_accounting (as dp_accounting >= 0.4.4, which sums |terms|)")
	fs.BoolVar(&o.json, "json", false, "print only the answer as one JSON object")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	m, err := accountant.ParseRDPMethod(*method)
	if err != nil {
		return nil, err
	}
	o.rdpMethod = m
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.acct != "rdp" && o.acct != "pld":
		return nil, fmt.Errorf("-accountant %q, want rdp or pld", o.acct)
	case o.sampling != "poisson" && o.sampling != "fixed":
		return nil, fmt.Errorf("-sampling %q, want poisson or fixed", o.sampling)
	case o.sampling == "fixed" && o.n < 1:
		return nil, errors.New("-sampling fixed needs -n, the population size")
	case o.sampling == "poisson" && o.n != 0:
		return nil, errors.New("-n applies to -sampling fixed only")
	case o.target == 0 && o.sigma == 0:
		return nil, errors.New("give -sigma, or -target-epsilon to calibrate it")
	case o.target != 0 && o.sigma != 0:
		return nil, errors.New("give -sigma or -target-epsilon, not both")
	case o.steps < 1:
		return nil, fmt.Errorf("-steps %d, want ≥ 1", o.steps)
	}
	return o, nil
}

// Compute returns the answer for the options, from the accountant.
func compute(o *options) (Answer, error) {
	a := Answer{Delta: o.delta, Steps: o.steps, Q: o.q, Accountant: o.acct, Sampling: o.sampling, NoiseMultiplier: o.sigma}
	sampling := accountant.Poisson
	if o.sampling == "fixed" {
		sampling, a.Population = accountant.FixedSize, o.n
	}
	kind := accountant.KindRDP
	if o.acct == "pld" {
		kind = accountant.KindPLD
	}
	if o.target != 0 {
		s, err := accountant.CalibrateNoise(accountant.Target{
			Epsilon: o.target, Delta: o.delta, SampleRate: o.q, Steps: o.steps, Sampling: sampling, Population: o.n,
		}, kind)
		if err != nil {
			return a, err
		}
		a.NoiseMultiplier = s
	}
	step := accountant.Step{NoiseMultiplier: a.NoiseMultiplier, SampleRate: o.q, Sampling: sampling, Population: o.n}
	if kind == accountant.KindPLD {
		acc, err := accountant.NewPLD(accountant.PLDConfig{})
		if err != nil {
			return a, err
		}
		if err := acc.Compose(step, o.steps); err != nil {
			return a, err
		}
		a.Epsilon, err = acc.Epsilon(o.delta)
		return a, err
	}
	acc, err := accountant.NewRDPWith(nil, o.rdpMethod)
	if err != nil {
		return a, err
	}
	if err := acc.Compose(step, o.steps); err != nil {
		return a, err
	}
	eps, order, err := acc.Epsilon(o.delta)
	if err != nil {
		return a, err
	}
	a.Epsilon, a.Order = eps, &order
	return a, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	a, err := compute(o)
	if err != nil {
		return err
	}
	if o.json {
		return report.WriteJSON(stdout, a)
	}
	plan := fmt.Sprintf("%d steps, Poisson sampling with q = %g", a.Steps, a.Q)
	if a.Sampling == "fixed" {
		plan = fmt.Sprintf("%d steps, fixed-size sampling of %g of %d clients (q = %g)", a.Steps, a.Q*float64(a.Population), a.Population, a.Q)
	}
	if o.target != 0 {
		fmt.Fprintf(stdout, "To meet ε = %g at δ = %g over %s,\nuse noise multiplier σ = %.4f: it gives ε = %.4f.\n", o.target, a.Delta, plan, a.NoiseMultiplier, a.Epsilon)
	} else {
		fmt.Fprintf(stdout, "%s with noise multiplier σ = %g\nis (ε = %.4f, δ = %g)-differentially private.\n", capitalize(plan), a.NoiseMultiplier, a.Epsilon, a.Delta)
	}
	if a.Order != nil {
		fmt.Fprintf(stdout, "Accountant: RDP (optimal order α = %g); ε is an upper bound.\n", *a.Order)
	} else {
		fmt.Fprintln(stdout, "Accountant: PLD; ε is an upper bound.")
	}
	return nil
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
