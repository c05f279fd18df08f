package secagg

import (
	"crypto/ecdh"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

func BenchmarkMaskPRG(b *testing.B) {
	for _, d := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("lanes/d=%d", d), func(b *testing.B) {
			acc := make([]uint64, laneLen(d))
			g := newMaskGen()
			b.SetBytes(int64(4 * d))
			b.ReportAllocs()
			for b.Loop() {
				g.addLanes(acc, [32]byte{1}, false)
			}
		})
	}
	for _, bits := range []int{32, 64} {
		for _, d := range []int{1_000, 100_000, 1_000_000} {
			b.Run(fmt.Sprintf("b=%d/d=%d", bits, d), func(b *testing.B) {
				acc := make([]uint64, d)
				g := newMaskGen()
				wb := 4
				if bits > 32 {
					wb = 8
				}
				b.SetBytes(int64(wb * d))
				b.ReportAllocs()
				for b.Loop() {
					g.add(acc, [32]byte{1}, bits, false)
				}
			})
		}
	}
}

func BenchmarkPack(b *testing.B) {
	for _, bits := range []int{32, 20} {
		b.Run(fmt.Sprintf("b=%d/d=100000", bits), func(b *testing.B) {
			v := make([]uint64, 100_000)
			buf := make([]byte, 0, PackedLen(len(v), bits))
			b.SetBytes(int64(8 * len(v)))
			b.ReportAllocs()
			for b.Loop() {
				buf = Pack(buf[:0], v, bits)
			}
		})
	}
}

func BenchmarkVerifyShare(b *testing.B) {
	for _, t := range []int{3, 20} {
		b.Run(fmt.Sprintf("t=%d", t), func(b *testing.B) {
			r := seededReader(1, 2)
			secret, _ := randomScalar(r)
			ys := make([]edwards25519.Scalar, 1)
			commit := make([]Commitment, t)
			_ = Deal(ys, commit, secret, t, []uint32{977}, r)
			for b.Loop() {
				if !VerifyShareVarTime(977, &ys[0], commit) {
					b.Fatal("rejected")
				}
			}
		})
	}
}

