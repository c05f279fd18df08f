//go:build unix

package gram

import "syscall"

// processCPU returns the CPU time (user and system) in nanoseconds the
// process has used: on a shared machine, where other processes stretch
// the wall time, it tells the work a call does.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
