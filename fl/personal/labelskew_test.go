package personal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// The field's usual non-IID split: overlapping Gaussian blobs of 5
// classes, split over 10 clients by Dirichlet(0.5) label skew (niid_bench's Dir(0.5)), each
// client's part split 70/30 into training and held-out data. A client's
// personal model learns its own label mix, which the global model cannot:
// Ditto's and FedPer's per-client accuracy beats FedAvg's global model on
// the clients' own held-out data, in the mean and at p10.
func TestPersonalizationBeatsFedAvgUnderLabelSkew(t *testing.T) {
	all, err := dataset.Blobs(dataset.BlobsConfig{Samples: 3000, Dim: 2, Classes: 5, Std: 2.5, Box: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	parts, err := dataset.Dirichlet(rng, all.Y, 5, 10, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		if len(p) < 20 {
			t.Fatalf("client %d holds %d examples: the split is too thin to test", i, len(p))
		}
	}
	m := model.Sequential{
		Input:   model.Shape{C: 2, H: 1, W: 1},
		Layers:  []model.Layer{model.Dense{Units: 16}, model.ReLU{}, model.Dense{Units: 5}},
		Classes: 5,
	}
	mask, err := personal.HeadMask(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]fl.Metrics{}
	for _, alg := range []string{"fedavg", "ditto", "fedper"} {
		store := &drift.MemoryStore{}
		var conns []fl.Conn
		for i, idx := range parts {
			train, test, err := all.Subset(idx).Split(rand.New(rand.NewPCG(uint64(i), 9)), 0.3)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("c%d", i)
			tr, err := model.NewTrainer(model.TrainerConfig{Model: m, ID: id, Train: train, Test: test, LR: 0.05, BatchSize: 10, Seed: uint64(i + 1)})
			if err != nil {
				t.Fatal(err)
			}
			var h fl.Handler = fl.NewHandler(tr, tr)
			switch alg {
			case "ditto":
				h = &personal.DittoClient{ID: id, Global: h, Personal: tr, Evaluator: tr, Store: store}
			case "fedper":
				h = &personal.FedPerClient{ID: id, Mask: mask, Trainer: tr, Evaluator: tr, Store: store}
			}
			conns = append(conns, conn{id, h})
		}
		pool := newPool(t, conns...)
		cfg := fl.DefaultServerConfig()
		cfg.Rounds, cfg.Seed = 20, 1
		cfg.ClientConfig = fl.Config{personal.KeyLambda: 0.1}
		if alg == "fedper" {
			cfg.Exchange = &personal.FedPer{Mask: mask}
		}
		cfg.Evaluate = (&personal.Evaluation{Pool: pool}).Evaluate
		s, err := fl.NewServer(cfg, pool, initial(m, 6))
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c := h.Rounds[len(h.Rounds)-1].Central
		results[alg] = c
		t.Logf("%-6s per-client accuracy: mean %.3f, weighted %.3f, p10 %.3f, p50 %.3f, p90 %.3f",
			alg, c["accuracy_mean"], c["accuracy_wmean"], c["accuracy_p10"], c["accuracy_p50"], c["accuracy_p90"])
	}
	fedavg := results["fedavg"]
	for _, alg := range []string{"ditto", "fedper"} {
		c := results[alg]
		if c["accuracy_mean"] < fedavg["accuracy_mean"]+0.1 || c["accuracy_p10"] < fedavg["accuracy_p10"]+0.1 {
			t.Errorf("%s: per-client accuracy mean %.3f p10 %.3f; FedAvg's global model: mean %.3f p10 %.3f",
				alg, c["accuracy_mean"], c["accuracy_p10"], fedavg["accuracy_mean"], fedavg["accuracy_p10"])
		}
	}
}
