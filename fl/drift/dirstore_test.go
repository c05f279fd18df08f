package drift_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
)

func TestDirStore(t *testing.T) {
	root := t.TempDir()
	s := drift.DirStore{Dir: filepath.Join(root, "state")}
	dst := make([]float64, 3)
	if ok, err := s.Load("a", dst); ok || err != nil {
		t.Fatalf("Load before Save = %v, %v", ok, err)
	}
	if err := s.Save("a", []float64{1, -2, 3}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Load("a", dst); !ok || err != nil || !slices.Equal(dst, []float64{1, -2, 3}) {
		t.Fatalf("Load = %v %v %v", dst, ok, err)
	}
	if _, err := s.Load("a", make([]float64, 2)); !errors.Is(err, drift.ErrState) {
		t.Errorf("Load into the wrong length = %v, want ErrState", err)
	}
	// A key cannot reach outside the directory.
	if err := s.Save("../../escape", []float64{1}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 || entries[0].Name() != "state" {
		t.Errorf("files outside the store: %v", entries)
	}
	// A flipped bit or a truncated file is refused.
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*.state"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) != 4+8*3+32 {
			continue
		}
		b[10] ^= 1
		os.WriteFile(f, b, 0o600)
		if _, err := s.Load("a", dst); !errors.Is(err, drift.ErrState) {
			t.Errorf("bit flip: Load = %v, want ErrState", err)
		}
		os.WriteFile(f, b[:20], 0o600)
		if _, err := s.Load("a", dst); !errors.Is(err, drift.ErrState) {
			t.Errorf("truncated: Load = %v, want ErrState", err)
		}
	}
}

// A client restarted between rounds (a new handler over the same
// directory) continues as if it had never stopped.
func TestDirStoreSurvivesClientRestart(t *testing.T) {
	const n, d = 3, 2
	mk := func(store drift.Store) []fl.Conn {
		two, _ := scaffoldPair(n, d, func(i int) int { return i + 1 })
		for i, c := range two {
			h := c.(conn).h.(*drift.ScaffoldClient)
			two[i] = conn{c.ID(), &drift.ScaffoldClient{ID: h.ID, Trainer: h.Trainer, Store: store}}
		}
		return two
	}
	want := make([]float64, d)
	ex := &drift.Scaffold{Clients: n}
	mem := mk(&drift.MemoryStore{})
	for r := 1; r <= 4; r++ {
		runRound(t, ex, r, want, 1, nil, mem)
	}
	dir := t.TempDir()
	got := make([]float64, d)
	ex = &drift.Scaffold{Clients: n}
	for r := 1; r <= 4; r++ {
		runRound(t, ex, r, got, 1, nil, mk(drift.DirStore{Dir: dir})) // new clients every round
	}
	if !slices.Equal(got, want) {
		t.Fatalf("restarted clients end at %v, uninterrupted at %v", got, want)
	}
}
