package secagg

import (
	"bytes"
	"sync"
	"testing"
)

// samples holds the encodings of real messages of a 3-client malicious
// round, used as fuzz seed corpora.
var samples = sync.OnceValue(func() map[byte][][]byte {
	p := Params{N: 3, Threshold: 2, Bits: 13, Dim: 5, Malicious: true}
	privs, pubs := identities(p.N)
	srv, _ := NewServer(ServerConfig{Params: p, PeerKeys: pubs})
	out := make(map[byte][][]byte)
	add := func(typ byte, m wireMsg) {
		b, err := m.MarshalBinary()
		if err != nil {
			panic(err)
		}
		out[typ] = append(out[typ], b)
	}
	var cs []*Client
	for id := uint32(1); id <= 3; id++ {
		c, _ := NewClient(ClientConfig{ID: id, Params: p, Rand: seededReader(1, uint64(id)), Identity: privs[id], PeerKeys: pubs})
		cs = append(cs, c)
		m, _ := c.AdvertiseKeys()
		add(typeAdvertise, m)
		_ = srv.HandleAdvertise(m)
	}
	kb, _ := srv.Keys()
	add(typeKeys, kb)
	for _, c := range cs {
		m, _ := c.RevealSeed(kb)
		add(typeReveal, m)
		_ = srv.HandleReveal(m)
	}
	rb, _ := srv.Reveals()
	add(typeReveals, rb)
	for _, c := range cs {
		m, _ := c.ShareKeysRevealed(rb)
		add(typeShares, m)
		_ = srv.HandleShares(m)
	}
	sbs, _ := srv.Shares()
	for _, sb := range sbs {
		add(typeSharesBroadcast, sb)
		m, _ := cs[sb.To-1].MaskedInput(sb, []uint64{1, 2, 3, 4, 8191})
		add(typeMasked, m)
		_ = srv.HandleMasked(m)
	}
	sv, _ := srv.Survivors()
	add(typeSurvivors, sv)
	for _, c := range cs {
		m, _ := c.ConsistencyCheck(sv)
		add(typeSignature, m)
		_ = srv.HandleSignature(m)
	}
	req, _ := srv.UnmaskRequest()
	add(typeUnmaskRequest, req)
	for _, c := range cs {
		m, _ := c.Unmask(req)
		add(typeUnmask, m)
	}
	return out
})

// fuzzDecoder seeds f with real encodings, truncations and small edits,
// then checks that decoding never panics and that whatever decodes
// re-encodes to the same bytes (the encoding is canonical).
func fuzzDecoder[M wireMsg](f *testing.F, typ byte, fresh func() M, canonical func(M) bool) {
	for _, b := range samples()[typ] {
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(append(bytes.Clone(b), 0))
		e := bytes.Clone(b)
		e[len(e)-1] ^= 0x80
		f.Add(e)
		if len(b) > 40 {
			big := bytes.Clone(b)
			big[34], big[35], big[36], big[37] = 0xFF, 0xFF, 0xFF, 0xFF // a huge count or id
			f.Add(big)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{wireVersion, typ})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fresh()
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		if canonical != nil && !canonical(m) {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
	})
}

func FuzzAdvertiseMsg(f *testing.F) {
	fuzzDecoder(f, typeAdvertise, func() *AdvertiseMsg { return new(AdvertiseMsg) }, nil)
}

func FuzzKeysBroadcast(f *testing.F) {
	fuzzDecoder(f, typeKeys, func() *KeysBroadcast { return new(KeysBroadcast) }, nil)
}

func FuzzRevealMsg(f *testing.F) {
	fuzzDecoder(f, typeReveal, func() *RevealMsg { return new(RevealMsg) }, nil)
}

func FuzzRevealsBroadcast(f *testing.F) {
	fuzzDecoder(f, typeReveals, func() *RevealsBroadcast { return new(RevealsBroadcast) }, nil)
}

func FuzzSharesMsg(f *testing.F) {
	fuzzDecoder(f, typeShares, func() *SharesMsg { return new(SharesMsg) }, nil)
}

func FuzzSharesBroadcast(f *testing.F) {
	// With no entries the commitment count on the wire is free.
	fuzzDecoder(f, typeSharesBroadcast, func() *SharesBroadcast { return new(SharesBroadcast) },
		func(m *SharesBroadcast) bool { return len(m.Entries) > 0 })
}

func FuzzMaskedMsg(f *testing.F) {
	fuzzDecoder(f, typeMasked, func() *MaskedMsg { return new(MaskedMsg) }, nil)
}

func FuzzSurvivorsMsg(f *testing.F) {
	fuzzDecoder(f, typeSurvivors, func() *SurvivorsMsg { return new(SurvivorsMsg) }, nil)
}

func FuzzSignatureMsg(f *testing.F) {
	fuzzDecoder(f, typeSignature, func() *SignatureMsg { return new(SignatureMsg) }, nil)
}

func FuzzUnmaskRequest(f *testing.F) {
	fuzzDecoder(f, typeUnmaskRequest, func() *UnmaskRequest { return new(UnmaskRequest) }, nil)
}

func FuzzUnmaskMsg(f *testing.F) {
	fuzzDecoder(f, typeUnmask, func() *UnmaskMsg { return new(UnmaskMsg) }, nil)
}

// FuzzClientSteps feeds hostile decoded messages to a client at each step:
// it must return errors, never panic.
func FuzzClientSteps(f *testing.F) {
	s := samples()
	for _, typ := range []byte{typeKeys, typeSharesBroadcast, typeUnmaskRequest, typeReveals} {
		for _, b := range s[typ] {
			f.Add(typ, b)
			e := bytes.Clone(b)
			e[len(e)/2] ^= 1
			f.Add(typ, e)
		}
	}
	p := Params{N: 3, Threshold: 2, Bits: 13, Dim: 5, Malicious: true}
	privs, pubs := identities(p.N)
	f.Fuzz(func(t *testing.T, typ byte, data []byte) {
		c, _ := NewClient(ClientConfig{ID: 1, Params: p, Rand: seededReader(1, 1), Identity: privs[1], PeerKeys: pubs})
		if _, err := c.AdvertiseKeys(); err != nil {
			t.Fatal(err)
		}
		switch typ % 4 {
		case 0:
			var kb KeysBroadcast
			if kb.UnmarshalBinary(data) == nil {
				_, _ = c.RevealSeed(&kb)
			}
		case 1, 3:
			var kb KeysBroadcast
			_ = kb.UnmarshalBinary(s[typeKeys][0])
			if _, err := c.RevealSeed(&kb); err != nil {
				t.Fatal(err)
			}
			if typ%4 == 3 {
				var rb RevealsBroadcast
				if rb.UnmarshalBinary(data) == nil {
					_, _ = c.ShareKeysRevealed(&rb)
				}
				return
			}
			var rb RevealsBroadcast
			_ = rb.UnmarshalBinary(s[typeReveals][0])
			if _, err := c.ShareKeysRevealed(&rb); err != nil {
				t.Fatal(err)
			}
			var sb SharesBroadcast
			if sb.UnmarshalBinary(data) == nil {
				_, _ = c.MaskedInput(&sb, make([]uint64, 5))
			}
		case 2:
			var req UnmaskRequest
			if req.UnmarshalBinary(data) == nil {
				_, _ = c.Unmask(&req)
			}
		}
	})
}
