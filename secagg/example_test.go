package secagg_test

import (
	"bytes"
	"crypto/ed25519"
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

// ChooseMaliciousParams picks k and t for a server that may lie about
// survivors and choose whom to drop; Tolerance says how many corrupt
// neighbours of one client the result withstands.
func ExampleChooseMaliciousParams() {
	for _, corrupt := range []float64{0.05, 1.0 / 3} {
		k, t, err := secagg.ChooseMaliciousParams(1000, corrupt, 0.1, 40, 20)
		if err != nil {
			log.Fatal(err)
		}
		p := secagg.Params{N: 1000, Threshold: t, Neighbors: k, Dim: 1, Malicious: true}
		fmt.Printf("%.2f corrupt: k=%d t=%d, tolerates %d corrupt neighbours (Validate: %v)\n", corrupt, k, t, p.Tolerance(), p.Validate())
	}
	// Output:
	// 0.05 corrupt: k=108 t=77, tolerates 21 corrupt neighbours (Validate: <nil>)
	// 0.33 corrupt: k=318 t=259, tolerates 98 corrupt neighbours (Validate: <nil>)
}

// A malicious-mode round adds two steps: the graph seed is drawn by
// commit–reveal (RevealSeed, then ShareKeysRevealed), and the survivors
// sign the survivor list before unmasking.
func Example_malicious() {
	p := secagg.Params{N: 8, Threshold: 5, Neighbors: 6, Bits: 16, Dim: 2, Malicious: true}
	ids := make(map[uint32]ed25519.PrivateKey)
	pki := make(map[uint32]ed25519.PublicKey)
	for id := uint32(1); id <= 8; id++ {
		ids[id] = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(id)}, 32))
		pki[id] = ids[id].Public().(ed25519.PublicKey)
	}
	srv, err := secagg.NewServer(secagg.ServerConfig{Params: p, PeerKeys: pki})
	if err != nil {
		log.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	clients := make([]*secagg.Client, p.N)
	for i := range clients {
		id := uint32(i + 1)
		c, err := secagg.NewClient(secagg.ClientConfig{ID: id, Params: p, Identity: ids[id], PeerKeys: pki, Rand: rand.NewChaCha8([32]byte{byte(i)})})
		must(err)
		clients[i] = c
		m, err := c.AdvertiseKeys()
		must(err)
		must(srv.HandleAdvertise(m))
	}
	keys, err := srv.Keys()
	must(err)
	for _, c := range clients {
		m, err := c.RevealSeed(keys)
		must(err)
		must(srv.HandleReveal(m))
	}
	seeds, err := srv.Reveals()
	must(err)
	for _, c := range clients {
		m, err := c.ShareKeysRevealed(seeds)
		must(err)
		must(srv.HandleShares(m))
	}
	broadcasts, err := srv.Shares()
	must(err)
	for _, b := range broadcasts {
		m, err := clients[b.To-1].MaskedInput(b, []uint64{uint64(b.To), 1})
		must(err)
		must(srv.HandleMasked(m))
	}
	list, err := srv.Survivors()
	must(err)
	for _, id := range list.Survivors {
		m, err := clients[id-1].ConsistencyCheck(list)
		must(err)
		must(srv.HandleSignature(m))
	}
	req, err := srv.UnmaskRequest()
	must(err)
	for _, id := range req.Survivors {
		m, err := clients[id-1].Unmask(req)
		must(err)
		must(srv.HandleUnmask(m))
	}
	sum, err := srv.Result()
	must(err)
	fmt.Println("sum:", sum)
	// Output:
	// sum: [36 8]
}
