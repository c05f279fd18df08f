package compress

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Parse builds a codec from its name, as used by examples and command
// lines, with random sources seeded by 0; it is ParseSeeded(name, 0).
func Parse(name string) (Codec, error) { return ParseSeeded(name, 0) }

// ParseSeeded builds a codec from its name. Random sources (stochastic
// rounding, QSGD, rand-k seeds) are rand.NewPCG(seed, 0x636f646563); give
// each client its own seed so that their noise is independent.
//
// The grammar is base, then optional suffixes "+ef" and "+zstd" (each at
// most once, in any order). Bases:
//
//	none, float64     identity ([Float64])
//	float32           [Float32]
//	float16, fp16     [Float16]
//	bfloat16, bf16    [BFloat16]
//	int8              [Int8], one scale per vector, round to nearest
//	int8bB            [Int8] with blocks of B coordinates, e.g. int8b256
//	int8s, int8bBs    the same with stochastic rounding
//	qsgd              [QSGD] with s = 15 ([DefaultQSGDLevels]) levels
//	qsgdS             [QSGD] with S levels, e.g. qsgd255
//	topkP%, topkK     [TopK] keeping P percent (e.g. topk1%, topk0.1%) or K coordinates
//	randkP%, randkK   [RandK], unscaled (biased, for error feedback)
//	randkP%u, randkKu [RandK] scaled by d/k (unbiased)
//	sign              [Sign]
//
// "+ef" wraps the base in [ErrorFeedback]; "+zstd" chains the result with
// a default [Zstd] stage: "topk1%+ef+zstd" is
// Chain(NewErrorFeedback(topk), zstd). Every call returns a fresh codec
// with its own state: error feedback's residual belongs to the one client
// that encodes with it, so call Parse once per client. Any codec Parse
// returns for a name decodes the payloads of any other for the same name
// (decoding uses no residual).
func ParseSeeded(name string, seed uint64) (Codec, error) {
	parts := strings.Split(name, "+")
	base := parts[0]
	var ef, zst bool
	for _, p := range parts[1:] {
		switch {
		case p == "ef" && !ef:
			ef = true
		case p == "zstd" && !zst:
			zst = true
		default:
			return nil, fmt.Errorf("%w: %q: bad suffix %q", ErrUnknown, name, "+"+p)
		}
	}
	c, err := parseBase(base, seed)
	if err != nil {
		return nil, fmt.Errorf("%w (in %q)", err, name)
	}
	if ef {
		c = NewErrorFeedback(c)
	}
	if zst {
		z, err := NewZstd(DefaultZstdConfig())
		if err != nil {
			return nil, err
		}
		c = Chain(c, z)
	}
	return c, nil
}

func parseBase(base string, seed uint64) (Codec, error) {
	src := func() rand.Source { return rand.NewPCG(seed, 0x636f646563) }
	switch base {
	case "none", "float64":
		return Float64{}, nil
	case "float32":
		return Float32{}, nil
	case "float16", "fp16":
		return Float16{}, nil
	case "bfloat16", "bf16":
		return BFloat16{}, nil
	case "sign":
		return Sign{}, nil
	case "qsgd":
		return NewQSGD(QSGDConfig{Rand: src()})
	}
	switch {
	case strings.HasPrefix(base, "int8"):
		rest := strings.TrimPrefix(base, "int8")
		cfg := Int8Config{}
		if r, ok := strings.CutSuffix(rest, "s"); ok {
			cfg.Stochastic, cfg.Rand, rest = true, src(), r
		}
		if rest != "" {
			b, ok := strings.CutPrefix(rest, "b")
			bs, err := strconv.Atoi(b)
			if !ok || err != nil || bs <= 0 {
				return nil, fmt.Errorf("%w: %q", ErrUnknown, base)
			}
			cfg.BlockSize = bs
		}
		return NewInt8(cfg)
	case strings.HasPrefix(base, "qsgd"):
		s, err := strconv.Atoi(strings.TrimPrefix(base, "qsgd"))
		if err != nil || s <= 0 {
			return nil, fmt.Errorf("%w: %q", ErrUnknown, base)
		}
		return NewQSGD(QSGDConfig{S: s, Rand: src()})
	case strings.HasPrefix(base, "topk"):
		k, frac, err := parseK(strings.TrimPrefix(base, "topk"))
		if err != nil {
			return nil, fmt.Errorf("%w: %q", err, base)
		}
		return NewTopK(TopKConfig{K: k, Fraction: frac})
	case strings.HasPrefix(base, "randk"):
		rest, unbiased := strings.CutSuffix(strings.TrimPrefix(base, "randk"), "u")
		k, frac, err := parseK(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", err, base)
		}
		return NewRandK(RandKConfig{K: k, Fraction: frac, Unbiased: unbiased, Rand: src()})
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, base)
}

// parseK parses "P%" as a fraction P/100 or "K" as a count.
func parseK(s string) (int, float64, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) {
			return 0, 0, fmt.Errorf("%w: bad percentage", ErrUnknown)
		}
		return 0, f / 100, nil
	}
	k, err := strconv.Atoi(s)
	if err != nil || k <= 0 {
		return 0, 0, fmt.Errorf("%w: bad count", ErrUnknown)
	}
	return k, 0, nil
}
