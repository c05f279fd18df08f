package fl_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// answerConn answers a train message with a one-coordinate update, or
// fails.
type answerConn struct {
	id   string
	fail bool
}

var errDown = errors.New("test: member down")

func (c answerConn) ID() string { return c.id }
func (c answerConn) Send(_ context.Context, m *fl.Message) (*fl.Message, error) {
	if c.fail {
		return nil, errDown
	}
	return &fl.Message{Type: fl.TypeUpdate, Round: m.Round, Params: []float64{1}, Weight: 1}, nil
}

// sizedExchange treats member i as sizes[i] clients, of which lost[i]
// failed inside the member, and returns the leaf clients in its sum.
type sizedExchange struct {
	sizes, lost map[string]int
	after       bool // set the sizes after the step instead of before
}

func (e *sizedExchange) Check(*fl.ServerConfig, fl.Pool) error { return nil }

func (e *sizedExchange) Run(ctx context.Context, r *fl.Round, dst []float64) (int, error) {
	set := func() {
		for i := range r.Len() {
			r.SetSize(i, e.sizes[r.ID(i)])
		}
	}
	if !e.after {
		set()
	}
	accepted := 0
	msg := &fl.Message{Type: fl.TypeTrain, Round: r.Number, Params: r.Params}
	err := r.Step(ctx, fl.TypeTrain, func(int) (*fl.Message, error) { return msg, nil }, func(i int, m *fl.Message) error {
		n := e.sizes[r.ID(i)]
		r.SetSize(i, n)
		r.FailWithin(i, fl.TypeTrain, fl.FailTimeout, e.lost[r.ID(i)])
		accepted += n - min(e.lost[r.ID(i)], n)
		return nil
	})
	if e.after {
		set()
	}
	dst[0] = 1
	return accepted, err
}

// TestRoundSizes: members that stand for several clients are counted as
// their clients in Sampled, Failed, Failures and FailedAt, whether the
// size is set before or after the member fails; clients lost inside a
// member are counted without removing it; the server's quorum is of
// clients.
func TestRoundSizes(t *testing.T) {
	sizes := map[string]int{"a": 5, "b": 3, "c": 4, "d": 1}
	lost := map[string]int{"a": 2, "d": 9} // d can lose at most its one client
	for _, after := range []bool{false, true} {
		conns := []fl.Conn{answerConn{"a", false}, answerConn{"b", true}, answerConn{"c", false}, answerConn{"d", false}}
		r := fl.NewRound(1, []float64{0}, nil, conns, nil)
		ex := &sizedExchange{sizes: sizes, lost: lost, after: after}
		acc, err := ex.Run(context.Background(), r, make([]float64, 1))
		if err != nil {
			t.Fatal(err)
		}
		st := r.Stats()
		// 13 clients; b's 3 failed with an error, 2 of a's and d's 1 timed out.
		if st.Sampled != 13 || acc != 7 || st.Failed != 6 || st.Failures[fl.FailError] != 3 || st.Failures[fl.FailTimeout] != 3 || st.FailedAt[fl.TypeTrain] != 6 {
			t.Errorf("after=%v: sampled %d accepted %d failed %d failures %v at %v; want 13, 7, 6, error 3 timeout 3, train 6",
				after, st.Sampled, acc, st.Failed, st.Failures, st.FailedAt)
		}
		if r.Size(1) != 3 || r.Active(1) {
			t.Errorf("member b: size %d active %v", r.Size(1), r.Active(1))
		}
	}
	// A size lowered after the failure takes its clients back.
	r := fl.NewRound(1, []float64{0}, nil, []fl.Conn{answerConn{"x", true}}, nil)
	r.SetSize(0, 10)
	r.Step(context.Background(), fl.TypeTrain, func(int) (*fl.Message, error) { return &fl.Message{Type: fl.TypeTrain}, nil }, func(int, *fl.Message) error { return nil })
	r.SetSize(0, 4)
	if st := r.Stats(); st.Failed != 4 || st.Failures[fl.FailError] != 4 || st.Sampled != 4 {
		t.Errorf("size 10 then 4: failed %d %v sampled %d, want 4", st.Failed, st.Failures, st.Sampled)
	}

	// Through the server: MinClients is a quorum of clients.
	for _, tc := range []struct {
		quorum  int
		aborted bool
	}{{7, false}, {8, true}} {
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.MinClients, cfg.Seed, cfg.MaxAborted = 1, tc.quorum, 1, 2
		cfg.Exchange = &sizedExchange{sizes: sizes, lost: lost}
		pool := listPool(t, answerConn{"a", false}, answerConn{"b", true}, answerConn{"c", false}, answerConn{"d", false})
		s, err := fl.NewServer(cfg, pool, []float64{0})
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.RunRound(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Aborted != tc.aborted || st.Sampled != 13 || st.Accepted != 7 || st.Failed != 6 {
			t.Errorf("quorum %d: %+v, want aborted=%v with 13 sampled, 7 accepted, 6 failed", tc.quorum, st, tc.aborted)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("SetSize(0, 0) did not panic")
		}
	}()
	fl.NewRound(1, nil, nil, []fl.Conn{answerConn{"x", false}}, nil).SetSize(0, 0)
}
