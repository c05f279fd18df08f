package node

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgo/fedgo/transport"
)

func TestParsePartition(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i, n int
		ok   bool
	}{
		{"0/1", 0, 1, true}, {"3/10", 3, 10, true}, {"10/10", 0, 0, false}, {"-1/4", 0, 0, false},
		{"1", 0, 0, false}, {"a/b", 0, 0, false}, {"1/0", 0, 0, false}, {"", 0, 0, false},
	} {
		i, n, err := parsePartition(tc.in)
		if (err == nil) != tc.ok || i != tc.i || n != tc.n {
			t.Errorf("parsePartition(%q) = %d, %d, %v", tc.in, i, n, err)
		}
	}
}

func TestReadTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(path, []byte("# clients\nclient-00000 tok-a\n\nclient-00001  tok b \n"), 0o600)
	got, err := readTokens(path)
	if err != nil || len(got) != 2 || got["client-00000"] != "tok-a" || got["client-00001"] != "tok b" {
		t.Fatalf("readTokens = %q, %v", got, err)
	}
	os.WriteFile(path, []byte("just-an-id\n"), 0o600)
	if _, err := readTokens(path); err == nil {
		t.Error("a line without a token was accepted")
	}
}

func TestBadFlags(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"-partition", "4/3", "-clients", "3"}, {"-partition", "0/4", "-clients", "3"}, {"-partition", "0/3", "-clients", "3"}} {
		if err := Client(ctx, args, io.Discard, io.Discard); err == nil {
			t.Errorf("client %v: no error", args)
		}
	}
	if err := Server(ctx, []string{"-clients", "3"}, io.Discard, io.Discard); err == nil {
		t.Error("a server without TLS material started")
	}
}

// TestTokensEndToEnd runs the example server with bearer tokens and a
// certificate from files, and three example clients, in this process.
func TestTokensEndToEnd(t *testing.T) {
	dir := t.TempDir()
	pki, err := transport.NewDevPKI(filepath.Join(dir, "pki"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var tokens strings.Builder
	for i := range 3 {
		fmt.Fprintf(&tokens, "client-%05d secret-token-number-%d\n", i, i)
	}
	os.WriteFile(filepath.Join(dir, "tokens"), []byte(tokens.String()), 0o600)
	wl := []string{"-clients", "3", "-rounds", "2", "-per-round", "2", "-seed", "9"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var serverErr error
	wg.Go(func() {
		serverErr = Server(ctx, append([]string{"-addr", "127.0.0.1:0", "-cert", filepath.Join(pki.Dir, transport.DevServerFile),
			"-key", filepath.Join(pki.Dir, transport.DevServerKeyFile), "-tokens", filepath.Join(dir, "tokens"), "-json"}, wl...), pw, io.Discard)
		pw.Close()
	})
	sc := bufio.NewScanner(pr)
	url := ""
	for url == "" && sc.Scan() {
		url, _ = strings.CutPrefix(sc.Text(), "serving on ")
	}
	if url == "" {
		wg.Wait()
		t.Fatalf("the server did not start: %v", serverErr)
	}
	cctx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	var clients sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		clients.Go(func() {
			errs[i] = Client(cctx, append([]string{"-server", url, "-partition", fmt.Sprintf("%d/3", i),
				"-ca", filepath.Join(pki.Dir, transport.DevCAFile), "-token", fmt.Sprintf("secret-token-number-%d", i)}, wl...), io.Discard, io.Discard)
		})
	}
	var out bytes.Buffer
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	wg.Wait()
	// The server told the clients that the run is over: they return nil
	// by themselves.
	finished := make(chan struct{})
	go func() { clients.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		stopClients()
		<-finished
		t.Error("the clients did not finish when the run was over")
	}
	if serverErr != nil {
		t.Fatalf("server: %v\n%s", serverErr, out.String())
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if !strings.Contains(out.String(), `"rounds":2`) || !strings.Contains(out.String(), "    2        2/2") {
		t.Errorf("server output:\n%s", out.String())
	}
}
