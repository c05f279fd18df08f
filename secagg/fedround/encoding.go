package fedround

// Encoding replaces the fixed-point quantizer of secure aggregation on both
// sides: the client's step from its delta to its input in Z_{2^Bits} (in
// place of clamping and secagg.Quantize) and the server's step from the
// survivors' sum mod 2^Bits back to a real vector (in place of
// secagg.Dequantize). Package privacy/ddp implements it for distributed
// differential privacy (each client's input carries its share of integer
// noise). The modulus is the secagg ring's: the server runs its rounds with
// Bits() bits, and a client refuses a round of any other width.
//
// The round id passed to both calls is secagg.Params.RoundID of the round,
// which client and server share (an encoding derives per-round public
// randomness from it, such as a rotation).
type Encoding interface {
	// Bits returns b, the width of the ring Z_{2^b}, in 1..64.
	Bits() int
	// Len returns the length of the encoded vector for a delta of d
	// values, or an error if d cannot be encoded.
	Len(d int) (int, error)
	// Encode writes the client's input for delta (len(dst) == Len(len(delta)))
	// into dst, each value in [0, 2^b). It must not modify delta.
	Encode(dst []uint64, delta []float64, roundID [32]byte) error
	// Decode writes to dst (the model's dimension) the decoded sum of the
	// survivors' inputs, given their sum mod 2^b.
	Decode(dst []float64, sum []uint64, roundID [32]byte) error
}
