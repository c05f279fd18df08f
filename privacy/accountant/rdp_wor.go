package accountant

import "math"

// Fixed-size sampling (sampling without replacement, replace-one
// neighbours) of the Gaussian mechanism with noise multiplier σ, whose RDP
// is ε(α) = α/(2σ²). Wang, Balle and Kasiviswanathan (2019, "Subsampled
// Rényi Differential Privacy and Analytical Moments Accountant") bound the
// cumulant of the subsampled mechanism at integer α ≥ 2 by
//
//	(α−1)·D_α ≤ log(1 + q²C(α,2)·min{4(e^{ε(2)}−1), 2e^{ε(2)}}
//	                 + Σ_{j=3}^{α} q^j C(α,j)·T_j)
//
// with T_j = 2e^{(j−1)ε(j)} in their Theorem 9 and, in their Theorem 27,
//
//	T_j = min{4·√(Δ^{2⌊j/2⌋}·Δ^{2⌈j/2⌉}), 2e^{(j−1)ε(j)}}
//
// where Δ^ℓ is the ℓ-th forward difference at 0 of g(m) = e^{(m−1)ε(m)} =
// e^{c·m(m−1)}, c = 1/(2σ²). Theorem 27 is never looser than Theorem 9
// (each T_j is a min that includes Theorem 9's term). dp_accounting's
// RDP accountant (rdp_privacy_accountant.py, _compute_rdp_sample_wor_gaussian)
// evaluates Theorem 27 for α ≤ 256 and Theorem 9 above; this file does the
// same, with Corollary 10's interpolation at fractional orders.
//
// Evaluating Δ^ℓ = Σ_i C(ℓ,i)(−1)^{ℓ−i} g(i) as written cancels
// catastrophically when σ is large (Δ^ℓ ≈ (ℓ−1)!!·(2c)^{ℓ/2} while the terms
// are ≈ 1). Since g(m) = E[Y^m] for Y = e^X, X ~ N(−c, 2c), Δ^ℓ = E[(Y−1)^ℓ]
// > 0 for even ℓ; and g(x) = exp(c·x^{(2)}) in the falling factorials
// x^{(k)} = x(x−1)…(x−k+1), so its Newton coefficients a_ℓ = Δ^ℓ/ℓ! solve
// a' = M·a in c, M the multiplication by x^{(2)}:
//
//	x^{(2)}·x^{(k)} = x^{(k+2)} + 2k·x^{(k+1)} + k(k−1)·x^{(k)},
//
// a banded, lower-triangular matrix with nonnegative entries. Its
// exponential series a(c) = Σ_n cⁿMⁿe₀/n! has only nonnegative terms: it is
// summed without cancellation (scaled by ℓ!·c^{ℓ/2} to stay in range), with
// a rigorous tail bound. The alternating sum is used where it is well
// conditioned (small σ), the series elsewhere; each result is an upper
// bound up to a stated relative rounding margin.

// worMaxTheorem27 is the largest order at which Theorem 27 is used, as in
// dp_accounting; above it Theorem 9.
const worMaxTheorem27 = 256

// worRoundingMargin is added to log Δ^ℓ: a relative bound on the
// floating-point error of its evaluation (below 2^-20 by the conditioning
// test of the alternating sum, far below it for the series).
const worRoundingMargin = 0x1p-20

// worTable holds log Δ^ℓ for the even ℓ one call needs, for one σ.
type worTable struct {
	c        float64   // 1/(2σ²)
	logDelta []float64 // log Δ^ℓ at even ℓ (index ℓ), +Inf if not computed
	logFact  []float64 // log k!
	q        float64   // the sampling rate of memo
	memo     map[int]float64
}

