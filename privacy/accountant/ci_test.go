package accountant

import "os"

// ci reports whether the long test grids run: CI=true runs every case;
// by default each long test runs the cases listed as quick, which exercise
// every assertion of the test on fewer parameter points.
var ci = os.Getenv("CI") == "true"

// pick returns all under CI=true, and the elements at the quick indices
// otherwise.
func pick[T any](all []T, quick ...int) []T {
	if ci {
		return all
	}
	out := make([]T, 0, len(quick))
	for _, i := range quick {
		out = append(out, all[i])
	}
	return out
}
