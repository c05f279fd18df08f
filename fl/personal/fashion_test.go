package personal_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// On real Fashion-MNIST split over 10 clients by Dirichlet(0.5) label
// skew (niid_bench's Dir(0.5)), each client's part split 80/20 into
// training and held-out data, Ditto's and FedPer's personal models beat
// FedAvg's global model on the clients' own held-out data by 0.03 at
// least, in the mean and at p10 of the per-client accuracy. 12,000
// images, an MLP 784 → 64 → 10 (FedPer: the output layer personal), 10
// rounds of one local epoch, minibatches of 32, lr 0.05; about 15 s of
// CPU, so it runs under CI=true only.
func TestFashionMNISTDirichletPersonalization(t *testing.T) {
	if os.Getenv("CI") != "true" || testing.Short() {
		t.Skip("a minute of CPU: runs under CI=true without -short; the synthetic label-skew test is the short version")
	}
	all, _, err := dataset.LoadFashionMNIST(dataset.DefaultFashionMNISTDir)
	if err != nil {
		if errors.Is(err, dataset.ErrNotFound) {
			t.Fatalf("Fashion-MNIST is required under CI=true (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
		}
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(18, 3))
	all = all.Subset(rng.Perm(all.Len())[:12000])
	parts, err := dataset.Dirichlet(rng, all.Y, 10, 10, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	m := model.MLP{Dim: 784, Hidden: []int{64}, Classes: 10}
	mask, err := personal.MLPHeadMask(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	w0 := make([]float64, m.NumParams())
	m.Init(rand.New(rand.NewPCG(18, 4)), w0)
	results := labelSkewRun{
		Model: m, Mask: mask, All: all, Parts: parts,
		SplitSeed: 5, TestFrac: 0.2, Batch: 32, Rounds: 10,
		Initial: func() []float64 { return w0 },
	}.run(t)
	personalBeatsGlobal(t, results, 0.03)
}
