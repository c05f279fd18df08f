package accountant

import "math"

// logErfc returns log(erfc(x)), accurate where erfc underflows (x > 26).
func logErfc(x float64) float64 {
	if x < 25 {
		return math.Log(math.Erfc(x))
	}
	// Asymptotic series erfc(x) = exp(-x²)/(x√π) · (1 - 1/(2x²) + 3/(4x⁴) - 15/(8x⁶) + 105/(16x⁸));
	// at x >= 25 the first omitted term is below 1e-22.
	u := 1 / (2 * x * x)
	s := 1 - u + 3*u*u - 15*u*u*u + 105*u*u*u*u
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(s)
}

// logNormSF returns log P(Z > z) for a standard normal Z.
func logNormSF(z float64) float64 {
	return logErfc(z/math.Sqrt2) - math.Ln2
}

// normSF returns P(Z > z) for a standard normal Z.
func normSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// normCDF returns P(Z <= z) for a standard normal Z.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// logAddExp returns log(exp(a) + exp(b)) without overflow.
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) || math.IsInf(a, 1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// logSubExp returns log(exp(a) - exp(b)) for a >= b; -Inf when a == b.
func logSubExp(a, b float64) float64 {
	if math.IsInf(b, -1) {
		return a
	}
	if b >= a {
		return math.Inf(-1)
	}
	return a + math.Log(-math.Expm1(b-a))
}
