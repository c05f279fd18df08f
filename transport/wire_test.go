package transport

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/fedgo/fedgo/fl"
)

func sampleMessages() []*fl.Message {
	return []*fl.Message{
		{},
		{Type: fl.TypeTrain, Round: 3, Params: []float64{1, -2.5, math.SmallestNonzeroFloat64, math.MaxFloat64}, Config: fl.Config{"lr": 0.1, "epochs": 2, "round": 3}},
		{Type: fl.TypeUpdate, Round: 1 << 20, Weight: 42, Payload: []byte("compressed"), Metrics: fl.Metrics{"loss": 0.5}},
		{Type: "secagg/share-keys", Payload: make([]byte, 300)},
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := AppendMessage(nil, m)
		if len(b) != MessageSize(m) {
			t.Errorf("MessageSize = %d, encoded %d bytes", MessageSize(m), len(b))
		}
		got, err := DecodeMessage(b, Limits{})
		if err != nil {
			t.Fatalf("decode %+v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
		// The encoding is canonical: re-encoding gives the same bytes.
		if b2 := AppendMessage(nil, got); string(b2) != string(b) {
			t.Error("re-encoding differs")
		}
	}
}

// TestWireLayout checks the documented byte layout on a hand-built frame.
func TestWireLayout(t *testing.T) {
	m := &fl.Message{Type: "ab", Round: 300, Weight: 1, Params: []float64{2}, Payload: []byte{9}, Metrics: fl.Metrics{"k": 0.5}}
	want := []byte{'F', 'G', 1, 0,
		2, 'a', 'b', // type
		0xac, 0x02, // round 300 as uvarint
		0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // weight 1.0
		1, 0, 0, 0, 0, 0, 0, 0, 0x40, // one param: 2.0
		1, 9, // payload
		0,                                       // no config
		1, 1, 'k', 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // metrics {k: 0.5}
	}
	if got := AppendMessage(nil, m); string(got) != string(want) {
		t.Fatalf("encoding\n got % x\nwant % x", got, want)
	}
}

func TestWireRejects(t *testing.T) {
	good := AppendMessage(nil, sampleMessages()[1])
	cases := map[string][]byte{
		"empty":     {},
		"magic":     append([]byte("XG"), good[2:]...),
		"version":   append([]byte{'F', 'G', 9}, good[3:]...),
		"trailing":  append(append([]byte(nil), good...), 0),
		"huge":      {'F', 'G', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"unsorted":  AppendMessage(nil, &fl.Message{Metrics: fl.Metrics{"b": 1}})[:0],
		"bad flags": append([]byte{'F', 'G', 1, 1}, good[4:]...),
	}
	// Hand-build a message whose map keys are out of order.
	cases["unsorted"] = []byte{'F', 'G', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		2, 1, 'b', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for i := 0; i < len(good); i++ {
		if _, err := DecodeMessage(good[:i], Limits{}); !errors.Is(err, ErrFrame) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	for name, b := range cases {
		if _, err := DecodeMessage(b, Limits{}); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: err = %v, want ErrFrame", name, err)
		}
	}
	if _, err := DecodeMessage(good, Limits{MaxParams: 3}); !errors.Is(err, ErrFrame) {
		t.Errorf("params over the limit accepted: %v", err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(AppendMessage(nil, m))
	}
	f.Add([]byte{'F', 'G', 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte("FG\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b, Limits{MaxParams: 1 << 16, MaxPayload: 1 << 20})
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes (the encoding is
		// canonical), except that NaN weights keep their bits too.
		if got := AppendMessage(nil, m); string(got) != string(b) {
			t.Fatalf("re-encoding differs:\n% x\n% x", got, b)
		}
	})
}
