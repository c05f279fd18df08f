package personal_test

import (
	"context"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/drift"
	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// BenchmarkClientRound measures one client's answer to a train message:
// the plain handler (FedAvg's client), Ditto's (the same plus the
// personal update: about twice the training), FedPer's (the plain
// training plus the split of its delta), on the rotated-concept data
// (80 examples, minibatches of 10, one epoch) and the 2→16→2 network.
func BenchmarkClientRound(b *testing.B) {
	m := smallMLP()
	mask, _ := personal.HeadMask(m, 1)
	w := initial(m, 1)
	for _, alg := range []string{"plain", "ditto", "fedper"} {
		b.Run(alg, func(b *testing.B) {
			tr := trainers(b, m, 1)[0]
			store := &drift.MemoryStore{}
			var h fl.Handler = fl.NewHandler(tr, tr)
			typ := fl.TypeTrain
			switch alg {
			case "ditto":
				h = &personal.DittoClient{ID: "c0", Global: h, Personal: tr, Store: store, Lambda: 0.1}
			case "fedper":
				h, typ = &personal.FedPerClient{ID: "c0", Mask: mask, Trainer: tr, Store: store}, personal.TypeFedPerTrain
			}
			msg := &fl.Message{Type: typ, Round: 1, Params: w, Config: fl.Config{fl.KeyRound: 1}}
			head := mask.Head(nil, w)
			b.ReportAllocs()
			for b.Loop() {
				// Every iteration is the same round from the same state: the
				// personal model or head does not train on for b.N rounds
				// (a saturated softmax would make later rounds cheaper).
				switch alg {
				case "ditto":
					store.Save(personal.DittoKey("c0"), w)
				case "fedper":
					store.Save(personal.FedPerKey("c0"), head)
				}
				if _, err := h.Handle(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMaskSplit splits the niid_bench CNN's delta (44,426 values)
// into base and head and merges them back, as a FedPer client does each
// round, into warm buffers.
func BenchmarkMaskSplit(b *testing.B) {
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	mask, _ := personal.HeadMask(m, 2)
	full := make([]float64, mask.Dim)
	base := make([]float64, 0, mask.BaseLen())
	head := make([]float64, 0, mask.PersonalLen())
	b.SetBytes(int64(8 * mask.Dim))
	b.ReportAllocs()
	for b.Loop() {
		base = mask.Base(base[:0], full)
		head = mask.Head(head[:0], full)
		mask.SetBase(full, base)
		mask.SetHead(full, head)
	}
}
