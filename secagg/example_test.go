package secagg_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/fedgo/fedgo/secagg"
)

// A 5-client SecAgg round (complete graph, t = 3) in which client 4 drops
// out after sharing its keys: the server recovers the sum of the other four.
func Example() {
	p := secagg.Params{N: 5, Threshold: 3, Bits: 16, Dim: 3}
	srv, err := secagg.NewServer(secagg.ServerConfig{Params: p})
	if err != nil {
		log.Fatal(err)
	}
	inputs := [][]uint64{{1, 2, 3}, {10, 20, 30}, {100, 200, 300}, {1000, 2000, 3000}, {7, 7, 7}}
	clients := make([]*secagg.Client, p.N)
	for i := range clients {
		// Rand nil would use crypto/rand; a seeded reader keeps the example deterministic.
		c, err := secagg.NewClient(secagg.ClientConfig{ID: uint32(i + 1), Params: p, Rand: rand.NewChaCha8([32]byte{byte(i)})})
		if err != nil {
			log.Fatal(err)
		}
		clients[i] = c
		m, err := c.AdvertiseKeys()
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleAdvertise(m); err != nil {
			log.Fatal(err)
		}
	}
	keys, err := srv.Keys()
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range clients {
		m, err := c.ShareKeys(keys)
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleShares(m); err != nil {
			log.Fatal(err)
		}
	}
	broadcasts, err := srv.Shares()
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range broadcasts {
		if b.To == 4 {
			continue // client 4 drops out here
		}
		m, err := clients[b.To-1].MaskedInput(b, inputs[b.To-1])
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleMasked(m); err != nil {
			log.Fatal(err)
		}
	}
	req, err := srv.UnmaskRequest()
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range req.Survivors {
		m, err := clients[id-1].Unmask(req)
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleUnmask(m); err != nil {
			log.Fatal(err)
		}
	}
	sum, err := srv.Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("survivors:", req.Survivors, "dropped:", req.Dropped)
	fmt.Println("sum:", sum)
	// Output:
	// survivors: [1 2 3 5] dropped: [4]
	// sum: [118 229 340]
}

// ChooseParams picks the SecAgg+ degree and threshold for a target
// security and correctness.
func ExampleChooseParams() {
	k, t, err := secagg.ChooseParams(1000, 0.05, 0.1, 40, 20)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("n=1000, 5%% corrupt, 10%% dropout: k=%d t=%d\n", k, t)
	// Output:
	// n=1000, 5% corrupt, 10% dropout: k=36 t=19
}

// Quantize encodes real vectors for aggregation; Dequantize decodes the sum.
func ExampleQuantize() {
	rng := rand.New(rand.NewPCG(1, 2))
	const clip, bits, n = 1.0, 32, 2
	a, _ := secagg.Quantize(make([]uint64, 2), []float64{0.5, -0.25}, clip, bits, n, rng)
	b, _ := secagg.Quantize(make([]uint64, 2), []float64{0.25, 3.0}, clip, bits, n, rng) // 3.0 is clipped to 1
	sum := []uint64{a[0] + b[0], a[1] + b[1]}                                            // what secure aggregation returns
	out, _ := secagg.Dequantize(make([]float64, 2), sum, clip, bits, n, 2)
	fmt.Printf("%.6f %.6f (step %.1e)\n", out[0], out[1], secagg.QuantStep(clip, bits, n))
	// Output:
	// 0.750000 0.750000 (step 9.3e-10)
}
