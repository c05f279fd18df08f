package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/fedgo/fedgo/internal/report"
	"github.com/fedgo/fedgo/secagg"
)

// phase is what one protocol step cost.
type phase struct {
	name       string
	clients    int           // clients that sent their message of the step
	clientTime time.Duration // summed over those clients
	serverTime time.Duration
	up, down   int64 // bytes client → server and server → client
}

type result struct {
	p         secagg.Params
	phases    []*phase
	survivors int // clients whose inputs are in the sum
	dropped   int // clients that vanished at some step
	failed    int // clients that left the round on an error
	errors    []string
	sumOK     bool
}

// Streams of the seeded generators.
const (
	streamDrops  = 1 << 43
	streamInputs = 1 << 42
	streamIDs    = 1 << 41
	streamSeed   = 1 << 40
)

// simulate runs one secure-aggregation round among o.n clients, in one
// goroutine (the server's Result uses its worker goroutines), encoding and
// decoding every message.
func simulate(ctx context.Context, o *options) (*result, error) {
	cfg := o.config(o.n)
	cfg.Clip = 1
	p, err := cfg.RoundParams(o.n, o.dim)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(o.randSource(streamSeed), p.Seed[:]); err != nil {
		return nil, err
	}
	res := &result{p: p}
	steps := []string{"advertise", "share-keys", "masked-input"}
	if p.Malicious {
		// The graph seed is drawn by commit–reveal: a client that vanishes
		// between advertising and revealing stops the round, so in this
		// simulation clients vanish at the other steps only.
		steps = []string{"advertise", "reveal", "share-keys", "masked-input", "consistency"}
	}
	steps = append(steps, "unmask")
	// dropAt[i] is the step (index into steps) at which client i+1 vanishes
	// without sending its message, or -1.
	drops := o.rng(streamDrops)
	dropAt := make([]int, p.N)
	for i := range dropAt {
		dropAt[i] = -1
		if drops.Float64() < o.drop {
			dropAt[i] = drops.IntN(len(steps))
			if steps[dropAt[i]] == "reveal" {
				dropAt[i]++
			}
			res.dropped++
		}
	}
	var pki map[uint32]ed25519.PublicKey
	ids := make([]ed25519.PrivateKey, p.N)
	if p.Malicious {
		pki = make(map[uint32]ed25519.PublicKey, p.N)
		for i := range ids {
			pub, priv, err := ed25519.GenerateKey(o.randSource(streamIDs + uint64(i)))
			if err != nil {
				return nil, err
			}
			ids[i], pki[uint32(i+1)] = priv, pub
		}
	}
	srv, err := secagg.NewServer(secagg.ServerConfig{Params: p, PeerKeys: pki})
	if err != nil {
		return nil, err
	}
	clients := make([]*secagg.Client, p.N)
	for i := range clients {
		c, err := secagg.NewClient(secagg.ClientConfig{
			ID: uint32(i + 1), Params: p, Rand: o.randSource(uint64(i) + 1),
			Identity: ids[i], PeerKeys: pki, TrustDealers: o.trust,
		})
		if err != nil {
			return nil, err
		}
		clients[i] = c
	}
	mask := ^uint64(0) >> (64 - p.Bits)
	want := make([]uint64, p.Dim) // the plain sum of the survivors' inputs
	input := make([]uint64, p.Dim)
	real := make([]float64, p.Dim)

	step := 0
	ph := &phase{name: steps[0]}
	// send runs client i's part of the current step unless it vanishes
	// here, then the server's; it returns false for a vanished client.
	send := func(i int, client func() ([]byte, error), server func([]byte) error) (bool, error) {
		if dropAt[i] >= 0 && dropAt[i] <= step {
			return false, nil
		}
		t0 := time.Now()
		b, err := client()
		ph.clientTime += time.Since(t0)
		if err == nil {
			ph.clients++
			ph.up += int64(len(b))
			t0 = time.Now()
			err = server(b)
			ph.serverTime += time.Since(t0)
		}
		if err != nil {
			// The client leaves the round, as secagg's host duties say.
			dropAt[i] = step
			res.failed++
			res.errors = append(res.errors, fmt.Sprintf("client %d at %s: %v", i+1, ph.name, err))
			return false, ctx.Err()
		}
		return true, ctx.Err()
	}
	timed := func(f func() error) error {
		t0 := time.Now()
		err := f()
		ph.serverTime += time.Since(t0)
		return err
	}
	next := func() {
		res.phases = append(res.phases, ph)
		step++
		if step < len(steps) {
			ph = &phase{name: steps[step]}
		}
	}

	// Step 0: advertise keys.
	for i, c := range clients {
		if _, err := send(i, func() ([]byte, error) {
			m, err := c.AdvertiseKeys()
			if err != nil {
				return nil, err
			}
			return m.MarshalBinary()
		}, func(b []byte) error {
			var m secagg.AdvertiseMsg
			if err := m.UnmarshalBinary(b); err != nil {
				return err
			}
			return srv.HandleAdvertise(&m)
		}); err != nil {
			return nil, err
		}
	}
	var kb []byte
	var keys *secagg.KeysBroadcast
	if err := timed(func() (err error) {
		if keys, err = srv.Keys(); err == nil {
			kb, err = keys.MarshalBinary()
		}
		return err
	}); err != nil {
		return nil, err
	}
	next()

	// Step 0b (malicious mode): reveal the graph-seed shares.
	var rb []byte
	if p.Malicious {
		for _, k := range keys.Keys {
			i := int(k.Client) - 1
			ph.down += int64(len(kb))
			if _, err := send(i, func() ([]byte, error) {
				var m secagg.KeysBroadcast
				if err := m.UnmarshalBinary(kb); err != nil {
					return nil, err
				}
				r, err := clients[i].RevealSeed(&m)
				if err != nil {
					return nil, err
				}
				return r.MarshalBinary()
			}, func(b []byte) error {
				var m secagg.RevealMsg
				if err := m.UnmarshalBinary(b); err != nil {
					return err
				}
				return srv.HandleReveal(&m)
			}); err != nil {
				return nil, err
			}
		}
		if err := timed(func() error {
			reveals, err := srv.Reveals()
			if err == nil {
				rb, err = reveals.MarshalBinary()
			}
			return err
		}); err != nil {
			return nil, err
		}
		next()
	}

	// Step 1: share keys.
	for _, k := range keys.Keys {
		i := int(k.Client) - 1
		down := kb
		if p.Malicious {
			down = rb
		}
		ph.down += int64(len(down))
		if _, err := send(i, func() ([]byte, error) {
			var s *secagg.SharesMsg
			var err error
			if p.Malicious {
				var m secagg.RevealsBroadcast
				if err := m.UnmarshalBinary(rb); err != nil {
					return nil, err
				}
				s, err = clients[i].ShareKeysRevealed(&m)
			} else {
				var m secagg.KeysBroadcast
				if err := m.UnmarshalBinary(kb); err != nil {
					return nil, err
				}
				s, err = clients[i].ShareKeys(&m)
			}
			if err != nil {
				return nil, err
			}
			return s.MarshalBinary()
		}, func(b []byte) error {
			var m secagg.SharesMsg
			if err := m.UnmarshalBinary(b); err != nil {
				return err
			}
			return srv.HandleShares(&m)
		}); err != nil {
			return nil, err
		}
	}
	var bcs []*secagg.SharesBroadcast
	if err := timed(func() (err error) { bcs, err = srv.Shares(); return err }); err != nil {
		return nil, err
	}
	next()

	// Step 2: masked inputs.
	for _, bc := range bcs {
		i := int(bc.To) - 1
		var data []byte
		if err := timed(func() (err error) { data, err = bc.MarshalBinary(); return err }); err != nil {
			return nil, err
		}
		ph.down += int64(len(data))
		ok, err := send(i, func() ([]byte, error) {
			var m secagg.SharesBroadcast
			if err := m.UnmarshalBinary(data); err != nil {
				return nil, err
			}
			if err := makeInput(o, p, i, input, real); err != nil {
				return nil, err
			}
			y, err := clients[i].MaskedInput(&m, input)
			if err != nil {
				return nil, err
			}
			return y.MarshalBinary()
		}, func(b []byte) error {
			var m secagg.MaskedMsg
			if err := m.UnmarshalBinary(b); err != nil {
				return err
			}
			return srv.HandleMasked(&m)
		})
		if err != nil {
			return nil, err
		}
		if ok {
			for j, x := range input {
				want[j] = (want[j] + x) & mask
			}
		}
	}
	next()

	// Step 3 (malicious mode): consistency check.
	var asked []uint32
	if p.Malicious {
		var sv *secagg.SurvivorsMsg
		var data []byte
		if err := timed(func() (err error) {
			if sv, err = srv.Survivors(); err == nil {
				data, err = sv.MarshalBinary()
			}
			return err
		}); err != nil {
			return nil, err
		}
		for _, id := range sv.Survivors {
			i := int(id) - 1
			ph.down += int64(len(data))
			ok, err := send(i, func() ([]byte, error) {
				var m secagg.SurvivorsMsg
				if err := m.UnmarshalBinary(data); err != nil {
					return nil, err
				}
				s, err := clients[i].ConsistencyCheck(&m)
				if err != nil {
					return nil, err
				}
				return s.MarshalBinary()
			}, func(b []byte) error {
				var m secagg.SignatureMsg
				if err := m.UnmarshalBinary(b); err != nil {
					return err
				}
				return srv.HandleSignature(&m)
			})
			if err != nil {
				return nil, err
			}
			if ok {
				asked = append(asked, id)
			}
		}
		next()
	}

	// Step 4: unmasking.
	var req *secagg.UnmaskRequest
	var data []byte
	if err := timed(func() (err error) {
		if req, err = srv.UnmaskRequest(); err == nil {
			data, err = req.MarshalBinary()
		}
		return err
	}); err != nil {
		return nil, err
	}
	if !p.Malicious {
		asked = req.Survivors
	}
	res.survivors = len(req.Survivors)
	for _, id := range asked {
		i := int(id) - 1
		ph.down += int64(len(data))
		if _, err := send(i, func() ([]byte, error) {
			var m secagg.UnmaskRequest
			if err := m.UnmarshalBinary(data); err != nil {
				return nil, err
			}
			u, err := clients[i].Unmask(&m)
			if err != nil {
				return nil, err
			}
			return u.MarshalBinary()
		}, func(b []byte) error {
			var m secagg.UnmaskMsg
			if err := m.UnmarshalBinary(b); err != nil {
				return err
			}
			return srv.HandleUnmask(&m)
		}); err != nil {
			return nil, err
		}
	}
	var sum []uint64
	if err := timed(func() (err error) { sum, err = srv.Result(); return err }); err != nil {
		return nil, err
	}
	next()
	res.sumOK = len(sum) == len(want)
	for j := range sum {
		res.sumOK = res.sumOK && sum[j] == want[j]
	}
	return res, nil
}

