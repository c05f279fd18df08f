package workload

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/fedgo/fedgo/fl/model"
)

// TestBuildClientEqualsBuild: the trainer of client i from BuildClient
// computes, bit for bit, what Build's trainer of client i computes.
func TestBuildClientEqualsBuild(t *testing.T) {
	cfg := Config{Clients: 7, Alpha: 1, Beta: 1, Seed: 3}
	full, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := model.TrainerConfig{LR: 0.01, Epochs: 2, BatchSize: 10}
	global := full.Init()
	for i := range cfg.Clients {
		part, err := BuildClient(cfg, i)
		if err != nil {
			t.Fatal(err)
		}
		if part.IDs[i] != full.IDs[i] || len(part.IDs) != cfg.Clients || part.Test != nil {
			t.Fatalf("client %d: ids %v, test %v", i, part.IDs, part.Test)
		}
		for k, d := range part.Train {
			if (d != nil) != (k == i) {
				t.Fatalf("client %d holds the data of client %d", i, k)
			}
		}
		if _, err := part.Trainer(full.IDs[(i+1)%cfg.Clients], tc); err == nil {
			t.Errorf("client %d built another client's trainer", i)
		}
		want := train(t, full, full.IDs[i], tc, global)
		got := train(t, part, part.IDs[i], tc, global)
		for j := range want {
			if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
				t.Fatalf("client %d: delta[%d] = %v, want %v", i, j, got[j], want[j])
			}
		}
	}
	if _, err := BuildClient(cfg, cfg.Clients); err == nil {
		t.Error("BuildClient accepted client N")
	}
}

func train(t *testing.T, w *Workload, id string, tc model.TrainerConfig, global []float64) []float64 {
	t.Helper()
	tr, err := w.Trainer(id, tc)
	if err != nil {
		t.Fatal(err)
	}
	u, err := tr.Train(context.Background(), global, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u.Delta
}

// TestBuildClientMemory: the first client's build allocates as much for
// 200 clients as for 10 (Build's grows with the clients).
func TestBuildClientMemory(t *testing.T) {
	alloc := func(n int) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		if _, err := BuildClient(Config{Clients: n, Alpha: 1, Beta: 1, Seed: 1}, 0); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	small, large := alloc(10), alloc(200)
	t.Logf("client 0's build: %d bytes for 10 clients, %d for 200", small, large)
	if large > small+small/2+64<<10 {
		t.Errorf("client 0's build allocates %d bytes for 200 clients, %d for 10", large, small)
	}
}

// TestBuildClientGeneratesOneDevice: every client's build, the last of
// 200 included, allocates about its own device's data, not the N devices
// before it.
func TestBuildClientGeneratesOneDevice(t *testing.T) {
	cfg := Config{Clients: 200, Alpha: 1, Beta: 1, Seed: 1}
	for _, i := range []int{0, 99, 199} {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		w, err := BuildClient(cfg, i)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&b)
		d := w.Train[i]
		own := uint64(8*len(d.X)+8*len(d.Y)) * 5 / 4 // the train part is 80% of the device
		if got := b.TotalAlloc - a.TotalAlloc; got > 3*own+256<<10 {
			t.Errorf("client %d: %d bytes allocated, its device holds about %d", i, got, own)
		}
	}
}
