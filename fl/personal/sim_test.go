package personal_test

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/personal"
)

// federation builds the rotated-concept federation of n clients for alg
// ("fedavg", "ditto" or "fedper") and returns the server config (with the
// per-client Evaluation as its Evaluate), the pool, the store and the
// initial parameters.
func federation(t testing.TB, alg string, n, rounds int) (fl.ServerConfig, fl.Pool, *drift.MemoryStore, []float64) {
	t.Helper()
	m := smallMLP()
	k, err := personal.HeadMask(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	store := &drift.MemoryStore{}
	var conns []fl.Conn
	for _, tr := range trainers(t, m, n) {
		id := tr.Config().ID
		var h fl.Handler
		switch alg {
		case "fedavg":
			h = fl.NewHandler(tr, tr)
		case "ditto":
			h = &personal.DittoClient{ID: id, Global: fl.NewHandler(tr, tr), Personal: tr, Evaluator: tr, Store: store}
		case "fedper":
			h = &personal.FedPerClient{ID: id, Mask: k, Trainer: tr, Evaluator: tr, Store: store}
		}
		conns = append(conns, conn{id, h})
	}
	pool := newPool(t, conns...)
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.Seed = rounds, 7
	cfg.ClientConfig = fl.Config{fl.KeyLR: 0.1, fl.KeyEpochs: 2, personal.KeyLambda: 0.1}
	if alg == "fedper" {
		cfg.Exchange = &personal.FedPer{Mask: k}
	}
	cfg.State = map[string]fl.Stateful{"clients": store}
	cfg.Evaluate = (&personal.Evaluation{Pool: pool}).Evaluate
	return cfg, pool, store, initial(m, 2)
}

// On clients whose concepts conflict (client i labels by the side of the
// direction at angle 2πi/6, so that no single model fits more than about
// half of the clients' data), the per-client accuracy of Ditto's and
// FedPer's personal models on each client's own held-out split beats
// that of FedAvg's global model, in the mean and in the worst decile.
// The evaluation runs through the engine's schedule (ServerConfig.Evaluate).
func TestPersonalizationBeatsFedAvgOnConflictingClients(t *testing.T) {
	final := map[string]fl.Metrics{}
	params := map[string][]float64{}
	for _, alg := range []string{"fedavg", "ditto", "fedper"} {
		cfg, pool, _, w0 := federation(t, alg, 6, 30)
		cfg.EvalClients = -1 // the engine's federated evaluation too
		s, h := runServer(t, cfg, pool, w0)
		params[alg] = s.Params()
		c := h.Rounds[len(h.Rounds)-1].Central
		if c == nil || c["clients"] != 6 {
			t.Fatalf("%s: no per-client evaluation in the last round's stats: %v", alg, c)
		}
		final[alg] = c
		// The engine's federated evaluation asks the same clients and
		// weights their answers by examples: it sees the weighted mean.
		if e := h.Rounds[len(h.Rounds)-1].Eval; math.Abs(e[fl.KeyAccuracy]-c["accuracy_wmean"]) > 1e-12 {
			t.Errorf("%s: the engine's evaluation gives %v, the per-client report's weighted mean %v", alg, e[fl.KeyAccuracy], c["accuracy_wmean"])
		}
		t.Logf("%-6s per-client accuracy: mean %.3f, weighted %.3f, p10 %.3f, p50 %.3f, p90 %.3f",
			alg, c["accuracy_mean"], c["accuracy_wmean"], c["accuracy_p10"], c["accuracy_p50"], c["accuracy_p90"])
	}
	fedavg := final["fedavg"]
	if fedavg["accuracy_mean"] > 0.75 {
		t.Fatalf("FedAvg's global model reaches %.3f on the clients' own data: the concepts do not conflict", fedavg["accuracy_mean"])
	}
	// Ditto's global model is FedAvg's, bit for bit (the engine's plain
	// path), and its clients report its accuracy beside their own.
	if !slices.Equal(params["ditto"], params["fedavg"]) {
		t.Error("Ditto's global model differs from FedAvg's")
	}
	if d := final["ditto"]; d["global_accuracy_mean"] != fedavg["accuracy_mean"] || d["global_accuracy_p10"] != fedavg["accuracy_p10"] {
		t.Errorf("Ditto's clients report the global model at mean %.3f p10 %.3f, FedAvg's clients at %.3f %.3f",
			d["global_accuracy_mean"], d["global_accuracy_p10"], fedavg["accuracy_mean"], fedavg["accuracy_p10"])
	}
	for _, alg := range []string{"ditto", "fedper"} {
		c := final[alg]
		if c["accuracy_mean"] < fedavg["accuracy_mean"]+0.2 || c["accuracy_p10"] < fedavg["accuracy_p10"]+0.2 || c["accuracy_mean"] < 0.85 {
			t.Errorf("%s: per-client accuracy mean %.3f p10 %.3f; FedAvg's global model: mean %.3f p10 %.3f",
				alg, c["accuracy_mean"], c["accuracy_p10"], fedavg["accuracy_mean"], fedavg["accuracy_p10"])
		}
	}
}

// simulate runs alg over 6 clients, 3 sampled a round, checkpointing
// every 2 rounds into dir, resuming from it when resume is set (without
// the clients' state when dropClients is set); it returns the final
// parameters and the serialized store.
func simulate(t *testing.T, alg string, rounds int, dir string, resume, dropClients bool) ([]float64, []byte) {
	t.Helper()
	cfg, pool, store, w0 := federation(t, alg, 6, rounds)
	cfg.ClientsPerRound = 3
	cfg.Evaluate = nil
	cfg.CheckpointDir, cfg.CheckpointEvery = dir, 2
	if dropClients {
		cfg.State = nil
	}
	s, err := fl.NewServer(cfg, pool, w0)
	if err != nil {
		t.Fatal(err)
	}
	if resume {
		cp, err := fl.ReadCheckpoint(filepath.Join(dir, fl.CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if dropClients {
			delete(cp.Parts, "host/clients")
		}
		if err := s.Restore(cp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := store.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return s.Params(), b
}

// A run stopped after round 4 and resumed from its checkpoint (the
// server's state and every client's personal state restored) ends bit for
// bit where the uninterrupted run ends: the global model and every
// personal model (Ditto's v_k, FedPer's heads). A resume that loses the
// personal state ends elsewhere.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, alg := range []string{"ditto", "fedper"} {
		wantX, wantS := simulate(t, alg, 7, t.TempDir(), false, false)
		dir := t.TempDir()
		simulate(t, alg, 4, dir, false, false)
		gotX, gotS := simulate(t, alg, 7, dir, true, false)
		if !slices.Equal(gotX, wantX) || !bytes.Equal(gotS, wantS) {
			t.Fatalf("%s: the resumed run differs from the uninterrupted one", alg)
		}
		dir = t.TempDir()
		simulate(t, alg, 4, dir, false, false)
		gotX, gotS = simulate(t, alg, 7, dir, true, true)
		if slices.Equal(gotX, wantX) && bytes.Equal(gotS, wantS) {
			t.Fatalf("%s: a resume that lost the personal state ends where the uninterrupted run does", alg)
		}
	}
}

// The personal state of a deployed client in a drift.DirStore survives
// the client's restart: a new client value over the same directory
// continues where the old one stopped, as the in-memory store does.
func TestDirStoreRestart(t *testing.T) {
	m := smallMLP()
	tr := trainers(t, m, 1)[0]
	dir := drift.DirStore{Dir: t.TempDir()}
	mem := &drift.MemoryStore{}
	w := initial(m, 5)
	run := func(store drift.Store, r int) {
		c := &personal.DittoClient{ID: "c0", Global: fl.NewHandler(tr, tr), Personal: tr, Store: store, Lambda: 0.1}
		if _, err := c.Handle(context.Background(), &fl.Message{Type: fl.TypeTrain, Round: r, Params: w, Config: fl.Config{fl.KeyRound: float64(r)}}); err != nil {
			t.Fatal(err)
		}
	}
	for r := 1; r <= 3; r++ {
		run(dir, r) // a new DittoClient each round: a restarted process
		run(mem, r)
	}
	a, b := make([]float64, len(w)), make([]float64, len(w))
	if ok, err := dir.Load(personal.DittoKey("c0"), a); !ok || err != nil {
		t.Fatalf("DirStore: %v %v", ok, err)
	}
	mem.Load(personal.DittoKey("c0"), b)
	if !slices.Equal(a, b) {
		t.Fatal("the directory store's v_k differs from the memory store's")
	}
}
