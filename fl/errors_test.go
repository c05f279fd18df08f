package fl_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// failingTrainer always fails with err.
type failingTrainer struct{ err error }

func (f failingTrainer) Train(context.Context, []float64, fl.Config) (fl.Update, error) {
	return fl.Update{}, f.err
}

var errDisk = errors.New("disk full")

// A trainer's error reaches the caller of Run: as a *fl.ClientError
// naming the client and the step, with the trainer's message (the
// in-memory transport carries errors as text, as the network does).
func TestRunErrorNamesTheClientFailure(t *testing.T) {
	pool := newPool(t, 3, func(i int, id string) fl.Handler {
		return fl.NewHandler(failingTrainer{errDisk}, nil)
	}, transport.Faults{})
	for _, rounds := range []int{1, 5} {
		cfg := fl.DefaultServerConfig()
		cfg.Rounds = rounds
		s, err := fl.NewServer(cfg, pool, []float64{0})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Run(context.Background())
		var ce *fl.ClientError
		if !errors.Is(err, fl.ErrQuorum) || !errors.As(err, &ce) {
			t.Fatalf("%d rounds: Run = %v, want ErrQuorum wrapping a *ClientError", rounds, err)
		}
		if !strings.HasPrefix(ce.Client, "client-") || ce.Step != fl.TypeTrain || !strings.Contains(ce.Err.Error(), errDisk.Error()) {
			t.Errorf("client error = %+v", ce)
		}
	}
}

