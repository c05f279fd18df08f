package compress_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/fedgo/fedgo/compress"
)

// A client encodes its update with a codec chosen by name; the server
// learns the length from the payload, sizes dst and decodes.
func ExampleParse() {
	client, err := compress.Parse("topk1%+ef+zstd")
	if err != nil {
		panic(err)
	}
	update := make([]float64, 1000)
	for i := range update {
		update[i] = float64(i%10) / 10
	}
	update[123], update[456] = 5, -7

	payload, err := client.Encode(nil, update)
	if err != nil {
		panic(err)
	}

	server, _ := compress.Parse("topk1%+ef+zstd") // decoding uses no residual
	n, err := server.DecodedLen(payload)
	if err != nil {
		panic(err)
	}
	dst := make([]float64, n)
	if err := server.Decode(dst, payload); err != nil {
		panic(err)
	}
	fmt.Println(client.Name(), n, dst[123], dst[456])
	// Output: topk1%+ef+zstd 1000 5 -7
}

func ExampleFloat16() {
	c := compress.Float16{}
	p, _ := c.Encode(nil, []float64{1, 1.0 / 3, 65504, 1e-7})
	dst := make([]float64, 4)
	_ = c.Decode(dst, p)
	fmt.Println(len(p), dst)
	_, err := c.Encode(nil, []float64{70000})
	fmt.Println(err)
	// Output:
	// 15 [1 0.333251953125 65504 1.1920928955078125e-07]
	// compress: value out of the range of the wire format: v[0] = 70000 beyond float16
}

func ExampleNewTopK() {
	c, _ := compress.NewTopK(compress.TopKConfig{K: 2})
	p, _ := c.Encode(nil, []float64{0.5, -3, 2, 3, 0.1})
	dst := make([]float64, 5)
	_ = c.Decode(dst, p)
	fmt.Println(dst) // |−3| = |3|: the lower index wins the tie
	// Output: [0 -3 0 3 0]
}

func ExampleNewErrorFeedback() {
	ef := compress.NewErrorFeedback(compress.Sign{})
	dst := make([]float64, 2)
	for _, v := range [][]float64{{3, -1}, {0, 0}} {
		p, _ := ef.Encode(nil, v)
		_ = ef.Decode(dst, p)
		fmt.Println(dst, ef.Residual())
	}
	// Output:
	// [2 -2] [1 1]
	// [1 1] [0 0]
}

func ExampleNewQSGD() {
	c, _ := compress.NewQSGD(compress.QSGDConfig{S: 4, Rand: rand.NewPCG(1, 2)})
	v := []float64{3, -4} // ‖v‖ = 5, levels of 5/4
	p, _ := c.Encode(nil, v)
	dst := make([]float64, 2)
	_ = c.Decode(dst, p)
	// 7 header + 4 (s) + 8 (norm) + 1 byte for two 4-bit codes.
	fmt.Println(len(p), dst[0] == 2.5 || dst[0] == 3.75, dst[1] == -3.75 || dst[1] == -5)
	// Output: 20 true true
}

func ExampleChain() {
	z, _ := compress.NewZstd(compress.DefaultZstdConfig())
	c := compress.Chain(compress.Float32{}, z)
	v := make([]float64, 10000) // mostly zeros compress well
	v[42] = 1
	p, _ := c.Encode(nil, v)
	plain, _ := compress.Float32{}.Encode(nil, v)
	fmt.Println(len(plain), len(p) < len(plain)/100)
	// Output: 40007 true
}

func ExampleReadHeader() {
	p, _ := compress.Sign{}.Encode(nil, []float64{1, -1, 2})
	h, _ := compress.ReadHeader(p)
	fmt.Println(h.ID, h.Version, h.Len)
	_, err := compress.Float16{}.DecodedLen(p)
	fmt.Println(err)
	// Output:
	// sign 1 3
	// compress: payload written by another codec: payload of sign given to float16
}
