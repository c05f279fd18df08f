package fl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fedgo/fedgo/fl"
)

// TestInnerState: a wrapper's state is its inner part's, round-tripped;
// a stateless inner part has no bytes and refuses any.
func TestInnerState(t *testing.T) {
	m := &fl.FedAvgM{}
	m.Step([]float64{0, 0, 0}, []float64{1, 2, 3}) // the momentum buffer is now non-zero
	b, err := fl.MarshalInner(m)
	require.NoError(t, err)
	require.NotEmpty(t, b)
	again := &fl.FedAvgM{}
	require.NoError(t, fl.UnmarshalInner(again, b))
	b2, err := fl.MarshalInner(again)
	require.NoError(t, err)
	require.Equal(t, b, b2)

	stateless := &fl.FedAvg{}
	b, err = fl.MarshalInner(stateless)
	require.NoError(t, err)
	require.Empty(t, b)
	require.NoError(t, fl.UnmarshalInner(stateless, nil))
	require.ErrorIs(t, fl.UnmarshalInner(stateless, []byte{1}), fl.ErrCheckpoint)
}
