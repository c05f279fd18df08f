// Command network runs the quickstart workload as a deployment on one
// machine: a server process and one process per client, talking HTTPS
// (TLS 1.3, client certificates from a throwaway CA) over loopback. It can
// kill and restart a fraction of the clients during the run, and kill the
// server once and restart it from its checkpoint. It prints the
// quickstart's table (each round once, across server restarts) and
// summary; with -json stdout holds only JSON, one fl.RoundStats object per
// round, then the quickstart's JSON summary, whose params_sha256 equals
// the in-memory quickstart's for the same seed and flags when nothing goes
// wrong; the other lines and a progress line go to stderr.
//
//	go run ./examples/network -clients 20 -rounds 20
//	go run ./examples/network -clients 100 -rounds 50 -kill 0.2 -restart-server
//
// The program starts its server and clients by running itself again with
// the environment variable FEDGO_NETWORK_ROLE set to "server" or
// "client" (they are the programs of examples/server and examples/client).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fedgo/fedgo/examples/network/node"
	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/transport"
)

// roleEnv names the environment variable that makes this program act as
// the server or a client.
const roleEnv = "FEDGO_NETWORK_ROLE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Getenv(roleEnv), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, node.ErrUsage):
		os.Exit(2) // the flag package has printed the problem
	case err != nil:
		fmt.Fprintln(os.Stderr, "network:", err)
		os.Exit(1)
	}
}

// dispatch runs the role's program: "" is the orchestrator.
func dispatch(ctx context.Context, role string, args []string, stdout, stderr io.Writer) error {
	switch role {
	case "":
		return run(ctx, args, stdout, stderr)
	case "server":
		return node.Server(ctx, args, stdout, stderr)
	case "client":
		return node.Client(ctx, args, stdout, stderr)
	}
	return fmt.Errorf("unknown %s %q", roleEnv, role)
}

type options struct {
	clients, rounds, perRound int
	kill                      float64
	restartServer             bool
	seed                      uint64
	dataset, model, strategy  string
	json, quiet               bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("network", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "clients", 30, "client processes, 1 to 1000")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (default 50 for synthetic, 30 for Fashion-MNIST)")
	fs.IntVar(&o.perRound, "per-round", 10, "clients sampled per round, at most -clients")
	fs.Float64Var(&o.kill, "kill", 0, "fraction of the clients killed and restarted during the run")
	fs.BoolVar(&o.restartServer, "restart-server", false, "kill the server once mid-run and restart it from its checkpoint")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.StringVar(&o.dataset, "dataset", "synthetic", "data set: synthetic or fashion-mnist")
	fs.StringVar(&o.model, "model", "softmax", "model: softmax or mlp")
	fs.StringVar(&o.strategy, "strategy", "fedavg", "server strategy")
	fs.BoolVar(&o.json, "json", false, "stdout only JSON: one object per round, the summary last (the other lines go to stderr)")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the rounds, only the summary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", node.ErrUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rounds"] {
		o.rounds = 50
		if o.dataset == "fashion-mnist" {
			o.rounds = 30
		}
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if o.clients < 1 || o.clients > 1000 {
		errs = append(errs, fmt.Errorf("-clients %d: want 1 to 1000", o.clients))
	}
	if o.rounds < 1 {
		errs = append(errs, fmt.Errorf("-rounds %d: want at least 1", o.rounds))
	}
	if o.perRound < 1 || o.perRound > o.clients {
		errs = append(errs, fmt.Errorf("-per-round %d: want 1..%d (the clients)", o.perRound, o.clients))
	}
	if !(o.kill >= 0 && o.kill <= 1) {
		errs = append(errs, fmt.Errorf("-kill %v: want a fraction in [0, 1]", o.kill))
	}
	return o, errors.Join(errs...)
}

// proc is a child process.
type proc struct {
	cmd   *exec.Cmd
	lines chan string // its stdout (JSON lines), for the server; nil for a client
}

