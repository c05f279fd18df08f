package personal_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
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
	results := labelSkewRun{
		Model: m, Mask: mask, All: all, Parts: parts,
		SplitSeed: 9, TestFrac: 0.3, Batch: 10, Rounds: 20,
		Initial: func() []float64 { return initial(m, 6) },
	}.run(t)
	personalBeatsGlobal(t, results, 0.1)
}
