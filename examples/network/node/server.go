package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/transport"
)

// Server runs the federated server: it serves the network transport on
// -addr, waits for the clients, and trains the quickstart workload,
// printing the quickstart's table and summary to stdout. With -json,
// stdout holds only JSON: one fl.RoundStats object per round, then the
// summary; the lines for a person ("serving on URL", "resumed after round
// R", the dev PKI's directory) and a progress line go to stderr. It
// returns when training is done or ctx is cancelled.
//
// TLS material: -dev creates a throwaway CA and certificates in a new
// temporary directory (printed, for the clients' -dev flag); -dev-dir uses
// one made before; otherwise -cert and -key, with -client-ca to accept
// client certificates and -tokens FILE (lines "id token") for bearer
// tokens.
func Server(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServer(args, stderr)
	if err != nil {
		return err
	}
	// info is where the lines for a person go: stdout, or stderr when
	// stdout is for JSON only.
	info := stdout
	if f.json {
		info = stderr
	}
	w, err := f.wl.build(-1)
	if err != nil {
		return err
	}
	cfg, err := f.wl.serverConfig(w)
	if err != nil {
		return err
	}
	cfg.RoundTimeout, cfg.CheckpointDir = f.roundTimeout, f.checkpoint
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch {
	case f.quiet:
	case f.json:
		cfg.Observer = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "server", Rounds: f.wl.Rounds})
	default:
		cfg.Observer = &report.Table{W: stdout}
	}
	cert, clientCAs, err := f.tlsMaterial(info)
	if err != nil {
		return err
	}
	// Limits from the model: a frame of a 610-parameter model is a few
	// hundred kilobytes at most, not the defaults' gigabytes.
	pcfg := transport.HTTPPoolConfig{ClientTimeout: f.clientTimeout, Logger: cfg.Logger, ClientCerts: clientCAs != nil,
		Limits: transport.LimitsFor(w.model.NumParams(), f.wl.Clients)}
	if f.tokens != "" {
		if pcfg.Tokens, err = readTokens(f.tokens); err != nil {
			return err
		}
	}
	pool, err := transport.NewHTTPPool(pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	s, err := fl.NewServer(cfg, pool, w.initParams(f.wl.Seed))
	if err != nil {
		return err
	}
	if err := f.restore(s, info); err != nil {
		return err
	}
	stop, err := serve(pool, f.addr, cert, clientCAs, info)
	if err != nil {
		return err
	}
	defer stop()
	if err := pool.WaitClients(ctx, f.wait); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(info, "%d clients connected; %s on %s, %d per round, %d parameters\n\n",
			f.wait, f.wl.Model, f.wl.Dataset, cfg.ClientsPerRound, w.model.NumParams())
	}
	start := time.Now()
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	// Tell the clients that the run is over, so that they exit (0).
	fctx, cancel := context.WithTimeout(ctx, finishWait)
	if err := pool.Finish(fctx); err != nil && ctx.Err() == nil {
		cfg.Logger.Warn("not every client was told that the run is over", "err", err)
	}
	cancel()
	return f.report(report.Summarize(h, s.Params(), time.Since(start)), stdout)
}

// serverFlags are the server's flags: the workload's and its own.
type serverFlags struct {
	wl                          Workload
	addr, devDir, cert, key, ca string
	tokens, checkpoint, summary string
	dev, resume, json, quiet    bool
	wait                        int
	roundTimeout, clientTimeout time.Duration
}

// parseServer parses and checks the server's flags, all problems at once.
func parseServer(args []string, stderr io.Writer) (*serverFlags, error) {
	f := &serverFlags{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	f.wl.Register(fs)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8443", "address to listen on")
	fs.BoolVar(&f.dev, "dev", false, "create a throwaway CA and certificates in a temporary directory")
	fs.StringVar(&f.devDir, "dev-dir", "", "use the throwaway CA in this directory (made by -dev)")
	fs.StringVar(&f.cert, "cert", "", "server certificate (PEM)")
	fs.StringVar(&f.key, "key", "", "server key (PEM)")
	fs.StringVar(&f.ca, "client-ca", "", "CA of the client certificates (PEM)")
	fs.StringVar(&f.tokens, "tokens", "", "file of client tokens, one \"id token\" per line")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "directory to save a checkpoint to after every round")
	fs.BoolVar(&f.resume, "resume", false, "resume from the checkpoint in -checkpoint, if there is one")
	fs.IntVar(&f.wait, "wait", 0, "clients to wait for before training, 1..-clients (default: all)")
	fs.DurationVar(&f.roundTimeout, "round-timeout", 2*time.Minute, "deadline of each round")
	fs.DurationVar(&f.clientTimeout, "client-timeout", 15*time.Second, "a client silent this long is a dropout")
	fs.StringVar(&f.summary, "summary", "", "also write the JSON summary to this file")
	fs.BoolVar(&f.json, "json", false, "stdout only JSON: one object per round, the summary last (the other lines go to stderr)")
	fs.BoolVar(&f.quiet, "quiet", false, "do not print the rounds, only the summary")
	set, err := parse(fs, &f.wl, args, stderr)
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, ErrUsage) {
		return nil, err
	}
	if !set["wait"] {
		f.wait = f.wl.Clients
	} else if f.wait < 1 || f.wait > f.wl.Clients {
		err = errors.Join(err, fmt.Errorf("-wait %d: want 1..%d (the clients)", f.wait, f.wl.Clients))
	}
	if f.resume && f.checkpoint == "" {
		err = errors.Join(err, errors.New("-resume needs -checkpoint DIR"))
	}
	if f.roundTimeout <= 0 || f.clientTimeout <= 0 {
		err = errors.Join(err, fmt.Errorf("-round-timeout %v -client-timeout %v: want positive durations", f.roundTimeout, f.clientTimeout))
	}
	if !f.dev && f.devDir == "" && (f.cert == "" || f.key == "") {
		err = errors.Join(err, errors.New("give -dev, -dev-dir DIR, or -cert and -key"))
	}
	return f, err
}

