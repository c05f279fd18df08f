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
	var (
		wl                              Workload
		addr, devDir, cert, key, ca     string
		tokensFile, checkpoint, summary string
		dev, resume, jsonOut, quiet     bool
		wait                            int
		roundTimeout, clientTimeout     time.Duration
	)
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	wl.Register(fs)
	fs.StringVar(&addr, "addr", "127.0.0.1:8443", "address to listen on")
	fs.BoolVar(&dev, "dev", false, "create a throwaway CA and certificates in a temporary directory")
	fs.StringVar(&devDir, "dev-dir", "", "use the throwaway CA in this directory (made by -dev)")
	fs.StringVar(&cert, "cert", "", "server certificate (PEM)")
	fs.StringVar(&key, "key", "", "server key (PEM)")
	fs.StringVar(&ca, "client-ca", "", "CA of the client certificates (PEM)")
	fs.StringVar(&tokensFile, "tokens", "", "file of client tokens, one \"id token\" per line")
	fs.StringVar(&checkpoint, "checkpoint", "", "directory to save a checkpoint to after every round")
	fs.BoolVar(&resume, "resume", false, "resume from the checkpoint in -checkpoint, if there is one")
	fs.IntVar(&wait, "wait", 0, "clients to wait for before training, 1..-clients (default: all)")
	fs.DurationVar(&roundTimeout, "round-timeout", 2*time.Minute, "deadline of each round")
	fs.DurationVar(&clientTimeout, "client-timeout", 15*time.Second, "a client silent this long is a dropout")
	fs.StringVar(&summary, "summary", "", "also write the JSON summary to this file")
	fs.BoolVar(&jsonOut, "json", false, "stdout only JSON: one object per round, the summary last (the other lines go to stderr)")
	fs.BoolVar(&quiet, "quiet", false, "do not print the rounds, only the summary")
	set, err := parse(fs, &wl, args, stderr)
	if err == nil && set["wait"] && (wait < 1 || wait > wl.Clients) {
		err = fmt.Errorf("-wait %d: want 1..%d (the clients)", wait, wl.Clients)
	}
	if resume && checkpoint == "" {
		err = errors.Join(err, errors.New("-resume needs -checkpoint DIR"))
	}
	if roundTimeout <= 0 || clientTimeout <= 0 {
		err = errors.Join(err, fmt.Errorf("-round-timeout %v -client-timeout %v: want positive durations", roundTimeout, clientTimeout))
	}
	if err != nil {
		return err
	}
	if !set["wait"] {
		wait = wl.Clients
	}
	// info is where the lines for a person go: stdout, or stderr when
	// stdout is for JSON only.
	info := stdout
	if jsonOut {
		info = stderr
	}
	w, err := wl.build(-1)
	if err != nil {
		return err
	}
	cfg, err := wl.serverConfig(w)
	if err != nil {
		return err
	}
	cfg.RoundTimeout = roundTimeout
	cfg.CheckpointDir = checkpoint
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Logger = logger
	switch {
	case quiet:
	case jsonOut:
		cfg.Observer = report.Observers(&report.JSONRounds{W: stdout}, &report.Progress{W: stderr, Label: "server", Rounds: wl.Rounds})
	default:
		cfg.Observer = &report.Table{W: stdout}
	}

	// Limits from the model: a frame of a 610-parameter model is a few
	// hundred kilobytes at most, not the defaults' gigabytes.
	pcfg := transport.HTTPPoolConfig{ClientTimeout: clientTimeout, Logger: logger,
		Limits: transport.LimitsFor(w.model.NumParams(), wl.Clients)}
	var tlsCert tls.Certificate
	var clientCAs *x509.CertPool
	switch {
	case dev || devDir != "":
		var pki *transport.DevPKI
		if devDir == "" {
			if devDir, err = os.MkdirTemp("", "fedgo-dev-pki-"); err != nil {
				return err
			}
			if pki, err = transport.NewDevPKI(devDir, nil); err != nil {
				return err
			}
			fmt.Fprintf(info, "dev PKI in %s (run clients with -dev %s)\n", devDir, devDir)
		} else if pki, err = transport.LoadDevPKI(devDir, nil); err != nil {
			return err
		}
		if tlsCert, err = pki.ServerCert(); err != nil {
			return err
		}
		clientCAs = pki.Roots
	case cert != "" && key != "":
		if tlsCert, err = tls.LoadX509KeyPair(cert, key); err != nil {
			return err
		}
		if ca != "" {
			b, err := os.ReadFile(ca)
			if err != nil {
				return err
			}
			clientCAs = x509.NewCertPool()
			if !clientCAs.AppendCertsFromPEM(b) {
				return fmt.Errorf("no certificate in %s", ca)
			}
		}
	default:
		return errors.New("give -dev, -dev-dir DIR, or -cert and -key")
	}
	pcfg.ClientCerts = clientCAs != nil
	if tokensFile != "" {
		if pcfg.Tokens, err = readTokens(tokensFile); err != nil {
			return err
		}
	}
	pool, err := transport.NewHTTPPool(pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	s, err := fl.NewServer(cfg, pool, w.initParams(wl.Seed))
	if err != nil {
		return err
	}
	if resume && checkpoint != "" {
		path := filepath.Join(checkpoint, fl.CheckpointFile)
		if _, err := os.Stat(path); err == nil {
			cp, err := fl.ReadCheckpoint(path)
			if err != nil {
				return err
			}
			if cp.Round > wl.Rounds {
				return fmt.Errorf("%s holds %d rounds, more than -rounds %d: resume with -rounds %d or more", path, cp.Round, wl.Rounds, cp.Round)
			}
			if err := s.Restore(cp); err != nil {
				return fmt.Errorf("resume from %s: %w", path, err)
			}
			fmt.Fprintf(info, "resumed after round %d\n", s.Round())
		}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := transport.NewHTTPServer(pool, transport.ServerTLSConfig(tlsCert, clientCAs, false))
	srv.ErrorLog = log.New(io.Discard, "", 0)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	defer func() {
		pool.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-served
	}()
	fmt.Fprintf(info, "serving on https://%s\n", ln.Addr())

	if err := pool.WaitClients(ctx, wait); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(info, "%d clients connected; %s on %s, %d per round, %d parameters\n\n",
			wait, wl.Model, wl.Dataset, cfg.ClientsPerRound, w.model.NumParams())
	}
	start := time.Now()
	h, err := s.Run(ctx)
	if err != nil {
		return err
	}
	// Tell the clients that the run is over, so that they exit (0).
	fctx, cancel := context.WithTimeout(ctx, finishWait)
	if err := pool.Finish(fctx); err != nil && ctx.Err() == nil {
		logger.Warn("not every client was told that the run is over", "err", err)
	}
	cancel()
	sum := report.Summarize(h, s.Params(), time.Since(start))
	if summary != "" {
		f, err := os.Create(summary)
		if err != nil {
			return err
		}
		err = report.WriteJSON(f, sum)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if jsonOut {
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
