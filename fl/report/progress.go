package report

import (
	"fmt"
	"io"
	"time"

	"github.com/fedgo/fedgo/fl"
)

// Progress is an [fl.Observer] that prints a progress line to W (standard
// error, usually) after a round: the label, the rounds done of Rounds, the
// time elapsed and the estimated time left, from the mean duration of the
// rounds this run has completed so far:
//
//	compression int8: round 40/120 (33%), 12s elapsed, ETA 24s
//
// It prints at most one line per Every (0 means one second; a negative
// Every prints every round), and always the last round's.
type Progress struct {
	W      io.Writer
	Label  string
	Rounds int
	Every  time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	start, last time.Time
	first, done int
}

var _ fl.Observer = (*Progress)(nil)

func (p *Progress) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// RoundStart starts the clock at the first round it sees.
func (p *Progress) RoundStart(round int, _ []string) {
	if p.start.IsZero() {
		p.start, p.last, p.first = p.now(), p.now(), round
	}
}

// RoundEnd prints the line when it is due.
func (p *Progress) RoundEnd(s fl.RoundStats) {
	now := p.now()
	if p.start.IsZero() {
		p.start, p.last, p.first = now, now, s.Round
	}
	p.done = s.Round - p.first + 1
	every := p.Every
	if every == 0 {
		every = time.Second
	}
	if s.Round < p.Rounds && every > 0 && now.Sub(p.last) < every {
		return
	}
	p.last = now
	fmt.Fprintln(p.W, p.Line(s.Round, now))
}

// Line returns the progress line after round at time now.
func (p *Progress) Line(round int, now time.Time) string {
	elapsed := now.Sub(p.start)
	label := ""
	if p.Label != "" {
		label = p.Label + ": "
	}
	line := fmt.Sprintf("%sround %d/%d (%d%%), %s elapsed", label, round, p.Rounds, 100*round/max(p.Rounds, 1), short(elapsed))
	if round >= p.Rounds {
		return line + ", done"
	}
	if p.done > 0 {
		left := time.Duration(float64(elapsed) / float64(p.done) * float64(p.Rounds-round))
		line += ", ETA " + short(left)
	}
	return line
}

// short formats d to a precision a person needs: 850ms, 4.2s, 3m10s.
func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}
