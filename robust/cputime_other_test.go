//go:build !unix

package robust_test

import "time"

// processCPU is 0 where getrusage is missing: no cpu-ns/op metric.
func processCPU() time.Duration { return 0 }
