package attack

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/fl"
)

// Byzantine plugs an [Attack] into a simulation as the Byzantine clients
// of each round. It is an fl.Aggregator that wraps the rule under test:
// of the round's updates, those from clients in Clients are replaced by
// what Attack crafts from the honest ones (omniscient, as in the papers:
// the attacker sees every honest update of the round), keeping their
// position, client id and weight, and the result goes to Rule.
//
// A data-level attack (a [Poisoner], such as label flipping) crafts no
// updates: the Byzantine clients' own updates, trained on poisoned data by
// the host, pass through unchanged. [None] also passes them through.
//
// The attack draws from a source seeded by (Seed, call number), so a
// simulation is reproducible. Byzantine is not safe for concurrent use.
type Byzantine struct {
	Attack  Attack
	Clients map[string]bool // the Byzantine clients' ids
	Rule    fl.Aggregator
	Seed    uint64

	calls   uint64
	scratch []fl.Update
	honest  []fl.Update
}

var _ fl.Aggregator = (*Byzantine)(nil)

// Aggregate replaces the Byzantine updates and calls Rule.
func (b *Byzantine) Aggregate(dst []float64, updates []fl.Update) error {
	b.calls++
	if _, poison := b.Attack.(Poisoner); poison {
		return b.Rule.Aggregate(dst, updates)
	}
	if _, none := b.Attack.(None); none {
		return b.Rule.Aggregate(dst, updates)
	}
	b.honest = b.honest[:0]
	var byz []int
	for i, u := range updates {
		if b.Clients[u.Client] {
			byz = append(byz, i)
		} else {
			b.honest = append(b.honest, u)
		}
	}
	if len(byz) == 0 {
		return b.Rule.Aggregate(dst, updates)
	}
	if len(b.honest) == 0 {
		return fmt.Errorf("attack: round has only Byzantine updates: %w", ErrNoHonest)
	}
	rng := rand.New(rand.NewPCG(b.Seed, b.calls))
	crafted, err := b.Attack.Craft(rng, b.honest, len(byz))
	if err != nil {
		return fmt.Errorf("attack %s: %w", b.Attack.Name(), err)
	}
	if len(crafted) != len(byz) {
		return errors.New("attack: Craft returned the wrong number of updates")
	}
	b.scratch = append(b.scratch[:0], updates...)
	for j, i := range byz {
		b.scratch[i].Delta = crafted[j]
	}
	return b.Rule.Aggregate(dst, b.scratch)
}