// newWORTable prepares the forward differences for the integer orders that
// the given orders need (⌊α⌋ and ⌈α⌉, up to worMaxTheorem27).
func newWORTable(sigma float64, orders []float64) *worTable {
	maxA := 2
	for _, a := range orders {
		if c := int(math.Ceil(a)); c > maxA && c <= worMaxTheorem27 {
			maxA = c
		}
	}
	if maxA > worMaxTheorem27 {
		maxA = worMaxTheorem27
	}
	lmax := 2 * ((maxA + 1) / 2) // the largest even ℓ = 2⌈j/2⌉ for j ≤ maxA
	t := &worTable{c: 1 / (2 * sigma * sigma), logFact: make([]float64, lmax+1)}
	for k := 1; k <= lmax; k++ {
		t.logFact[k] = t.logFact[k-1] + math.Log(float64(k))
	}
	t.logDelta = forwardDiffs(t.c, lmax, t.logFact)
	return t
}

// forwardDiffs returns log Δ^ℓ g(0) for even ℓ ≤ lmax (other entries
// unused), g(m) = e^{c·m(m−1)}: the alternating sum where it is well
// conditioned, the nonnegative series elsewhere. An entry that neither
// method can give accurately is +Inf (its term then falls back to Theorem
// 9's, a valid bound).
func forwardDiffs(c float64, lmax int, logFact []float64) []float64 {
	out := make([]float64, lmax+1)
	for i := range out {
		out[i] = math.Inf(1)
	}
	out[0] = 0
	needSeries := 0
	for l := 2; l <= lmax; l += 2 {
		// Σ_i C(ℓ,i)(−1)^{ℓ−i} g(i), positive and negative parts in log space.
		pos, neg := math.Inf(-1), math.Inf(-1)
		for i := 0; i <= l; i++ {
			v := logFact[l] - logFact[i] - logFact[l-i] + c*float64(i*(i-1))
			if (l-i)%2 == 0 {
				pos = logAddExp(pos, v)
			} else {
				neg = logAddExp(neg, v)
			}
		}
		// cond = (P+N)/(P−N) ≤ 2^20 ⇔ N/P ≤ (2^20−1)/(2^20+1).
		if neg-pos <= math.Log((0x1p20-1)/(0x1p20+1)) {
			out[l] = logSubExp(pos, neg)
			continue
		}
		needSeries = l
	}
	if needSeries > 0 {
		series := newtonSeries(c, needSeries, logFact)
		for l := 2; l <= needSeries; l += 2 {
			if math.IsInf(out[l], 1) {
				out[l] = series[l]
			}
		}
	}
	for l := 2; l <= lmax; l += 2 {
		out[l] += worRoundingMargin
	}
	return out
}

// maxSeriesK bounds c·L² for the series: its terms peak near e^{cL²}
// before the scaling, which must stay in range; where the alternating sum
// is ill conditioned c·ℓ² is far below it (ℓ ≤ 256).
const maxSeriesK = 600

// maxNewtonTerms bounds the series' length.
const maxNewtonTerms = 1 << 14

// newtonSeries returns log Δ^ℓ for even ℓ ≤ L from a(c) = Σ_n cⁿMⁿe₀/n!,
// with the scaled terms u_n(ℓ) = c^{n−ℓ/2}·[x^{(ℓ)}](x^{(2)})ⁿ/n!, so that
// Δ^ℓ = ℓ!·c^{ℓ/2}·Σ_n u_n(ℓ) and
//
//	u_{n+1}(ℓ) = (c·ℓ(ℓ−1)·u_n(ℓ) + 2(ℓ−1)√c·u_n(ℓ−1) + u_n(ℓ−2)) / (n+1).
//
// The step's ∞-norm on indices ≤ L is at most r_n = (cL(L−1) + 2(L−1)√c +
// 1)/(n+1); once r_n ≤ 1/2 the remaining terms sum to at most
// 2r_n·‖u_n‖∞, which is added to every entry. Entries it cannot bound are
// +Inf.
func newtonSeries(c float64, L int, logFact []float64) []float64 {
	out := make([]float64, L+1)
	for i := range out {
		out[i] = math.Inf(1)
	}
	if c*float64(L)*float64(L) > maxSeriesK {
		return out
	}
	sc := math.Sqrt(c)
	u := make([]float64, L+1)
	next := make([]float64, L+1)
	sum := make([]float64, L+1)
	u[0] = 1
	sum[0] = 1
	norm := c*float64(L*(L-1)) + 2*float64(L-1)*sc + 1
	for n := 0; n < maxNewtonTerms; n++ {
		inv := 1 / float64(n+1)
		umax := 0.0
		for l := 0; l <= L; l++ {
			v := c * float64(l*(l-1)) * u[l]
			if l >= 1 {
				v += 2 * float64(l-1) * sc * u[l-1]
			}
			if l >= 2 {
				v += u[l-2]
			}
			v *= inv
			next[l] = v
			sum[l] += v
			umax = max(umax, v)
		}
		u, next = next, u
		if math.IsInf(umax, 0) || math.IsNaN(umax) {
			return out
		}
		r := norm / float64(n+2)
		if 2*(n+1) < L || r > 0.5 {
			continue
		}
		smin := math.Inf(1)
		for l := 2; l <= L; l += 2 {
			smin = min(smin, sum[l])
		}
		tail := 2 * r * umax
		if tail <= 0x1p-60*smin {
			for l := 2; l <= L; l += 2 {
				out[l] = logFact[l] + float64(l/2)*math.Log(c) + math.Log(sum[l]+tail)
			}
			return out
		}
	}
	return out
}

