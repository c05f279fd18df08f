package secagg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Limits on the sizes the package accepts, from parameters and from the wire.
const (
	// MaxClients is the largest number of clients in one round.
	MaxClients = 1 << 20
	// MaxDim is the largest vector dimension.
	MaxDim = 1 << 28
)

// Params are the public parameters of one round. Every client and the server
// must hold the same Params; they are hashed into the round id (see
// [Params.RoundID]) so that a mismatch is detected at the first message.
type Params struct {
	// N is the number of clients invited to the round. Client ids are 1..N
	// (they are the Shamir x-coordinates, so never 0).
	N int
	// Threshold t: any t shares of a client's secret reconstruct it, t-1
	// reveal nothing. 1 <= t <= k. In Malicious mode 2t > N is required
	// with the complete graph and t ≥ k/2 + 2 with SecAgg+ (see
	// [Params.Tolerance]).
	Threshold int
	// Neighbors k: the degree of the masking graph. 0 or N-1 means the
	// complete graph (the original SecAgg); otherwise an even number in
	// [2, N-2] (SecAgg+, a Harary graph H(k, N) whose nodes are permuted by
	// a PRG keyed by Seed).
	Neighbors int
	// Bits b: inputs live in Z_{2^b}; 0 means 32. 1 <= b <= 64.
	Bits int
	// Dim is the vector length d, 1..MaxDim.
	Dim int
	// Malicious selects the malicious-server variant: advertised keys and
	// the survivor list are signed with ed25519 and checked by every client
	// (the ConsistencyCheck round), the SecAgg+ graph seed is drawn by
	// commit–reveal among the clients (the RevealSeed step), and Validate
	// applies the thresholds of [Params.Tolerance].
	Malicious bool
	// Round is a round counter; it only separates sessions.
	Round uint64
	// MaxUnrevealed (malicious mode) is how many clients that advertised
	// keys may fail to reveal their graph-seed share before the round
	// stops: they leave the round like dropouts. Each one the server may
	// leave out is a choice of graph seed, so [Params.Log2Risk] charges
	// log2 Σ_{j≤m} C(N, j) for them. 0 means none may be missing.
	MaxUnrevealed int
	// Seed is the round's public randomness; in semi-honest mode it fixes
	// the SecAgg+ graph, and must be unpredictable to the clients before
	// they are corrupted (for example drawn by the server with crypto/rand
	// after sampling). In malicious mode the graph comes from [GraphSeed]
	// instead, and Seed only enters the round id.
	Seed [32]byte
}

// DefaultParams returns Params for n clients and dimension dim with the
// SecAgg+ degree and threshold chosen by [ChooseParams] for 40 bits of
// security and 20 bits of correctness, assuming at most 1/3 corrupt clients
// and 10% dropouts (for small n the search falls back to the complete
// graph). It fails, wrapping [ErrParams], when no degree meets the targets,
// as for n < 5.
func DefaultParams(n, dim int) (Params, error) {
	k, t, err := ChooseParams(n, 1.0/3, 0.1, 40, 20)
	if err != nil {
		return Params{}, err
	}
	return Params{N: n, Threshold: t, Neighbors: k, Bits: 32, Dim: dim}, nil
}

// bits returns b with the default applied.
func (p *Params) bits() int {
	if p.Bits == 0 {
		return 32
	}
	return p.Bits
}

// degree returns k with the default applied (N-1 for the complete graph).
func (p *Params) degree() int {
	if p.Neighbors == 0 {
		return p.N - 1
	}
	return p.Neighbors
}

// complete reports whether the masking graph is complete.
func (p *Params) complete() bool { return p.degree() == p.N-1 }

