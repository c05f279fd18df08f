package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// startPool returns the pool of cell c over the clients' handlers: an
// in-memory pool, or an HTTPS server on loopback with every client
// connected over TLS with its bearer token. stop shuts everything down and
// waits for it.
func startPool(ctx context.Context, c cell, ids []string, handlers map[string]fl.Handler) (fl.Pool, func(), error) {
	if c.Transport == "memory" {
		p, err := transport.NewMemory(transport.MemoryConfig{
			IDs: ids, Workers: 4,
			Factory: func(id string) (fl.Handler, error) { return handlers[id], nil },
		})
		return p, func() {}, err
	}
	return startHTTPS(ctx, ids, handlers)
}

func startHTTPS(ctx context.Context, ids []string, handlers map[string]fl.Handler) (fl.Pool, func(), error) {
	dir, err := os.MkdirTemp("", "fedgo-matrix-")
	if err != nil {
		return nil, nil, err
	}
	pki, err := transport.NewDevPKI(dir, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cert, err := pki.ServerCert()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	tokens := map[string]string{}
	for _, id := range ids {
		tokens[id] = "matrix-bearer-token-" + id
	}
	pcfg := transport.DefaultHTTPPoolConfig()
	pcfg.Tokens = tokens
	pool, err := transport.NewHTTPPool(pcfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	srv := &http.Server{Handler: pool, TLSConfig: transport.ServerTLSConfig(cert, nil, false), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, id := range ids {
		ccfg := transport.DefaultClientConfig()
		ccfg.ID, ccfg.Token, ccfg.TLS = id, tokens[id], transport.ClientTLSConfig(pki.Roots, nil)
		ccfg.MinBackoff, ccfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
		cl, err := transport.NewClient("https://"+ln.Addr().String(), handlers[id], ccfg)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.Run(cctx)
		}()
	}
	stop := func() {
		cancel()
		pool.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		<-served
		wg.Wait()
		os.RemoveAll(dir)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := pool.WaitClients(wctx, len(ids)); err != nil {
		stop()
		return nil, nil, fmt.Errorf("waiting for the HTTPS clients: %w", err)
	}
	return pool, stop, nil
}
