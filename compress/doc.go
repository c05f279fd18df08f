// Package compress holds codecs for federated-learning updates: lossy and
// lossless wire encodings of float64 vectors that cut the uplink, which is
// what limits cross-device federated learning.
//
// A [Codec] appends a self-describing payload to a byte slice and decodes
// it into a caller-sized float64 slice:
//
//   - [Float64] (identity), [Float32], [Float16] and [BFloat16]: narrower
//     floats, rounded to nearest even (IEEE 754-2019, §4.3.1), subnormals
//     included;
//   - [Int8]: linear quantization with a float64 scale per vector or per
//     block, deterministic or stochastic (unbiased) rounding;
//   - [QSGD]: the stochastic quantizer of Alistarh et al. (2017);
//   - [TopK]: the k largest magnitudes, with delta-coded indices;
//   - [RandK]: k random coordinates whose indices the decoder regenerates
//     from a seed in the payload (Konečný et al. 2016, "random mask");
//   - [Sign]: one bit per coordinate and the scale ‖v‖₁/d (Bernstein et al.
//     2018; Karimireddy et al. 2019).
//
// [ErrorFeedback] wraps any of them with a per-client residual so that
// biased compressors (top-k, rand-k, sign) converge (Stich et al. 2018;
// Karimireddy et al. 2019). [Chain] follows a codec with a lossless
// [Stage]; [Zstd] is one. [Parse] builds codecs from names such as
// "topk1%+ef+zstd".
//
// Every Encode rejects NaN and ±Inf with [ErrNonFinite] and values the wire
// format cannot hold with [ErrOverflow]; every Decode rejects a payload
// written by another codec ([ErrWrongCodec]), another version
// ([ErrVersion]), a malformed or truncated one ([ErrCorrupt]), a length
// above the codec's MaxLen ([ErrTooLarge]) and a dst of the wrong length
// ([ErrLength]). Decoders are fuzz targets (fuzz_test.go).
//
// This package does not import fedgo's fl package; the fl middleware that
// compresses updates on the client and decodes them on the server is
// built on it.
//
// # When not to use it
//
// A lossy codec changes the update: its error enters training, and top-k,
// rand-k (unscaled) and sign are biased unless wrapped in [ErrorFeedback].
// Payloads are neither encrypted nor authenticated; that is the
// transport's job. Secure aggregation sums masked dense vectors, so a
// client that uses both decodes its own payload (or uses a codec whose
// decoded vector is what gets masked) before masking.
//
// # Host duties
//
//  1. Give each client its own codec: [ErrorFeedback], stochastic [Int8],
//     [QSGD], [RandK], [TopK] and [Chained] hold state. Call [Parse] or
//     [ParseSeeded] once per client, with a distinct seed per client so
//     that clients' rounding noise is independent.
//  2. On the server, set MaxLen to the model dimension (or call
//     [Codec.DecodedLen] and compare with it) before sizing dst: the
//     length in a payload is untrusted.
//  3. Bound a payload's size at the transport before decoding:
//     [Codec.MaxEncodedLen] of the model dimension is an upper bound for
//     any valid payload.
//  4. Call [ErrorFeedback.Reset] when a client's residual no longer applies
//     (the model changed shape, the client rejoined after a long absence).
//
// # Wire format
//
// Integers are little-endian; "f64"/"f32" are IEEE 754 binary64/binary32,
// little-endian; "uvarint" is encoding/binary's. Every payload starts with
// a 7-byte header ([ReadHeader]):
//
//	byte 0     magic 0xFE
//	byte 1     codec id ([CodecID])
//	byte 2     version, 1
//	bytes 3-6  d, the vector length, uint32
//
// The body that follows depends on the codec id; a decoder requires it to
// have exactly the size below (no trailing bytes) and unused padding bits
// to be zero:
//
//	1 float64   d × f64
//	2 float32   d × f32
//	3 float16   d × 2 bytes, binary16: sign, 5-bit exponent (bias 15), 10-bit fraction
//	4 bfloat16  d × 2 bytes, bfloat16: sign, 8-bit exponent (bias 127), 7-bit fraction
//	5 int8      uint32 B >= 1 (block size; B = max(d, 1) for one scale per vector),
//	            ⌈d/B⌉ × f64 scales (finite, >= 0, 127·scale finite),
//	            d × int8 q_i in [-127, 127]; x_i = q_i · scale[⌊i/B⌋]
//	6 qsgd      uint32 s in [1, 2^20], f64 ‖v‖₂,
//	            ⌈d·w/8⌉ bytes of w-bit codes, w = bits.Len(2s), packed
//	            least-significant bit first; code c_i = s + sgn(v_i)·l_i in
//	            [0, 2s]; x_i = (c_i − s)·‖v‖₂/s
//	7 topk      uvarint k <= d, k × uvarint gap g_j = i_j − i_{j−1} − 1
//	            (i_{−1} = −1, indices strictly increasing, < d),
//	            k × f32 values in index order; other coordinates are 0
//	8 randk     uint64 seed, uvarint k <= d, k × f32 values in increasing
//	            index order; the indices are regenerated from the seed (below)
//	9 sign      f64 scale, ⌈d/8⌉ bytes: bit i%8 (LSB first) of byte i/8 is
//	            the sign bit of v_i; x_i = ±scale
//	16 chain    uint8 stage id (1 = zstd), the inner codec's 7-byte header,
//	            then the stage's transform of the inner payload's body (for
//	            zstd, RFC 8878 frames that record their content size)
//
// Rand-k indices: Robert Floyd's sampling algorithm (Bentley and Floyd,
// "A sample of brilliance", CACM 30(9), 1987) over the stream of
// math/rand/v2's PCG seeded with (seed, 0x72616e646b): for j = d−k … d−1,
// t = ⌊x·(j+1)/2^64⌋ for the next 64-bit output x; choose j if t is
// already chosen, else t.
//
// # Choices
//
//   - Top-k ties are broken by the lowest index. Selection is exact: a
//     threshold estimated from a seeded sample of 4096 magnitudes, one pass
//     to collect candidates above it, a quickselect among the candidates,
//     and a fallback to all coordinates when the estimate was too high.
//   - k = K when set, otherwise max(1, round(Fraction·d)), capped at d.
//   - QSGD's default s is 15 ([DefaultQSGDLevels]): 5 bits per coordinate.
//     Levels are packed at fixed width rather than Elias-coded.
//   - Rand-k's default is unscaled (biased, contractive), which is what error
//     feedback wants; RandKConfig.Unbiased scales by d/k.
//   - Sparse values and float32 go through float32; a finite value beyond
//     its range is an error, never a silent infinity.
//
// # Concurrency
//
// Stateless codecs — [Float64], [Float32], [Float16], [BFloat16], [Sign],
// deterministic [Int8] — are safe for concurrent use. Codecs with a random
// source (stochastic [Int8], [QSGD], [RandK]), with scratch buffers
// ([TopK], [RandK], [Chained]) or with a residual ([ErrorFeedback]) are
// not: use one per goroutine (per client). [Zstd] is safe for concurrent
// use and starts no goroutine.
//
// # Invariants
//
//   - Encode and Decode do not allocate once their buffers are warm, given
//     a dst with capacity MaxEncodedLen(d) (the zstd stage may allocate
//     when the runtime empties its internal pools).
//   - Decode never panics and allocates nothing proportional to anything
//     but the declared length, which is at most MaxLen ([DefaultMaxLen] by
//     default); the zstd stage refuses to inflate past the inner codec's
//     MaxEncodedLen of that length.
//   - Same seed, same input, same bytes: random choices take their source
//     from the configuration.
//   - With error feedback, Σ_t decode(payload_t) + residual = Σ_t v_t.
//
// # References
//
//   - D. Alistarh, D. Grubic, J. Li, R. Tomioka, M. Vojnovic. QSGD:
//     Communication-Efficient SGD via Gradient Quantization and Encoding.
//     NeurIPS 2017. Eq. (1) (the quantizer), Lemma 3.1 (unbiasedness and
//     variance bound min(d/s², √d/s)‖v‖²).
//   - S. U. Stich, J.-B. Cordonnier, M. Jaggi. Sparsified SGD with Memory.
//     NeurIPS 2018 (top-k and rand-k with error feedback).
//   - S. P. Karimireddy, Q. Rebjock, S. U. Stich, M. Jaggi. Error Feedback
//     Fixes SignSGD and other Gradient Compression Schemes. ICML 2019,
//     Algorithm 1 (EF-SGD) and the scaled sign compressor ‖v‖₁/d·sgn(v).
//   - J. Bernstein, Y.-X. Wang, K. Azizzadenesheli, A. Anandkumar. signSGD:
//     Compressed Optimisation for Non-Convex Problems. ICML 2018.
//   - J. Konečný, H. B. McMahan, F. X. Yu, P. Richtárik, A. T. Suresh,
//     D. Bacon. Federated Learning: Strategies for Improving Communication
//     Efficiency. 2016 (structured random masks sent as seeds).
//   - IEEE 754-2019, binary16; bfloat16 as the top half of binary32.
package compress
