package personal_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl/model"
	"github.com/fedgo/fedgo/fl/personal"
)

// The niid_bench CNN's layer offsets by hand: conv1 6·(1·25 + 1) = 156,
// conv2 16·(6·25 + 1) = 2416, dense 120·257 = 30840, dense 84·121 =
// 10164, dense 10·85 = 850; 44,426 in all.
func TestHeadMaskNIIDBenchCNN(t *testing.T) {
	m := model.NIIDBenchCNN(model.Shape{C: 1, H: 28, W: 28}, 10)
	for _, tc := range []struct {
		n    int
		want []personal.Range
	}{
		{0, nil},
		{1, []personal.Range{{43576, 44426}}},
		{2, []personal.Range{{33412, 44426}}},
		{5, []personal.Range{{0, 44426}}},
	} {
		k, err := personal.HeadMask(m, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if k.Dim != 44426 || !slices.Equal(k.Personal, tc.want) {
			t.Errorf("HeadMask(%d) = %+v, want Dim 44426 and %v", tc.n, k, tc.want)
		}
	}
	if _, err := personal.HeadMask(m, 6); !errors.Is(err, personal.ErrMask) {
		t.Errorf("6 of 5 layers: %v, want ErrMask", err)
	}
	// The convolutions (layers 0 and 3) and the last layer, by index.
	k, err := personal.LayerMask(m, 3, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	// Layers 0 and 3 are adjacent in the vector ([0, 156) and [156, 2572)):
	// one range.
	if want := []personal.Range{{0, 2572}, {43576, 44426}}; !slices.Equal(k.Personal, want) {
		t.Errorf("LayerMask(3, 0, -1) = %v, want %v", k.Personal, want)
	}
	for name, layers := range map[string][]int{"out of range": {12}, "negative out of range": {-13}, "no parameters": {1}, "repeated": {0, -12}} {
		if _, err := personal.LayerMask(m, layers...); !errors.Is(err, personal.ErrMask) {
			t.Errorf("%s: %v, want ErrMask", name, err)
		}
	}
	if _, err := personal.LayerMask(model.Sequential{}, 0); !errors.Is(err, model.ErrInvalidModel) {
		t.Errorf("invalid model: %v, want ErrInvalidModel", err)
	}
}

// Base, Head, SetBase and SetHead against a naive reference: a boolean
// per coordinate, on random masks.
func TestMaskSplitMergeReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		dim := 1 + rng.IntN(40)
		personalAt := make([]bool, dim)
		var k personal.Mask
		k.Dim = dim
		for lo := 0; lo < dim; {
			hi := lo + 1 + rng.IntN(5)
			hi = min(hi, dim)
			if rng.IntN(2) == 0 {
				k.Personal = append(k.Personal, personal.Range{Lo: lo, Hi: hi})
				for j := lo; j < hi; j++ {
					personalAt[j] = true
				}
			}
			lo = hi + rng.IntN(2)
		}
		if err := k.Validate(); err != nil {
			t.Fatal(err)
		}
		full := make([]float64, dim)
		for j := range full {
			full[j] = float64(j)
		}
		var wantBase, wantHead []float64
		for j, p := range personalAt {
			if p {
				wantHead = append(wantHead, full[j])
			} else {
				wantBase = append(wantBase, full[j])
			}
		}
		base, head := k.Base(nil, full), k.Head(nil, full)
		if !slices.Equal(base, wantBase) || !slices.Equal(head, wantHead) || k.BaseLen() != len(wantBase) || k.PersonalLen() != len(wantHead) {
			t.Fatalf("mask %+v: base %v head %v, want %v %v", k, base, head, wantBase, wantHead)
		}
		back := make([]float64, dim)
		k.SetBase(back, base)
		k.SetHead(back, head)
		if !slices.Equal(back, full) {
			t.Fatalf("mask %+v: SetBase+SetHead gives %v, want %v", k, back, full)
		}
	}
}

func TestMaskValidate(t *testing.T) {
	for name, k := range map[string]personal.Mask{
		"no Dim":       {},
		"empty range":  {Dim: 5, Personal: []personal.Range{{2, 2}}},
		"reversed":     {Dim: 5, Personal: []personal.Range{{3, 2}}},
		"outside":      {Dim: 5, Personal: []personal.Range{{3, 6}}},
		"negative":     {Dim: 5, Personal: []personal.Range{{-1, 2}}},
		"overlapping":  {Dim: 5, Personal: []personal.Range{{0, 3}, {2, 4}}},
		"out of order": {Dim: 5, Personal: []personal.Range{{3, 4}, {0, 1}}},
	} {
		if err := k.Validate(); !errors.Is(err, personal.ErrMask) {
			t.Errorf("%s: %v, want ErrMask", name, err)
		}
	}
	if err := (personal.Mask{Dim: 5, Personal: []personal.Range{{0, 1}, {1, 5}}}).Validate(); err != nil {
		t.Errorf("adjacent ranges: %v", err)
	}
}

// An MLP 3 → 4 → 5 → 2 by hand: layers of 4·4 = 16, 5·5 = 25 and 2·6 = 12
// parameters.
func TestMLPHeadMask(t *testing.T) {
	m := model.MLP{Dim: 3, Hidden: []int{4, 5}, Classes: 2}
	for n, want := range [][]personal.Range{nil, {{41, 53}}, {{16, 53}}, {{0, 53}}} {
		k, err := personal.MLPHeadMask(m, n)
		if err != nil {
			t.Fatal(err)
		}
		if k.Dim != 53 || !slices.Equal(k.Personal, want) {
			t.Errorf("MLPHeadMask(%d) = %+v, want Dim 53 and %v", n, k, want)
		}
	}
	if _, err := personal.MLPHeadMask(m, 4); !errors.Is(err, personal.ErrMask) {
		t.Errorf("4 of 3 layers: %v, want ErrMask", err)
	}
	if _, err := personal.MLPHeadMask(model.MLP{}, 1); !errors.Is(err, model.ErrInvalidModel) {
		t.Errorf("invalid MLP: %v, want ErrInvalidModel", err)
	}
}