// Validate checks every rule on Params.
func (p Params) Validate() error {
	if p.N < 2 || p.N > MaxClients {
		return fmt.Errorf("%w: N = %d, want 2..%d", ErrParams, p.N, MaxClients)
	}
	k := p.degree()
	if k != p.N-1 && (k < 2 || k > p.N-2 || k%2 != 0) {
		return fmt.Errorf("%w: Neighbors = %d, want 0, N-1 or an even number in [2, N-2]", ErrParams, p.Neighbors)
	}
	if p.Threshold < 1 || p.Threshold > k {
		return fmt.Errorf("%w: Threshold = %d, want 1..%d (the degree)", ErrParams, p.Threshold, k)
	}
	if p.Malicious {
		// See Tolerance: the rules for zero corrupt neighbours.
		if p.complete() && 2*p.Threshold < p.N+1 {
			return fmt.Errorf("%w: Malicious with the complete graph needs 2·Threshold > N (t=%d, N=%d)", ErrParams, p.Threshold, p.N)
		}
		if !p.complete() && p.Threshold < k/2+2 {
			return fmt.Errorf("%w: Malicious with SecAgg+ needs Threshold ≥ degree/2 + 2 (t=%d, k=%d)", ErrParams, p.Threshold, k)
		}
	}
	if p.MaxUnrevealed < 0 || p.MaxUnrevealed > 0 && (!p.Malicious || p.MaxUnrevealed > p.N-p.Threshold) {
		return fmt.Errorf("%w: MaxUnrevealed = %d, want 0, or in malicious mode at most N − Threshold = %d", ErrParams, p.MaxUnrevealed, p.N-p.Threshold)
	}
	if b := p.bits(); b < 1 || b > 64 {
		return fmt.Errorf("%w: Bits = %d, want 1..64", ErrParams, p.Bits)
	}
	if p.Dim < 1 || p.Dim > MaxDim {
		return fmt.Errorf("%w: Dim = %d, want 1..%d", ErrParams, p.Dim, MaxDim)
	}
	return nil
}

// Tolerance returns how many corrupt neighbours (clients colluding with
// the server) one honest client may have while the parameters still hide
// its input; a negative value means none. The holders of a client's
// shares are its k neighbours and itself.
//
// Semi-honest mode: t-1 (the corrupt holders alone must not reach t).
//
// Malicious mode, the split-list rule: the server may show survivor lists
// in which v is alive to some holders and lists in which v dropped to
// others. Honest holders sign one list each (every client checks, before
// revealing a share of v, that the list it signed carries t signatures of
// holders of v's shares), corrupt holders sign both, so two lists that
// disagree on v both reach t signatures only if (k+1-c) + 2c ≥ 2t, where
// c is the number of corrupt neighbours of v; the server then gets t
// shares of both b_v and s_v and unmasks x_v. The parameters protect v
// when c ≤ 2t-k-2, that is 2t > k+1+c. With the complete graph
// (k+1 = N holders) this is 2t > N + n_C, the form of the threshold
// condition under which Bonawitz et al. 2017 (Sec. 6) prove security
// against active adversaries (for instance t > 2N/3 with n_C < N/3); the
// derivation here is self-contained. The tolerance is 2t-N-1.
//
// Malicious mode, SecAgg+ also needs the component rule: the server
// chooses whom it declares dropped, so it can cut the Harary cycle (two
// runs of k/2 consecutive positions) and ask for the unmasking of one
// component A of the honest survivors alone. The first client u of A
// after a cut has k/2 removed positions on one side, so at most
// 1 + k/2 + c' holders of u can reveal a share of b_u (c' corrupt on the
// cut side); with t ≥ k/2 + 2 + c' the self mask of u, and so the sum
// of A, stays hidden. The tolerance returned, t - k/2 - 2, satisfies both
// rules ([ChooseMaliciousParams] bounds the two events separately).
func (p Params) Tolerance() int {
	k := p.degree()
	switch {
	case !p.Malicious:
		return p.Threshold - 1
	case p.complete():
		return 2*p.Threshold - p.N - 1
	default:
		return p.Threshold - k/2 - 2
	}
}

// Log2Risk returns log2 of the bound of [ChooseMaliciousParams] on the
// probability that a malicious server colluding with a fraction corrupt
// of the N clients (⌈corrupt·N⌉ of them) learns more than one connected
// sum of honest inputs with these parameters: the split-list and
// cycle-cut events, over a uniformly random graph. It is -Inf when
// neither can happen, and may exceed 0 (the union bound is then void). A
// client uses it to refuse parameters a server chose too weak (package
// fedround). It returns +Inf for parameters that fail Validate in
// malicious mode or a corrupt fraction outside [0, 1).
func (p Params) Log2Risk(corrupt float64) float64 {
	q := p
	q.Malicious = true
	if err := q.Validate(); err != nil || !(corrupt >= 0 && corrupt < 1) {
		return math.Inf(1)
	}
	nc := min(int(math.Ceil(corrupt*float64(p.N)-1e-9)), p.N-1)
	return log2MaliciousBound(p.N, nc, q.degree(), p.Threshold) + Log2SeedChoices(p.N, p.MaxUnrevealed)
}

