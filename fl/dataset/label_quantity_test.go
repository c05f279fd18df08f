package dataset

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// balancedLabels returns n labels, label i mod classes.
func balancedLabels(n, classes int) []int {
	ys := make([]int, n)
	for i := range ys {
		ys[i] = i % classes
	}
	return ys
}

// heldLabels returns the sorted distinct labels of part.
func heldLabels(labels, part []int) []int {
	var ys []int
	for _, i := range part {
		if !slices.Contains(ys, labels[i]) {
			ys = append(ys, labels[i])
		}
	}
	slices.Sort(ys)
	return ys
}

// The niid_bench layout: 10 classes, 10 clients, #C=2. Every client holds
// exactly its own label c and one other, every example is dealt (label c
// is held by client c), and a label's holders get sizes within one.
func TestLabelQuantity(t *testing.T) {
	const classes, clients, perClass = 10, 10, 600
	labels := balancedLabels(classes*perClass, classes)
	for _, k := range []int{1, 2, 3, 10} {
		parts, err := LabelQuantity(newRand(uint64(k)), labels, classes, clients, k)
		require.NoError(t, err)
		require.Len(t, parts, clients)
		requirePartition(t, parts, len(labels))
		// sizes[y] collects the sizes of label y's pieces.
		sizes := make([][]int, classes)
		for c, p := range parts {
			held := heldLabels(labels, p)
			require.Len(t, held, k, "client %d holds %v", c, held)
			require.Contains(t, held, c%classes, "client %d lacks its own label", c)
			for _, y := range held {
				n := 0
				for _, i := range p {
					if labels[i] == y {
						n++
					}
				}
				sizes[y] = append(sizes[y], n)
			}
		}
		for y, s := range sizes {
			sum := 0
			for _, n := range s {
				sum += n
			}
			require.Equal(t, perClass, sum, "label %d", y)
			require.LessOrEqual(t, slices.Max(s)-slices.Min(s), 1, "label %d pieces %v", y, s)
		}
	}
}

// With fewer clients than classes and k = 1, client c holds label c alone
// and the labels nobody holds are left out.
func TestLabelQuantityLeavesUnheldLabelsOut(t *testing.T) {
	labels := balancedLabels(100, 10)
	parts, err := LabelQuantity(newRand(1), labels, 10, 4, 1)
	require.NoError(t, err)
	total := 0
	for c, p := range parts {
		require.Equal(t, []int{c}, heldLabels(labels, p))
		require.Len(t, p, 10)
		total += len(p)
	}
	require.Equal(t, 40, total)
}

// The further labels are drawn at random, not in a fixed pattern: over
// 900 clients with #C=2 each label is the random second label of about
// 900/10 clients (each of the 9 labels other than c mod 10 with
// probability 1/9, and each label is excluded for 90 clients: 810/9 = 90).
func TestLabelQuantityRandomLabels(t *testing.T) {
	const classes, clients = 10, 900
	labels := balancedLabels(clients*classes*2, classes)
	parts, err := LabelQuantity(newRand(7), labels, classes, clients, 2)
	require.NoError(t, err)
	extra := make([]int, classes)
	for c, p := range parts {
		held := heldLabels(labels, p)
		require.Len(t, held, 2)
		for _, y := range held {
			if y != c%classes {
				extra[y]++
			}
		}
	}
	for y, n := range extra {
		// Binomial(810, 1/9): mean 90, sd ≈ 8.9; ±40 is 4.5 sd.
		require.InDelta(t, 90, n, 40, "label %d is the second label of %d clients", y, n)
	}
}

func TestLabelQuantityDeterministic(t *testing.T) {
	labels := balancedLabels(1000, 10)
	a, err := LabelQuantity(newRand(3), labels, 10, 10, 2)
	require.NoError(t, err)
	b, err := LabelQuantity(newRand(3), labels, 10, 10, 2)
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := LabelQuantity(newRand(4), labels, 10, 10, 2)
	require.NoError(t, err)
	require.NotEqual(t, a, c)
}

func TestLabelQuantityErrors(t *testing.T) {
	labels := balancedLabels(100, 10)
	for _, tc := range []struct {
		name                string
		labels              []int
		classes, clients, k int
	}{
		{"no clients", labels, 10, 0, 2},
		{"k zero", labels, 10, 10, 0},
		{"k above classes", labels, 10, 10, 11},
		{"label out of range", []int{0, 1, 10}, 10, 2, 1},
		{"negative label", []int{0, -1}, 10, 2, 1},
		{"label too small for its holders", balancedLabels(10, 10), 10, 20, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LabelQuantity(newRand(1), tc.labels, tc.classes, tc.clients, tc.k)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrInvalid), "%v", err)
		})
	}
}
