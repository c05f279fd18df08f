package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// testPKI is one dev CA shared by the package's tests (key generation
// costs a few milliseconds).
var testPKI = sync.OnceValues(func() (*DevPKI, error) {
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	return NewDevPKI(dir, nil)
})

type netOptions struct {
	certs  bool // authenticate clients by certificate instead of token
	zstd   bool // compress both ways
	pool   func(*HTTPPoolConfig)
	client func(*ClientConfig)
	log    *slog.Logger
}

type netEnv struct {
	pool  *HTTPPool
	srv   *httptest.Server
	url   string
	roots *tls.Config
}

func tokenFor(id string) string { return "token-of-" + id + "-0123456789" }

// newNetServer starts an HTTPPool behind an HTTP/2 TLS 1.3 test server on
// loopback.
func newNetServer(t testing.TB, o netOptions, ids []string) *netEnv {
	t.Helper()
	pki, err := testPKI()
	if err != nil {
		t.Fatal(err)
	}
	cfg := HTTPPoolConfig{Logger: o.log, Zstd: o.zstd, ClientCerts: o.certs}
	if !o.certs {
		cfg.Tokens = map[string]string{}
		for _, id := range ids {
			cfg.Tokens[id] = tokenFor(id)
		}
	}
	if o.pool != nil {
		o.pool(&cfg)
	}
	pool, err := NewHTTPPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ServerCert()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(pool)
	srv.EnableHTTP2 = true
	srv.TLS = ServerTLSConfig(cert, pki.Roots, false)
	srv.Config.ErrorLog = nil
	srv.Config.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerConnection: 8 << 20, MaxReceiveBufferPerStream: 8 << 20}
	srv.StartTLS()
	t.Cleanup(func() {
		pool.Close()
		srv.Close()
	})
	return &netEnv{pool: pool, srv: srv, url: srv.URL, roots: ClientTLSConfig(pki.Roots, nil)}
}

// clientConfig returns the config of client id for the environment.
func (e *netEnv) clientConfig(t testing.TB, o netOptions, id string) ClientConfig {
	t.Helper()
	cc := ClientConfig{ID: id, Zstd: o.zstd, Heartbeat: 50 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Seed: 1}
	if o.certs {
		pki, _ := testPKI()
		cert, err := pki.ClientCert(id)
		if err != nil {
			t.Fatal(err)
		}
		cc.TLS = ClientTLSConfig(pki.Roots, &cert)
	} else {
		cc.Token = tokenFor(id)
		cc.TLS = e.roots
	}
	if o.client != nil {
		o.client(&cc)
	}
	return cc
}

// runClient runs a client until the test ends.
func (e *netEnv) runClient(t testing.TB, o netOptions, id string, h fl.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Dial(ctx, e.url, h, e.clientConfig(t, o, id)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("client %s: Run = %v, want context.Canceled", id, err)
		}
	})
}

// startNet starts a server and one client per handler, and waits until
// they have all registered.
func startNet(t testing.TB, o netOptions, handlers map[string]fl.Handler) *netEnv {
	t.Helper()
	var names []string
	for id := range handlers {
		names = append(names, id)
	}
	e := newNetServer(t, o, names)
	for id, h := range handlers {
		e.runClient(t, o, id, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.pool.WaitClients(ctx, len(handlers)); err != nil {
		t.Fatalf("waiting for %d clients: %v", len(handlers), err)
	}
	return e
}

var testDirs []string

func tempDir() (string, error) {
	d, err := os.MkdirTemp("", "fedgo-transport-test-")
	testDirs = append(testDirs, d)
	return d, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range testDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
