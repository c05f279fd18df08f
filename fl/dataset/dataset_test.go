package dataset

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// small returns n examples of dimension 2 whose features encode the index
// (row i = [i, −i]) and labels i mod 3.
func small(n int) *Dataset {
	d := &Dataset{Dim: 2, Classes: 3}
	for i := range n {
		d.X = append(d.X, float64(i), -float64(i))
		d.Y = append(d.Y, i%3)
	}
	return d
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		d    *Dataset
		ok   bool
	}{
		{"ok", small(4), true},
		{"empty", &Dataset{Dim: 3, Classes: 2}, true},
		{"nil", nil, false},
		{"zero dim", &Dataset{Dim: 0, Classes: 2}, false},
		{"zero classes", &Dataset{Dim: 1, Classes: 0}, false},
		{"short X", &Dataset{X: []float64{1}, Y: []int{0, 0}, Dim: 1, Classes: 1}, false},
		{"long X", &Dataset{X: []float64{1, 2, 3}, Y: []int{0}, Dim: 2, Classes: 1}, false},
		{"label high", &Dataset{X: []float64{1}, Y: []int{2}, Dim: 1, Classes: 2}, false},
		{"label negative", &Dataset{X: []float64{1}, Y: []int{-1}, Dim: 1, Classes: 2}, false},
		{"NaN", &Dataset{X: []float64{1, math.NaN()}, Y: []int{0}, Dim: 2, Classes: 1}, false},
		{"Inf", &Dataset{X: []float64{math.Inf(-1)}, Y: []int{0}, Dim: 1, Classes: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrInvalid)
			}
		})
	}
}

func TestSubsetCopies(t *testing.T) {
	d := small(5)
	s := d.Subset([]int{4, 1, 1})
	require.Equal(t, []float64{4, -4, 1, -1, 1, -1}, s.X)
	require.Equal(t, []int{1, 1, 1}, s.Y)
	require.Equal(t, 2, s.Dim)
	require.Equal(t, 3, s.Classes)
	s.X[0] = 99
	s.Y[0] = 0
	require.Equal(t, 4.0, d.X[8], "Subset must not alias X")
	require.Equal(t, 1, d.Y[4], "Subset must not alias Y")
	require.Panics(t, func() { d.Subset([]int{5}) })
}

func TestConcat(t *testing.T) {
	a, b := small(2), small(3)
	b.Classes = 7
	c, err := Concat(a, b)
	require.NoError(t, err)
	require.Equal(t, 5, c.Len())
	require.Equal(t, 7, c.Classes)
	require.Equal(t, slices.Concat(a.X, b.X), c.X)
	require.Equal(t, slices.Concat(a.Y, b.Y), c.Y)
	c.X[0] = 42
	require.Equal(t, 0.0, a.X[0])

	_, err = Concat()
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Concat(a, nil)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Concat(a, &Dataset{Dim: 3, Classes: 1})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		n         int
		f         float64
		wantTrain int
	}{
		{10, 0.2, 8}, {5, 0.2, 4}, {7, 0.2, 5}, {100, 0.1, 90}, {3, 0, 3}, {3, 1, 0}, {0, 0.5, 0},
	} {
		d := small(tc.n)
		for _, rng := range []*rand.Rand{nil, rand.New(rand.NewPCG(1, 2))} {
			train, test, err := d.Split(rng, tc.f)
			require.NoError(t, err)
			require.Equal(t, tc.wantTrain, train.Len(), "n=%d f=%v", tc.n, tc.f)
			require.Equal(t, tc.n-tc.wantTrain, test.Len())
			// Row i is [i, −i]: recover the indices, which must be a permutation.
			var seen []int
			for _, part := range []*Dataset{train, test} {
				require.NoError(t, part.Validate())
				for i := range part.Len() {
					r := part.Row(i)
					require.Equal(t, -r[0], r[1])
					require.Equal(t, int(r[0])%3, part.Y[i])
					seen = append(seen, int(r[0]))
				}
			}
			if rng == nil {
				require.True(t, slices.IsSorted(seen), "nil rng keeps the order")
			}
			slices.Sort(seen)
			for i := range seen {
				require.Equal(t, i, seen[i])
			}
		}
	}
	for _, f := range []float64{-0.1, 1.1, math.NaN()} {
		_, _, err := small(3).Split(nil, f)
		require.ErrorIs(t, err, ErrInvalid)
	}
}

// TestSplitShuffles checks that a seeded split is a random subset: with
// 100 examples, the training set of two seeds differ and is not a prefix.
func TestSplitShuffles(t *testing.T) {
	d := small(100)
	a, _, err := d.Split(rand.New(rand.NewPCG(1, 1)), 0.5)
	require.NoError(t, err)
	b, _, err := d.Split(rand.New(rand.NewPCG(2, 1)), 0.5)
	require.NoError(t, err)
	require.NotEqual(t, a.X, b.X)
	prefix := d.Subset([]int{0, 1, 2, 3, 4})
	require.NotEqual(t, prefix.X, a.X[:10])
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
