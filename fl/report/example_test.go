package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/report"
)

// A Table is the observer of a server (cfg.Observer = &report.Table{W:
// os.Stdout}); here it is given two rounds' stats directly.
func ExampleTable() {
	t := &report.Table{W: os.Stdout}
	t.RoundEnd(fl.RoundStats{Round: 1, Sampled: 10, Accepted: 10, TrainLoss: 0.9, BytesUp: 49152, BytesDown: 49152, Seconds: 0.2,
		Central: fl.Metrics{fl.KeyAccuracy: 0.41, fl.KeyLoss: 1.7}})
	t.RoundEnd(fl.RoundStats{Round: 2, Sampled: 10, Accepted: 8, Failed: 2, TrainLoss: 0.7, BytesUp: 39321, BytesDown: 49152, Seconds: 0.2})
	sum := report.Summarize(&fl.History{Rounds: []fl.RoundStats{{Central: fl.Metrics{fl.KeyAccuracy: 0.41, fl.KeyLoss: 1.7}}}}, []float64{0}, time.Second)
	fmt.Println(report.Bytes(sum.BytesUp), sum.FinalAccuracy)
	// Output:
	// round    clients  failed  train loss  test acc  test loss         up       down  seconds
	//     1      10/10       0      0.9000    0.4100     1.7000   48.0 KiB   48.0 KiB     0.20
	//     2       8/10       2      0.7000                        38.4 KiB   48.0 KiB     0.20
	// 0 B 0.41
}

// The progress line after 4 of 10 rounds that took 2 s each.
func ExampleProgress() {
	clock := time.Unix(0, 0)
	p := &report.Progress{W: os.Stdout, Label: "run", Rounds: 10, Every: -1, Now: func() time.Time { return clock }}
	for r := 1; r <= 4; r++ {
		p.RoundStart(r, nil)
		clock = clock.Add(2 * time.Second)
		p.RoundEnd(fl.RoundStats{Round: r})
	}
	// Output:
	// run: round 1/10 (10%), 2s elapsed, ETA 18s
	// run: round 2/10 (20%), 4s elapsed, ETA 16s
	// run: round 3/10 (30%), 6s elapsed, ETA 14s
	// run: round 4/10 (40%), 8s elapsed, ETA 12s
}
