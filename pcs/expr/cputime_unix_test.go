//go:build unix

package expr_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time of the process so far (user and system, all
// threads: the garbage collector's work counts). The benchmarks report it
// per row next to the wall time, which other processes on a busy machine
// inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
