package ddp_test

import (
	"fmt"

	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/privacy/ddp"
)

// One configuration gives the exchange, the clients' encoders and the
// budget. Here: 100 clients a round out of 10,000, 16-bit ring, noise
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
	// Output:
	// padded dimension: 1024 shares: 41 bits: 16
	// rounds allowed ≥ planned: true
}
