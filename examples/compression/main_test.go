package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type jsonLine struct {
	Codec         string   `json:"codec"`
	BytesUp       int64    `json:"bytes_up"`
	Ratio         *float64 `json:"ratio"`
	FinalAccuracy *float64 `json:"final_accuracy"`
}

// runLines runs with -json and checks the output contract: one JSON
// object per line, a codec per line, then the summary (which names the
// codecs) last.
func runLines(t *testing.T, args ...string) []jsonLine {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	all := strings.Split(strings.TrimSpace(out.String()), "\n")
	var lines []jsonLine
	for _, s := range all[:len(all)-1] {
		var l jsonLine
		if err := json.Unmarshal([]byte(s), &l); err != nil || l.Codec == "" {
			t.Fatalf("not a codec's JSON: %q", s)
		}
		lines = append(lines, l)
	}
	var sum struct{ Codecs []string }
	if err := json.Unmarshal([]byte(all[len(all)-1]), &sum); err != nil || len(sum.Codecs) != len(lines) {
		t.Fatalf("last line is not the summary: %q (%v)", all[len(all)-1], err)
	}
	if !strings.Contains(errb.String(), "round ") {
		t.Errorf("no progress line on stderr: %q", errb.String())
	}
	return lines
}

func TestDefaultCodecLines(t *testing.T) {
	out := t.TempDir()
	lines := runLines(t, "-rounds", "2", "-clients", "6", "-hidden", "50", "-out", out)
	if len(lines) != len(defaultCodecs) {
		t.Fatalf("%d lines, want %d", len(lines), len(defaultCodecs))
	}
	// Lower bounds on the ratio from each codec's bits per coordinate (a
	// 7-byte header and the message framing cost a little).
	minRatio := map[string]float64{"none": 0.95, "float16": 3.8, "int8": 7.5, "qsgd": 7.5, "topk1%+ef": 30, "randk1%+ef": 30, "sign+ef": 30}
	for i, l := range lines {
		if l.Codec != defaultCodecs[i] || l.Ratio == nil || l.FinalAccuracy == nil || l.BytesUp <= 0 {
			t.Fatalf("line %d = %+v", i, l)
		}
		if *l.Ratio < minRatio[l.Codec] || (l.Codec == "none" && *l.Ratio > 1) {
			t.Errorf("%s: ratio %.2f, want at least %.1f", l.Codec, *l.Ratio, minRatio[l.Codec])
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "compression.png"))
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("plot not written as PNG: %v", err)
	}
}

func TestDeterministicForSeed(t *testing.T) {
	a := runLines(t, "-rounds", "3", "-clients", "5", "-codec", "qsgd", "-out", "")
	b := runLines(t, "-rounds", "3", "-clients", "5", "-codec", "qsgd", "-out", "")
	if *a[0].FinalAccuracy != *b[0].FinalAccuracy || a[0].BytesUp != b[0].BytesUp {
		t.Errorf("same seed, different results: %+v %+v", a[0], b[0])
	}
}

// Flags that cannot be honoured are refused before any training (nothing
// on stdout).
func TestBadFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-codec", "gzip9"},
		{"-out", file}, // a file where the directory should be
		{"-rounds", "0"},
		{"-clients", "-1"},
		{"-per-round", "31"},
		{"-local-epochs", "0"},
		{"-lr", "0"},
		{"-hidden", "0"},
		{"-dataset", "cifar"},
		{"-model", "resnet"},
		{"-model", "cnn"}, // synthetic data are not images
		{"extra"},
	} {
		var out, errb bytes.Buffer
		if err := run(append([]string{"-codec", "none", "-out", t.TempDir()}, args...), &out, &errb); err == nil || out.Len() != 0 {
			t.Errorf("%v: error %v, stdout %q", args, err, out.String())
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestBar checks the bar on the default workload: top-k 1% with
// error feedback within 1 accuracy point of uncompressed training at ≥ 30×
// fewer uplink bytes, int8 within 0.5 point at ≥ 7.5×. It trains the
// default workload three times (minutes on two cores), so it runs under
// CI=true only.
func TestBar(t *testing.T) {
	if testing.Short() || os.Getenv("CI") != "true" {
		t.Skip("long reproduction (three default runs): runs under CI=true (as .ci/run sets), not with -short")
	}
	acc := map[string]jsonLine{}
	for _, c := range []string{"none", "int8", "topk1%+ef"} {
		acc[c] = runLines(t, "-codec", c, "-out", "")[0]
	}
	base := *acc["none"].FinalAccuracy
	for c, bar := range map[string]struct{ points, ratio float64 }{"topk1%+ef": {0.01, 30}, "int8": {0.005, 7.5}} {
		l := acc[c]
		t.Logf("%s: accuracy %.4f (none %.4f), ratio %.1f", c, *l.FinalAccuracy, base, *l.Ratio)
		if *l.FinalAccuracy < base-bar.points || *l.Ratio < bar.ratio {
			t.Errorf("%s: accuracy %.4f vs %.4f uncompressed (allowed %.3f lower), ratio %.1f (want ≥ %.1f)",
				c, *l.FinalAccuracy, base, bar.points, *l.Ratio, bar.ratio)
		}
	}
}

// -model cnn is niid_bench's CNN (44,426 parameters on 28×28 inputs, see
// examples/compare) and refuses other inputs; -model softmax has
// (d+1)·classes parameters.
func TestModels(t *testing.T) {
	m, err := newModel("cnn", nil, 28*28, 10)
	if err != nil || m.NumParams() != 44426 {
		t.Fatalf("cnn: %v, %v", m, err)
	}
	if _, err := newModel("cnn", nil, 60, 10); err == nil || !strings.Contains(err.Error(), "28×28") {
		t.Errorf("cnn on 60 features: %v", err)
	}
	if m, err := newModel("softmax", nil, 60, 10); err != nil || m.NumParams() != 61*10 {
		t.Errorf("softmax: %v, %v", m, err)
	}
	if m, err := newModel("mlp", []int{5}, 60, 10); err != nil || m.NumParams() != 61*5+6*10 {
		t.Errorf("mlp: %v, %v", m, err)
	}
}
