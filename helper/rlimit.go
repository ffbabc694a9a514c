package main

import (
	"fmt"
	"syscall"
)

// The caller sets the helper's resource limits. With too small a file size or
// descriptor limit a state write or the gateway connection would fail half
// way; the helper refuses before it touches state or sends anything.
var neededLimits = []struct {
	name     string
	resource int
	min      uint64
}{
	// Package limits refuses to append to a key file of 960 KiB or more, so
	// that with 1 MiB no append of a 64-byte record is cut short (one that
	// was would corrupt a file that other users' logins share). Go ignores
	// SIGXFSZ, so a write past the limit is an error (EFBIG), not a death.
	{"RLIMIT_FSIZE", syscall.RLIMIT_FSIZE, 1 << 20},
	// Standard descriptors, the runtime's poller, syslog, the config and
	// numbers files, the state files, the gateway connection.
	{"RLIMIT_NOFILE", syscall.RLIMIT_NOFILE, 64},
}

// raiseLimits raises each soft limit to its hard limit and refuses a hard
// limit below what the helper needs.
func raiseLimits() error {
	for _, l := range neededLimits {
		var r syscall.Rlimit
		if err := syscall.Getrlimit(l.resource, &r); err != nil {
			return fmt.Errorf("helper: getrlimit %s: %w", l.name, err)
		}
		if r.Max < l.min {
			return fmt.Errorf("helper: %s hard limit %d is below the %d the helper needs", l.name, r.Max, l.min)
		}
		if r.Cur < r.Max {
			r.Cur = r.Max
			if err := syscall.Setrlimit(l.resource, &r); err != nil {
				return fmt.Errorf("helper: raising %s to %d: %w", l.name, r.Max, err)
			}
		}
	}
	return nil
}