// makeInput draws client i's real vector (uniform in [-1, 1]) and
// quantizes it into input: the same vector every time for a seed.
func makeInput(o *options, p secagg.Params, i int, input []uint64, real []float64) error {
	r := o.rng(streamInputs + uint64(i))
	for j := range real {
		real[j] = 2*r.Float64() - 1
	}
	_, err := secagg.Quantize(input, real, 1, p.Bits, p.N, r)
	return err
}

func (r *result) totals() (client, server time.Duration, bytes int64) {
	for _, ph := range r.phases {
		client += ph.clientTime
		server += ph.serverTime
		bytes += ph.up + ph.down
	}
	return
}

func (r *result) print(w io.Writer) {
	mode := "semi-honest"
	if r.p.Malicious {
		mode = "malicious"
	}
	graph := "SecAgg+"
	if degree(r.p) == r.p.N-1 {
		graph = "SecAgg (complete graph)"
	}
	fmt.Fprintf(w, "%s, %s: n=%d dim=%d k=%d t=%d bits=%d\n\n", graph, mode, r.p.N, r.p.Dim, degree(r.p), r.p.Threshold, r.p.Bits)
	fmt.Fprintf(w, "%-13s  %7s  %14s  %10s  %10s  %10s\n", "step", "clients", "client ms/each", "server ms", "up", "down")
	for _, ph := range r.phases {
		each := 0.0
		if ph.clients > 0 {
			each = ms(ph.clientTime) / float64(ph.clients)
		}
		fmt.Fprintf(w, "%-13s  %7d  %14.3f  %10.1f  %10s  %10s\n", ph.name, ph.clients, each, ms(ph.serverTime), report.Bytes(ph.up), report.Bytes(ph.down))
	}
	client, server, bytes := r.totals()
	for _, e := range r.errors {
		fmt.Fprintln(w, "left the round:", e)
	}
	fmt.Fprintf(w, "\nsurvivors %d of %d (%d vanished, %d left on an error); client %.1f ms each, server %.1f ms; %s per client\n",
		r.survivors, r.p.N, r.dropped, r.failed, ms(client)/float64(r.p.N), ms(server), report.Bytes(bytes/int64(r.p.N)))
	if r.sumOK {
		fmt.Fprintln(w, "the unmasked sum equals the plain sum of the survivors' inputs")
	} else {
		fmt.Fprintln(w, "MISMATCH: the unmasked sum differs from the plain sum of the survivors' inputs")
	}
}

type summary struct {
	N              int     `json:"n"`
	Dim            int     `json:"dim"`
	K              int     `json:"k"`
	T              int     `json:"t"`
	Survivors      int     `json:"survivors"`
	Dropped        int     `json:"dropped"`
	Failed         int     `json:"failed"`
	SumOK          bool    `json:"sum_ok"`
	ClientMS       float64 `json:"client_ms"`
	ServerMS       float64 `json:"server_ms"`
	BytesPerClient int64   `json:"bytes_per_client"`
}

func (r *result) summary() summary {
	client, server, bytes := r.totals()
	return summary{
		N: r.p.N, Dim: r.p.Dim, K: degree(r.p), T: r.p.Threshold, Survivors: r.survivors, Dropped: r.dropped, Failed: r.failed,
		SumOK: r.sumOK, ClientMS: ms(client) / float64(r.p.N), ServerMS: ms(server), BytesPerClient: bytes / int64(r.p.N),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
