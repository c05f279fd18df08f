package main

import (
	"bytes"
	"encoding/json"
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

func runLines(t *testing.T, args ...string) []jsonLine {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	var lines []jsonLine
	for _, s := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l jsonLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("not JSON: %q", s)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestDefaultCodecLines(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "acc.png")
	lines := runLines(t, "-rounds", "2", "-clients", "6", "-plot", plot)
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
	b, err := os.ReadFile(plot)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("plot not written as PNG: %v", err)
	}
}

func TestDeterministicForSeed(t *testing.T) {
	a := runLines(t, "-rounds", "3", "-clients", "5", "-codec", "qsgd", "-plot", "")
	b := runLines(t, "-rounds", "3", "-clients", "5", "-codec", "qsgd", "-plot", "")
	if *a[0].FinalAccuracy != *b[0].FinalAccuracy || a[0].BytesUp != b[0].BytesUp {
		t.Errorf("same seed, different results: %+v %+v", a[0], b[0])
	}
}

func TestBadCodec(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-codec", "gzip9"}, &out, &errb); err == nil {
		t.Error("unknown codec accepted")
	}
	if err := run([]string{"-plot", filepath.Join(t.TempDir(), "x.jpg"), "-rounds", "1", "-clients", "3", "-codec", "none"}, &out, &errb); err == nil {
		t.Error("plot with an unsupported extension accepted")
	}
}

// TestBar checks the bar on the default workload: top-k 1% with
// error feedback within 1 accuracy point of uncompressed training at ≥ 30×
// fewer uplink bytes, int8 within 0.5 point at ≥ 7.5×.
func TestBar(t *testing.T) {
	acc := map[string]jsonLine{}
	for _, c := range []string{"none", "int8", "topk1%+ef"} {
		acc[c] = runLines(t, "-codec", c, "-plot", "")[0]
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
