package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
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
	// Counts: 0 or less is refused, not taken for the default, and so is
	// -per-round above -clients; the client shares the workload flags and
	// refuses the same. -h is flag.ErrHelp (the programs exit 0).
	for _, args := range [][]string{
		{"-clients", "0"}, {"-rounds", "0"}, {"-rounds", "-1"}, {"-local-epochs", "0"}, {"-batch", "0"},
		{"-per-round", "0"}, {"-per-round", "4", "-clients", "3"}, {"-lr", "-1"}, {"-lr", "0"}, {"extra"},
	} {
		if err := Server(ctx, append([]string{"-dev"}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("server %v: no error", args)
		}
		if err := Client(ctx, append([]string{"-partition", "0/3", "-token", "x"}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("client %v: no error", args)
		}
	}
	for _, args := range [][]string{{"-wait", "0"}, {"-wait", "31"}, {"-round-timeout", "0s"}, {"-resume"}} {
		if err := Server(ctx, append([]string{"-dev"}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("server %v: no error", args)
		}
	}
	if err := Server(ctx, []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("server -h: %v", err)
	}
	if err := Client(ctx, []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("client -h: %v", err)
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
	// With -json, "serving on URL" goes to stderr and stdout holds JSON only.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var serverErr error
	var out bytes.Buffer
	wg.Go(func() {
		serverErr = Server(ctx, append([]string{"-addr", "127.0.0.1:0", "-cert", filepath.Join(pki.Dir, transport.DevServerFile),
			"-key", filepath.Join(pki.Dir, transport.DevServerKeyFile), "-tokens", filepath.Join(dir, "tokens"), "-json", "-checkpoint", filepath.Join(dir, "ck")}, wl...), &out, pw)
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
	for sc.Scan() { // the rest of stderr
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
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("stdout line %d is not JSON: %q", i+1, l)
		}
	}
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"round":1,"sampled":2,"accepted":2,`) ||
		!strings.HasPrefix(lines[1], `{"round":2,"sampled":2,"accepted":2,`) || !strings.Contains(lines[2], `"rounds":2`) {
		t.Errorf("server stdout, want 2 rounds and the summary:\n%s", out.String())
	}
	// Resuming with fewer rounds than the checkpoint holds says so.
	err = Server(ctx, append(append([]string{"-addr", "127.0.0.1:0", "-dev-dir", pki.Dir, "-checkpoint", filepath.Join(dir, "ck"), "-resume"}, wl...), "-rounds", "1"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "holds 2 rounds, more than -rounds 1") {
		t.Errorf("resume with fewer rounds: %v", err)
	}
}
