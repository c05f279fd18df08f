// Package report prints what a federated run shows a person and a script:
// a table of the rounds ([Table]), a progress line with the rounds done and
// an estimate of the time left ([Progress]), one JSON object per round
// ([JSONRounds]), and a closing [Summary] as text or as one JSON line. Each
// printer is an [fl.Observer]; [Observers] runs several.
//
// fedgo's example programs print with it, under one output contract: human
// text by default; with -json, standard output carries only JSON, one
// object per line (the rounds, then the summary as the last line), and the
// progress line goes to standard error. A host may use it, or write its own
// [fl.Observer] from [fl.RoundStats].
//
// It does not draw: figures are in package fl/report/chart, so that a program
// that only prints does not compile a plotting library.
//
// # Concurrency
//
// The server calls an observer from the goroutine that runs
// [fl.Server.Run]; the printers here are not safe for concurrent use
// otherwise.
package report
