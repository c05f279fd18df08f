package accountant

import (
	"math"
	"os"
	"testing"
)

// TestRDPFixedSizeTFPrivacyKnownAnswers checks the fixed-size (sampling
// without replacement, replace-one) RDP against the expected numbers that
// the authors of the Theorem 27 implementation published with it:
// tensorflow/privacy, tensorflow_privacy/privacy/analysis/
// rdp_accountant_test.py (commit 09270afed61a4e9ef6295217b53731f7515f0350),
// test_compute_rdp_sequence_without_replacement:
//
//	compute_rdp_sample_without_replacement(0.01, 2.5, 50,
//	    [1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024, np.inf])
//	≈ [0.003470, 0.003470, 0.004638, 0.0087633, 0.098474, 167.766388,
//	   792.838516, 1817.35871, 3865.55029, np.inf]   (delta=1e-5)
//
// That function is the one dp_accounting's RdpAccountant calls for
// SampledWithoutReplacementDpEvent under REPLACE_ONE (Theorem 27 up to
// order 256, Theorem 9 above, Corollary 10 between integer orders; below 2
// it interpolates between 0 at order 1 and order 2, so 1.001 and 1.5 get
// the order-2 value). dp_accounting's own rdp_privacy_accountant_test.py
// has no expected number for that event (only test_supports and
// test_zero_fixed_batch_sample, ε = 0 for a sample of 0), so these are the
// published known answers.
//
// Their tolerance, 1e-5 absolute on the 50-step RDP, holds at every order
// but 256. There tensorflow_privacy's 792.838516 is 0.136 (1.7e-4
// relative) BELOW the Theorem 27 bound, which the 4096-bit evaluation of
// the definition (theorem27Ref) puts at 792.974427366, as we compute it:
// their float64 forward differences lose accuracy at ℓ = 256. At that
// order we check issue 13's 1e-3 relative and that we are not below the
// published value, and, with CI=true, the high-precision reference.
func TestRDPFixedSizeTFPrivacyKnownAnswers(t *testing.T) {
	const (
		q     = 0.01
		sigma = 2.5
		steps = 50
	)
	step := Step{NoiseMultiplier: sigma, SampleRate: q, Sampling: FixedSize, Population: 1000}
	orders := []float64{1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024}
	want := []float64{0.003470, 0.003470, 0.004638, 0.0087633, 0.098474, 167.766388, 792.838516, 1817.35871, 3865.55029}
	got, err := RDP(step, orders)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range orders {
		g := steps * got[i]
		d := math.Abs(g - want[i])
		switch {
		case a == 256:
			if d > 1e-3*want[i] || g < want[i] {
				t.Errorf("α = 256: 50-step RDP %.9g, tensorflow_privacy %.9g: want within 1e-3 relative and not below", g, want[i])
			}
		case d > 1e-5:
			t.Errorf("α = %v: 50-step RDP %.9g, tensorflow_privacy %.9g (|Δ| = %.3g > 1e-5)", a, g, want[i], d)
		}
	}
	if os.Getenv("CI") == "true" {
		ref := steps * theorem27Ref(q, sigma, 256, theorem27LogDeltas(sigma, 256)) / 255
		if g := steps * got[6]; relErr(g, ref) > 1e-9 {
			t.Errorf("α = 256: 50-step RDP %.12g, 4096-bit Theorem 27 %.12g", g, ref)
		}
	}
	// The published list ends with order ∞, whose RDP is ∞.
	if inf, err := RDP(step, []float64{math.Inf(1)}); err == nil && !math.IsInf(inf[0], 1) {
		t.Errorf("α = ∞: RDP %v, want +Inf (or an error)", inf[0])
	}
}
