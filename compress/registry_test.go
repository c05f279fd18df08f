package compress

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, name string
	}{
		{"none", "float64"},
		{"float64", "float64"},
		{"float32", "float32"},
		{"float16", "float16"},
		{"fp16", "float16"},
		{"bfloat16", "bfloat16"},
		{"bf16", "bfloat16"},
		{"int8", "int8"},
		{"int8s", "int8s"},
		{"int8b256", "int8b256"},
		{"int8b64s", "int8b64s"},
		{"qsgd", "qsgd15"},
		{"qsgd255", "qsgd255"},
		{"topk1%", "topk1%"},
		{"topk0.1%", "topk0.1%"},
		{"topk100", "topk100"},
		{"randk1%", "randk1%"},
		{"randk10%u", "randk10%u"},
		{"sign", "sign"},
		{"topk1%+ef", "topk1%+ef"},
		{"randk1%+ef", "randk1%+ef"},
		{"sign+ef", "sign+ef"},
		{"topk1%+zstd", "topk1%+zstd"},
		{"topk1%+zstd+ef", "topk1%+ef+zstd"},
		{"float16+zstd", "float16+zstd"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if c.Name() != tt.name {
			t.Errorf("Parse(%q).Name() = %q, want %q", tt.in, c.Name(), tt.name)
		}
		again, err := Parse(c.Name())
		if err != nil || again.Name() != c.Name() {
			t.Errorf("Parse(%q) = %v, %v; want a codec named %q", c.Name(), again, err, c.Name())
		}
	}
	bad := []string{"", "foo", "topk", "topk0%", "topk101%", "topk-1", "topkx%", "int8b0", "int8b", "int8x",
		"qsgd0", "qsgdx", "randk", "float32+ef+ef", "sign+gzip", "sign+", "+ef", "qsgd9999999"}
	for _, name := range bad {
		if c, err := Parse(name); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", name, c.Name())
		} else if !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrConfig) {
			t.Errorf("Parse(%q): err = %v, want ErrUnknown or ErrConfig", name, err)
		}
	}
}

// TestParseFreshState checks each Parse call returns its own error-feedback
// residual, and that one codec decodes another's payload.
func TestParseFreshState(t *testing.T) {
	a := must(Parse("topk1%+ef+zstd"))
	b := must(Parse("topk1%+ef+zstd"))
	v := make([]float64, 300)
	for i := range v {
		v[i] = float64(i%17) - 8
	}
	pa := must(a.Encode(nil, v))
	pb := must(b.Encode(nil, v))
	if string(pa) != string(pb) {
		t.Error("two fresh codecs encode the same first vector differently")
	}
	pa2 := must(a.Encode(nil, v))
	if string(pa2) == string(pa) {
		t.Error("second Encode with error feedback equals the first: no residual carried")
	}
	got := make([]float64, len(v))
	if err := b.Decode(got, pa2); err != nil {
		t.Errorf("b decoding a's payload: %v", err)
	}
	ea := a.(*Chained).Codec().(*ErrorFeedback)
	eb := b.(*Chained).Codec().(*ErrorFeedback)
	if &ea.Residual()[0] == &eb.Residual()[0] {
		t.Error("two Parse calls share a residual")
	}
}

func TestParseSeeded(t *testing.T) {
	v := []float64{0.3, -0.2, 0.7, 0.1}
	p1 := must(must(ParseSeeded("qsgd", 1)).Encode(nil, v))
	p1b := must(must(ParseSeeded("qsgd", 1)).Encode(nil, v))
	if string(p1) != string(p1b) {
		t.Error("same seed, different payloads")
	}
	differ := false
	for seed := uint64(2); seed < 10 && !differ; seed++ {
		differ = string(must(must(ParseSeeded("qsgd", seed)).Encode(nil, v))) != string(p1)
	}
	if !differ {
		t.Error("eight other seeds all give seed 1's payload")
	}
}
