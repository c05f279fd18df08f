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
	part := cfg
	if (cfg.Dataset == "" || cfg.Dataset == "synthetic") && !cfg.Resplit {
		part.Clients = i + 1
	}
	w, err := Build(part)
	if err != nil {
		return nil, err
	}
	own := w.Train[i]
	w.Train = make([]*dataset.Dataset, cfg.Clients)
	w.Train[i] = own
	w.Test = nil
	w.IDs = make([]string, cfg.Clients)
	for k := range w.IDs {
		w.IDs[k] = clientID(k)
	}
	w.index = map[string]int{w.IDs[i]: i}
	return w, nil
}