// BenchmarkClientRound measures one client's whole round (keys, sharing,
// masking, unmasking) in SecAgg+ with n = 500, k = 40 (t = 23, from
// ChooseParams(500, 0.1, 0.1, 40, 20)), d = 100,000, b = 32. The
// neighbours' messages are prepared once; every iteration replays the
// client from the same seeded randomness so that their boxes stay valid.
func BenchmarkClientRound(b *testing.B) {
	const n, d = 500, 100_000
	k, t, err := ChooseParams(n, 0.1, 0.1, 40, 20)
	if err != nil || k != 40 {
		b.Fatalf("ChooseParams: k=%d t=%d %v", k, t, err)
	}
	p := Params{N: n, Threshold: t, Neighbors: k, Bits: 32, Dim: d, Seed: [32]byte{3}}
	g := newGraph(&p)
	const me = 250 // a typical id: Feldman checks cost O(t·log2(id)) point operations
	involved := append(g.neighbors(nil, me), me)
	clients := make(map[uint32]*Client)
	kb := &KeysBroadcast{Round: p.RoundID()}
	for id := uint32(1); id <= n; id++ {
		c, err := NewClient(ClientConfig{ID: id, Params: p, Rand: seededReader(9, uint64(id))})
		if err != nil {
			b.Fatal(err)
		}
		m, err := c.AdvertiseKeys()
		if err != nil {
			b.Fatal(err)
		}
		kb.Keys = append(kb.Keys, *m)
		clients[id] = c
	}
	sb := &SharesBroadcast{To: me}
	for _, id := range involved {
		m, err := clients[id].ShareKeys(kb)
		if err != nil {
			b.Fatal(err)
		}
		sb.Session = m.Session
		for _, box := range m.Boxes {
			if box.Peer == me {
				sb.Entries = append(sb.Entries, ShareEntry{From: id, CommitB: m.CommitB, CommitS: m.CommitS, Box: box.Data})
			}
		}
	}
	slices.SortFunc(sb.Entries, func(x, y ShareEntry) int { return int(x.From) - int(y.From) })
	req := &UnmaskRequest{Session: sb.Session}
	for id := uint32(1); id <= n; id++ {
		req.Survivors = append(req.Survivors, id)
	}
	input := make([]uint64, d)
	for i := range input {
		input[i] = uint64(i) & 0xFFFFFFFF
	}
	for _, trust := range []bool{true, false} {
		name := "feldman-check"
		if trust {
			name = "trust-dealers"
		}
		b.Run(fmt.Sprintf("k=%d/t=%d/d=%d/%s", k, t, d, name), func(b *testing.B) {
			b.SetBytes(int64(4 * d))
			b.ReportAllocs()
			cpu0 := processCPU()
			defer func() { b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op") }()
			for b.Loop() {
				c, err := NewClient(ClientConfig{ID: me, Params: p, Rand: seededReader(9, me), TrustDealers: trust})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.AdvertiseKeys(); err != nil {
					b.Fatal(err)
				}
				if _, err := c.ShareKeys(kb); err != nil {
					b.Fatal(err)
				}
				if _, err := c.MaskedInput(sb, input); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Unmask(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// serverFixture builds a server in the unmasking step directly (bypassing
// the earlier steps, whose cost is the clients'): real X25519 mask keys and
// Feldman C_0 commitments, every survivor answering, a random masked sum.
// To keep the setup cheap each secret is shared with a constant polynomial
// (all shares equal the secret); reconstruction does the same work for any
// polynomial. The result is therefore not a meaningful sum; the
// end-to-end tests check correctness.
func serverFixture(tb testing.TB, n, k, t int, drop float64, d int) *Server {
	p := Params{N: n, Threshold: t, Neighbors: k, Bits: 32, Dim: d, Seed: [32]byte{5}}
	srv, err := NewServer(ServerConfig{Params: p})
	if err != nil {
		tb.Fatal(err)
	}
	r := seededReader(4, 4)
	rng := rand.New(rand.NewPCG(1, 1))
	bSec := make(map[uint32]*edwards25519.Scalar)
	sSec := make(map[uint32]*edwards25519.Scalar)
	srv.keys = make(map[uint32]PublicKeys)
	srv.shares = make(map[uint32]*SharesMsg)
	var pubs []PublicKeys
	commit := func(s *edwards25519.Scalar) []Commitment {
		return []Commitment{encodeCommitment(new(edwards25519.Point).ScalarBaseMult(s))}
	}
	for id := uint32(1); id <= uint32(n); id++ {
		bs, _ := randomScalar(r)
		ss, _ := randomScalar(r)
		priv, _ := ecdh.X25519().NewPrivateKey(ss.Bytes())
		pk := PublicKeys{Client: id, SKey: [32]byte(priv.PublicKey().Bytes())}
		pk.CKey[0] = byte(id)
		pubs = append(pubs, pk)
		srv.keys[id] = pk
		bSec[id], sSec[id] = bs, ss
		srv.shares[id] = &SharesMsg{Client: id, CommitB: commit(bs), CommitS: commit(ss)}
		srv.u2 = append(srv.u2, id)
	}
	srv.session = SessionID(srv.roundID, pubs)
	srv.survivors = make(map[uint32]bool)
	srv.recvFrom = make(map[uint32][]uint32)
	for _, id := range srv.u2 {
		if rng.Float64() >= drop {
			srv.survivors[id] = true
			srv.u3 = append(srv.u3, id)
		} else {
			srv.dropped = append(srv.dropped, id)
		}
		srv.recvFrom[id] = append(srv.g.neighbors(nil, id), id)
		slices.Sort(srv.recvFrom[id])
	}
	srv.acc = make([]uint64, srv.accLen())
	for i := range srv.acc {
		srv.acc[i] = rng.Uint64()
	}
	srv.responded = make(map[uint32]bool)
	srv.bShares = make(map[uint32][]Share)
	srv.sShares = make(map[uint32][]Share)
	for _, v := range srv.u3 {
		srv.responded[v] = true
		for _, u := range srv.recvFrom[v] {
			if srv.survivors[u] {
				srv.bShares[u] = append(srv.bShares[u], Share{X: v, Y: *bSec[u]})
			} else {
				srv.sShares[u] = append(srv.sShares[u], Share{X: v, Y: *sSec[u]})
			}
		}
	}
	srv.phase = serverUnmask
	return srv
}

// BenchmarkServerUnmask measures the server's unmasking (reconstruction,
// key agreement and mask regeneration for d = 100,000, b = 32, 10%
// dropout) on GOMAXPROCS workers.
func BenchmarkServerUnmask(b *testing.B) {
	const d = 100_000
	k1000, t1000, err := ChooseParams(1000, 0.05, 0.1, 40, 20)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		n, k, t int
	}{
		{fmt.Sprintf("secagg+/n=1000/k=%d/t=%d", k1000, t1000), 1000, k1000, t1000},
		{"secagg+/n=1000/k=30/t=16", 1000, 30, 16},
		{"complete/n=500/t=251", 500, 0, 251},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := serverFixture(b, c.n, c.k, c.t, 0.1, d)
			masks := len(srv.u3)
			for _, u := range srv.dropped {
				for _, v := range srv.g.neighbors(nil, u) {
					if srv.survivors[v] {
						masks++
					}
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(4 * d * masks))
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := srv.unmask(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(masks), "masks/op")
		})
	}
}