// A History marshals to JSON whatever it holds: no loss (NaN) and
// non-finite metrics become null, and read back as NaN.
func TestHistoryJSON(t *testing.T) {
	h := fl.History{Rounds: []fl.RoundStats{
		{Round: 1, TrainLoss: math.NaN(), Extra: fl.Metrics{"eps": math.Inf(1), "ok": 2}},
		{Round: 2, TrainLoss: 0.5, Central: fl.Metrics{fl.KeyAccuracy: 0.9}},
	}}
	b, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"train_loss":null`) || !strings.Contains(string(b), `"eps":null`) {
		t.Errorf("JSON = %s", b)
	}
	var back fl.History
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r0, r1 := back.Rounds[0], back.Rounds[1]
	if !math.IsNaN(r0.TrainLoss) || !math.IsNaN(r0.Extra["eps"]) || r0.Extra["ok"] != 2 || r1.TrainLoss != 0.5 || r1.Central[fl.KeyAccuracy] != 0.9 {
		t.Errorf("round trip: %+v", back.Rounds)
	}
}

// History returns a copy: the caller cannot change the server's record.
func TestHistoryIsACopy(t *testing.T) {
	pool := newPool(t, 2, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	}, transport.Faults{})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds = 1
	s, _ := fl.NewServer(cfg, pool, []float64{0})
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := s.History()
	h.Rounds[0].Accepted = 99
	h.Rounds[0].Failures = map[string]int{"x": 1}
	if got := s.History().Rounds[0]; got.Accepted == 99 || got.Failures["x"] == 1 {
		t.Errorf("History was changed through its copy: %+v", got)
	}
}

// brokenState is an optimizer whose state cannot be marshalled.
type brokenState struct{ fl.SGD }

var errMarshal = errors.New("cannot marshal")

func (brokenState) MarshalBinary() ([]byte, error) { return nil, errMarshal }
func (brokenState) UnmarshalBinary([]byte) error   { return nil }

// A part whose state cannot be saved fails the checkpoint (and the round
// that writes it) instead of being left out.
func TestCheckpointFailsOnMarshalError(t *testing.T) {
	pool := newPool(t, 2, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	}, transport.Faults{})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Optimizer, cfg.CheckpointDir = 2, brokenState{}, t.TempDir()
	s, _ := fl.NewServer(cfg, pool, []float64{0})
	if _, err := s.Checkpoint(); !errors.Is(err, errMarshal) {
		t.Errorf("Checkpoint = %v, want the marshal error", err)
	}
	if _, err := s.RunRound(context.Background()); !errors.Is(err, errMarshal) {
		t.Errorf("RunRound = %v, want the marshal error", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.CheckpointDir, fl.CheckpointFile)); !os.IsNotExist(err) {
		t.Errorf("a checkpoint was written: %v", err)
	}
}

// Round.Stats may be called any number of times: the train time and loss
// are set from the reports, not added up again.
func TestRoundStatsIdempotent(t *testing.T) {
	pool := newPool(t, 2, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	}, transport.Faults{})
	r := fl.NewRound(1, []float64{0}, fl.Config{}, fl.Reachable(pool), nil)
	if _, err := (&fl.TrainExchange{}).Run(context.Background(), r, []float64{0}); err != nil {
		t.Fatal(err)
	}
	a := r.Stats()
	b := r.Stats()
	if !(a.TrainSeconds > 0) || a.TrainSeconds != b.TrainSeconds || a.TrainLoss != b.TrainLoss {
		t.Errorf("Stats twice: %v/%v then %v/%v", a.TrainSeconds, a.TrainLoss, b.TrainSeconds, b.TrainLoss)
	}
}

// counterState is a host part with state: a number.
type counterState struct{ n int }

func (c *counterState) MarshalBinary() ([]byte, error) { return []byte{byte(c.n)}, nil }
func (c *counterState) UnmarshalBinary(b []byte) error {
	if len(b) != 1 {
		return errors.New("bad counter state")
	}
	c.n = int(b[0])
	return nil
}

// The host's own parts (ServerConfig.State) travel in checkpoints.
func TestHostStateInCheckpoints(t *testing.T) {
	cfg := fl.DefaultServerConfig()
	cfg.Seed = 3
	cfg.State = map[string]fl.Stateful{"clients": &counterState{n: 7}}
	s, _ := fl.NewServer(cfg, listPool(t), []float64{0})
	cp, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	fresh := &counterState{}
	cfg.State = map[string]fl.Stateful{"clients": fresh}
	s2, _ := fl.NewServer(cfg, listPool(t), []float64{0})
	if err := s2.Restore(cp); err != nil || fresh.n != 7 {
		t.Fatalf("Restore = %v, state %d, want 7", err, fresh.n)
	}
	cfg.State = nil
	s3, _ := fl.NewServer(cfg, listPool(t), []float64{0})
	if err := s3.Restore(cp); !errors.Is(err, fl.ErrCheckpoint) {
		t.Errorf("a checkpoint with host state restored into a server without it: %v", err)
	}
	cfg.State = map[string]fl.Stateful{"fl/x": fresh}
	if _, err := fl.NewServer(cfg, listPool(t), []float64{0}); !errors.Is(err, fl.ErrConfig) {
		t.Errorf("a reserved name: %v", err)
	}
}

// A step whose message builder returns nil for a client skips it: the
// client is neither asked nor failed, and stays in the round.
func TestRoundStepSkipsNilMessages(t *testing.T) {
	pool := newPool(t, 3, func(i int, id string) fl.Handler {
		return fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	}, transport.Faults{})
	r := fl.NewRound(1, []float64{0}, fl.Config{}, fl.Reachable(pool), nil)
	handled := map[int]bool{}
	err := r.Step(context.Background(), fl.TypeTrain, func(i int) (*fl.Message, error) {
		if i == 0 {
			return nil, nil
		}
		return &fl.Message{Type: fl.TypeTrain, Round: 1, Params: []float64{0}}, nil
	}, func(i int, m *fl.Message) error {
		handled[i] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if handled[0] || !handled[1] || !handled[2] || !r.Active(0) || r.Stats().Failed != 0 {
		t.Errorf("handled %v, client 0 active %v, failed %d", handled, r.Active(0), r.Stats().Failed)
	}
}