// roundOf returns the round stats on a line of the server's JSON output,
// and false for another line (the summary).
func roundOf(line string) (fl.RoundStats, bool) {
	var probe struct {
		Round *int `json:"round"`
	}
	var s fl.RoundStats
	if json.Unmarshal([]byte(line), &probe) != nil || probe.Round == nil || json.Unmarshal([]byte(line), &s) != nil {
		return s, false
	}
	return s, true
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func (p *proc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	d, err := newDeployment(o, stdout, stderr)
	if err != nil {
		return err
	}
	defer d.close()
	start := time.Now()
	if err := d.start(); err != nil {
		return err
	}
	if err := d.follow(ctx); err != nil {
		return err
	}
	if err := d.checkHistory(); err != nil {
		return err
	}
	return d.report(time.Since(start))
}

// deployment is a server process and its client processes, sharing a
// temporary directory (the dev PKI, the checkpoint, the summary, the log).
type deployment struct {
	o                *options
	self, tmp        string
	logs             *os.File
	stdout, info     io.Writer
	rounds           fl.Observer // prints each round once
	server           *proc
	url              string
	clients          []*proc
	last             int // the last round printed
	killed, restarts int
}

// newDeployment makes the directory, the throwaway CA and the printers:
// the rounds as a table, or as JSON lines with a progress line on stderr
// (info, where the lines for a person go, is then stderr too).
func newDeployment(o *options, stdout, stderr io.Writer) (*deployment, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	d := &deployment{o: o, self: self, stdout: stdout, info: stdout, clients: make([]*proc, o.clients)}
	if d.tmp, err = os.MkdirTemp("", "fedgo-network-"); err != nil {
		return nil, err
	}
	if _, err := transport.NewDevPKI(d.path("pki"), nil); err != nil {
		os.RemoveAll(d.tmp)
		return nil, err
	}
	if d.logs, err = os.Create(d.path("log")); err != nil {
		os.RemoveAll(d.tmp)
		return nil, err
	}
	d.rounds = &report.Table{W: stdout}
	if o.json {
		d.info = stderr
		d.rounds = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "network", Rounds: o.rounds})
	}
	if o.quiet {
		d.rounds = nil
	}
	return d, nil
}

func (d *deployment) path(name string) string { return filepath.Join(d.tmp, name) }

// close stops every process and removes the directory.
func (d *deployment) close() {
	for _, c := range d.clients {
		if c != nil {
			c.stop()
		}
	}
	if d.server != nil {
		d.server.kill()
	}
	d.logs.Close()
	os.RemoveAll(d.tmp)
}

// common returns the workload flags, the same for the server and clients.
func (d *deployment) common() []string {
	o := d.o
	return []string{"-clients", fmt.Sprint(o.clients), "-rounds", fmt.Sprint(o.rounds), "-per-round", fmt.Sprint(o.perRound),
		"-seed", fmt.Sprint(o.seed), "-dataset", o.dataset, "-model", o.model, "-strategy", o.strategy}
}

// start starts the server on a free loopback port, then every client.
func (d *deployment) start() error {
	var err error
	if d.server, d.url, err = d.startServer("127.0.0.1:0", false); err != nil {
		return err
	}
	for i := range d.clients {
		if d.clients[i], err = d.startClient(i); err != nil {
			return err
		}
	}
	return nil
}

// startServer runs the server with -json and returns it and its URL once
// it serves. Its stdout (JSON lines) goes to its lines; its stderr to the
// log file, and a "resumed" line also to info.
func (d *deployment) startServer(addr string, resume bool) (*proc, string, error) {
	a := append([]string{"-addr", addr, "-dev-dir", d.path("pki"), "-checkpoint", d.path("ckpt"),
		"-summary", d.path("summary.json"), "-client-timeout", "10s", "-json"}, d.common()...)
	if resume {
		a = append(a, "-resume")
	}
	cmd := exec.Command(d.self, a...)
	cmd.Env = append(os.Environ(), roleEnv+"=server")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &proc{cmd: cmd, lines: make(chan string, 64)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	urls := make(chan string, 1)
	go func() {
		defer close(urls)
		sc := bufio.NewScanner(errOut)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.logs, line)
			if url, ok := strings.CutPrefix(line, "serving on "); ok {
				urls <- url
			}
			if strings.HasPrefix(line, "resumed") && !d.o.quiet {
				fmt.Fprintln(d.info, line)
			}
		}
	}()
	if url, ok := <-urls; ok {
		return p, url, nil
	}
	for range p.lines {
	}
	p.cmd.Wait()
	return nil, "", fmt.Errorf("the server did not start (its log: %s)", tail(d.logs.Name()))
}

// startClient runs client i of the partition; its stderr goes to the log.
func (d *deployment) startClient(i int) (*proc, error) {
	a := append([]string{"-server", d.url, "-dev", d.path("pki"), "-partition", fmt.Sprintf("%d/%d", i, d.o.clients)}, d.common()...)
	cmd := exec.Command(d.self, a...)
	cmd.Env = append(os.Environ(), roleEnv+"=client")
	cmd.Stderr = d.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd}, nil
}

