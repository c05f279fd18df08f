package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "-json", "-quiet"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	m := map[string]any{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rounds", "final_accuracy", "params_sha256", "flat_params_sha256", "failed_updates"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("the JSON line lacks %q: %v", k, m)
		}
	}
	return m
}

// TestTreeEqualsFlat: with edges killed mid-run and client dropouts, the
// tree ends with the flat run's bits, in memory and over NATS (an
// embedded server on loopback), and the killed edges' clients are counted.
func TestTreeEqualsFlat(t *testing.T) {
	args := []string{"-rounds", "4", "-clients", "12", "-edges", "3", "-kill-edges", "0.34", "-drop", "0.1", "-local-epochs", "2"}
	mem := runJSON(t, args...)
	if mem["params_sha256"] != mem["flat_params_sha256"] {
		t.Errorf("memory: tree %v, flat %v", mem["params_sha256"], mem["flat_params_sha256"])
	}
	// One edge of 4 clients is down in rounds 3 and 4.
	if f := mem["failed_updates"].(float64); f < 8 {
		t.Errorf("failed_updates = %v, want ≥ 8", f)
	}

	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nats := runJSON(t, append(args, "-nats", s.ClientURL())...)
	t.Logf("memory %v\nnats %v", mem, nats)
	if nats["params_sha256"] != mem["params_sha256"] || nats["failed_updates"] != mem["failed_updates"] {
		t.Errorf("nats: %v, memory: %v", nats, mem)
	}
}
