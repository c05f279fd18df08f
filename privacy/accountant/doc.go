// Package accountant bounds the differential privacy spent by repeated
// applications of the sampled Gaussian mechanism (and of the integer noise
// of distributed DP, see "Discrete mechanisms"), the privacy core of
// DP-SGD and DP-FedAvg (McMahan et al. 2018): each round samples clients,
// sums their clipped updates (L2 sensitivity 1 after dividing by the clip
// norm) and adds Gaussian noise of standard deviation NoiseMultiplier.
//
// It offers two accountants and a calibrator:
//
//   - [RDPAccountant]: Rényi DP (Mironov 2017). [RDPAccountant.Compose] sums the RDP of
//     each step at every order (Mironov 2017, Prop. 1), so heterogeneous
//     runs (σ or q changing between rounds) are exact sums; one step's RDP
//     vector is computed once and multiplied by its count.
//   - [PLDAccountant]: privacy loss distributions, composed by FFT; tighter
//     than RDP (8–13% smaller ε in the tests' DP-SGD settings), slower (tens to hundreds of
//     milliseconds for 10^4 steps).
//   - [CalibrateNoise]: the smallest noise multiplier meeting a target
//     (ε, δ) for given q and number of steps.
//   - Integer noise for distributed DP ([DiscreteNoise] in [Step].Discrete,
//     [DiscreteRDP], [CalibrateDiscrete]): the distributed discrete
//     Gaussian, the distributed Skellam and the single (central) discrete
//     Gaussian, in the RDP accountant only (see "Discrete mechanisms").
//
// Every ε and δ returned is an UPPER BOUND on the true privacy loss of the
// mechanism as described: never an estimate. The bounds hold for the
// adjacency of each [Sampling] (add/remove one client for [Poisson],
// replace one client with N public for [FixedSize]) and assume the host
// really samples as declared and really clips to the sensitivity the noise
// multiplier is measured against.
//
// When not to use it: for mechanisms other than the (sub)sampled Gaussian
// and the discrete mechanisms below (Laplace, randomized response, tree
// aggregation), for shuffling-based
// sampling (the usual "epoch of shuffled batches" is NOT Poisson sampling,
// and these bounds do not apply to it), or for DP-FTRL.
//
// # Equations
//
// RDP of the Poisson-sampled Gaussian (Mironov, Talwar, Zhang 2019, "Rényi
// Differential Privacy of the Sampled Gaussian Mechanism", Sec. 3.3): with
// μ0 = N(0, σ²), μ1 = N(1, σ²), μ = (1-q)μ0 + qμ1,
//
//	D_α = log A_α / (α-1),   A_α = E_{z∼μ0}[(μ(z)/μ0(z))^α].
//
// For integer α, A_α - 1 = Σ_{i=2}^{α} C(α,i)(1-q)^{α-i} q^i
// expm1((i²-i)/(2σ²)) (the binomial expansion minus its i = 0, 1 part),
// summed in log space so tiny divergences keep their relative precision.
// For fractional α, A_α is split at z0 = σ² log(1/q-1) + 1/2 into the two
// binomial series with erfc factors of Sec. 3.3, summed with separate
// positive and negative log-space accumulators and stopped with the
// alternating-series remainder added. Past z0 those terms decay only
// polynomially (like i^{-α-2}), so when exp(-z0²/(2σ²)) is not negligible —
// the usual DP-SGD regime — A_α is instead integrated from its definition
// by the trapezoidal rule, whose error is exponentially small because the
// integrand is analytic in the strip |Im z| < πσ² (step min(σ/3, σ²/2.5)).
// At q = 1 the RDP is α/(2σ²) exactly.
//
// RDP of fixed-size sampling without replacement (Wang, Balle,
// Kasiviswanathan 2019, "Subsampled Rényi Differential Privacy and
// Analytical Moments Accountant") with ε(α) = α/(2σ²), at integer α:
//
//	(α-1)D_α <= log(1 + q²C(α,2)min{4(e^{ε(2)}-1), 2e^{ε(2)}}
//	                + Σ_{j=3}^{α} q^j C(α,j) T_j)
//
// with T_j = min{4√(Δ^{2⌊j/2⌋}Δ^{2⌈j/2⌉}), 2e^{(j-1)ε(j)}} (their Theorem
// 27), Δ^ℓ the ℓ-th forward difference at 0 of e^{(m-1)ε(m)}, for α <= 256,
// and T_j = 2e^{(j-1)ε(j)} (Theorem 9) above, as dp_accounting's RDP
// accountant does for a SampledWithoutReplacementDpEvent; at fractional α
// the cumulant (α-1)D_α is interpolated linearly between ⌊α⌋ and ⌈α⌉
// (their Corollary 10), as dp_accounting does. Theorem 27 is never looser
// than Theorem 9 (each T_j is a min over Theorem 9's term), so Theorem 9
// is used only where Theorem 27 is not evaluated. The forward differences
// cancel catastrophically in float64 at large σ; they are evaluated as the
// alternating sum only where it is well conditioned (condition number <=
// 2^20), elsewhere by a series of nonnegative terms with a rigorous tail
// bound (see rdp_wor.go), and checked against 1024- and 4096-bit
// evaluations of the definition (agreement within 1e-6 relative, always
// from above). At δ = 1e-5 on the grid q ∈ {0.01, 0.1, 0.5, 0.9},
// σ ∈ {0.8, …, 10}, steps ∈ {1, 100, 1000}, ε of Theorem 27 is up to 3.3×
// below Theorem 9's (q = 0.1, σ = 10, 100 steps: 0.83 against 2.75) and
// equal where the min picks Theorem 9's term (σ <= 1); calibration at q = 0.9, ε = 8, 100 steps — unreachable
// under Theorem 9's σ-independent floor — gives σ = 11.6.
//
// RDP to (ε, δ) (Balle et al. 2020, "Hypothesis Testing Interpretations and
// Rényi Differential Privacy", Theorem 21; Canonne, Kamath, Steinke 2020),
// exactly as Opacus's get_privacy_spent and dp_accounting's compute_epsilon:
//
//	ε = min_α D_α - (log δ + log α)/(α-1) + log((α-1)/α),   clamped at 0,
//
// and its inverse δ = min_α exp((α-1)(D_α - ε + log(1-1/α)) - log α).
// [DefaultOrders] is Opacus's order list, [DPAccountingOrders]
// dp_accounting's.
//
// # Matching other libraries ([RDPMethod])
//
// At integer orders every library evaluates the same finite binomial sum,
// so the RDP agrees to rounding. At fractional orders of Poisson sampling
// the default, [RDPExact], follows the paper: the signed series with its
// remainder bounded, or quadrature of the definition (tighter; still an
// upper bound on ε through the conversion above). [NewRDPWith] and
// [RDPWith] select instead:
//
//   - [RDPOpacus]: the series exactly as Opacus's
//     _compute_log_a_for_frac_alpha, TF Privacy's rdp_accountant
//     _compute_log_a_frac and dp_accounting up to 0.4.3 compute it (signed
//     terms accumulated with log-add/log-subtract, stopped after the first
//     term whose two parts are below e^-30). It differs from [RDPExact] by
//     that truncation and rounding only: |Δ log A_α| < 1e-12, relative
//     differences of the RDP up to 1e-6 where it is tiny (q = 0.001, σ = 5),
//     on the tests' grid. It reproduces the ε values asserted in TF
//     Privacy's compute_dp_sgd_privacy_test.py (including one whose optimal
//     order is 1.25) to their 7 decimals; those values were computed with
//     the signed series.
//   - [RDPDPAccounting]: dp_accounting from 0.4.4 on (which TF Privacy's
//     analysis tools now call) adds the ABSOLUTE VALUES of the terms. A sum of
//     magnitudes bounds the signed sum, so this over-estimates the RDP —
//     by 3% at α = 1.5, σ = 2.5, q = 0.01, and up to 27-fold at α = 1.1,
//     q = 0.5, σ = 5 — and is also a valid, looser upper bound; its ε can
//     be larger than [RDPExact]'s when the optimal order is fractional.
//
// Fixed-size sampling and q = 1 are the same under every method.
//
// # PLD equations
//
// PLD (Koskela, Jälkö, Honkela 2020; Doroshenko, Ghazi, Kamath, Kumar,
// Manurangsi 2022, "Connect the Dots: Tighter Discrete Approximations of
// Privacy Loss Distributions"): for each direction — remove, the pair
// (μ, μ0), and add, the pair (μ0, μ) — the privacy loss L = log(dA/dB) is
// monotone in the Gaussian coordinate, so its tails are Gaussian tails.
// Each loss interval (kh, (k+1)h] has its A-mass split between its two
// end points so that both the A- and the B-mass are preserved; the
// resulting δ(ε) is the chord interpolation in e^ε of the true, convex
// δ(ε), hence a pessimistic (dominating) discretization that equals the
// truth at grid points. Mass below the grid is moved up to its first point,
// mass above it to +∞. The groups are composed by one real FFT each,
// raised to their count by repeated squaring; the FFT window comes from
// Chernoff bounds on the composed loss, and the out-of-window mass (<= 2τ,
// [PLDConfig].TailMass) plus any negative FFT round-off is added to δ.
// Round-off in the positive bins is charged too: every bin is raised by a
// bound on its absolute error (the forward FFT's κ·log₂n·u·√n·‖x‖₂, its
// growth through the power of the count, Cauchy–Schwarz over the spectrum,
// the inverse FFT's rounding). A composition that fails numerically —
// non-finite values or a total mass above 1 + 1e-5, as 10^9 steps at
// σ <= 0.2 produce — is an error wrapping [ErrUnreachable] with ε = +Inf
// (δ = 1), never a small ε; mass missing below 1 is charged to δ.
// δ(ε) = max over the two directions of
// P_∞ + Σ_{s > ε} p_s (1 - e^{ε-s}) (the hockey-stick divergence). If every
// step has q = 1, the composition is the Gaussian mechanism with
// μ = sqrt(Σ count/σ²) and δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2)
// (Balle & Wang 2018, Theorem 8) is used exactly.
//
// PLD of fixed-size sampling (m of N without replacement, γ = m/N,
// replace-one adjacency, σ relative to the replace-one sensitivity Δ = 1).
// Let A = (1-γ)N(0,σ²) + γN(1,σ²) and B = N(0,σ²). Both ORDERED pairs
// (A, B) and (B, A) are outputs of neighbouring datasets (all records 0
// except one, swapped between 1 and 0, in either order), and an adaptive
// run may produce either order at each step. Per-step bounds compose when
// they hold at every hockey-stick order α >= 0 (equivalently, as trade-off
// functions: Dong, Roth, Su 2022, Theorem 3.2; the dominating pairs of Zhu,
// Dong, Wang 2022, "Optimal Accounting of Differential Privacy via
// Characteristic Function"), and since H_α(Q‖P) = αH_{1/α}(P‖Q) + 1 - α, a
// pair (P, Q) that bounds its own reverse at every α >= 0 is symmetric. So
// the one-directional pair (A, B) — one direction of the Poisson PLD — does
// not bound the reverse order, and composing it alone is not justified (it
// gives 3–20% smaller ε after 100–1000 steps on the tests' grid). The
// bound used is Dong, Roth, Su (2022, "Gaussian Differential Privacy",
// JRSS-B), Theorem 4.2 (sampling m of N, datasets of equal size differing
// in one record): the subsampled mechanism is C_γ(f)-DP with f = G_{1/σ},
// f_γ = γf + (1-γ)Id = T(B, A) and C_γ(f) = min{f_γ, f_γ⁻¹}** — the
// symmetric trade-off function whose privacy profile is
//
//	δ*(ε) = max(H_{e^ε}(A‖B), H_{e^ε}(B‖A)) = H_{e^ε}(A‖B)        (ε >= 0),
//	δ*(ε) = 1 - e^ε + e^ε δ*(-ε)                                  (ε < 0),
//
// and these compose (their Theorem 3.2). The max is the remove side: with
// u = dN(1,σ²)/dN(0,σ²) under N(0,σ²), which satisfies E f(u) = E u f(1/u),
// H_{e^ε}(A‖B) = γE(u-c)_+ and H_{e^ε}(B‖A) = γe^ε c' E(u-1/c')_+ with
// c = (e^ε-1+γ)/γ, c' = (e^{-ε}-1+γ)/γ (the add side is 0 when c' <= 0);
// for ε >= 0, e^ε c' <= 1 and 1/c' >= c (as (e^ε-1+γ)(e^{-ε}-1+γ) =
// γ² - (1-γ)(e^ε+e^{-ε}-2)), so the add side is never larger (also checked
// by quadrature in the tests). Its PLD ω* is the remove direction's on
// losses ℓ > 0, with ω*(-ℓ) = e^{-ℓ} ω*(ℓ) and an atom at 0 holding the
// remaining mass; the
// accountant builds it from the positive part of the connect-the-dots
// remove PLD, so its δ(ε) is that PLD's chord for ε >= 0 and the mirrored
// chord for ε < 0, never below δ*. A single composition then serves both
// orders. At γ = 1 it is the Gaussian mechanism and the closed form is used.
// Poisson and fixed-size steps bound different adjacencies, so one
// [PLDAccountant] or [RDPAccountant] refuses to mix them ([ErrUnsupported]):
// a sum of bounds for different adjacencies bounds neither.
//
// Floating point: everything is in log space (log-sum-exp, log erfc with an
// asymptotic tail), so q = 1, σ = 0.5 and 10^5 steps gives a finite ε.
// The PLD's round-off in the split masses is of order 1e-16 per grid point
// and is not charged rigorously; the FFT's round-off is (above).
//
// # Discrete mechanisms
//
// In distributed DP each surviving client adds one integer noise share to
// its scaled, rounded update before secure aggregation, so the unmasked sum
// carries n shares. [DiscreteNoise] describes the sum: Kind, Shares = n,
// Variance (total, per coordinate), L1 and L2 (norms of one client's
// integer contribution after rounding) and Dim = d. One release has RDP
// ([DiscreteRDP]), for a shift Δ of the sum with ‖Δ‖₂ <= L2, ‖Δ‖₁ <= L1:
//
//   - distributed discrete Gaussian (Kairouz, Liu, Steinke 2021, arXiv
//     2102.06387, Proposition 14, Eq. (17), with τ from their Theorem 1;
//     the formula as the authors' accounting_utils.compute_rdp_dgaussian
//     evaluates it), shares N_Z(0, σ²), σ² = Variance/n >= 1/4:
//
//     τ = 10·Σ_{k=1}^{n-1} exp(-2π²σ²·k/(k+1)),
//     D_α <= min{ α‖Δ‖₂²/(2nσ²) + τd,
//     (α/2)(‖Δ‖₂²/(nσ²) + 2τ‖Δ‖₁/√(nσ²) + τ²d),
//     (α/2)(‖Δ‖₂/√(nσ²) + τ√d)² };
//
//   - with n = 1, τ = 0: the central discrete Gaussian, D_α <= α‖Δ‖₂²/(2σ²)
//     at every real α, with equality at integer α for integer shifts
//     (Canonne, Kamath, Steinke 2020, arXiv 2004.00010);
//
//   - distributed Skellam (Agarwal, Kairouz, Liu 2021, arXiv 2110.04995,
//     Theorem 3.5; Corollary 3.6 for the sum of shares), shares
//     Sk(Variance/(2n)), sum Sk of variance μ = Variance, integer α > 1:
//
//     D_α <= α‖Δ‖₂²/(2μ) + min{ ((2α-1)‖Δ‖₂² + 6‖Δ‖₁)/(4μ²), 3‖Δ‖₁/(2μ) }.
//
// Both noises are symmetric, so each bound holds in both orders of the
// pair. At fractional orders (where a bound is stated or checked at
// integer orders only) the cumulant (α-1)D_α — convex in α for any pair
// of distributions — is interpolated linearly between ⌊α⌋ and ⌈α⌉, with 0
// at α = 1 (Wang, Balle, Kasiviswanathan 2019, Corollary 10's argument).
// Because the shift is an integer vector, L2 is replaced by min(L2, L1) and
// L1 by min(L1, L2², √d·L2).
//
// Adjacency. Distributed noise is accounted under REPLACE-ONE adjacency
// with FixedSize sampling: every round has the same number of
// participants whoever the differing client is, each adds one share, so
// the neighbouring sums carry the same noise and differ by a shift (with
// dropouts independent of the data, the number of surviving shares has the
// same law in both). Under add/remove (Poisson) the added client adds its
// own share too — n+1 shares against n — and the neighbours are not a
// shift: in high dimension the energy of the noise alone tells them apart
// (TestPoissonDistributedNoiseAttack proves ε >= 2.97 where the shift
// bound would claim 1.6). So a Poisson [Step] with Discrete.Shares > 1
// returns [ErrUnsupported]; Shares = 1 (noise added once, by a party whose
// noise does not depend on who takes part, as the server's central
// discrete Gaussian) is accepted with either sampling.
//
// Who the guarantee is against: amplification by sampling protects against
// parties that do not learn who was sampled (those who see the released
// models). Secure aggregation reveals the participants of a round to the
// server, so against the server a participating client's guarantee per
// round is the unsampled one — a Step with SampleRate 1 (FixedSize, m = N
// of the round's participants) for each round it took part in.
//
// Sampling, at integer orders, capped by the unsampled curve (sampling
// never hurts, by joint convexity):
//
//   - Poisson (add/remove, the shift is one contribution; Shares = 1 only): Zhu & Wang 2019,
//     "Poisson Subsampled Rényi Differential Privacy", Theorem 6 (general
//     upper bound, any mechanism, both orders of the pair):
//     (α-1)D_α <= log((1-q)^{α-1}(αq-q+1) + C(α,2)q²(1-q)^{α-2}e^{ε(2)} +
//     3Σ_{ℓ=3}^{α} C(α,ℓ)(1-q)^{α-ℓ}q^ℓ e^{(ℓ-1)ε(ℓ)}) — the bound the
//     authors of both mechanisms used (google-research/federated
//     distributed_dp, _compute_rdp_subsampled).
//   - FixedSize (replace-one: the shift is the difference of two
//     contributions, so the accountant uses 2·L1 and 2·L2 itself): Wang,
//     Balle, Kasiviswanathan 2019, Theorem 9 with ε(∞) = ∞ (their Theorem
//     27, which the Gaussian steps use, is applied by dp_accounting to the
//     Gaussian only and is not used here).
//
// The tests check every bound against exact Rényi divergences computed by
// convolving the shares' pmfs and summing over the support (1-D for n up
// to 8 and σ² down to 1/4, 2-D by direct summation; Skellam from Poisson
// pmfs, and the closure Sk(λ)*Sk(λ)*Sk(λ) = Sk(3λ)): never below them,
// equal to 1e-9 for the discrete Gaussian at σ² = 4 (τ ≈ 1e-16) and within
// 5% for the Skellam at μ = 100; and the sampled bounds against the exact
// divergences of the mixtures in both orders, for both samplings. The
// generic Poisson bound costs ε against the exact sampled-Gaussian formula
// for the same noise: ×1.18–1.33 on the tests' grid (q = 0.01–0.1); with
// fixed-size sampling Theorem 9 costs ×1.00–1.04 against the Gaussian's
// Theorem 27 for noise multipliers 0.8–2 (more at larger ones).
//
// Central discrete Gaussian and the sampled-Gaussian formula: for one
// discrete Gaussian (Shares = 1) and integer shifts, the REMOVE direction
// D_α((1-q)P + qP_Δ ‖ P) at integer α equals the sampled-Gaussian formula
// of Mironov, Talwar, Zhang (2019) with noise multiplier σ/‖Δ‖₂: expanding
// the binomial, its terms are E_P[(P_Δ/P)^i] = e^{(i-1)D_i} =
// e^{i(i-1)‖Δ‖₂²/(2σ²)}, the Gaussian's (the test checks it to 1e-9). The
// ADD direction D_α(P ‖ (1-q)P + qP_Δ) is bounded by Mironov, Talwar,
// Zhang's argument for the continuous Gaussian only; for the discrete
// Gaussian it is below the remove direction on the tests' grid (a
// measurement, not a proof). A Step with Discrete set therefore uses the
// generic bound above, proven for both directions.
//
// Dropouts: noise of clients that drop after masking is missing from the
// sum; provision Shares as the minimum number of shares that can reach an
// unmasked sum (the secure-aggregation threshold). More shares only add
// noise: the sum with m >= n shares is the n-share sum plus independent
// noise (post-processing of the same shift pair, the same in both
// neighbours under replace-one), so ε stays an upper bound whatever
// happens above the threshold.
//
// # Host duties
//
//  1. Sample exactly as declared: Poisson sampling with rate q, or exactly
//     m = q·N clients without replacement with N public.
//  2. Clip every contribution to the sensitivity the noise multiplier is
//     relative to (for FixedSize, the replace-one sensitivity).
//  3. Call Compose once per distinct (σ, q) run of rounds — also for rounds
//     that failed after noise was released.
//  4. Report ε for the δ your policy fixes (δ well below 1/N).
//  5. For a discrete step: pass the norms of one client's integer
//     contribution AFTER scaling and rounding (the rounding's norm
//     inflation included), Shares = the minimum number of shares that can
//     reach the sum, and sample each share as [DiscreteNoise] says (exact
//     samplers; for the discrete Gaussian, parameter Variance/Shares).
//     Account distributed noise with FixedSize sampling (replace-one), and
//     against the aggregation server with SampleRate 1 for each round a
//     client took part in.
//
// # Concurrency
//
// Accountants are plain values with no goroutines; they are not safe for
// concurrent mutation. [RDP] and [CalibrateNoise] are pure functions and
// safe to call concurrently.
//
// # Invariants
//
//   - Returned ε and δ are upper bounds; calibration returns a σ that meets
//     the target, and σ·(1-[CalibrationTolerance]) does not.
//   - Bad input (NaN, δ ∉ (0,1), σ <= 0, q ∉ (0,1], negative counts, bad
//     orders, a malformed [DiscreteNoise]) returns an error wrapping an Err*
//     sentinel, never NaN or a panic.
//   - [CalibrateDiscrete] returns a variance that meets the target, and
//     variance·(1-[CalibrationTolerance]) does not (unless it returned the
//     smallest admissible variance, Variance/Shares = 1/4).
//   - An accountant that returns an error from Compose is unchanged.
package accountant
