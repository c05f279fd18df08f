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
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fedgo-network-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pkiDir := filepath.Join(tmp, "pki")
	if _, err := transport.NewDevPKI(pkiDir, nil); err != nil {
		return err
	}
	logs, err := os.Create(filepath.Join(tmp, "log"))
	if err != nil {
		return err
	}
	defer logs.Close()
	common := []string{"-clients", fmt.Sprint(o.clients), "-rounds", fmt.Sprint(o.rounds), "-per-round", fmt.Sprint(o.perRound),
		"-seed", fmt.Sprint(o.seed), "-dataset", o.dataset, "-model", o.model, "-strategy", o.strategy}
	summaryFile := filepath.Join(tmp, "summary.json")
	// info is where the lines for a person go; with -json, stdout is for
	// JSON only. The rounds are printed as a table, or as JSON lines with
	// a progress line on stderr.
	info := stdout
	var rounds fl.Observer = &report.Table{W: stdout}
	if o.json {
		info = stderr
		rounds = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "network", Rounds: o.rounds})
	}
	if o.quiet {
		rounds = nil
	}
	printRound := func(line string, last *int) {
		s, ok := roundOf(line)
		// A restarted server runs again the round it was killed in, and
		// perhaps one it had printed but not yet checkpointed: print each
		// round once.
		if !ok || s.Round <= *last {
			return
		}
		*last = s.Round
		if rounds != nil {
			rounds.RoundEnd(s)
		}
	}

	startServer := func(addr string, resume bool) (*proc, string, error) {
		a := append([]string{"-addr", addr, "-dev-dir", pkiDir, "-checkpoint", filepath.Join(tmp, "ckpt"),
			"-summary", summaryFile, "-client-timeout", "10s", "-json"}, common...)
		if resume {
			a = append(a, "-resume")
		}
		cmd := exec.Command(self, a...)
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
		// The server's stderr: its URL, then its log, copied to the log
		// file (a "resumed" line also to info).
		urls := make(chan string, 1)
		go func() {
			defer close(urls)
			sc := bufio.NewScanner(errOut)
			for sc.Scan() {
				line := sc.Text()
				fmt.Fprintln(logs, line)
				if url, ok := strings.CutPrefix(line, "serving on "); ok {
					urls <- url
				}
				if strings.HasPrefix(line, "resumed") && !o.quiet {
					fmt.Fprintln(info, line)
				}
			}
		}()
		if url, ok := <-urls; ok {
			return p, url, nil
		}
		for range p.lines {
		}
		p.cmd.Wait()
		return nil, "", fmt.Errorf("the server did not start (its log: %s)", tail(logs.Name()))
	}
	startClient := func(url string, i int) (*proc, error) {
		a := append([]string{"-server", url, "-dev", pkiDir, "-partition", fmt.Sprintf("%d/%d", i, o.clients)}, common...)
		cmd := exec.Command(self, a...)
		cmd.Env = append(os.Environ(), roleEnv+"=client")
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return &proc{cmd: cmd}, nil
	}

	start := time.Now()
	server, url, err := startServer("127.0.0.1:0", false)
	if err != nil {
		return err
	}
	addr := strings.TrimPrefix(url, "https://")
	clients := make([]*proc, o.clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.stop()
			}
		}
		if server != nil {
			server.kill()
		}
	}()
	for i := range clients {
		if clients[i], err = startClient(url, i); err != nil {
			return err
		}
	}

	// The fault schedule: half of the victims die as round ⌈R/4⌉ ends,
	// the other half as round ⌈R/2⌉ ends; the server dies as round ⌈3R/5⌉
	// ends (that is, while the next round runs).
	rng := rand.New(rand.NewPCG(o.seed, 0xfa17))
	victims := rng.Perm(o.clients)[:int(math.Round(o.kill*float64(o.clients)))]
	waves := map[int][]int{
		max(1, (o.rounds+3)/4): victims[:len(victims)/2],
		max(1, (o.rounds+1)/2): victims[len(victims)/2:],
	}
	serverKillRound := max(1, (3*o.rounds+4)/5)
	killed, restarts, lastPrinted := 0, 0, 0
	var down []int // clients killed, to be restarted when restartC fires
	var restartC <-chan time.Time
	for server != nil {
		var line string
		var ok bool
		select {
		case line, ok = <-server.lines:
		case <-ctx.Done():
			return ctx.Err()
		case <-restartC:
			for _, i := range down {
				if clients[i], err = startClient(url, i); err != nil {
					return err
				}
			}
			down, restartC = nil, nil
			continue
		}
		if !ok {
			err := server.cmd.Wait()
			server = nil
			if err != nil {
				return fmt.Errorf("server: %v (its log: %s)", err, tail(logs.Name()))
			}
			break
		}
		before := lastPrinted
		printRound(line, &lastPrinted)
		round := lastPrinted
		if round == before || round >= o.rounds {
			continue
		}
		// Kill right after a round ends, that is, while the next one runs.
		if wave, ok := waves[round]; ok && len(wave) > 0 {
			delete(waves, round)
			for _, i := range wave {
				clients[i].kill()
				clients[i] = nil
			}
			down = append(down, wave...)
			restartC = time.After(300 * time.Millisecond)
			killed += len(wave)
		}
		if o.restartServer && restarts == 0 && round >= serverKillRound {
			server.kill()
			for line := range server.lines {
				printRound(line, &lastPrinted)
			}
			restarts++
			if server, _, err = startServer(addr, true); err != nil {
				return err
			}
		}
	}
	// Check that the history holds every round once, in order.
	cp, err := fl.ReadCheckpoint(filepath.Join(tmp, "ckpt", fl.CheckpointFile))
	if err != nil {
		return err
	}
	for i, r := range cp.History.Rounds {
		if r.Round != i+1 {
			return fmt.Errorf("history entry %d is round %d: a round was lost or counted twice", i, r.Round)
		}
	}
	if cp.Round != o.rounds || len(cp.History.Rounds) != o.rounds {
		return fmt.Errorf("checkpoint after round %d with %d rounds of history, want %d", cp.Round, len(cp.History.Rounds), o.rounds)
	}
	b, err := os.ReadFile(summaryFile)
	if err != nil {
		return err
	}
	sum := report.Summary{FinalAccuracy: math.NaN(), FinalLoss: math.NaN()} // null stays NaN
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if !o.json {
		sum.Print(stdout)
	}
	fmt.Fprintf(info, "%d client processes, %d killed and restarted; server restarted %d times; history holds rounds 1 to %d, each once\n",
		o.clients, killed, restarts, o.rounds)
	if o.json {
		return report.WriteJSON(stdout, sum)
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
