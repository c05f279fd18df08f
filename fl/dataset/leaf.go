package dataset

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// leafFile is the JSON layout of a LEAF benchmark split (Caldas et al.
// 2018), also used by the FedProx data scripts.
type leafFile struct {
	Users      []string            `json:"users"`
	NumSamples []int               `json:"num_samples"`
	UserData   map[string]leafUser `json:"user_data"`
}

type leafUser struct {
	X [][]float64 `json:"x"`
	Y []float64   `json:"y"`
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ReadLEAF reads one file of the LEAF benchmark format (Caldas et al.
// 2018):
//
//	{"users": ["u1", …], "num_samples": [n1, …],
//	 "user_data": {"u1": {"x": [[…], …], "y": [..]}, …}}
//
// and returns the users in the order of "users" with one data set each.
// Features x must be numeric vectors of one common length; labels y must
// be non-negative integers (3 or 3.0: the FedProx scripts write floats).
// Every data set gets Classes = max label + 1 over the whole file.
// "num_samples", when present, must agree with the data. Data sets whose
// x are not numbers (Shakespeare's strings, Sent140's tokens) are not
// supported.
//
// At most limits.MaxBytes bytes are read. Errors wrap [ErrTooLarge],
// [ErrMalformed] (not JSON, wrong types, trailing data) or [ErrInvalid]
// (counts that disagree, ragged rows, a user without data).
func ReadLEAF(r io.Reader, limits Limits) (users []string, data []*Dataset, err error) {
	maxBytes := limits.maxBytes()
	cr := &countingReader{r: io.LimitReader(r, maxBytes+1)}
	dec := json.NewDecoder(cr)
	var f leafFile
	err = dec.Decode(&f)
	if cr.n > maxBytes {
		return nil, nil, fmt.Errorf("%w: LEAF: input exceeds MaxBytes = %d", ErrTooLarge, maxBytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: LEAF: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if cr.n > maxBytes {
			return nil, nil, fmt.Errorf("%w: LEAF: input exceeds MaxBytes = %d", ErrTooLarge, maxBytes)
		}
		return nil, nil, fmt.Errorf("%w: LEAF: trailing data after the JSON object", ErrMalformed)
	}
	if f.NumSamples != nil && len(f.NumSamples) != len(f.Users) {
		return nil, nil, fmt.Errorf("%w: LEAF: %d users but %d num_samples", ErrInvalid, len(f.Users), len(f.NumSamples))
	}
	seen := make(map[string]bool, len(f.Users))
	dim, maxLabel := -1, -1
	for i, u := range f.Users {
		if seen[u] {
			return nil, nil, fmt.Errorf("%w: LEAF: user %q listed twice", ErrInvalid, u)
		}
		seen[u] = true
		ud, ok := f.UserData[u]
		if !ok {
			return nil, nil, fmt.Errorf("%w: LEAF: user %q has no user_data", ErrInvalid, u)
		}
		if len(ud.X) != len(ud.Y) {
			return nil, nil, fmt.Errorf("%w: LEAF: user %q has %d x and %d y", ErrInvalid, u, len(ud.X), len(ud.Y))
		}
		if f.NumSamples != nil && f.NumSamples[i] != len(ud.Y) {
			return nil, nil, fmt.Errorf("%w: LEAF: user %q has num_samples %d but %d examples", ErrInvalid, u, f.NumSamples[i], len(ud.Y))
		}
		for j, x := range ud.X {
			if dim < 0 {
				dim = len(x)
				if dim == 0 {
					return nil, nil, fmt.Errorf("%w: LEAF: user %q example %d has no features", ErrInvalid, u, j)
				}
			}
			if len(x) != dim {
				return nil, nil, fmt.Errorf("%w: LEAF: user %q example %d has %d features, want %d", ErrInvalid, u, j, len(x), dim)
			}
		}
		for j, y := range ud.Y {
			if !(y >= 0 && y < math.MaxInt32) || y != math.Trunc(y) {
				return nil, nil, fmt.Errorf("%w: LEAF: user %q example %d: label %v is not a non-negative integer", ErrInvalid, u, j, y)
			}
			maxLabel = max(maxLabel, int(y))
		}
	}
	if dim < 0 {
		return nil, nil, fmt.Errorf("%w: LEAF: no examples", ErrInvalid)
	}
	users = make([]string, len(f.Users))
	copy(users, f.Users)
	data = make([]*Dataset, len(f.Users))
	for i, u := range f.Users {
		ud := f.UserData[u]
		d := &Dataset{X: make([]float64, 0, len(ud.Y)*dim), Y: make([]int, len(ud.Y)), Dim: dim, Classes: maxLabel + 1}
		for j, x := range ud.X {
			d.X = append(d.X, x...)
			d.Y[j] = int(ud.Y[j])
		}
		data[i] = d
	}
	return users, data, nil
}
