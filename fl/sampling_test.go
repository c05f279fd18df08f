package fl_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

// halfOffline is a population of n registered clients of which the odd
// ones are unreachable.
type halfOffline struct {
	ids []string
	h   fl.Handler
}

func (p *halfOffline) Population() []string { return p.ids }
func (p *halfOffline) Conn(id string) (fl.Conn, bool) {
	var i int
	fmt.Sscanf(id, "c%03d", &i)
	if i%2 == 1 {
		return nil, false
	}
	return directConn{id, p.h}, true
}

// Fixed-size sampling draws from the registered population, not from the
// clients reachable now: with half the clients offline every client is
// still sampled at rate m/N, and an offline sampled client is a dropout.
// (Drawing from the reachable ones doubled the rate of the others, which
// the privacy accounting of m/N does not cover.)
func TestSamplingFromRegisteredPopulation(t *testing.T) {
	const n, m, rounds = 100, 10, 400
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%03d", i)
	}
	counts := map[string]int{}
	h := fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.ClientsPerRound, cfg.Seed, cfg.EvalEvery = rounds, m, 3, 0
	cfg.Observer = fl.ObserverFuncs{Start: func(_ int, sampled []string) {
		for _, id := range sampled {
			counts[id]++
		}
	}}
	s, err := fl.NewServer(cfg, &halfOffline{ids: ids, h: h}, []float64{0})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unreachable := 0
	for _, r := range h2.Rounds {
		unreachable += r.Failures[fl.FailUnreachable]
		if r.Sampled != m {
			t.Fatalf("round %d sampled %d, want %d", r.Round, r.Sampled, m)
		}
	}
	// Each client's count is Binomial(400, 0.1): mean 40, sd 6; the rate
	// of the reachable ones must not approach 0.2 (count 80).
	var reach, off float64
	for i, id := range ids {
		if i%2 == 0 {
			reach += float64(counts[id])
		} else {
			off += float64(counts[id])
		}
	}
	rate := reach / (n / 2) / rounds
	if math.Abs(rate-0.1) > 0.01 {
		t.Errorf("reachable clients sampled at rate %.4f, want 0.1", rate)
	}
	if int(off) != unreachable || math.Abs(off/(n/2)/rounds-0.1) > 0.01 {
		t.Errorf("offline clients sampled %v times, %d counted unreachable", off, unreachable)
	}
}

// The sampling key: without Seed or SamplingKey it comes from crypto/rand
// (two servers sample differently), and a checkpoint holds only a
// fingerprint of it, never the key.
func TestSamplingKey(t *testing.T) {
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%03d", i)
	}
	h := fl.NewHandler(&targetTrainer{target: []float64{1}, weight: 1, lr: 1}, nil)
	sampled := func(cfg fl.ServerConfig) []string {
		var got []string
		cfg.Rounds, cfg.ClientsPerRound = 1, 5
		cfg.Observer = fl.ObserverFuncs{Start: func(_ int, s []string) { got = s }}
		s, err := fl.NewServer(cfg, &halfOffline{ids: ids, h: h}, []float64{0})
		if err != nil {
			t.Fatal(err)
		}
		s.RunRound(context.Background())
		return got
	}
	a, b := sampled(fl.DefaultServerConfig()), sampled(fl.DefaultServerConfig())
	if fmt.Sprint(a) == fmt.Sprint(b) {
		t.Errorf("two servers without a key sampled the same clients %v (1 in C(50,5) by chance)", a)
	}
	key := bytes.Repeat([]byte{0xa7, 0x3c}, 16)
	cfg := fl.DefaultServerConfig()
	cfg.SamplingKey = key
	if x, y := sampled(cfg), sampled(cfg); fmt.Sprint(x) != fmt.Sprint(y) {
		t.Errorf("the same key sampled %v and %v", x, y)
	}
	s, _ := fl.NewServer(cfg, &halfOffline{ids: ids, h: h}, []float64{0})
	cp, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, key[:16]) {
		t.Error("the checkpoint holds the sampling key")
	}
	other := fl.DefaultServerConfig()
	other.SamplingKey = bytes.Repeat([]byte{1}, 32)
	s2, _ := fl.NewServer(other, &halfOffline{ids: ids, h: h}, []float64{0})
	if err := s2.Restore(cp); err == nil {
		t.Error("a checkpoint of another key was restored")
	}
}
