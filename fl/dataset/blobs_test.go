package dataset

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBlobs(t *testing.T) {
	cfg := BlobsConfig{Samples: 3000, Dim: 4, Classes: 5, Std: 0.5, Box: 8, Seed: 3}
	d, err := Blobs(cfg)
	require.NoError(t, err)
	require.NoError(t, d.Validate())
	require.Equal(t, 3000, d.Len())
	require.Equal(t, 4, d.Dim)
	require.Equal(t, 5, d.Classes)
	centres := blobCentres(cfg)
	counts := make([]int, 5)
	sums := make([]float64, 20)
	sq := make([]float64, 20)
	for i := range d.Len() {
		y := d.Y[i]
		counts[y]++
		for j, v := range d.Row(i) {
			sums[y*4+j] += v
			diff := v - centres[y*4+j]
			sq[y*4+j] += diff * diff
		}
	}
	for y, c := range counts {
		require.Equal(t, 600, c, "balanced classes")
		for j := range 4 {
			require.LessOrEqual(t, math.Abs(centres[y*4+j]), 8.0)
			// Mean: standard error 0.5/√600 ≈ 0.02.
			require.InDelta(t, centres[y*4+j], sums[y*4+j]/600, 0.1)
			require.InEpsilon(t, 0.25, sq[y*4+j]/600, 0.2)
		}
	}
	again, err := Blobs(cfg)
	require.NoError(t, err)
	require.Equal(t, d, again)
	cfg.Seed = 4
	other, err := Blobs(cfg)
	require.NoError(t, err)
	require.NotEqual(t, d.X, other.X)
}

func TestBlobsDefaults(t *testing.T) {
	d, err := Blobs(BlobsConfig{})
	require.NoError(t, err)
	require.Equal(t, 300, d.Len())
	require.Equal(t, 2, d.Dim)
	require.Equal(t, 3, d.Classes)
	require.NoError(t, DefaultBlobsConfig().Validate())
	for _, bad := range []BlobsConfig{{Samples: -1}, {Std: math.NaN()}, {Box: -1}, {Box: math.Inf(1)}} {
		_, err := Blobs(bad)
		require.ErrorIs(t, err, ErrInvalid)
	}
	_, err = Blobs(BlobsConfig{Samples: 1 << 30, Dim: 2})
	require.ErrorIs(t, err, ErrTooLarge)
}
