package secagg

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
)

// msgLen is the encoded size of m.
func msgLen(tb testing.TB, m wireMsg) int {
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

// clientBench prepares one client's round in a population of p.N clients
// (every client advertises; the client's neighbours deal their shares; no
// one drops out) and returns a function that replays the client's whole
// round from the same seeded randomness, and the bytes it sends and
// receives.
func clientBench(tb testing.TB, p Params, me uint32) (run func(), up, down int) {
	privs, pubs := identities(p.N)
	srv, err := NewServer(ServerConfig{Params: p, PeerKeys: pubs, Workers: 2})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := func(id uint32) ClientConfig {
		return ClientConfig{ID: id, Params: p, Rand: seededReader(9, uint64(id)), Identity: privs[id], PeerKeys: pubs}
	}
	clients := make([]*Client, p.N+1)
	for id := uint32(1); id <= uint32(p.N); id++ {
		c, err := NewClient(cfg(id))
		if err != nil {
			tb.Fatal(err)
		}
		m, err := c.AdvertiseKeys()
		if err != nil {
			tb.Fatal(err)
		}
		if err := srv.HandleAdvertise(m); err != nil {
			tb.Fatal(err)
		}
		clients[id] = c
	}
	kb, err := srv.Keys()
	if err != nil {
		tb.Fatal(err)
	}
	var rb *RevealsBroadcast
	if p.Malicious {
		for id := 1; id <= p.N; id++ {
			m, err := clients[id].RevealSeed(kb)
			if err != nil {
				tb.Fatal(err)
			}
			if err := srv.HandleReveal(m); err != nil {
				tb.Fatal(err)
			}
		}
		if rb, err = srv.Reveals(); err != nil {
			tb.Fatal(err)
		}
	}
	involved := append(srv.Neighbors(me), me)
	sb := &SharesBroadcast{To: me}
	for _, id := range involved {
		m, err := shareKeys(clients[id], kb, rb)
		if err != nil {
			tb.Fatal(err)
		}
		sb.Session = m.Session
		for _, box := range m.Boxes {
			if box.Peer == me {
				sb.Entries = append(sb.Entries, ShareEntry{From: id, CommitB: m.CommitB, CommitS: m.CommitS, Box: box.Data})
			}
		}
	}
	slices.SortFunc(sb.Entries, func(x, y ShareEntry) int { return int(x.From) - int(y.From) })
	sv := &SurvivorsMsg{Session: sb.Session}
	for id := uint32(1); id <= uint32(p.N); id++ {
		sv.Survivors = append(sv.Survivors, id)
	}
	req := &UnmaskRequest{Session: sb.Session, Survivors: sv.Survivors}
	if p.Malicious {
		digest := survivorsDigest(sb.Session, sv.Survivors)
		for _, id := range sv.Survivors {
			s := SignatureMsg{Session: sb.Session, Client: id}
			copy(s.Sig[:], ed25519.Sign(privs[id], digest))
			req.Signatures = append(req.Signatures, s)
		}
	}
	input := make([]uint64, p.Dim)
	for i := range input {
		input[i] = uint64(i) & 0xFFFFFFFF
	}
	once := func() (up, down int) {
		c, err := NewClient(cfg(me))
		if err != nil {
			tb.Fatal(err)
		}
		adv, err := c.AdvertiseKeys()
		if err != nil {
			tb.Fatal(err)
		}
		var sm *SharesMsg
		if p.Malicious {
			rv, err := c.RevealSeed(kb)
			if err != nil {
				tb.Fatal(err)
			}
			if sm, err = c.ShareKeysRevealed(rb); err != nil {
				tb.Fatal(err)
			}
			up += msgLen(tb, rv)
			down += msgLen(tb, rb)
		} else if sm, err = c.ShareKeys(kb); err != nil {
			tb.Fatal(err)
		}
		mm, err := c.MaskedInput(sb, input)
		if err != nil {
			tb.Fatal(err)
		}
		if p.Malicious {
			sig, err := c.ConsistencyCheck(sv)
			if err != nil {
				tb.Fatal(err)
			}
			up += msgLen(tb, sig)
			down += msgLen(tb, sv)
		}
		um, err := c.Unmask(req)
		if err != nil {
			tb.Fatal(err)
		}
		up += msgLen(tb, adv) + msgLen(tb, sm) + msgLen(tb, mm) + msgLen(tb, um)
		down += msgLen(tb, kb) + msgLen(tb, sb) + msgLen(tb, req)
		return up, down
	}
	up, down = once()
	return func() { once() }, up, down
}

// BenchmarkModes measures, for n = 1000, d = 100,000, b = 32 and 10%
// dropout, the parameters each mode chooses for 5% and 1/3 corrupt
// clients, the server's unmasking (serverFixture) and one client's whole
// round (id 500, every neighbour's shares checked, no dropout on the
// client's side), with the bytes a client sends and receives.
func BenchmarkModes(b *testing.B) {
	const n, d = 1000, 100_000
	for _, malicious := range []bool{false, true} {
		for _, corrupt := range []float64{0.05, 1.0 / 3} {
			choose, mode := ChooseParams, "semi-honest"
			if malicious {
				choose, mode = ChooseMaliciousParams, "malicious"
			}
			k, t, err := choose(n, corrupt, 0.1, 40, 20)
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("%s/corrupt=%.2f/k=%d/t=%d", mode, corrupt, k, t)
			b.Run(name+"/server-unmask", func(b *testing.B) {
				kk := k
				if k == n-1 {
					kk = 0
				}
				srv := serverFixture(b, n, kk, t, 0.1, d)
				b.ReportAllocs()
				cpu0 := processCPU()
				for b.Loop() {
					if _, err := srv.unmask(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
			b.Run(name+"/client", func(b *testing.B) {
				p := Params{N: n, Threshold: t, Neighbors: k, Bits: 32, Dim: d, Malicious: malicious, Seed: [32]byte{6}}
				if k == n-1 {
					p.Neighbors = 0
				}
				run, up, down := clientBench(b, p, 500)
				b.ReportAllocs()
				cpu0 := processCPU()
				for b.Loop() {
					run()
				}
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(up), "up-B/client")
				b.ReportMetric(float64(down), "down-B/client")
			})
		}
	}
}
