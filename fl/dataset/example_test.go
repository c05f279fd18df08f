package dataset_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/fedgo/fedgo/fl/dataset"
)

func ExampleSynthetic() {
	cfg := dataset.DefaultSyntheticConfig() // Synthetic(1, 1), 30 devices
	cfg.Seed = 1
	splits, err := dataset.Synthetic(cfg)
	if err != nil {
		panic(err)
	}
	small := true
	for _, s := range splits {
		n := s.Train.Len() + s.Test.Len()
		small = small && n >= 50 && s.Train.Len() == n*8/10
	}
	fmt.Println("clients:", len(splits))
	fmt.Println("features:", splits[0].Train.Dim, "classes:", splits[0].Train.Classes)
	fmt.Println("≥ 50 samples, 80/20 split:", small)
	// Output:
	// clients: 30
	// features: 60 classes: 10
	// ≥ 50 samples, 80/20 split: true
}

func ExampleDirichlet() {
	labels := make([]int, 1000)
	for i := range labels {
		labels[i] = i % 10
	}
	rng := rand.New(rand.NewPCG(1, 2))
	parts, err := dataset.Dirichlet(rng, labels, 10, 8, 0.3)
	if err != nil {
		panic(err)
	}
	total, empty := 0, 0
	for _, p := range parts {
		total += len(p)
		if len(p) == 0 {
			empty++
		}
	}
	fmt.Println("clients:", len(parts), "examples:", total, "empty clients:", empty)
	// Output: clients: 8 examples: 1000 empty clients: 0
}

func ExampleIID() {
	parts, err := dataset.IID(rand.New(rand.NewPCG(1, 2)), 10, 3)
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		fmt.Print(len(p), " ")
	}
	fmt.Println()
	// Output: 4 3 3
}

func ExampleShards() {
	// 10 classes × 60 examples, 10 clients × 2 shards of 30: each shard
	// holds one class, so each client sees at most two.
	labels := make([]int, 600)
	for i := range labels {
		labels[i] = i % 10
	}
	parts, err := dataset.Shards(rand.New(rand.NewPCG(1, 2)), labels, 10, 2)
	if err != nil {
		panic(err)
	}
	most := 0
	for _, p := range parts {
		seen := map[int]bool{}
		for _, i := range p {
			seen[labels[i]] = true
		}
		most = max(most, len(seen))
	}
	fmt.Println("examples per client:", len(parts[0]), "most labels on a client:", most)
	// Output: examples per client: 60 most labels on a client: 2
}

func ExampleDataset_Subset() {
	d, err := dataset.Blobs(dataset.BlobsConfig{Samples: 100, Seed: 1})
	if err != nil {
		panic(err)
	}
	parts, err := dataset.IID(rand.New(rand.NewPCG(1, 2)), d.Len(), 4)
	if err != nil {
		panic(err)
	}
	client := d.Subset(parts[0])
	fmt.Println(client.Len(), client.Dim, client.Classes, client.Validate())
	// Output: 25 2 3 <nil>
}

func ExampleDataset_Split() {
	d, err := dataset.Blobs(dataset.BlobsConfig{Samples: 10, Seed: 1})
	if err != nil {
		panic(err)
	}
	train, test, err := d.Split(rand.New(rand.NewPCG(1, 2)), 0.2)
	if err != nil {
		panic(err)
	}
	fmt.Println(train.Len(), test.Len())
	// Output: 8 2
}

func ExampleReadCSV() {
	in := "sepal,petal,class\n5.1,1.4,0\n7.0,4.7,1\n6.3,6.0,2\n"
	d, err := dataset.ReadCSV(strings.NewReader(in), dataset.CSVConfig{LabelColumn: -1, Header: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Len(), d.Dim, d.Classes, d.Row(1), d.Y)
	// Output: 3 2 3 [7 4.7] [0 1 2]
}

func ExampleReadLEAF() {
	in := `{"users":["f_00000","f_00001"],"num_samples":[2,1],
	 "user_data":{"f_00000":{"x":[[1,2],[3,4]],"y":[0,1]},"f_00001":{"x":[[5,6]],"y":[2]}}}`
	users, data, err := dataset.ReadLEAF(strings.NewReader(in), dataset.Limits{})
	if err != nil {
		panic(err)
	}
	for i, u := range users {
		fmt.Println(u, data[i].Len(), data[i].Classes)
	}
	// Output:
	// f_00000 2 3
	// f_00001 1 3
}

func ExampleReadIDX() {
	// A 2×3 unsigned-byte IDX file, gzip-compressed.
	raw := []byte{0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	idx, err := dataset.ReadIDX(&buf, dataset.Limits{MaxBytes: 1 << 20})
	if err != nil {
		panic(err)
	}
	fmt.Println(idx.Dims, idx.Data)
	// Output: [2 3] [1 2 3 4 5 6]
}

func ExampleLoadFashionMNIST() {
	train, test, err := dataset.LoadFashionMNIST("") // DefaultFashionMNISTDir
	if err != nil {
		fmt.Println(err) // wraps dataset.ErrNotFound: apt-get install dataset-fashion-mnist
		return
	}
	fmt.Println(train.Len(), test.Len(), train.Dim, train.Classes) // 60000 10000 784 10
}

// #C=2 of NIID-Bench: each of 4 clients holds its own label and one more.
func ExampleLabelQuantity() {
	labels := make([]int, 40)
	for i := range labels {
		labels[i] = i % 4
	}
	parts, err := dataset.LabelQuantity(rand.New(rand.NewPCG(1, 2)), labels, 4, 4, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for c, p := range parts {
		held := map[int]bool{}
		for _, i := range p {
			held[labels[i]] = true
		}
		fmt.Printf("client %d: %d labels, its own label %d: %v\n", c, len(held), c, held[c])
	}
	// Output:
	// client 0: 2 labels, its own label 0: true
	// client 1: 2 labels, its own label 1: true
	// client 2: 2 labels, its own label 2: true
	// client 3: 2 labels, its own label 3: true
}
