package dataset

import (
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSyntheticConfigValidate(t *testing.T) {
	ok := DefaultSyntheticConfig()
	require.NoError(t, ok.Validate())
	require.Equal(t, SyntheticConfig{Alpha: 1, Beta: 1, Clients: 30}, ok)
	bad := []func(*SyntheticConfig){
		func(c *SyntheticConfig) { c.Alpha = -1 },
		func(c *SyntheticConfig) { c.Alpha = math.NaN() },
		func(c *SyntheticConfig) { c.Beta = math.Inf(1) },
		func(c *SyntheticConfig) { c.Clients = 0 },
		func(c *SyntheticConfig) { c.Dim = -1 },
		func(c *SyntheticConfig) { c.Classes = 1 },
		func(c *SyntheticConfig) { c.TestFraction = 1.5 },
		func(c *SyntheticConfig) { c.TestFraction = math.NaN() },
		func(c *SyntheticConfig) { c.MaxSamples = -3 },
	}
	for i, mut := range bad {
		c := ok
		mut(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalid, "case %d", i)
		_, err := Synthetic(c)
		require.ErrorIs(t, err, ErrInvalid, "case %d", i)
	}
}

func TestSyntheticShapeAndSplit(t *testing.T) {
	t.Parallel() // seconds of sampling; independent of the other tests
	for _, iid := range []bool{false, true} {
		cfg := DefaultSyntheticConfig()
		cfg.IID = iid
		cfg.Seed = 7
		splits, err := Synthetic(cfg)
		require.NoError(t, err)
		require.Len(t, splits, 30)
		for k, s := range splits {
			for _, d := range []*Dataset{s.Train, s.Test} {
				require.NoError(t, d.Validate())
				require.Equal(t, 60, d.Dim)
				require.Equal(t, 10, d.Classes)
			}
			n := s.Train.Len() + s.Test.Len()
			require.GreaterOrEqual(t, n, 50, "client %d", k)
			require.Equal(t, int(math.Floor(0.8*float64(n)+1e-9)), s.Train.Len(), "client %d: 80/20 split", k)
			// The split is the device's samples in order.
			dev := syntheticDevice(cfg.withDefaults(), k, sharedFor(cfg))
			require.Equal(t, dev.data.X, slices.Concat(s.Train.X, s.Test.X))
			require.Equal(t, dev.data.Y, slices.Concat(s.Train.Y, s.Test.Y))
		}
	}
}

func sharedFor(cfg SyntheticConfig) *syntheticModel {
	if cfg.IID {
		return newIIDModel(cfg.withDefaults())
	}
	return nil
}

func TestSyntheticTrainAppendKeepsTest(t *testing.T) {
	splits, err := Synthetic(SyntheticConfig{Clients: 1, MaxSamples: 60, Seed: 1})
	require.NoError(t, err)
	s := splits[0]
	want := slices.Clone(s.Test.X)
	s.Train.X = append(s.Train.X, make([]float64, 60)...)
	s.Train.Y = append(s.Train.Y, 0)
	require.Equal(t, want, s.Test.X)
}

func TestSyntheticOptions(t *testing.T) {
	splits, err := Synthetic(SyntheticConfig{Clients: 5, Dim: 7, Classes: 3, TestFraction: 0.5, MaxSamples: 52, Seed: 3})
	require.NoError(t, err)
	for _, s := range splits {
		n := s.Train.Len() + s.Test.Len()
		require.LessOrEqual(t, n, 52)
		require.GreaterOrEqual(t, n, 50)
		require.Equal(t, n/2, s.Train.Len())
		require.Equal(t, 7, s.Train.Dim)
		require.Equal(t, 3, s.Test.Classes)
		require.NoError(t, s.Train.Validate())
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	cfg := SyntheticConfig{Alpha: 0.5, Beta: 0.5, Clients: 10, MaxSamples: 500, Seed: 42}
	a, err := Synthetic(cfg)
	require.NoError(t, err)
	b, err := Synthetic(cfg)
	require.NoError(t, err)
	require.Equal(t, a, b)
	// Device k does not depend on the number of clients.
	cfg.Clients = 4
	c, err := Synthetic(cfg)
	require.NoError(t, err)
	require.Equal(t, a[:4], c)
	// Another seed gives other data.
	cfg.Seed = 43
	d, err := Synthetic(cfg)
	require.NoError(t, err)
	require.NotEqual(t, a[0].Train.X, d[0].Train.X)
}

// TestSyntheticSampleCounts checks the power law n = ⌊lognormal(4, 2)⌋ +
// 50: the quartiles of log(n − 50) over 4000 devices sit at
// 4 + 2·{−0.6745, 0, 0.6745} (the floor moves them by < 1/e^{2.6}).
func TestSyntheticSampleCounts(t *testing.T) {
	const devices = 4000
	logs := make([]float64, devices)
	for k := range devices {
		n := syntheticCount(streamRand(9, tagSyntheticClient, uint64(k)), 0)
		require.GreaterOrEqual(t, n, 50)
		logs[k] = math.Log(float64(n-50) + 0.5)
	}
	sort.Float64s(logs)
	for _, q := range []struct{ p, z float64 }{{0.25, -0.6745}, {0.5, 0}, {0.75, 0.6745}} {
		got := logs[int(q.p*devices)]
		// Standard error of a quantile ≈ σ·√(p(1−p)/n)/φ(z) ≤ 0.04; allow 0.2.
		require.InDelta(t, 4+2*q.z, got, 0.2, "quantile %v", q.p)
	}
}

func TestSyntheticLabelsAreArgmaxOfSoftmax(t *testing.T) {
	for _, iid := range []bool{false, true} {
		cfg := SyntheticConfig{Alpha: 1, Beta: 1, Clients: 8, MaxSamples: 300, IID: iid, Seed: 5}.withDefaults()
		shared := sharedFor(cfg)
		for k := range cfg.Clients {
			dev := syntheticDevice(cfg, k, shared)
			for i := range dev.data.Len() {
				require.Equal(t, naiveSoftmaxArgmax(dev.model, dev.data.Row(i)), dev.data.Y[i])
			}
		}
	}
}

// naiveSoftmaxArgmax evaluates softmax(W x + b) as the reference script
// does (x·W with W stored d×C there) and returns its first argmax.
func naiveSoftmaxArgmax(m *syntheticModel, x []float64) int {
	c := len(m.B)
	d := len(x)
	logits := make([]float64, c)
	for cl := range c {
		logits[cl] = m.B[cl]
		for j := range d {
			logits[cl] += x[j] * m.W[cl*d+j]
		}
	}
	mx := slices.Max(logits)
	sum := 0.0
	p := make([]float64, c)
	for cl := range c {
		p[cl] = math.Exp(logits[cl] - mx)
		sum += p[cl]
	}
	best := 0
	for cl := range c {
		if p[cl]/sum > p[best]/sum {
			best = cl
		}
	}
	return best
}

// TestSyntheticFeatureMoments checks x ~ N(v_k, diag(j^{-1.2})) within a
// device, and v_kj ~ N(B_k, 1), B_k ~ N(0, β²) across devices: the
// pooled within-device variance of coordinate j is j^{-1.2}, the variance
// of the device means over devices and coordinates is β² + 1, and the
// variance of x_j over all devices is j^{-1.2} + β² + 1.
func TestSyntheticFeatureMoments(t *testing.T) {
	t.Parallel() // seconds of sampling; independent of the other tests
	for _, beta := range []float64{0, 1} {
		cfg := SyntheticConfig{Alpha: 1, Beta: beta, Clients: 400, MaxSamples: 80, Seed: 11}
		splits, err := Synthetic(cfg)
		require.NoError(t, err)
		const d = 60
		within := make([]float64, d)
		total := make([]float64, d)
		totalSq := make([]float64, d)
		dof, n := 0, 0
		meanSq := 0.0
		for _, s := range splits {
			all, err := Concat(s.Train, s.Test)
			require.NoError(t, err)
			m := make([]float64, d)
			for i := range all.Len() {
				for j, v := range all.Row(i) {
					m[j] += v
				}
			}
			for j := range m {
				m[j] /= float64(all.Len())
				meanSq += m[j] * m[j]
			}
			for i := range all.Len() {
				for j, v := range all.Row(i) {
					within[j] += (v - m[j]) * (v - m[j])
					total[j] += v
					totalSq[j] += v * v
				}
			}
			dof += all.Len() - 1
			n += all.Len()
		}
		for j := range d {
			want := math.Pow(float64(j+1), -1.2)
			require.InEpsilon(t, want, within[j]/float64(dof), 0.08, "β=%v: within-device variance of coordinate %d", beta, j+1)
			mu := total[j] / float64(n)
			got := totalSq[j]/float64(n) - mu*mu
			require.InDelta(t, want+beta*beta+1, got, 0.3+0.3*beta, // 4 standard errors over 400 devices
				"β=%v: total variance of coordinate %d", beta, j+1)
		}
		// E[v²] = β² + 1; the sampling noise of the means adds < 0.003.
		got := meanSq / float64(cfg.Clients*d)
		require.InDelta(t, beta*beta+1, got, 0.05+0.25*beta, "β=%v: variance of device means", beta)
	}
}

// TestSyntheticBetaShiftsDevices checks the device-level feature offset
// B_k: the mean over the 60 coordinates of a device's v_k is
// B_k + N(0, 1/60), so its variance across devices is β² + 1/60.
func TestSyntheticBetaShiftsDevices(t *testing.T) {
	t.Parallel() // seconds of sampling; independent of the other tests
	for _, beta := range []float64{0, 0.5, 1} {
		cfg := SyntheticConfig{Alpha: 0, Beta: beta, Clients: 1000, MaxSamples: 50, Seed: 12}.withDefaults()
		var s, s2 float64
		for k := range cfg.Clients {
			dev := syntheticDevice(cfg, k, nil)
			var m float64
			for _, v := range dev.data.X {
				m += v
			}
			m /= float64(len(dev.data.X))
			s += m
			s2 += m * m
		}
		n := float64(cfg.Clients)
		variance := s2/n - (s/n)*(s/n)
		want := beta*beta + 1.0/60
		// Relative standard error √(2/1000) ≈ 4.5%; allow 20%.
		require.InEpsilon(t, want, variance, 0.2, "β=%v", beta)
	}
}

// TestSyntheticAlphaShiftsModels checks W_k, b_k ~ N(u_k, 1) with
// u_k ~ N(0, α²): the mean of a device's 610 model entries has variance
// α² + 1/610 across devices, and the within-device variance is 1.
func TestSyntheticAlphaShiftsModels(t *testing.T) {
	t.Parallel() // seconds of sampling; independent of the other tests
	for _, alpha := range []float64{0, 1} {
		cfg := SyntheticConfig{Alpha: alpha, Beta: 1, Clients: 800, MaxSamples: 50, Seed: 13}.withDefaults()
		var s, s2, within float64
		for k := range cfg.Clients {
			m := syntheticDevice(cfg, k, nil).model
			entries := slices.Concat(m.W, m.B)
			mean := 0.0
			for _, v := range entries {
				mean += v
			}
			mean /= float64(len(entries))
			for _, v := range entries {
				within += (v - mean) * (v - mean) / float64(len(entries)-1)
			}
			s += mean
			s2 += mean * mean
		}
		n := float64(cfg.Clients)
		require.InEpsilon(t, alpha*alpha+1.0/610, s2/n-(s/n)*(s/n), 0.2, "α=%v", alpha)
		require.InDelta(t, 1, within/n, 0.02, "α=%v", alpha)
	}
}

// TestSyntheticAlphaDoesNotChangeLabels checks a consequence of the
// model: u_k adds u_k·(Σ_j x_j + 1) to every logit, so the labels do not
// depend on α. With the same seed (same standard normal draws) α = 0 and
// α = 1 give the same labels, up to rounding in near ties.
func TestSyntheticAlphaDoesNotChangeLabels(t *testing.T) {
	base := SyntheticConfig{Beta: 1, Clients: 20, MaxSamples: 400, Seed: 14}
	a, err := Synthetic(base)
	require.NoError(t, err)
	base.Alpha = 1
	b, err := Synthetic(base)
	require.NoError(t, err)
	same, total := 0, 0
	for k := range a {
		require.Equal(t, a[k].Train.X, b[k].Train.X, "features do not depend on α")
		for i, y := range a[k].Train.Y {
			total++
			if b[k].Train.Y[i] == y {
				same++
			}
		}
	}
	require.GreaterOrEqual(t, float64(same), 0.999*float64(total))
}

// labelStats returns the mean over devices of the largest class share and
// the chi-square statistic of homogeneity of the devices' label counts,
// divided by its degrees of freedom (≈ 1 when all devices share one label
// distribution).
func labelStats(splits []Split, classes int) (meanMaxShare, chi2PerDoF float64) {
	counts := make([][]float64, len(splits))
	pooled := make([]float64, classes)
	total := 0.0
	for k, s := range splits {
		counts[k] = make([]float64, classes)
		for _, y := range s.Train.Y {
			counts[k][y]++
			pooled[y]++
			total++
		}
		meanMaxShare += slices.Max(counts[k]) / float64(s.Train.Len())
	}
	meanMaxShare /= float64(len(splits))
	seen := 0
	chi2 := 0.0
	for c := range classes {
		if pooled[c] == 0 {
			continue
		}
		seen++
		for k, s := range splits {
			e := float64(s.Train.Len()) * pooled[c] / total
			chi2 += (counts[k][c] - e) * (counts[k][c] - e) / e
		}
	}
	dof := float64((len(splits) - 1) * (seen - 1))
	return meanMaxShare, chi2 / dof
}

// TestSyntheticHeterogeneity compares the label distributions of the
// devices. Synthetic-IID devices share one model and one feature law, so
// their label counts pass a chi-square test of homogeneity; Synthetic(0,
// 0) devices have their own W_k and v_k and are far from homogeneous; and
// β = 1 skews each device further towards one class than β = 0.
func TestSyntheticHeterogeneity(t *testing.T) {
	t.Parallel() // seconds of sampling; independent of the other tests
	gen := func(a, b float64, iid bool) []Split {
		s, err := Synthetic(SyntheticConfig{Alpha: a, Beta: b, IID: iid, Clients: 600, MaxSamples: 150, Seed: 15})
		require.NoError(t, err)
		return s
	}
	iidMax, iidChi := labelStats(gen(0, 0, true), 10)
	zeroMax, zeroChi := labelStats(gen(0, 0, false), 10)
	oneMax, oneChi := labelStats(gen(1, 1, false), 10)
	t.Logf("mean max share: IID %.3f, (0,0) %.3f, (1,1) %.3f; χ²/dof: %.2f, %.2f, %.2f", iidMax, zeroMax, oneMax, iidChi, zeroChi, oneChi)
	require.Less(t, iidChi, 1.25)
	require.Greater(t, zeroChi, 10.0)
	require.Greater(t, oneChi, zeroChi)
	require.Greater(t, zeroMax, iidMax+0.3)
	require.Greater(t, oneMax, zeroMax+0.02)
}

func TestSyntheticIIDSharesOneModel(t *testing.T) {
	cfg := SyntheticConfig{Alpha: 1, Beta: 1, IID: true, Clients: 6, MaxSamples: 100, Seed: 16}.withDefaults()
	shared := newIIDModel(cfg)
	require.Equal(t, make([]float64, 60), shared.Mean, "Synthetic-IID features have mean 0")
	splits, err := Synthetic(cfg)
	require.NoError(t, err)
	for _, s := range splits {
		for _, d := range []*Dataset{s.Train, s.Test} {
			for i := range d.Len() {
				require.Equal(t, naiveSoftmaxArgmax(shared, d.Row(i)), d.Y[i])
			}
		}
	}
	// Non-IID devices each have their own model: labels from device 0's
	// model disagree with device 1's on most of device 1's examples.
	cfg.IID = false
	d0, d1 := syntheticDevice(cfg, 0, nil), syntheticDevice(cfg, 1, nil)
	agree := 0
	for i := range d1.data.Len() {
		if naiveSoftmaxArgmax(d0.model, d1.data.Row(i)) == d1.data.Y[i] {
			agree++
		}
	}
	require.Less(t, agree, d1.data.Len()/2)
}

func TestSyntheticTooLarge(t *testing.T) {
	// 2^28 features need ≥ 2^28/(60·50) clients of ≥ 50 samples.
	_, err := Synthetic(SyntheticConfig{Clients: 100000, Seed: 1})
	require.ErrorIs(t, err, ErrTooLarge)
}
