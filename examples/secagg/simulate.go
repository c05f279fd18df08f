package main

import (
	"context"
	"crypto/ed25519"
	"encoding"
	"fmt"
	"io"
	"time"

	"github.com/fedgo/fedgo/fl/report"
	"github.com/fedgo/fedgo/secagg"
)

// phase is what one protocol step cost.
type phase struct {
	Name       string        `json:"step"`
	Clients    int           `json:"clients"` // clients that sent their message of the step
	clientTime time.Duration // summed over those clients
	serverTime time.Duration
	Up         int64 `json:"bytes_up"`   // client → server
	Down       int64 `json:"bytes_down"` // server → client
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

// round is one secure-aggregation round among o.n clients, driven step by
// step in one goroutine (the server's Result uses its worker goroutines).
// Every message is encoded by its sender and decoded by its receiver.
type round struct {
	ctx     context.Context
	o       *options
	p       secagg.Params
	srv     *secagg.Server
	clients []*secagg.Client
	dropAt  []int // the step at which client i+1 vanishes, or -1
	steps   []string
	step    int
	ph      *phase
	res     *result
	want    []uint64 // the plain sum of the survivors' inputs
	input   []uint64
	real    []float64
}

// simulate runs the round: advertise keys, share keys, masked inputs,
// (malicious mode) consistency check, unmask; then compares the server's
// sum with the plain sum of the survivors' inputs.
func simulate(ctx context.Context, o *options) (*result, error) {
	r, err := newRound(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := r.advertise(); err != nil {
		return nil, err
	}
	if err := r.shareKeys(); err != nil {
		return nil, err
	}
	if err := r.maskedInputs(); err != nil {
		return nil, err
	}
	asked, err := r.consistency()
	if err != nil {
		return nil, err
	}
	sum, err := r.unmask(asked)
	if err != nil {
		return nil, err
	}
	r.res.sumOK = len(sum) == len(r.want)
	for j := range sum {
		r.res.sumOK = r.res.sumOK && sum[j] == r.want[j]
	}
	return r.res, nil
}

// newRound chooses the parameters, draws who drops at which step, and
// builds the server and the clients (with ed25519 identities in the
// malicious mode).
func newRound(ctx context.Context, o *options) (*round, error) {
	cfg := o.config(o.n)
	cfg.Clip = 1
	p, err := cfg.RoundParams(o.n, o.dim)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(o.randSource(streamSeed), p.Seed[:]); err != nil {
		return nil, err
	}
	r := &round{ctx: ctx, o: o, p: p, res: &result{p: p},
		want: make([]uint64, p.Dim), input: make([]uint64, p.Dim), real: make([]float64, p.Dim)}
	r.steps = []string{"advertise", "share-keys", "masked-input"}
	if p.Malicious {
		// The graph seed is drawn by commit–reveal: a client that vanishes
		// between advertising and revealing stops the round, so in this
		// simulation clients vanish at the other steps only.
		r.steps = []string{"advertise", "reveal", "share-keys", "masked-input", "consistency"}
	}
	r.steps = append(r.steps, "unmask")
	r.ph = &phase{Name: r.steps[0]}
	drops := o.rng(streamDrops)
	r.dropAt = make([]int, p.N)
	for i := range r.dropAt {
		r.dropAt[i] = -1
		if drops.Float64() < o.drop {
			r.dropAt[i] = drops.IntN(len(r.steps))
			if r.steps[r.dropAt[i]] == "reveal" {
				r.dropAt[i]++
			}
			r.res.dropped++
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
	if r.srv, err = secagg.NewServer(secagg.ServerConfig{Params: p, PeerKeys: pki}); err != nil {
		return nil, err
	}
	r.clients = make([]*secagg.Client, p.N)
	for i := range r.clients {
		r.clients[i], err = secagg.NewClient(secagg.ClientConfig{
			ID: uint32(i + 1), Params: p, Rand: o.randSource(uint64(i) + 1),
			Identity: ids[i], PeerKeys: pki, TrustDealers: o.trust,
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// send runs client i's part of the current step unless it vanishes here,
// then the server's; it returns false for a client that vanished or left
// the round on an error (as secagg's host duties say it must).
func (r *round) send(i int, client func() ([]byte, error), server func([]byte) error) (bool, error) {
	if r.dropAt[i] >= 0 && r.dropAt[i] <= r.step {
		return false, nil
	}
	t0 := time.Now()
	b, err := client()
	r.ph.clientTime += time.Since(t0)
	if err == nil {
		r.ph.Clients++
		r.ph.Up += int64(len(b))
		t0 = time.Now()
		err = server(b)
		r.ph.serverTime += time.Since(t0)
	}
	if err != nil {
		r.dropAt[i] = r.step
		r.res.failed++
		r.res.errors = append(r.res.errors, fmt.Sprintf("client %d at %s: %v", i+1, r.ph.Name, err))
		return false, r.ctx.Err()
	}
	return true, r.ctx.Err()
}

// server times the server's own work of the step.
func (r *round) server(f func() error) error {
	t0 := time.Now()
	err := f()
	r.ph.serverTime += time.Since(t0)
	return err
}

// next closes the current step's phase.
func (r *round) next() {
	r.res.phases = append(r.res.phases, r.ph)
	r.step++
	if r.step < len(r.steps) {
		r.ph = &phase{Name: r.steps[r.step]}
	}
}

// decode returns a server handler that decodes a message into m and
// passes it to handle.
func decode[M any, PM interface {
	*M
	UnmarshalBinary([]byte) error
}](handle func(PM) error) func([]byte) error {
	return func(b []byte) error {
		m := PM(new(M))
		if err := m.UnmarshalBinary(b); err != nil {
			return err
		}
		return handle(m)
	}
}

// deliver is one client's part of a step: client i receives the server's
// message b (counted as downloaded), decodes it, answers with step, and
// the server takes the answer with server. It returns send's results.
func deliver[M any, PM interface {
	*M
	UnmarshalBinary([]byte) error
}, R encoding.BinaryMarshaler](r *round, i int, b []byte, step func(PM) (R, error), server func([]byte) error) (bool, error) {
	r.ph.Down += int64(len(b))
	return r.send(i, func() ([]byte, error) {
		m := PM(new(M))
		if err := m.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		y, err := step(m)
		if err != nil {
			return nil, err
		}
		return y.MarshalBinary()
	}, server)
}

// advertise: each client sends its two public keys.
func (r *round) advertise() error {
	for i, c := range r.clients {
		if _, err := r.send(i, func() ([]byte, error) {
			m, err := c.AdvertiseKeys()
			if err != nil {
				return nil, err
			}
			return m.MarshalBinary()
		}, decode(r.srv.HandleAdvertise)); err != nil {
			return err
		}
	}
	r.next()
	return nil
}

// shareKeys: the server broadcasts the keys; each client sends encrypted
// shares of its secrets to its neighbours.
func (r *round) shareKeys() error {
	var kb []byte
	var keys *secagg.KeysBroadcast
	if err := r.server(func() (err error) {
		if keys, err = r.srv.Keys(); err == nil {
			kb, err = keys.MarshalBinary()
		}
		return err
	}); err != nil {
		return err
	}
	if r.p.Malicious {
		return r.revealAndShare(keys, kb)
	}
	for _, k := range keys.Keys {
		i := int(k.Client) - 1
		if _, err := deliver(r, i, kb, r.clients[i].ShareKeys, decode(r.srv.HandleShares)); err != nil {
			return err
		}
	}
	r.next()
	return nil
}

// revealAndShare (malicious mode): each client reveals its share of the
// graph seed (committed to when it advertised); the server broadcasts the
// reveals, from which every client derives the graph, and the clients
// send their encrypted shares.
func (r *round) revealAndShare(keys *secagg.KeysBroadcast, kb []byte) error {
	for _, k := range keys.Keys {
		i := int(k.Client) - 1
		if _, err := deliver(r, i, kb, r.clients[i].RevealSeed, decode(r.srv.HandleReveal)); err != nil {
			return err
		}
	}
	var rb []byte
	if err := r.server(func() error {
		reveals, err := r.srv.Reveals()
		if err == nil {
			rb, err = reveals.MarshalBinary()
		}
		return err
	}); err != nil {
		return err
	}
	r.next()
	for _, k := range keys.Keys {
		i := int(k.Client) - 1
		if _, err := deliver(r, i, rb, r.clients[i].ShareKeysRevealed, decode(r.srv.HandleShares)); err != nil {
			return err
		}
	}
	r.next()
	return nil
}

// maskedInputs: each client receives its shares and sends its masked,
// quantized input; the plain sum of those that arrive is kept to check the
// result.
func (r *round) maskedInputs() error {
	var bcs []*secagg.SharesBroadcast
	if err := r.server(func() (err error) { bcs, err = r.srv.Shares(); return err }); err != nil {
		return err
	}
	mask := ^uint64(0) >> (64 - r.p.Bits)
	for _, bc := range bcs {
		i := int(bc.To) - 1
		var data []byte
		if err := r.server(func() (err error) { data, err = bc.MarshalBinary(); return err }); err != nil {
			return err
		}
		ok, err := deliver(r, i, data, func(m *secagg.SharesBroadcast) (*secagg.MaskedMsg, error) {
			if err := makeInput(r.o, r.p, i, r.input, r.real); err != nil {
				return nil, err
			}
			return r.clients[i].MaskedInput(m, r.input)
		}, decode(r.srv.HandleMasked))
		if err != nil {
			return err
		}
		if ok {
			for j, x := range r.input {
				r.want[j] = (r.want[j] + x) & mask
			}
		}
	}
	r.next()
	return nil
}

// consistency (malicious mode only): the server announces the survivors
// and each signs the list. It returns the clients to ask for unmasking
// (nil in the semi-honest mode, where the server asks its survivors).
func (r *round) consistency() ([]uint32, error) {
	if !r.p.Malicious {
		return nil, nil
	}
	var sv *secagg.SurvivorsMsg
	var data []byte
	if err := r.server(func() (err error) {
		if sv, err = r.srv.Survivors(); err == nil {
			data, err = sv.MarshalBinary()
		}
		return err
	}); err != nil {
		return nil, err
	}
	var asked []uint32
	for _, id := range sv.Survivors {
		i := int(id) - 1
		ok, err := deliver(r, i, data, r.clients[i].ConsistencyCheck, decode(r.srv.HandleSignature))
		if err != nil {
			return nil, err
		}
		if ok {
			asked = append(asked, id)
		}
	}
	r.next()
	return asked, nil
}

// unmask: the clients asked send the shares that remove the masks; the
// server computes the sum.
func (r *round) unmask(asked []uint32) ([]uint64, error) {
	var req *secagg.UnmaskRequest
	var data []byte
	if err := r.server(func() (err error) {
		if req, err = r.srv.UnmaskRequest(); err == nil {
			data, err = req.MarshalBinary()
		}
		return err
	}); err != nil {
		return nil, err
	}
	if !r.p.Malicious {
		asked = req.Survivors
	}
	r.res.survivors = len(req.Survivors)
	for _, id := range asked {
		i := int(id) - 1
		if _, err := deliver(r, i, data, r.clients[i].Unmask, decode(r.srv.HandleUnmask)); err != nil {
			return nil, err
		}
	}
	var sum []uint64
	if err := r.server(func() (err error) { sum, err = r.srv.Result(); return err }); err != nil {
		return nil, err
	}
	r.next()
	return sum, nil
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
		bytes += ph.Up + ph.Down
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
		fmt.Fprintf(w, "%-13s  %7d  %14.3f  %10.1f  %10s  %10s\n", ph.Name, ph.Clients, ph.clientMSEach(), ms(ph.serverTime), report.Bytes(ph.Up), report.Bytes(ph.Down))
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

func (ph *phase) clientMSEach() float64 {
	if ph.Clients == 0 {
		return 0
	}
	return ms(ph.clientTime) / float64(ph.Clients)
}

// writeJSON writes one JSON object per step, then the summary.
func (r *result) writeJSON(w io.Writer) error {
	for _, ph := range r.phases {
		line := struct {
			*phase
			ClientMSEach float64 `json:"client_ms_each"`
			ServerMS     float64 `json:"server_ms"`
		}{ph, ph.clientMSEach(), ms(ph.serverTime)}
		if err := report.WriteJSON(w, line); err != nil {
			return err
		}
	}
	return report.WriteJSON(w, r.summary())
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
