package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport"
)

// ids returns the virtual clients' ids: v0, v1, …
func (o *options) ids() []string {
	ids := make([]string, o.clients)
	for i := range ids {
		ids[i] = "v" + strconv.Itoa(i)
	}
	return ids
}

// factory builds virtual client id from the seed and the id alone: a
// linear regression on 10 to 29 examples drawn around a shared model,
// with its dropouts those of transport.Memory with the same seed.
func (o *options) factory() func(id string) (fl.Handler, error) {
	return func(id string) (fl.Handler, error) {
		k, err := strconv.Atoi(strings.TrimPrefix(id, "v"))
		if err != nil || k < 0 || k >= o.clients {
			return nil, fmt.Errorf("worker: no virtual client %q", id)
		}
		h := fl.NewHandler(&regression{seed: o.seed, k: uint64(k)}, nil)
		if o.drop == 0 {
			return h, nil
		}
		// A one-client in-memory pool with the simulation's seed drops the
		// client in the rounds the whole population's pool would.
		p, err := transport.NewMemory(transport.MemoryConfig{IDs: []string{id}, Faults: transport.Faults{Drop: o.drop}, Seed: o.seed,
			Factory: func(string) (fl.Handler, error) { return h, nil }})
		if err != nil {
			return nil, err
		}
		c, _ := p.Conn(id)
		return fl.HandlerFunc(c.Send), nil
	}
}

// regression is virtual client k's local training: gradient descent on
// the mean squared error of its examples.
type regression struct {
	seed, k uint64
}

// data draws the client's examples: a local model near the shared one,
// features N(0, 1), labels the local model's output plus N(0, 0.01).
func (r *regression) data(d int) (xs, ys []float64) {
	shared := rand.New(rand.NewPCG(r.seed, 0))
	rng := rand.New(rand.NewPCG(r.seed, r.k+1))
	n := 10 + int(r.k%20)
	xs, ys = make([]float64, n*d), make([]float64, n)
	w := make([]float64, d)
	for j := range w {
		w[j] = shared.NormFloat64() + 0.1*rng.NormFloat64()
	}
	for i := range n {
		x := xs[i*d : (i+1)*d]
		for j := range x {
			x[j] = rng.NormFloat64()
			ys[i] += w[j] * x[j]
		}
		ys[i] += 0.1 * rng.NormFloat64()
	}
	return xs, ys
}

func (r *regression) Train(_ context.Context, global []float64, cfg fl.Config) (fl.Update, error) {
	d := len(global)
	xs, ys := r.data(d)
	n := len(ys)
	local := append([]float64(nil), global...)
	grad := make([]float64, d)
	lr := cfg.Get(fl.KeyLR, 0.05)
	var loss float64
	for range int(cfg.Get(fl.KeyEpochs, 1)) {
		clear(grad)
		loss = 0
		for i := range n {
			x := xs[i*d : (i+1)*d]
			var p float64
			for j := range x {
				p += local[j] * x[j]
			}
			e := p - ys[i]
			loss += e * e / float64(n)
			for j := range x {
				grad[j] += 2 * e * x[j] / float64(n)
			}
		}
		for j := range local {
			local[j] -= lr * grad[j]
		}
	}
	for j := range local {
		local[j] -= global[j]
	}
	return fl.Update{Delta: local, Weight: float64(n), Metrics: fl.Metrics{fl.KeyLoss: loss, fl.KeyExamples: float64(n)}}, nil
}
