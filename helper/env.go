package main

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
)

// moduleEnv is the environment pam_sms.so starts the helper with. Go reads
// nothing from LANG; PATH is only there for programs started by NSS modules.
var moduleEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// restartedEnv marks a helper that restarted itself: if its environment is
// still not clean, it refuses instead of restarting again. Nothing else reads
// it, so a caller who sets it gains nothing.
const restartedEnv = "PAM_SMS_HELPER_RESTARTED=1"

// runtimeEnv is what the Go runtime itself adds to the environment it shows
// in secure mode (a setgid start: AT_SECURE), whatever GOTRACEBACK was. It
// has taken effect already, and is the safe value.
const runtimeEnv = "GOTRACEBACK=none"

// cleanEnv is the environment the helper restarts itself with.
var cleanEnv = []string{moduleEnv[0], restartedEnv}

// selfExe is the helper's own file: the kernel resolves it to the very file
// that is running, wherever it was started from and even if it was replaced
// since.
const selfExe = "/proc/self/exe"

// envClean reports whether env holds nothing but entries of moduleEnv,
// restartedEnv and runtimeEnv, each at most once. Anything else may have
// steered the Go runtime before main (GODEBUG, GOMAXPROCS, GOGC, GOMEMLIMIT)
// or would steer a package that reads its variable later (SSL_CERT_FILE,
// SSL_CERT_DIR, HTTPS_PROXY, TZ, LOCALDOMAIN, RES_OPTIONS, HOSTALIASES, ...).
// A list of what to allow, not of what to refuse, so that a variable a future
// Go release reads is covered too.
func envClean(env []string) bool {
	return len(unexpected(env)) == 0
}

// unexpected returns the entries of env that envClean does not allow.
func unexpected(env []string) []string {
	var bad []string
	seen := make(map[string]bool, len(env))
	for _, e := range env {
		ok := slices.Contains(moduleEnv, e) || e == restartedEnv || e == runtimeEnv
		if !ok || seen[e] {
			bad = append(bad, e)
		}
		seen[e] = true
	}
	return bad
}

// restartClean returns at once when env is clean, which it is on the module's
// path. Otherwise it executes the helper's own file again with cleanEnv and
// the same arguments, so that even what the runtime read before main comes
// from a clean environment; it returns only if that exec failed or env is
// still not clean after a restart, and then the helper must not go on. A
// setgid helper stays setgid: the kernel applies the file's mode again at
// this exec.
func restartClean(env, argv []string) error {
	bad := unexpected(env)
	if len(bad) == 0 {
		return nil
	}
	if slices.Contains(env, restartedEnv) {
		return fmt.Errorf("helper: environment not clean after a restart: %s", varNames(bad))
	}
	if err := syscall.Exec(selfExe, argv, cleanEnv); err != nil {
		return fmt.Errorf("helper: restarting %s with a clean environment: %w", selfExe, err)
	}
	return nil // not reached: exec does not return on success
}

// varNames lists the names of the variables in env, bounded (the caller chose
// them), for a log line; values may be anything and are left out.
func varNames(env []string) string {
	const maxNames, maxName = 10, 64
	var names []string
	for i, e := range env {
		if i == maxNames {
			names = append(names, fmt.Sprintf("and %d more", len(env)-maxNames))
			break
		}
		name, _, _ := strings.Cut(e, "=")
		if len(name) > maxName {
			name = name[:maxName] + "..."
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}