// printRound prints the round on a line of the server's output, and
// reports whether it was new. A restarted server runs again the round it
// was killed in, and perhaps one it had printed but not yet checkpointed:
// each round is printed once.
func (d *deployment) printRound(line string) bool {
	s, ok := roundOf(line)
	if !ok || s.Round <= d.last {
		return false
	}
	d.last = s.Round
	if d.rounds != nil {
		d.rounds.RoundEnd(s)
	}
	return true
}

// follow prints the server's rounds until it exits, and injects the
// faults: half of the -kill victims die as round ⌈R/4⌉ ends, the other
// half as round ⌈R/2⌉ ends (each wave restarted 300 ms later); with
// -restart-server the server dies as round ⌈3R/5⌉ ends (that is, while
// the next round runs) and is restarted from its checkpoint.
func (d *deployment) follow(ctx context.Context) error {
	o := d.o
	rng := rand.New(rand.NewPCG(o.seed, 0xfa17))
	victims := rng.Perm(o.clients)[:int(math.Round(o.kill*float64(o.clients)))]
	waves := map[int][]int{
		max(1, (o.rounds+3)/4): victims[:len(victims)/2],
		max(1, (o.rounds+1)/2): victims[len(victims)/2:],
	}
	serverKillRound := max(1, (3*o.rounds+4)/5)
	var down []int // clients killed, to be restarted when restartC fires
	var restartC <-chan time.Time
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-d.server.lines:
		case <-ctx.Done():
			return ctx.Err()
		case <-restartC:
			for _, i := range down {
				var err error
				if d.clients[i], err = d.startClient(i); err != nil {
					return err
				}
			}
			down, restartC = nil, nil
			continue
		}
		if !ok {
			err := d.server.cmd.Wait()
			d.server = nil
			if err != nil {
				return fmt.Errorf("server: %v (its log: %s)", err, tail(d.logs.Name()))
			}
			return nil
		}
		if !d.printRound(line) || d.last >= o.rounds {
			continue
		}
		// Kill right after a round ends, that is, while the next one runs.
		if wave := waves[d.last]; len(wave) > 0 {
			delete(waves, d.last)
			for _, i := range wave {
				d.clients[i].kill()
				d.clients[i] = nil
			}
			down = append(down, wave...)
			restartC = time.After(300 * time.Millisecond)
			d.killed += len(wave)
		}
		if o.restartServer && d.restarts == 0 && d.last >= serverKillRound {
			d.server.kill()
			for line := range d.server.lines {
				d.printRound(line)
			}
			d.restarts++
			var err error
			if d.server, _, err = d.startServer(strings.TrimPrefix(d.url, "https://"), true); err != nil {
				return err
			}
		}
	}
}

// checkHistory checks that the final checkpoint's history holds every
// round once, in order.
func (d *deployment) checkHistory() error {
	cp, err := fl.ReadCheckpoint(filepath.Join(d.path("ckpt"), fl.CheckpointFile))
	if err != nil {
		return err
	}
	for i, r := range cp.History.Rounds {
		if r.Round != i+1 {
			return fmt.Errorf("history entry %d is round %d: a round was lost or counted twice", i, r.Round)
		}
	}
	if cp.Round != d.o.rounds || len(cp.History.Rounds) != d.o.rounds {
		return fmt.Errorf("checkpoint after round %d with %d rounds of history, want %d", cp.Round, len(cp.History.Rounds), d.o.rounds)
	}
	return nil
}

// report prints the server's summary, with the wall time of the whole
// deployment: text, or the last JSON line.
func (d *deployment) report(wall time.Duration) error {
	b, err := os.ReadFile(d.path("summary.json"))
	if err != nil {
		return err
	}
	sum := report.Summary{FinalAccuracy: math.NaN(), FinalLoss: math.NaN()} // null stays NaN
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	sum.WallSeconds = wall.Seconds()
	if !d.o.json {
		sum.Print(d.stdout)
	}
	fmt.Fprintf(d.info, "%d client processes, %d killed and restarted; server restarted %d times; history holds rounds 1 to %d, each once\n",
		d.o.clients, d.killed, d.restarts, d.o.rounds)
	if d.o.json {
		return report.WriteJSON(d.stdout, sum)
	}
	return nil
}

// tail returns the last lines of the log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}
