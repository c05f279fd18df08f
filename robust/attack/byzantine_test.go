package attack_test

import (
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/robust/attack"
)

// recorder is an aggregator that keeps what it was given.
type recorder struct{ got []fl.Update }

func (r *recorder) Aggregate(dst []float64, us []fl.Update) error {
	r.got = append([]fl.Update(nil), us...)
	return nil
}

func TestByzantineReplacesOnlyByzantineUpdates(t *testing.T) {
	us := []fl.Update{
		{Client: "h1", Delta: []float64{1, 2}, Weight: 1},
		{Client: "b1", Delta: []float64{9, 9}, Weight: 5},
		{Client: "h2", Delta: []float64{3, 4}, Weight: 1},
	}
	rec := &recorder{}
	b := &attack.Byzantine{Attack: attack.SignFlip{}, Clients: map[string]bool{"b1": true}, Rule: rec, Seed: 1}
	if err := b.Aggregate(make([]float64, 2), us); err != nil {
		t.Fatal(err)
	}
	// Sign flip sends −mean(honest) = (−2, −3) in place of b1's update,
	// at b1's position, with b1's id and weight; honest updates untouched.
	if g := rec.got[1]; g.Client != "b1" || g.Weight != 5 || g.Delta[0] != -2 || g.Delta[1] != -3 {
		t.Errorf("Byzantine update = %+v", g)
	}
	if rec.got[0].Delta[0] != 1 || rec.got[2].Delta[1] != 4 || us[1].Delta[0] != 9 {
		t.Errorf("honest or input updates changed: %+v / %+v", rec.got, us)
	}
	// A data-level attack and None pass every update through.
	for _, a := range []attack.Attack{attack.LabelFlip{}, attack.None{}} {
		b := &attack.Byzantine{Attack: a, Clients: map[string]bool{"b1": true}, Rule: rec}
		if err := b.Aggregate(make([]float64, 2), us); err != nil || rec.got[1].Delta[0] != 9 {
			t.Errorf("%s: %v %+v", a.Name(), err, rec.got[1])
		}
	}
	// Only Byzantine clients: an error, not a silent pass.
	b = &attack.Byzantine{Attack: attack.SignFlip{}, Clients: map[string]bool{"h1": true, "b1": true, "h2": true}, Rule: rec}
	if err := b.Aggregate(make([]float64, 2), us); err == nil {
		t.Error("all-Byzantine round accepted")
	}
}
