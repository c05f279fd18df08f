package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCells(t *testing.T, args ...string) map[string]Cell {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "-json"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	cells := map[string]Cell{}
	for _, s := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var c Cell
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			t.Fatalf("not JSON: %q", s)
		}
		cells[c.Aggregator+"/"+c.Attack] = c
	}
	return cells
}

// TestBar is the bar: under ALIE and IPM with f = 20% of n on IID
// data, NNM + trimmed mean keeps accuracy within 5 points of the no-attack
// run; under IPM FedAvg collapses. (Under ALIE with the paper's z_max,
// FedAvg loses little on this workload: local training averages away the
// per-coordinate spread ALIE hides in; the test records it.)
func TestBar(t *testing.T) {
	dir := t.TempDir()
	cells := runCells(t, "-aggregators", "fedavg,nnm+trimmedmean", "-attacks", "none,alie,ipm", "-clients", "20", "-byzantine", "4", "-iid", "-out", dir)
	if len(cells) != 6 {
		t.Fatalf("%d cells, want 6", len(cells))
	}
	base := cells["fedavg/none"].FinalAccuracy
	for _, atk := range []string{"alie", "ipm"} {
		c := cells["nnm+trimmedmean/"+atk]
		if c.FinalAccuracy < base-0.05 || c.F != 4 || c.N != 20 || c.Error != "" {
			t.Errorf("nnm+trimmedmean under %s: %+v (no-attack FedAvg %.4f)", atk, c, base)
		}
	}
	if ipm := cells["fedavg/ipm"].FinalAccuracy; ipm > base-0.3 {
		t.Errorf("FedAvg under IPM: %.4f, expected a collapse from %.4f", ipm, base)
	}
	t.Logf("FedAvg: none %.4f, alie %.4f, ipm %.4f; NNM+TM: none %.4f, alie %.4f, ipm %.4f", base,
		cells["fedavg/alie"].FinalAccuracy, cells["fedavg/ipm"].FinalAccuracy, cells["nnm+trimmedmean/none"].FinalAccuracy,
		cells["nnm+trimmedmean/alie"].FinalAccuracy, cells["nnm+trimmedmean/ipm"].FinalAccuracy)
	for _, f := range []string{"compare_heatmap.png", "compare_curves_ipm.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}

// TestEveryRuleAndAttack runs the whole default grid briefly: every cell
// must produce a result without an error.
func TestEveryRuleAndAttack(t *testing.T) {
	cells := runCells(t, "-rounds", "2", "-out", "")
	if len(cells) != len(defaultAggregators)*len(defaultAttacks) {
		t.Fatalf("%d cells", len(cells))
	}
	for k, c := range cells {
		if c.Error != "" || c.FinalAccuracy <= 0 && k != "cc/ipm" && !strings.HasSuffix(k, "/ipm") {
			t.Errorf("%s: %+v", k, c)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-aggregators", "avg"},
		{"-attacks", "ddos"},
		{"-byzantine", "10", "-clients", "20"},
		{"-aggregators", "krum", "-byzantine", "9", "-clients", "19"},
	} {
		var out, errb bytes.Buffer
		if err := run(append(args, "-out", ""), &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestExplain: with -explain, Krum reports the client it chose in the
// last round and whether it was Byzantine, NNM+Krum also its mixes, and
// opt-ipm runs against the cell's rule.
func TestExplain(t *testing.T) {
	cells := runCells(t, "-aggregators", "krum,nnm+krum,median", "-attacks", "alie,opt-ipm", "-clients", "10", "-byzantine", "2", "-rounds", "2", "-out", "", "-explain")
	k := cells["krum/alie"]
	if !strings.Contains(k.Explain, "Krum chose 1: ") || !strings.Contains(k.Explain, "Byzantine)") {
		t.Errorf("krum explain = %q", k.Explain)
	}
	if e := cells["nnm+krum/opt-ipm"].Explain; !strings.Contains(e, "NNM: ") || !strings.Contains(e, "Krum chose 1") {
		t.Errorf("nnm+krum explain = %q", e)
	}
	if e := cells["median/alie"].Explain; e != "" {
		t.Errorf("median explains %q; it selects nothing", e)
	}
	if c := cells["median/opt-ipm"]; c.Error != "" {
		t.Errorf("median under opt-ipm: %s", c.Error)
	}
	t.Log(k.Explain)
}