// Log2SeedChoices returns log2 Σ_{j=0}^{m} C(n, j): how many graph seeds a
// server can choose among (in bits) by leaving out the reveals of up to m
// of n clients. 0 for m = 0.
func Log2SeedChoices(n, m int) float64 {
	if m <= 0 {
		return 0
	}
	v := math.Inf(-1)
	for j := 0; j <= min(m, n); j++ {
		lc, _ := math.Lgamma(float64(n + 1))
		a, _ := math.Lgamma(float64(j + 1))
		b, _ := math.Lgamma(float64(n - j + 1))
		v = log2Add(v, (lc-a-b)/math.Ln2)
	}
	return v
}

// RoundID is SHA-256 of the canonical encoding of p:
//
//	"fedgo/secagg/v1 params" || N u32 || t u32 || k u32 || b u8 || d u32 ||
//	malicious u8 || round u64 || seed [32]
//
// (integers big-endian, defaults applied). It tags the messages sent before
// the keys are known and is the prefix of the session id.
func (p Params) RoundID() [32]byte {
	h := sha256.New()
	h.Write([]byte("fedgo/secagg/v1 params"))
	var buf [4 + 4 + 4 + 1 + 4 + 1 + 8]byte
	binary.BigEndian.PutUint32(buf[0:], uint32(p.N))
	binary.BigEndian.PutUint32(buf[4:], uint32(p.Threshold))
	binary.BigEndian.PutUint32(buf[8:], uint32(p.degree()))
	buf[12] = byte(p.bits())
	binary.BigEndian.PutUint32(buf[13:], uint32(p.Dim))
	if p.Malicious {
		buf[17] = 1
	}
	binary.BigEndian.PutUint64(buf[18:], p.Round)
	h.Write(buf[:])
	h.Write(p.Seed[:])
	if p.MaxUnrevealed > 0 {
		// Appended only when set, so that the round ids of parameters
		// without it are unchanged.
		var m [4]byte
		binary.BigEndian.PutUint32(m[:], uint32(p.MaxUnrevealed))
		h.Write([]byte("unrevealed"))
		h.Write(m[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// ChooseParams picks the SecAgg+ degree k and threshold t for n clients, of
// which at most a fraction corrupt may collude with the server and a
// fraction dropout may drop out, so that the round is secure except with
// probability 2^-secBits and completes except with probability 2^-corrBits.
//
// The bounds follow the analysis of Bell et al. 2020 (Sec. 3.2, Theorem 3.6)
// adapted to the permuted Harary graph. A client's k neighbours are a
// uniformly random k-subset of the other n-1 clients (the permutation is
// uniform and independent of who is corrupt or drops out), so with
// C = ⌈γn⌉ corrupt and D = ⌈δn⌉ dropped clients, X_C ~ Hypergeometric(n-1, C, k)
// and X_D ~ Hypergeometric(n-1, D, k) count the corrupt and dropped
// neighbours of one client. Union bounds over the n clients give
//
//	correctness failure ≤ n·P[X_D > k-t]                (fewer than t neighbours answer)
//	security failure    ≤ n·P[X_C ≥ t] + (n²/2)·Π_{i<k} (C+D-i)/(n-i)
//
// The first security term is "t corrupt neighbours could rebuild both
// secrets of an honest client"; the second bounds the chance that the
// graph of honest survivors is disconnected (so the server would learn a
// partial sum): in a circulant graph with offsets 1..k/2 that needs two
// disjoint runs of k/2 consecutive removed (corrupt or dropped) nodes.
// 2t > k is always required. These parameters are for the semi-honest
// mode; use [ChooseMaliciousParams] for Params.Malicious (Validate
// refuses most semi-honest choices there).
//
// The search tries k = 2, 4, ... up to n-2 and then k = n-1 (the complete
// graph, which has no graph term), and for the first k that admits a
// threshold returns the largest t that meets the correctness target (the
// one with the most security slack). It returns an error wrapping
// [ErrParams] when no k works.
func ChooseParams(n int, corrupt, dropout, secBits, corrBits float64) (k, t int, err error) {
	nc, nd, err := chooseArgs(n, corrupt, dropout, secBits, corrBits)
	if err != nil {
		return 0, 0, err
	}
	secTarget := -secBits
	corrTarget := -corrBits
	log2n := math.Log2(float64(n))
	try := func(k int) (int, bool) {
		graph := math.Inf(-1)
		if k < n-1 {
			graph = log2GraphBound(n, nc+nd, k)
			if graph > secTarget {
				return 0, false
			}
		}
		best := 0
		for t := k/2 + 1; t <= k; t++ {
			sec := log2Add(log2n+log2HyperTail(n-1, nc, k, t), graph)
			cor := log2n + log2HyperTail(n-1, nd, k, k-t+1)
			if sec <= secTarget && cor <= corrTarget {
				best = t
			}
		}
		return best, best > 0
	}
	for k := 2; k <= n-2; k += 2 {
		if t, ok := try(k); ok {
			return k, t, nil
		}
	}
	if t, ok := try(n - 1); ok {
		return n - 1, t, nil
	}
	return 0, 0, fmt.Errorf("%w: no degree and threshold meet 2^-%v security and 2^-%v correctness for n=%d, corrupt=%v, dropout=%v",
		ErrParams, secBits, corrBits, n, corrupt, dropout)
}

// ChooseMaliciousParams picks k and t for the malicious-server mode
// (Params.Malicious) with the same arguments as [ChooseParams]: n clients,
// at most a fraction corrupt colluding with the server, a fraction
// dropout of random dropouts, security 2^-secBits, correctness
// 2^-corrBits.
//
// The server now chooses whom it declares dropped, so the semi-honest
// graph term (random dropouts that disconnect the honest survivors) is
// replaced by the two rules of [Params.Tolerance]. With C = ⌈γn⌉ corrupt
// clients and X^(m) ~ Hypergeometric(n-1, C, m) the number of corrupt
// clients among m uniformly random others (the graph seed is drawn by the
// clients, so the graph is uniform and independent of who is corrupt),
// union bounds over the n clients (and the two sides of each) give
//
//	security failure    ≤ n·P[X^(k) ≥ 2t-k-1] + 2n·P[X^(k/2) ≥ t-k/2-1]
//	correctness failure ≤ n·P[X_D > k-t]        (as in ChooseParams)
//
// The first term is the split-survivor-list attack (both secrets of a
// client whose k neighbours hold ≥ 2t-k-1 corrupt clients), the second the
// cut of the Harary cycle next to a client with ≥ t-k/2-1 corrupt clients
// among the k/2 neighbours on one side. For the complete graph (k = n-1)
// the first term is exact (X = C) and the second does not apply, so t
// must satisfy 2t > n + C (Bonawitz et al. 2017, Sec. 6). For SecAgg+
// the first term is that condition per neighbourhood, as a sparse graph
// needs; the cut term is specific to the Harary graph used here (Bell et
// al. 2020 use random graphs). Both are derived in [Params.Tolerance].
//
// The search tries k = 4, 6, ... up to n-2, then n-1, and returns the first
// k that admits a threshold, with the largest t that meets the
// correctness target. It returns an error wrapping [ErrParams] when no k
// works.
func ChooseMaliciousParams(n int, corrupt, dropout, secBits, corrBits float64) (k, t int, err error) {
	nc, nd, err := chooseArgs(n, corrupt, dropout, secBits, corrBits)
	if err != nil {
		return 0, 0, err
	}
	log2n := math.Log2(float64(n))
	// For one k the security bound falls and the correctness bound rises
	// with t, so two binary searches find the range of good thresholds.
	try := func(k int) (int, bool) {
		lo := k/2 + 2
		if k == n-1 {
			lo = (n + 2) / 2 // 2t ≥ n+1
		}
		if lo > k {
			return 0, false
		}
		// Largest t in [lo, k] that meets correctness.
		corOK := func(t int) bool { return log2n+log2HyperTail(n-1, nd, k, k-t+1) <= -corrBits }
		if !corOK(lo) {
			return 0, false
		}
		a, b := lo, k // corOK(a) holds
		for a < b {
			m := (a + b + 1) / 2
			if corOK(m) {
				a = m
			} else {
				b = m - 1
			}
		}
		if log2MaliciousBound(n, nc, k, a) > -secBits {
			return 0, false
		}
		return a, true
	}
	for k := 4; k <= n-2; k += 2 {
		if t, ok := try(k); ok {
			return k, t, nil
		}
	}
	if t, ok := try(n - 1); ok {
		return n - 1, t, nil
	}
	return 0, 0, fmt.Errorf("%w: no degree and threshold meet 2^-%v security against a malicious server and 2^-%v correctness for n=%d, corrupt=%v, dropout=%v",
		ErrParams, secBits, corrBits, n, corrupt, dropout)
}

// log2MaliciousBound returns log2 of the security bound of
// [ChooseMaliciousParams] for n clients of which nc are corrupt, degree k
// and threshold t.
func log2MaliciousBound(n, nc, k, t int) float64 {
	log2n := math.Log2(float64(n))
	v := log2n + log2HyperTail(n-1, nc, k, 2*t-k-1)
	if k < n-1 {
		v = log2Add(v, 1+log2n+log2HyperTail(n-1, nc, k/2, t-k/2-1))
	}
	return v
}

// chooseArgs checks the arguments of the parameter searches and returns
// the numbers of corrupt and dropped clients, ⌈γn⌉ and ⌈δn⌉ (at most n-1).
func chooseArgs(n int, corrupt, dropout, secBits, corrBits float64) (nc, nd int, err error) {
	if n < 2 || n > MaxClients {
		return 0, 0, fmt.Errorf("%w: n = %d, want 2..%d", ErrParams, n, MaxClients)
	}
	if !(corrupt >= 0 && corrupt < 1) || !(dropout >= 0 && dropout < 1) {
		return 0, 0, fmt.Errorf("%w: corrupt = %v, dropout = %v, want fractions in [0, 1)", ErrParams, corrupt, dropout)
	}
	if !(secBits > 0 && secBits <= 256) || !(corrBits > 0 && corrBits <= 256) {
		return 0, 0, fmt.Errorf("%w: secBits = %v, corrBits = %v, want (0, 256]", ErrParams, secBits, corrBits)
	}
	nc = min(int(math.Ceil(corrupt*float64(n)-1e-9)), n-1)
	nd = min(int(math.Ceil(dropout*float64(n)-1e-9)), n-1)
	return nc, nd, nil
}

// log2Add returns log2(2^a + 2^b).
func log2Add(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log2(1+math.Exp2(b-a))
}

// log2Choose returns log2 C(a, b).
func log2Choose(a, b int) float64 {
	if b < 0 || b > a {
		return math.Inf(-1)
	}
	la, _ := math.Lgamma(float64(a + 1))
	lb, _ := math.Lgamma(float64(b + 1))
	lc, _ := math.Lgamma(float64(a - b + 1))
	return (la - lb - lc) / math.Ln2
}

// log2HyperTail returns log2 P[X ≥ x] for X ~ Hypergeometric(pop, succ, draws).
func log2HyperTail(pop, succ, draws, x int) float64 {
	lo := max(x, 0)
	hi := min(succ, draws)
	total := math.Inf(-1)
	den := log2Choose(pop, draws)
	for i := lo; i <= hi; i++ {
		total = log2Add(total, log2Choose(succ, i)+log2Choose(pop-succ, draws-i)-den)
	}
	return total
}

// log2GraphBound returns log2 of (n²/2)·Π_{i<k} (r-i)/(n-i), the bound on
// the probability that r removed nodes contain two disjoint runs of k/2
// consecutive positions in a uniformly permuted cycle.
func log2GraphBound(n, r, k int) float64 {
	if r < k {
		return math.Inf(-1)
	}
	v := 2*math.Log2(float64(n)) - 1
	for i := range k {
		v += math.Log2(float64(r-i)) - math.Log2(float64(n-i))
	}
	return v
}
