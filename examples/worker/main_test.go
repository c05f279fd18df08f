package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
)

// runJSON runs the program with -json and checks the output contract:
// every line of stdout is a JSON object, the rounds first (in order), the
// summary last. It returns the summary.
func runJSON(t *testing.T, rounds int, args ...string) map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != rounds+1 {
		t.Fatalf("stdout has %d lines, want %d rounds and the summary:\n%s", len(lines), rounds, out.String())
	}
	for i, l := range lines[:rounds] {
		var r fl.RoundStats
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Round != i+1 {
			t.Fatalf("stdout line %d is not round %d's JSON: %q (%v)", i+1, i+1, l, err)
		}
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(lines[rounds]), &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "worker: round") {
		t.Errorf("no progress line on stderr:\n%s", errb.String())
	}
	return m
}

// TestWorkersEqualMemory: four workers (in this process, over an embedded
// NATS server on loopback) serving a virtual population end with the
// in-memory simulation's parameter bits, dropouts included.
func TestWorkersEqualMemory(t *testing.T) {
	rounds := 3
	args := []string{"-local", "4", "-workers", "1", "-clients", "20000", "-per-round", "100", "-rounds", "3", "-dim", "20", "-drop", "0.1", "-compare"}
	if os.Getenv("CI") == "true" {
		rounds = 5
		args = []string{"-local", "4", "-clients", "100000", "-per-round", "1000", "-rounds", "5", "-drop", "0.1", "-compare"}
	}
	m := runJSON(t, rounds, args...)
	if m["params_sha256"] != m["memory_params_sha256"] || m["params_sha256"] == nil {
		t.Errorf("workers %v, in memory %v", m["params_sha256"], m["memory_params_sha256"])
	}
	if f, _ := m["failed_updates"].(float64); f == 0 {
		t.Errorf("no dropout counted: %v", m)
	}
	if l, _ := m["final_loss"].(float64); !(l > 0) || m["rounds"] != float64(rounds) {
		t.Errorf("summary %v", m)
	}
}

// TestSameBitsAsBefore: the parameters' digest this program printed
// before it moved to the public API (internal/workload and
// internal/report), for the same flags.
func TestSameBitsAsBefore(t *testing.T) {
	m := runJSON(t, 4, "-local", "2", "-clients", "5000", "-per-round", "200", "-rounds", "4", "-dim", "50", "-seed", "9", "-lr", "0.02", "-local-epochs", "3")
	if want := "b4e5db542ff4e792907f0a740d86dfccc5a5d962c67a3ba6b0265b335fe17525"; m["params_sha256"] != want {
		t.Errorf("params_sha256 %v, want %s", m["params_sha256"], want)
	}
}

func TestTextAndQuiet(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-local", "1", "-clients", "100", "-per-round", "10", "-rounds", "2", "-dim", "5"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"train loss", "\n    2  ", "params sha256", "final train loss"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"-local", "1", "-clients", "100", "-per-round", "10", "-rounds", "2", "-dim", "5", "-quiet", "-json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], `{"bytes_down"`) {
		t.Errorf("-quiet -json prints:\n%s", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"extra"},
		{"-bogus"},
		{"-clients", "0"},
		{"-rounds", "0"},
		{"-rounds", "-1"},
		{"-dim", "0"},
		{"-local-epochs", "0"},
		{"-per-round", "0"},
		{"-per-round", "11", "-clients", "10"},
		{"-local", "-1"},
		{"-workers", "-2"},
		{"-lr", "0"},
		{"-lr", "NaN"},
		{"-drop", "1"},
		{"-drop", "-0.1"},
		{"-server", "-round-timeout", "0s"},
		{"-local", "1", "-nats", "nats://127.0.0.1:1"},
		{"-local", "1", "-server"},
		{"-json"},    // a worker has no output
		{"-compare"}, // nor an in-memory run
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: err %v", args, err)
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed before refusing:\n%s", args, out.String())
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out, &errb)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errb.String(), "-per-round") {
		t.Errorf("-h: %v\n%s", err, errb.String())
	}
}

// TestWorkerStopsCleanly: a worker serving over NATS and then
// interrupted (its context cancelled) returns nil, which main turns into
// exit status 0; a server interrupted returns the error.
func TestWorkerStopsCleanly(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	o, err := parse([]string{"-nats", ns.ClientURL(), "-clients", "10", "-per-round", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, o, nc, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker ended before serving: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("interrupted worker: %v, want nil", err)
	}
	var out bytes.Buffer
	err = run(ctx, []string{"-nats", ns.ClientURL(), "-server", "-clients", "10", "-per-round", "2", "-rounds", "1"}, &out, &out)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted server: %v, want context.Canceled", err)
	}
}
