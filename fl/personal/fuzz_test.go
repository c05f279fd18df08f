package personal_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/fl/personal"
)

// FuzzFedPerReply: whatever a client answers (type, length, values,
// weight, payload), the FedPer exchange either refuses the reply (counted
// as rejected, nothing aggregated) or aggregates it into a finite update
// whose personal coordinates are 0. The bytes are: a type selector, a
// weight as float64, a payload flag, then the values as float64s.
func FuzzFedPerReply(f *testing.F) {
	le := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	f.Add(append([]byte{0}, append(le(1), append([]byte{0}, le(0.5, -1, 2)...)...)...))    // good
	f.Add(append([]byte{0}, append(le(1), append([]byte{0}, le(0.5, -1, 2, 9)...)...)...)) // head included
	f.Add(append([]byte{0}, append(le(0), append([]byte{0}, le(0.5, -1, 2)...)...)...))    // zero weight
	f.Add(append([]byte{0}, append(le(1), append([]byte{0}, le(math.NaN(), -1, 2)...)...)...))
	f.Add(append([]byte{1}, append(le(1), append([]byte{0}, le(0.5, -1, 2)...)...)...)) // wrong type
	f.Add(append([]byte{0}, append(le(1), append([]byte{1}, le(0.5, -1, 2)...)...)...)) // payload
	f.Add([]byte{})
	k := personal.Mask{Dim: 4, Personal: []personal.Range{{1, 2}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		reply := &fl.Message{Type: personal.TypeFedPerUpdate, Round: 1}
		if len(b) > 0 && b[0]%2 == 1 {
			reply.Type = fl.TypeUpdate
		}
		if len(b) >= 9 {
			reply.Weight = math.Float64frombits(binary.LittleEndian.Uint64(b[1:9]))
		}
		if len(b) >= 10 && b[9]%2 == 1 {
			reply.Payload = []byte{1}
		}
		for i := 10; i+8 <= len(b); i += 8 {
			reply.Params = append(reply.Params, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
		c := conn{"x", fl.HandlerFunc(func(context.Context, *fl.Message) (*fl.Message, error) { return reply, nil })}
		r := fl.NewRound(1, make([]float64, 4), nil, []fl.Conn{c}, nil)
		dst := make([]float64, 4)
		n, err := (&personal.FedPer{Mask: k}).Run(context.Background(), r, dst)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		st := r.Stats()
		if n == 0 {
			if st.Failures[fl.FailRejected] != 1 {
				t.Fatalf("nothing accepted, failures %v", st.Failures)
			}
			return
		}
		if len(reply.Params) != k.BaseLen() || reply.Type != personal.TypeFedPerUpdate || reply.Payload != nil {
			t.Fatalf("accepted a reply of type %q with %d values and %d payload bytes", reply.Type, len(reply.Params), len(reply.Payload))
		}
		if dst[1] != 0 || slices.ContainsFunc(dst, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			t.Fatalf("aggregate %v: personal coordinate moved or not finite", dst)
		}
	})
}

// FuzzMask: any ranges either fail Validate with ErrMask or split and
// merge a vector back to itself.
func FuzzMask(f *testing.F) {
	f.Add(uint8(10), []byte{0, 2, 5, 7})
	f.Add(uint8(4), []byte{0, 4})
	f.Add(uint8(4), []byte{3, 2})
	f.Add(uint8(0), []byte{})
	f.Add(uint8(5), []byte{1, 3, 2, 4})
	f.Fuzz(func(t *testing.T, dim uint8, b []byte) {
		k := personal.Mask{Dim: int(dim)}
		for i := 0; i+1 < len(b); i += 2 {
			k.Personal = append(k.Personal, personal.Range{Lo: int(int8(b[i])), Hi: int(int8(b[i+1]))})
		}
		if err := k.Validate(); err != nil {
			if !errors.Is(err, personal.ErrMask) {
				t.Fatalf("error %v does not wrap ErrMask", err)
			}
			return
		}
		full := make([]float64, k.Dim)
		for j := range full {
			full[j] = float64(j + 1)
		}
		base, head := k.Base(nil, full), k.Head(nil, full)
		if len(base)+len(head) != k.Dim {
			t.Fatalf("%d + %d values for Dim %d", len(base), len(head), k.Dim)
		}
		back := make([]float64, k.Dim)
		k.SetBase(back, base)
		k.SetHead(back, head)
		if !slices.Equal(back, full) {
			t.Fatalf("round trip: %v, want %v", back, full)
		}
	})
}
