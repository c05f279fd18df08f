package dataset

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const leafValid = `{"users": ["f_00000", "f_00001"],
 "num_samples": [2, 1],
 "hierarchies": [],
 "user_data": {
  "f_00001": {"x": [[0.5, -1, 2e-3]], "y": [3.0]},
  "f_00000": {"x": [[1, 2, 3], [4, 5, 6]], "y": [0, 1]}
 }}`

func TestReadLEAF(t *testing.T) {
	users, data, err := ReadLEAF(strings.NewReader(leafValid), Limits{})
	require.NoError(t, err)
	require.Equal(t, []string{"f_00000", "f_00001"}, users)
	require.Len(t, data, 2)
	want := []*Dataset{
		{X: []float64{1, 2, 3, 4, 5, 6}, Y: []int{0, 1}, Dim: 3, Classes: 4},
		{X: []float64{0.5, -1, 0.002}, Y: []int{3}, Dim: 3, Classes: 4},
	}
	for i := range want {
		require.NoError(t, data[i].Validate())
		require.Equal(t, want[i], data[i])
	}
	// num_samples is optional; users with no examples are kept.
	users, data, err = ReadLEAF(strings.NewReader(`{"users":["a","b"],"user_data":{"a":{"x":[[1]],"y":[0]},"b":{"x":[],"y":[]}}}`), Limits{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, users)
	require.Equal(t, 0, data[1].Len())
	require.Equal(t, 1, data[1].Dim)
}

func TestReadLEAFRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		limits Limits
		want   error
	}{
		{"empty", ``, Limits{}, ErrMalformed},
		{"not json", `users`, Limits{}, ErrMalformed},
		{"truncated", leafValid[:len(leafValid)-10], Limits{}, ErrMalformed},
		{"trailing", leafValid + `{}`, Limits{}, ErrMalformed},
		{"string x", `{"users":["a"],"user_data":{"a":{"x":["hello"],"y":["e"]}}}`, Limits{}, ErrMalformed},
		{"string y", `{"users":["a"],"user_data":{"a":{"x":[[1]],"y":["e"]}}}`, Limits{}, ErrMalformed},
		{"fractional y", `{"users":["a"],"user_data":{"a":{"x":[[1]],"y":[0.5]}}}`, Limits{}, ErrInvalid},
		{"negative y", `{"users":["a"],"user_data":{"a":{"x":[[1]],"y":[-1]}}}`, Limits{}, ErrInvalid},
		{"huge y", `{"users":["a"],"user_data":{"a":{"x":[[1]],"y":[1e300]}}}`, Limits{}, ErrInvalid},
		{"x y mismatch", `{"users":["a"],"user_data":{"a":{"x":[[1],[2]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"ragged", `{"users":["a"],"user_data":{"a":{"x":[[1],[2,3]],"y":[0,0]}}}`, Limits{}, ErrInvalid},
		{"ragged across users", `{"users":["a","b"],"user_data":{"a":{"x":[[1]],"y":[0]},"b":{"x":[[1,2]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"empty row", `{"users":["a"],"user_data":{"a":{"x":[[]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"missing user", `{"users":["a","b"],"user_data":{"a":{"x":[[1]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"duplicate user", `{"users":["a","a"],"user_data":{"a":{"x":[[1]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"num_samples length", `{"users":["a"],"num_samples":[1,2],"user_data":{"a":{"x":[[1]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"num_samples value", `{"users":["a"],"num_samples":[2],"user_data":{"a":{"x":[[1]],"y":[0]}}}`, Limits{}, ErrInvalid},
		{"no examples", `{"users":[],"user_data":{}}`, Limits{}, ErrInvalid},
		{"over MaxBytes", leafValid, Limits{MaxBytes: 50}, ErrTooLarge},
		{"trailing over MaxBytes", leafValid + strings.Repeat(" ", 100) + "x", Limits{MaxBytes: int64(len(leafValid) + 50)}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadLEAF(strings.NewReader(tc.in), tc.limits)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestReadLEAFSyntheticRoundTrip writes Synthetic's devices in the LEAF
// layout the FedProx scripts use and reads them back.
func TestReadLEAFSyntheticRoundTrip(t *testing.T) {
	splits, err := Synthetic(SyntheticConfig{Clients: 3, Dim: 4, Classes: 3, MaxSamples: 60, Seed: 2})
	require.NoError(t, err)
	var b strings.Builder
	b.WriteString(`{"users":["u0","u1","u2"],"user_data":{`)
	for k, s := range splits {
		if k > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"u` + string(rune('0'+k)) + `":{"x":[`)
		for i := range s.Train.Len() {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("[")
			for j, v := range s.Train.Row(i) {
				if j > 0 {
					b.WriteString(",")
				}
				b.WriteString(formatFloat(v))
			}
			b.WriteString("]")
		}
		b.WriteString(`],"y":[`)
		for i, y := range s.Train.Y {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(formatFloat(float64(y))) // the scripts write 3.0
		}
		b.WriteString("]}")
	}
	b.WriteString("}}")
	_, data, err := ReadLEAF(strings.NewReader(b.String()), Limits{})
	require.NoError(t, err)
	maxLabel := 0
	for _, s := range splits {
		for _, y := range s.Train.Y {
			maxLabel = max(maxLabel, y)
		}
	}
	for k, s := range splits {
		require.Equal(t, s.Train.X, data[k].X)
		require.Equal(t, s.Train.Y, data[k].Y)
		require.Equal(t, maxLabel+1, data[k].Classes)
	}
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) + dotZero(v) }

// dotZero makes integral values print as "3.0", as Python's json does.
func dotZero(v float64) string {
	if v == float64(int64(v)) && !strings.ContainsAny(strconv.FormatFloat(v, 'g', -1, 64), "e.") {
		return ".0"
	}
	return ""
}
