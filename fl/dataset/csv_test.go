package dataset

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cfg  CSVConfig
		want *Dataset
	}{
		{
			name: "label first",
			in:   "1,0.5,2\n0,-1,3e2\n",
			want: &Dataset{X: []float64{0.5, 2, -1, 300}, Y: []int{1, 0}, Dim: 2, Classes: 2},
		},
		{
			name: "label last with header and spaces",
			in:   "a, b, label\n1.5, 2, 3\n 4, 5 ,0\n",
			cfg:  CSVConfig{LabelColumn: -1, Header: true},
			want: &Dataset{X: []float64{1.5, 2, 4, 5}, Y: []int{3, 0}, Dim: 2, Classes: 4},
		},
		{
			name: "label middle, fixed classes",
			in:   "1,2,3\n4,0,6\n",
			cfg:  CSVConfig{LabelColumn: 1, Classes: 5},
			want: &Dataset{X: []float64{1, 3, 4, 6}, Y: []int{2, 0}, Dim: 2, Classes: 5},
		},
		{
			name: "quoted fields, CRLF",
			in:   "\"1\",\"2.5\"\r\n0,7\r\n",
			want: &Dataset{X: []float64{2.5, 7}, Y: []int{1, 0}, Dim: 1, Classes: 2},
		},
		{
			name: "header only",
			in:   "y,x\n",
			cfg:  CSVConfig{Header: true},
			want: &Dataset{Dim: 1, Classes: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(tc.in), tc.cfg)
			require.NoError(t, err)
			require.NoError(t, got.Validate())
			require.Equal(t, tc.want.Dim, got.Dim)
			require.Equal(t, tc.want.Classes, got.Classes)
			require.Equal(t, tc.want.Y, got.Y)
			require.Equal(t, tc.want.X, got.X)
		})
	}
}

func TestReadCSVRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		cfg  CSVConfig
		want error
	}{
		{"empty", "", CSVConfig{}, ErrMalformed},
		{"one column", "1\n2\n", CSVConfig{}, ErrMalformed},
		{"ragged", "1,2,3\n1,2\n", CSVConfig{}, ErrMalformed},
		{"bad quote", "1,\"2\n", CSVConfig{}, ErrMalformed},
		{"non-numeric feature", "1,abc\n", CSVConfig{}, ErrMalformed},
		{"non-integer label", "1.5,2\n", CSVConfig{}, ErrMalformed},
		{"negative label", "-1,2\n", CSVConfig{}, ErrInvalid},
		{"label over classes", "3,2\n", CSVConfig{Classes: 3}, ErrInvalid},
		{"NaN feature", "1,NaN\n", CSVConfig{}, ErrInvalid},
		{"Inf feature", "1,-Inf\n", CSVConfig{}, ErrInvalid},
		{"overflowing feature", "1,1e400\n", CSVConfig{}, ErrMalformed},
		{"label column out of range", "1,2\n", CSVConfig{LabelColumn: 2}, ErrInvalid},
		{"label column negative out of range", "1,2\n", CSVConfig{LabelColumn: -3}, ErrInvalid},
		{"max rows", "1,2\n1,2\n1,2\n", CSVConfig{MaxRows: 2}, ErrTooLarge},
		{"bad config", "1,2\n", CSVConfig{MaxRows: -1}, ErrInvalid},
		{"bad classes", "1,2\n", CSVConfig{Classes: -1}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), tc.cfg)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// MaxRows counts data rows, not the header.
	d, err := ReadCSV(strings.NewReader("h,h\n1,2\n1,2\n"), CSVConfig{Header: true, MaxRows: 2})
	require.NoError(t, err)
	require.Equal(t, 2, d.Len())
	// Errors name the line.
	_, err = ReadCSV(strings.NewReader("1,2\n1,2\n1,x\n"), CSVConfig{})
	require.ErrorContains(t, err, "line 3")
}
