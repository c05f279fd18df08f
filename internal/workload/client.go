package workload

import (
	"fmt"

	"github.com/fedgo/fedgo/fl/dataset"
)

// BuildClient builds what client i of cfg.Clients needs to train: the
// model and client i's training data, under the ids and seeds of the whole
// workload, so that its trainer equals Build's trainer of client i, bit
// for bit. The other clients' data and the test set are not kept (Test is
// nil; Examples counts client i's examples only).
//
// Synthetic(α, β) draws each device from its own stream, so only devices
// 0 to i are generated (and all but device i dropped at once): a client
// process keeps one device's data whatever cfg.Clients is. Generating
// device i alone needs a per-device generator in package dataset, which
// it does not export yet; until it does, client i's startup costs i+1
// devices' generation. Fashion-MNIST and Resplit split one pooled data set
// and build it whole.
func BuildClient(cfg Config, i int) (*Workload, error) {
	if i < 0 || i >= cfg.Clients {
		return nil, fmt.Errorf("workload: client %d of %d", i, cfg.Clients)
	}
	var w *Workload
	var err error
	own := i
	if (cfg.Dataset == "" || cfg.Dataset == "synthetic") && !cfg.Resplit {
		// Generate device i alone: memory and time independent of N.
		var s dataset.Split
		s, err = dataset.SyntheticClient(dataset.SyntheticConfig{
			Alpha: cfg.Alpha, Beta: cfg.Beta, Clients: cfg.Clients, IID: cfg.IID,
			MaxSamples: cfg.MaxSamples, Seed: cfg.Seed,
		}, i)
		if err != nil {
			return nil, err
		}
		w = &Workload{seed: cfg.Seed, Train: []*dataset.Dataset{s.Train}, Test: s.Test}
		one := cfg
		one.Clients = 1
		err = w.finish(one)
		own = 0
	} else {
		w, err = Build(cfg)
	}
	if err != nil {
		return nil, err
	}
	mine := w.Train[own]
	w.Train = make([]*dataset.Dataset, cfg.Clients)
	w.Train[i] = mine
	w.Test = nil
	w.IDs = make([]string, cfg.Clients)
	for k := range w.IDs {
		w.IDs[k] = clientID(k)
	}
	w.index = map[string]int{w.IDs[i]: i}
	return w, nil
}
