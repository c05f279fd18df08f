package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/hier"
)

// printer holds the output contract: the lines for a person go to info
// (stdout, or stderr with -json), the tree's rounds to rounds (the table,
// or JSON lines and a progress line), the summary to stdout.
type printer struct {
	o              *options
	stdout, stderr io.Writer
	info           io.Writer
	rounds         fl.Observer
}

func newPrinter(o *options, stdout, stderr io.Writer) *printer {
	p := &printer{o: o, stdout: stdout, stderr: stderr, info: stdout}
	switch {
	case o.json:
		p.info = stderr
		if !o.quiet {
			p.rounds = report.Observers(&report.JSONRounds{W: stdout}, p.progress("tree"))
		}
	case o.quiet:
		p.info = io.Discard
	default:
		p.rounds = &table{w: stdout, edges: o.edges}
	}
	return p
}

// progress returns a progress line on stderr for a run, or nil with
// -quiet.
func (p *printer) progress(label string) fl.Observer {
	if p.o.quiet {
		return nil
	}
	return &report.Progress{W: p.stderr, Label: "hier " + label, Rounds: p.o.rounds}
}

// report prints the summary (text, or the last JSON line) and fails when
// the tree's parameters differ from the flat run's.
func (p *printer) report(sum report.Summary, flatSHA string, f *federation, kind string) error {
	if p.o.json {
		line := sum.Fields()
		line["flat_params_sha256"], line["edges"], line["killed_edges"], line["transport"] = flatSHA, len(f.edges), len(f.killed), kind
		if err := report.WriteJSON(p.stdout, line); err != nil {
			return err
		}
	} else {
		sum.Print(p.stdout)
	}
	same := flatSHA == sum.ParamsSHA256
	if !p.o.json || !p.o.quiet {
		fmt.Fprintf(p.info, "flat params sha256 %s (same bits: %v)\n", flatSHA, same)
	}
	if !same {
		return errors.New("the tree's parameters differ from the flat federation's")
	}
	return nil
}

// table prints one line per round of the tree: the edges that answered,
// the leaf clients whose updates reached the root, the mean training loss
// and the test accuracy.
type table struct {
	w     io.Writer
	edges int // edges in the tree
}

func (t *table) RoundStart(int, []string) {}

func (t *table) RoundEnd(s fl.RoundStats) {
	acc := "-"
	if v, ok := s.Central[fl.KeyAccuracy]; ok {
		acc = fmt.Sprintf("%.4f", v)
	}
	aborted := ""
	if s.Aborted {
		aborted = "  (aborted)"
	}
	fmt.Fprintf(t.w, "round %3d  edges %d/%d  clients %4.0f/%4.0f  loss %.4f  accuracy %s%s\n",
		s.Round, int(s.Extra[hier.KeyEdges]), t.edges, s.Extra[hier.KeyAccepted], s.Extra[hier.KeyClients], s.TrainLoss, acc, aborted)
}
