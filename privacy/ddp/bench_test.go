package ddp

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/privacy/accountant"
	"github.com/fedgo/fedgo/secagg"
)

// clientFixture is one client (id 1) of a semi-honest SecAgg round of n
// clients on the complete graph, with the other clients' messages
// prepared once, so that an iteration replays the client's whole protocol
// (keys, sharing, masking of its input, unmasking) from the same seeded
// randomness.
type clientFixture struct {
	p   secagg.Params
	kb  *secagg.KeysBroadcast
	sb  *secagg.SharesBroadcast
	req *secagg.UnmaskRequest
}

func newClientFixture(b *testing.B, n, k, t, bits, dim int) *clientFixture {
	p := secagg.Params{N: n, Threshold: t, Neighbors: k, Bits: bits, Dim: dim, Seed: [32]byte{3}}
	f := &clientFixture{p: p, kb: &secagg.KeysBroadcast{Round: p.RoundID()}}
	var clients []*secagg.Client
	for id := uint32(1); id <= uint32(n); id++ {
		c, err := secagg.NewClient(secagg.ClientConfig{ID: id, Params: p, Rand: mrand.NewChaCha8([32]byte{byte(id)}), TrustDealers: true})
		if err != nil {
			b.Fatal(err)
		}
		m, err := c.AdvertiseKeys()
		if err != nil {
			b.Fatal(err)
		}
		f.kb.Keys = append(f.kb.Keys, *m)
		clients = append(clients, c)
	}
	f.sb = &secagg.SharesBroadcast{To: 1}
	for i, c := range clients {
		m, err := c.ShareKeys(f.kb)
		if err != nil {
			b.Fatal(err)
		}
		f.sb.Session = m.Session
		for _, box := range m.Boxes {
			if box.Peer == 1 {
				f.sb.Entries = append(f.sb.Entries, secagg.ShareEntry{From: uint32(i + 1), CommitB: m.CommitB, CommitS: m.CommitS, Box: box.Data})
			}
		}
	}
	slices.SortFunc(f.sb.Entries, func(x, y secagg.ShareEntry) int { return int(x.From) - int(y.From) })
	f.req = &secagg.UnmaskRequest{Session: f.sb.Session}
	for id := uint32(1); id <= uint32(n); id++ {
		f.req.Survivors = append(f.req.Survivors, id)
	}
	return f
}

// mask runs client 1's protocol on input.
func (f *clientFixture) mask(b *testing.B, input []uint64) {
	c, err := secagg.NewClient(secagg.ClientConfig{ID: 1, Params: f.p, Rand: mrand.NewChaCha8([32]byte{1}), TrustDealers: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.AdvertiseKeys(); err != nil {
		b.Fatal(err)
	}
	if _, err := c.ShareKeys(f.kb); err != nil {
		b.Fatal(err)
	}
	if _, err := c.MaskedInput(f.sb, input); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Unmask(f.req); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkClientRound is one client's cost per round at d = 10^6, b = 16,
// for n = 10 (complete graph, t = n/2+1) and n = 100 (the SecAgg+ degree
// k and threshold t that fedround chooses by default:
// secagg.ChooseParams(n, 1/3, 0.1, 40, 20)): "plain" is secure
// aggregation's client step (clamp and stochastic quantization with
// secagg.Quantize, then the whole secagg client protocol on d values);
// "ddg" and "skellam" replace the quantization by the ddp encoding (clip,
// rotation, conditional rounding, exact noise shares, mod 2^b) and mask
// D = 2^20 values. Both use GOMAXPROCS cores (secagg's client fans its
// work out, the ddp noise is drawn in chunks). Bytes are the client's
// float64 delta (8·d).
func BenchmarkClientRound(b *testing.B) {
	const bits, dim = 16, 1_000_000
	delta := randVec(mrand.New(mrand.NewPCG(1, 2)), dim, 0.9)
	for _, n := range []int{10, 100} {
		k, t := 0, n/2+1
		if n > 10 {
			var err error
			if k, t, err = secagg.ChooseParams(n, 1.0/3, 0.1, 40, 20); err != nil {
				b.Fatal(err)
			}
			if k == n-1 {
				k = 0
			}
		}
		b.Run(fmt.Sprintf("plain/n=%d/k=%d/b=%d/d=%d", n, k, bits, dim), func(b *testing.B) {
			f := newClientFixture(b, n, k, t, bits, dim)
			input := make([]uint64, dim)
			rng := mrand.New(mrand.NewChaCha8([32]byte{5}))
			b.SetBytes(8 * dim)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := secagg.Quantize(input, delta, 1, bits, n, rng); err != nil {
					b.Fatal(err)
				}
				f.mask(b, input)
			}
		})
		for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
			b.Run(fmt.Sprintf("%v/n=%d/k=%d/b=%d/d=%d", m, n, k, bits, dim), func(b *testing.B) {
				c := Config{Mechanism: m, Bits: bits, ClipNorm: 1, Dim: dim, Clients: n, Threshold: t,
					NoiseMultiplier: 0.5, Population: 100 * n, SampleRate: 0.01, Sampling: accountant.FixedSize}
				d := mustNew(b, c)
				e, err := d.Encoder(seedReader(1))
				if err != nil {
					b.Fatal(err)
				}
				f := newClientFixture(b, n, k, t, bits, d.Params().Padded)
				input := make([]uint64, d.Params().Padded)
				b.SetBytes(8 * dim)
				b.ReportAllocs()
				for b.Loop() {
					if err := e.Encode(input, delta, [32]byte{byte(b.N)}); err != nil {
						b.Fatal(err)
					}
					f.mask(b, input)
				}
			})
		}
	}
}

// BenchmarkEncode is the encoding alone (no masking), by mechanism, at
// d = 10^6, b = 16, n = 10.
func BenchmarkEncode(b *testing.B) {
	const dim = 1_000_000
	delta := randVec(mrand.New(mrand.NewPCG(1, 2)), dim, 0.9)
	for _, m := range []Mechanism{DiscreteGaussian, Skellam} {
		b.Run(fmt.Sprintf("%v/d=%d", m, dim), func(b *testing.B) {
			d := mustNew(b, Config{Mechanism: m, Bits: 16, ClipNorm: 1, Dim: dim, Clients: 10, Threshold: 6,
				NoiseMultiplier: 0.5, Population: 1000, SampleRate: 0.01, Sampling: accountant.FixedSize})
			e, _ := d.Encoder(seedReader(1))
			input := make([]uint64, d.Params().Padded)
			b.SetBytes(8 * dim)
			b.ReportAllocs()
			for b.Loop() {
				if err := e.Encode(input, delta, [32]byte{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSkellam is one Sk(λ) draw (two exact Poisson draws) at the λ of
// 16-bit rounds with n = 100 and n = 10 clients: "table" is the sampler
// the encoder uses, "reject" the O(√λ) rejection sampler it replaced.
func BenchmarkSkellam(b *testing.B) {
	for _, lambda := range []uint64{1000, 171926, 2236857} {
		p, err := newPoisson(lambda)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("table/lambda=%d", lambda), func(b *testing.B) {
			s := seeded(b, 1)
			b.ReportAllocs()
			for b.Loop() {
				p.skellam(s)
			}
		})
		b.Run(fmt.Sprintf("reject/lambda=%d", lambda), func(b *testing.B) {
			s := seeded(b, 1)
			b.ReportAllocs()
			for b.Loop() {
				a := p.sampleReject(s)
				_ = a - p.sampleReject(s) // two independent draws, as skellam
			}
		})
	}
}
