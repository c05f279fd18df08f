package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestWorkersEqualMemory: four workers (in this process, over an embedded
// NATS server on loopback) serving a virtual population end with the
// in-memory simulation's parameter bits, dropouts included.
func TestWorkersEqualMemory(t *testing.T) {
	args := []string{"-local", "4", "-workers", "1", "-clients", "20000", "-per-round", "100", "-rounds", "3", "-dim", "20", "-drop", "0.1", "-compare", "-json", "-quiet"}
	if os.Getenv("CI") == "true" {
		args = []string{"-local", "4", "-clients", "100000", "-per-round", "1000", "-rounds", "5", "-drop", "0.1", "-compare", "-json", "-quiet"}
	}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	m := map[string]any{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	if m["params_sha256"] != m["memory_params_sha256"] || m["params_sha256"] == nil {
		t.Errorf("workers %v, in memory %v", m["params_sha256"], m["memory_params_sha256"])
	}
	if f, _ := m["failed_updates"].(float64); f == 0 {
		t.Errorf("no dropout counted: %v", m)
	}
}