// logA returns the log of Theorem 27's sum at integer α ≥ 1 (Theorem 9's
// above worMaxTheorem27 or where a Δ^ℓ is unknown).
func (t *worTable) logA(q float64, alpha int) float64 {
	if alpha <= 1 {
		return 0
	}
	c := t.c
	lq := math.Log(q)
	a := float64(alpha)
	e2 := 2 * c // ε(2)
	// min{4(e^{ε(2)}−1), 2e^{ε(2)}} in log space.
	t2 := math.Min(math.Log(4)+e2+math.Log(-math.Expm1(-e2)), math.Ln2+e2)
	lc := math.Log(a) + math.Log(a-1) - math.Ln2 // log C(α,2)
	acc := logAddExp(0, 2*lq+lc+t2)
	for j := 3; j <= alpha; j++ {
		fj := float64(j)
		lc += math.Log(a-fj+1) - math.Log(fj)
		tj := math.Ln2 + fj*(fj-1)*c // Theorem 9: 2e^{(j−1)ε(j)}
		if alpha <= worMaxTheorem27 {
			lo, hi := 2*(j/2), 2*((j+1)/2)
			if hi < len(t.logDelta) {
				tj = math.Min(tj, math.Log(4)+0.5*(t.logDelta[lo]+t.logDelta[hi]))
			}
		}
		acc = logAddExp(acc, fj*lq+lc+tj)
	}
	return acc
}

// rdp returns the fixed-size RDP at order α: Theorem 27 (or 9) at integer
// orders, Corollary 10's interpolation of the cumulant in between.
func (t *worTable) rdp(q, alpha float64) float64 {
	fl, ce := math.Floor(alpha), math.Ceil(alpha)
	if fl == ce {
		return t.logAMemo(q, int(fl)) / (alpha - 1)
	}
	w := alpha - fl
	return ((1-w)*t.logAMemo(q, int(fl)) + w*t.logAMemo(q, int(ce))) / (alpha - 1)
}

// logAMemo is logA, remembered per order for one q (fractional orders
// share their integer neighbours).
func (t *worTable) logAMemo(q float64, alpha int) float64 {
	if t.memo == nil || t.q != q {
		t.memo, t.q = map[int]float64{}, q
	}
	if v, ok := t.memo[alpha]; ok {
		return v
	}
	v := t.logA(q, alpha)
	t.memo[alpha] = v
	return v
}

// logAWORTheorem9 returns the log of Theorem 9's sum at integer α, the
// bound this package used before Theorem 27 (kept for the comparison in
// the tests; Theorem 27 is never looser).
func logAWORTheorem9(q, sigma float64, alpha int) float64 {
	t := &worTable{c: 1 / (2 * sigma * sigma)}
	return t.logA(q, alpha) // logDelta empty: every T_j is Theorem 9's
}
