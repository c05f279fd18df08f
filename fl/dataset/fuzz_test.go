package dataset

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzLimits keeps fuzzed inputs from asking for much memory.
var fuzzLimits = Limits{MaxBytes: 1 << 20}

func FuzzReadIDX(f *testing.F) {
	valid := encodeIDX(0x08, []int{2, 3}, seq(6))
	f.Add(valid)
	f.Add(gzipBytes(f, valid))
	f.Add(encodeIDX(0x08, []int{0}, nil))
	f.Add(valid[:len(valid)-1])
	f.Add(append(slicesClone(valid), 1))
	f.Add([]byte{0, 0, 8, 0})
	f.Add([]byte{0, 0, 0x0D, 1, 0, 0, 0, 1, 1, 2, 3, 4})
	f.Add(encodeIDX(0x08, []int{1 << 31, 1 << 31}, nil))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ReadIDX(bytes.NewReader(in), fuzzLimits)
		if err != nil {
			if !errorsIsAny(err, ErrMalformed, ErrTooLarge, ErrUnsupported) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		n := 1
		for _, d := range got.Dims {
			n *= d
		}
		if len(got.Data) != n {
			t.Fatalf("dims %v but %d bytes", got.Dims, len(got.Data))
		}
		// A successful plain decode re-encodes to the input.
		if len(in) > 0 && in[0] == 0 && !bytes.Equal(encodeIDX(0x08, got.Dims, got.Data), in) {
			t.Fatalf("re-encoding differs from the input")
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add("1,0.5,2\n0,-1,3e2\n", 0, false, 0)
	f.Add("a,b,label\n1.5,2,3\n4,5,0\n", -1, true, 0)
	f.Add("1,2,3\n4,0,6\n", 1, false, 5)
	f.Add("1,2,3\n1,2\n", 0, false, 0)
	f.Add("1,\"2\n", 0, false, 0)
	f.Add("1,NaN\n", 0, false, 0)
	f.Add("-1,2\n", 0, false, 3)
	f.Add("", 0, true, 0)
	f.Fuzz(func(t *testing.T, in string, label int, header bool, classes int) {
		d, err := ReadCSV(strings.NewReader(in), CSVConfig{LabelColumn: label, Header: header, Classes: classes, MaxRows: 1000})
		if err != nil {
			if !errorsIsAny(err, ErrMalformed, ErrInvalid, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("ReadCSV returned an invalid data set: %v", err)
		}
	})
}

func FuzzReadLEAF(f *testing.F) {
	f.Add([]byte(leafValid))
	f.Add([]byte(`{"users":["a"],"user_data":{"a":{"x":[[1]],"y":[0]}}}`))
	f.Add([]byte(`{"users":["a"],"user_data":{"a":{"x":[[1],[2,3]],"y":[0,0]}}}`))
	f.Add([]byte(`{"users":["a"],"user_data":{"a":{"x":["hello"],"y":["e"]}}}`))
	f.Add([]byte(`{"users":["a"],"num_samples":[2],"user_data":{"a":{"x":[[1]],"y":[0.5]}}}`))
	f.Add([]byte(leafValid[:40]))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		users, data, err := ReadLEAF(bytes.NewReader(in), fuzzLimits)
		if err != nil {
			if !errorsIsAny(err, ErrMalformed, ErrInvalid, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(users) != len(data) {
			t.Fatalf("%d users, %d data sets", len(users), len(data))
		}
		for i, d := range data {
			if err := d.Validate(); err != nil {
				t.Fatalf("user %q: %v", users[i], errors.Unwrap(err))
			}
		}
	})
}
