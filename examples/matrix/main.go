// Command matrix runs every combination of aggregator × privacy × codec ×
// transport that fedgo offers for a few rounds, with a privacy budget that
// runs out mid-run, and checks in each cell the guarantees that must
// survive composition: the budget stops the run after exactly the rounds it
// allows, ε and δ are in the history, every DP sum is of clipped
// contributions, the bits do not depend on GOMAXPROCS, and HTTPS gives the
// in-memory bits. An invalid combination must be refused before round 1.
//
//	go run ./examples/matrix            # the table
//	go run ./examples/matrix -json      # one JSON object per cell, the summary last
//	go run ./examples/matrix -transport memory
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

func main() {
	if err := runMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "matrix:", err)
		os.Exit(1)
	}
}

type options struct {
	json       bool
	transports []string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	js := fs.Bool("json", false, "print one JSON object per cell on stdout, the summary last")
	tr := fs.String("transport", "memory,https", "comma-separated transports to run: memory, https")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o := &options{json: *js}
	for _, t := range strings.Split(*tr, ",") {
		if !slices.Contains(transports, t) {
			return nil, fmt.Errorf("-transport: unknown transport %q (have %v)", t, transports)
		}
		if t == "https" && !slices.Contains(o.transports, "memory") {
			// HTTPS cells are compared with the in-memory bits.
			o.transports = append(o.transports, "memory")
		}
		if !slices.Contains(o.transports, t) {
			o.transports = append(o.transports, t)
		}
	}
	return o, nil
}

// cells returns the cells over the given transports, memory first.
func cells(trs []string) []cell {
	var out []cell
	for _, t := range trs {
		for _, a := range aggregators {
			for _, p := range privacies {
				for _, c := range codecs {
					out = append(out, cell{a, p, c, t})
				}
			}
		}
	}
	return out
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	m := newMatrix()
	all := cells(o.transports)
	var results []*result
	failed := 0
	for i, c := range all {
		fmt.Fprintf(stderr, "[%d/%d] %v\n", i+1, len(all), c)
		r, err := m.check(ctx, c)
		if err != nil {
			return err
		}
		if !r.OK {
			failed++
		}
		results = append(results, r)
		if o.json {
			if err := json.NewEncoder(stdout).Encode(r); err != nil {
				return err
			}
		}
	}
	if o.json {
		err = json.NewEncoder(stdout).Encode(map[string]any{"summary": true, "cells": len(results), "failed": failed})
	} else {
		err = printTable(stdout, results, failed)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cells failed their checks", failed, len(results))
	}
	return nil
}

func printTable(w io.Writer, results []*result, failed int) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "aggregator\tprivacy\tcodec\ttransport\tverdict\trounds\tε\tclip\tparams")
	for _, r := range results {
		verdict := "ok"
		switch {
		case !r.OK:
			verdict = "FAIL: " + strings.Join(r.Problems, "; ")
		case !r.Valid:
			verdict = "refused"
		}
		eps, clip := "", ""
		if r.Epsilon > 0 {
			eps, clip = fmt.Sprintf("%.3f", r.Epsilon), fmt.Sprintf("%.3f", r.ClipRatio)
		}
		rounds := ""
		if r.Valid {
			rounds = fmt.Sprint(r.Rounds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Aggregator, r.Privacy, r.Codec, r.Transport, verdict, rounds, eps, clip, r.Params)
	}
	fmt.Fprintf(tw, "\n%d cells, %d failed. clip: the largest DP sum over its bound for clipped contributions (≤ 1 holds).\n", len(results), failed)
	return tw.Flush()
}