// tlsMaterial returns the server's certificate and the CA of the client
// certificates (nil: none are asked for): from a throwaway CA (-dev makes
// one, -dev-dir loads it) or from files.
func (f *serverFlags) tlsMaterial(info io.Writer) (tls.Certificate, *x509.CertPool, error) {
	if !f.dev && f.devDir == "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil || f.ca == "" {
			return cert, nil, err
		}
		b, err := os.ReadFile(f.ca)
		if err != nil {
			return cert, nil, err
		}
		cas := x509.NewCertPool()
		if !cas.AppendCertsFromPEM(b) {
			return cert, nil, fmt.Errorf("no certificate in %s", f.ca)
		}
		return cert, cas, nil
	}
	var pki *transport.DevPKI
	var err error
	if f.devDir == "" {
		if f.devDir, err = os.MkdirTemp("", "fedgo-dev-pki-"); err != nil {
			return tls.Certificate{}, nil, err
		}
		if pki, err = transport.NewDevPKI(f.devDir, nil); err != nil {
			return tls.Certificate{}, nil, err
		}
		fmt.Fprintf(info, "dev PKI in %s (run clients with -dev %s)\n", f.devDir, f.devDir)
	} else if pki, err = transport.LoadDevPKI(f.devDir, nil); err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := pki.ServerCert()
	return cert, pki.Roots, err
}

// restore resumes s from the checkpoint, with -resume and when there is
// one.
func (f *serverFlags) restore(s *fl.Server, info io.Writer) error {
	if !f.resume {
		return nil
	}
	path := filepath.Join(f.checkpoint, fl.CheckpointFile)
	if _, err := os.Stat(path); err != nil {
		return nil // nothing to resume: a fresh start
	}
	cp, err := fl.ReadCheckpoint(path)
	if err != nil {
		return err
	}
	if cp.Round > f.wl.Rounds {
		return fmt.Errorf("%s holds %d rounds, more than -rounds %d: resume with -rounds %d or more", path, cp.Round, f.wl.Rounds, cp.Round)
	}
	if err := s.Restore(cp); err != nil {
		return fmt.Errorf("resume from %s: %w", path, err)
	}
	fmt.Fprintf(info, "resumed after round %d\n", s.Round())
	return nil
}

// serve serves the pool over HTTPS on addr and prints "serving on URL";
// stop closes the pool and shuts the server down.
func serve(pool *transport.HTTPPool, addr string, cert tls.Certificate, clientCAs *x509.CertPool, info io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := transport.NewHTTPServer(pool, transport.ServerTLSConfig(cert, clientCAs, false))
	srv.ErrorLog = log.New(io.Discard, "", 0)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(info, "serving on https://%s\n", ln.Addr())
	return func() {
		pool.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-served
	}, nil
}

// report writes the summary to -summary, if given, and prints it: text,
// or the last JSON line.
func (f *serverFlags) report(sum report.Summary, stdout io.Writer) error {
	if f.summary != "" {
		file, err := os.Create(f.summary)
		if err != nil {
			return err
		}
		err = report.WriteJSON(file, sum)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if f.json {
		return report.WriteJSON(stdout, sum)
	}
	sum.Print(stdout)
	return nil
}

// finishWait bounds the time the server waits, after the run, for its
// clients to learn that it is over.
const finishWait = 10 * time.Second

// readTokens reads "id token" lines; blank lines and # comments are skipped.
func readTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, tok, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want \"id token\"", path, n)
		}
		out[id] = strings.TrimSpace(tok)
	}
	return out, sc.Err()
}
