package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// Client runs one federated client until the server's run is over (it
// then returns nil) or ctx is cancelled: it holds
// partition i of N of the quickstart workload (-partition i/N, N equal to
// -clients) and answers the server at -server.
//
// TLS material: -dev DIR issues the client a certificate from the
// throwaway CA the server made with -dev; otherwise -ca (the server's CA,
// default the system roots) with -cert and -key, or -token.
func Client(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		wl                             Workload
		server, id, partition, devDir  string
		ca, cert, key, token, tokenEnv string
		verbose                        bool
	)
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	wl.Register(fs)
	fs.StringVar(&server, "server", "https://127.0.0.1:8443", "URL of the server")
	fs.StringVar(&id, "id", "", "client id (default: the workload's id of the partition)")
	fs.StringVar(&partition, "partition", "", "the client's share of the data, i/N")
	fs.StringVar(&devDir, "dev", "", "directory of the server's throwaway CA (from the server's -dev)")
	fs.StringVar(&ca, "ca", "", "CA of the server's certificate (PEM)")
	fs.StringVar(&cert, "cert", "", "client certificate (PEM)")
	fs.StringVar(&key, "key", "", "client key (PEM)")
	fs.StringVar(&token, "token", "", "bearer token")
	fs.StringVar(&tokenEnv, "token-env", "", "environment variable holding the bearer token")
	fs.BoolVar(&verbose, "v", false, "log every retry")
	if _, err := parse(fs, &wl, args, stderr); err != nil {
		return err
	}
	i, n, err := parsePartition(partition)
	if err != nil {
		return err
	}
	if n != wl.Clients {
		return fmt.Errorf("-partition %s: N = %d but -clients = %d", partition, n, wl.Clients)
	}
	// Only this client's data: a client process's memory does not grow
	// with N (see Workload.build).
	w, err := wl.build(i)
	if err != nil {
		return err
	}
	if id == "" {
		id = clientID(i)
	}
	// A trainer is built afresh for every task, as in the in-memory pool,
	// so that a client restarted mid-run computes exactly what it would
	// have.
	h := fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
		hd, err := w.handler(&wl, i)
		if err != nil {
			return nil, err
		}
		return hd.Handle(ctx, m)
	})

	if tokenEnv != "" {
		token = os.Getenv(tokenEnv)
	}
	tc, err := clientTLS(id, devDir, ca, cert, key, token)
	if err != nil {
		return err
	}
	level := slog.LevelError
	if verbose {
		level = slog.LevelInfo
	}
	cfg := transport.ClientConfig{
		ID: id, Token: token, TLS: tc, Seed: wl.Seed, MaxBackoff: 2 * time.Second,
		// Tasks bounded by the model: a hostile or broken server cannot
		// make the client allocate more than a model's worth.
		Limits: transport.LimitsFor(w.model.NumParams(), wl.Clients),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	// Dial returns nil when the server says that the run is over.
	err = transport.Dial(ctx, server, h, cfg)
	if Canceled(err) {
		return nil
	}
	return err
}

// clientTLS returns the client's TLS configuration: a certificate from the
// throwaway CA in devDir, or the server's CA (default the system roots)
// with a certificate from files or a bearer token.
func clientTLS(id, devDir, ca, cert, key, token string) (*tls.Config, error) {
	if devDir != "" {
		pki, err := transport.LoadDevPKI(devDir, nil)
		if err != nil {
			return nil, err
		}
		c, err := pki.ClientCert(id)
		if err != nil {
			return nil, err
		}
		return transport.ClientTLSConfig(pki.Roots, &c), nil
	}
	var roots *x509.CertPool
	if ca != "" {
		b, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("no certificate in %s", ca)
		}
	}
	var c *tls.Certificate
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, err
		}
		c = &kp
	} else if token == "" {
		return nil, errors.New("give -dev DIR, -cert and -key, or -token")
	}
	return transport.ClientTLSConfig(roots, c), nil
}

func parsePartition(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n <= 0 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("bad -partition %q: want i/N with 0 ≤ i < N", s)
	}
	return i, n, nil
}
