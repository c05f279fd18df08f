package secagg

import (
	"crypto/ecdh"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

// TestAddMasksAt checks the range-wise mask expansion against refPRG (a
// fully materialised AES-CTR keystream read one word at a time): the
// accumulator is cut at random even offsets and each piece expanded from
// its own counter offset; the result must be Σ ± PRG(seed) coordinate by
// coordinate.
func TestAddMasksAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for _, tc := range []struct {
		d, bits int
		cuts    int
	}{
		{1, 32, 0}, {7, 32, 1}, {5001, 32, 3}, {2*maskChunk + 3, 20, 2}, {4097, 64, 3}, {2 * maskChunk, 64, 1},
	} {
		lanes := tc.bits <= 32
		seeds := make([][32]byte, 4)
		neg := make([]bool, len(seeds))
		for i := range seeds {
			seeds[i][0], seeds[i][1] = byte(i+1), byte(tc.d)
			neg[i] = i%2 == 1
		}
		input := make([]uint64, tc.d)
		for i := range input {
			input[i] = rng.Uint64() & wordMask(tc.bits)
		}
		// Reference: coordinate by coordinate, mod 2^b. The lane form
		// reads 32-bit words, the b > 32 form 64-bit ones.
		want := slices.Clone(input)
		m := wordMask(tc.bits)
		refBits := 32
		if !lanes {
			refBits = 64
		}
		for s, seed := range seeds {
			ks := refPRG(seed[:], refBits, tc.d)
			for i := range want {
				if neg[s] {
					want[i] = (want[i] - ks[i]) & m
				} else {
					want[i] = (want[i] + ks[i]) & m
				}
			}
		}
		n := tc.d
		if lanes {
			n = laneLen(tc.d)
		}
		acc := make([]uint64, n)
		if lanes {
			lanesFrom(acc, input)
		} else {
			copy(acc, input)
		}
		bounds := []int{0, n}
		for range tc.cuts {
			bounds = append(bounds, rng.IntN(n+1)&^1)
		}
		slices.Sort(bounds)
		buf := make([]byte, 8*maskChunk)
		for i := 0; i+1 < len(bounds); i++ {
			lo, hi := bounds[i], bounds[i+1]
			addMasksAt(acc[lo:hi], lo, seeds, neg, lanes, buf)
		}
		got := make([]uint64, tc.d)
		if lanes {
			lanesTo(got, acc, tc.bits)
		} else {
			for i := range got {
				got[i] = acc[i] & m
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("d=%d b=%d cuts %v: coordinate %d = %d, want %d", tc.d, tc.bits, bounds, i, got[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("odd offset accepted")
		}
	}()
	addMasksAt(make([]uint64, 2), 1, nil, nil, true, make([]byte, 16))
}

func TestMaskRanges(t *testing.T) {
	for _, tc := range []struct{ n, workers, ranges int }{
		{0, 4, 1}, {1, 2, 1}, {minMaskWords - 1, 2, 1}, {2*minMaskWords - 2, 2, 1},
		{2 * minMaskWords, 2, 2}, {50_000, 2, 2}, {50_001, 3, 3}, {50_000, 64, 50_000 / minMaskWords}, {50_000, 1, 1},
	} {
		b := maskRanges(tc.n, tc.workers)
		if len(b)-1 != tc.ranges || b[0] != 0 || b[len(b)-1] != tc.n {
			t.Fatalf("maskRanges(%d, %d) = %v, want %d ranges over [0, %d)", tc.n, tc.workers, b, tc.ranges, tc.n)
		}
		for i := 0; i+1 < len(b); i++ {
			if b[i]%2 != 0 || b[i+1] < b[i] || (tc.ranges > 1 && b[i+1]-b[i] < minMaskWords-1) {
				t.Fatalf("maskRanges(%d, %d) = %v: bad range %d", tc.n, tc.workers, b, i)
			}
		}
	}
}

// workersParams is a round large enough for every parallel path of the
// client: 12 neighbours (at least minCryptoJobs and minLightJobs jobs) and
// Dim = 60,001 (more than 3·minMaskWords accumulator words).
func workersParams(bits int) Params {
	return Params{N: 24, Threshold: 7, Neighbors: 12, Bits: bits, Dim: 60_001, Seed: [32]byte{byte(bits)}}
}

// roundMessages runs a whole round with every client on the given Workers
// and returns the wire bytes of every client message and the sum.
// check, if not nil, runs after the masked inputs, before unmasking.
func roundMessages(t *testing.T, p Params, workers int, check func(*fixture)) ([][]byte, []uint64) {
	t.Helper()
	f := newFixture(t, p, false)
	for _, c := range f.clients {
		c.cfg.Workers = workers
	}
	f.advertise()
	f.share()
	f.mask()
	if check != nil {
		check(f)
	}
	req, err := f.srv.UnmaskRequest()
	f.must(err)
	var msgs [][]byte
	for _, m := range f.shares {
		b, err := m.MarshalBinary()
		f.must(err)
		msgs = append(msgs, b)
	}
	for _, m := range f.masked {
		b, err := m.MarshalBinary()
		f.must(err)
		msgs = append(msgs, b)
	}
	for _, c := range f.clients {
		um, err := c.Unmask(req)
		f.must(err)
		b, err := um.MarshalBinary()
		f.must(err)
		msgs = append(msgs, b)
		f.must(f.srv.HandleUnmask(um))
	}
	sum, err := f.srv.Result()
	f.must(err)
	all := make([]uint32, p.N)
	for i := range all {
		all[i] = uint32(i + 1)
	}
	if want := f.sum(all...); !slices.Equal(sum, want) {
		t.Fatalf("b=%d Workers=%d: sum differs from the naive sum", p.bits(), workers)
	}
	return msgs, sum
}

// TestClientWorkersBitIdentical: every client message of a round (shares
// with their commitments and boxes, masked inputs, unmask responses) is
// byte-for-byte the same whether the clients run on one goroutine
// (Workers 1, or GOMAXPROCS 1) or fan out (Workers 2 and 3, GOMAXPROCS 2);
// the sum is the naive sum of the inputs; and a masked input equals
// x + PRG(b) + Σ ± PRG(s_uv) computed from the definition with refPRG and
// the neighbours' side of each key agreement.
func TestClientWorkersBitIdentical(t *testing.T) {
	if n := len(maskRanges(laneLen(workersParams(32).Dim), 3)); n != 4 {
		t.Fatalf("Dim too small to split the mask over 3 workers (%d bounds)", n)
	}
	if k := workersParams(32).Neighbors; k < minLightJobs || k < minCryptoJobs {
		t.Fatalf("%d neighbours do not reach the parallel thresholds", k)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	widths := []int{32, 20, 64}
	type config struct{ procs, workers int }
	configs := []config{{2, 0}, {2, 2}, {2, 3}, {1, 0}, {1, 2}}
	if raceEnabled { // the race detector needs the parallel paths, not the matrix
		widths, configs = []int{32}, []config{{2, 3}}
	} else if !longTests { // the whole matrix with CI=true
		widths, configs = []int{32}, []config{{2, 3}, {1, 0}}
	}
	for _, bits := range widths {
		p := workersParams(bits)
		runtime.GOMAXPROCS(2)
		ref, sum := roundMessages(t, p, 1, func(f *fixture) { checkMaskedFromDefinition(t, f, p) })
		for _, c := range configs {
			runtime.GOMAXPROCS(c.procs)
			var check func(*fixture)
			if c.workers == 3 {
				check = func(f *fixture) { checkMaskedFromDefinition(t, f, p) }
			}
			got, gotSum := roundMessages(t, p, c.workers, check)
			if !slices.Equal(gotSum, sum) {
				t.Fatalf("b=%d GOMAXPROCS=%d Workers=%d: sum differs", bits, c.procs, c.workers)
			}
			for i := range ref {
				if !slices.Equal(got[i], ref[i]) {
					t.Fatalf("b=%d GOMAXPROCS=%d Workers=%d: message %d differs from the serial one", bits, c.procs, c.workers, i)
				}
			}
		}
	}
}

// checkMaskedFromDefinition recomputes client 1's masked input from the
// definition. The self-mask seed is recomputed from the reconstructed
// b_1 (the server's route), and the pairwise seeds from the neighbours'
// private keys.
func checkMaskedFromDefinition(t *testing.T, f *fixture, p Params) {
	t.Helper()
	const u = 1
	var masked *MaskedMsg
	for _, m := range f.masked {
		if m.Client == u {
			masked = m
		}
	}
	// b_1 from t of the shares the neighbours hold (and client 1's own).
	c1 := f.clients[u-1]
	var shares []Share
	shares = append(shares, Share{X: u, Y: c1.ownB})
	for _, v := range c1.senders {
		cv := f.clients[v-1]
		for i, s := range cv.senders {
			if s == u {
				shares = append(shares, Share{X: v, Y: cv.recvB[i]})
			}
		}
	}
	if len(shares) < p.Threshold {
		t.Fatalf("only %d shares of b_1", len(shares))
	}
	bSec, err := Combine(shares, p.Threshold)
	f.must(err)
	seed := SelfSeed(bSec.Bytes(), c1.session, u)
	d, m := p.Dim, wordMask(p.bits())
	refBits := 32
	if p.bits() > 32 {
		refBits = 64
	}
	want := slices.Clone(f.inputs[u-1])
	addRef := func(seed [32]byte, neg bool) {
		ks := refPRG(seed[:], refBits, d)
		for i := range want {
			if neg {
				want[i] = (want[i] - ks[i]) & m
			} else {
				want[i] = (want[i] + ks[i]) & m
			}
		}
	}
	addRef(seed, false)
	for _, v := range c1.senders {
		pub, err := ecdh.X25519().NewPublicKey(c1.pub.SKey[:])
		f.must(err)
		shared, err := f.clients[v-1].sPriv.ECDH(pub)
		f.must(err)
		addRef(PairwiseSeed(shared, c1.session, u, v), u > v)
	}
	if got := Pack(nil, want, p.bits()); !slices.Equal(got, masked.Data) {
		t.Fatalf("b=%d: client 1's masked input differs from x + PRG(b) + Σ ± PRG(s_uv)", p.bits())
	}
}

// TestParallelFeldmanNamesDealer: with the checks spread over goroutines,
// a corrupted share is still caught and the error names the lowest bad
// dealer, whatever the order of the entries and the number of workers.
func TestParallelFeldmanNamesDealer(t *testing.T) {
	p := workersParams(32)
	p.Dim = 8
	const me = 1
	workers := []int{1, 2, 3, 8}
	if raceEnabled || !longTests {
		workers = []int{3}
	}
	for _, workers := range workers {
		for _, reverse := range []bool{false, true} {
			t.Run(fmt.Sprintf("workers=%d/reverse=%v", workers, reverse), func(t *testing.T) {
				f := newFixture(t, p, false)
				nb := f.clients[me-1].Neighbors()
				low, high := nb[len(nb)/2], nb[len(nb)-1]
				// The higher dealer's share of b and the lower dealer's
				// share of s are bad (so the first failing job in b-then-s
				// order of a sender-major scan would be the higher one if
				// the order were by kind).
				f.clients[high-1].testHookShares = func(xs []uint32, yb, ys []edwards25519.Scalar) {
					i, _ := slices.BinarySearch(xs, me)
					yb[i].Add(&yb[i], scalarFromUint(1))
				}
				f.clients[low-1].testHookShares = func(xs []uint32, yb, ys []edwards25519.Scalar) {
					i, _ := slices.BinarySearch(xs, me)
					ys[i].Add(&ys[i], scalarFromUint(7))
				}
				for _, c := range f.clients {
					c.cfg.Workers = workers
				}
				f.advertise()
				f.share()
				sb := f.sbs[0]
				if sb.To != me {
					t.Fatalf("first broadcast is for client %d", sb.To)
				}
				if reverse {
					slices.Reverse(sb.Entries)
				}
				_, err := f.clients[me-1].MaskedInput(sb, f.inputs[me-1])
				wantClientErr(t, err, low, ErrBadShare)
				// Only high left bad: it is named.
				g := newFixture(t, p, false)
				g.clients[high-1].testHookShares = f.clients[high-1].testHookShares
				for _, c := range g.clients {
					c.cfg.Workers = workers
				}
				g.advertise()
				g.share()
				if g.sbs[0].To != me {
					t.Fatalf("first broadcast is for client %d", g.sbs[0].To)
				}
				_, err = g.clients[me-1].MaskedInput(g.sbs[0], g.inputs[me-1])
				wantClientErr(t, err, high, ErrBadShare)
				// The hook touched only the share for me: every other
				// client passes its checks.
				for _, sb := range g.sbs[1:] {
					if _, err := g.clients[sb.To-1].MaskedInput(sb, g.inputs[sb.To-1]); err != nil {
						t.Fatalf("client %d: %v", sb.To, err)
					}
				}
			})
		}
	}
}
