//go:build unix

package robust_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used:
// with benchmarks' wall time, which other processes on a shared machine
// stretch, it tells the work a call does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
