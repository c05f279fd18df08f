package ddp_test

import (
	"fmt"

	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/privacy/ddp"
)

// One configuration gives the exchange, the clients' encoders and the
// budget, and the two guarantees: for the released models and against
// the server. Here: 100 clients a round out of 10,000, 16-bit ring, noise
// provisioned for the threshold 51 less 10 colluders.
func ExampleNew() {
	d, err := ddp.New(ddp.Config{
		Mechanism: ddp.DiscreteGaussian, Bits: 16, ClipNorm: 1, Dim: 1000,
		Clients: 100, Threshold: 51, Colluders: 10,
		TargetEpsilon: 4, Rounds: 100, Delta: 1e-5,
		Population: 10000, SampleRate: 0.01, Sampling: accountant.FixedSize,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := d.Params()
	fmt.Println("padded dimension:", p.Padded, "shares:", p.Shares, "bits:", p.Bits)
	fmt.Println("rounds allowed ≥ planned:", d.MaxRounds() >= 100)
	// The released models: sampling (1% a round) amplifies the guarantee.
	// The server knows who took part: a client in 10 of the 100 rounds.
	models, _ := d.EpsilonAfter(100)
	server, _ := d.ServerEpsilonAfter(10)
	fmt.Printf("ε after 100 rounds: %.2f for the models, %.1f against the server for a client in 10\n", models, server)
	// Output:
	// padded dimension: 1024 shares: 41 bits: 16
	// rounds allowed ≥ planned: true
	// ε after 100 rounds: 4.00 for the models, 32.1 against the server for a client in 10
}
