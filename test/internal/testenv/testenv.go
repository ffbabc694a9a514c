// Package testenv holds what integration and end-to-end tests share: finding the
// built module and helper, root checks, test configs written the way the helper
// accepts them, PAM service directories, stacks read from docs/pam.d/, and test
// users.
package testenv

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Names of the build products inside the build directory.
const (
	ModuleFile = "pam_sms.so"
	HelperFile = "pam-sms-helper"
)

// ServiceName is the PAM service ServiceDir writes. Never "other": Linux-PAM
// would then run the stack twice (notes/testing.md §1).
const ServiceName = "sms-test"

// RequireRoot skips the test when it does not run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("testenv: needs root (real PAM stacks, test users, sshd); run `make test` as root")
	}
}

// RepoRoot returns the directory holding go.mod, found by walking up from the
// working directory (go test runs in the package directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildDir returns the absolute build directory: $PAM_SMS_BUILD, else
// <repo>/build. It fails the test when pam_sms.so or pam-sms-helper is missing.
// When pam_sms.so would refuse the helper there (a clone under /tmp, a
// group-writable directory: see unsafePath), it returns a directory in
// SafeBase with copies of both, made once per test process.
func BuildDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PAM_SMS_BUILD")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "build")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("testenv: build directory %q: %v", dir, err)
	}
	for _, f := range []string{ModuleFile, HelperFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("testenv: %s missing in %s (run `make build`, or set PAM_SMS_BUILD): %v", f, dir, err)
		}
	}
	return safeBuild(t, dir)
}

// ModuleLine returns the module path and arguments that replace "pam_sms.so" in
// a stack: "/abs/pam_sms.so config=CONF helper=/abs/pam-sms-helper" plus args
// (e.g. "timeout=30", "debug").
func ModuleLine(buildDir, config string, args ...string) string {
	parts := []string{
		filepath.Join(buildDir, ModuleFile),
		"config=" + config,
		"helper=" + filepath.Join(buildDir, HelperFile),
	}
	return strings.Join(append(parts, args...), " ")
}

// WriteConfig writes body to dir/pam_sms.conf, mode 0640, owner root and group
// pam-sms when that group exists (else root), the way the helper accepts a
// config. It needs root; it returns the file's path.
func WriteConfig(t testing.TB, dir, body string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("testenv: WriteConfig needs root (the config must be owned by root); call RequireRoot first")
	}
	path := filepath.Join(dir, "pam_sms.conf")
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		t.Fatalf("testenv: write config: %v", err)
	}
	gid := 0
	if g, err := user.LookupGroup("pam-sms"); err == nil {
		if n, err := strconv.Atoi(g.Gid); err == nil {
			gid = n
		}
	}
	if err := os.Chown(path, 0, gid); err != nil {
		t.Fatalf("testenv: chown config: %v", err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatalf("testenv: chmod config: %v", err)
	}
	return path
}

// ServiceDir writes a PAM confdir holding ServiceName with stack and an "other"
// service that denies everything (typos fail closed), and returns its path.
func ServiceDir(t testing.TB, stack string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		ServiceName: stack,
		"other":     DenyAllStack,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatalf("testenv: write service %s: %v", name, err)
		}
	}
	return dir
}

// DenyAllStack is a PAM service that refuses every operation.
const DenyAllStack = `auth     required pam_deny.so
account  required pam_deny.so
password required pam_deny.so
session  required pam_deny.so
`

// LoadStack reads docs/pam.d/<name> (the stacks the admin guide shows) and
// makes it loadable from the build tree: on every line whose module is
// pam_sms.so, the token "pam_sms.so" and everything after it on that line are
// replaced by moduleLine (see ModuleLine). Nothing else changes, so the tests
// run exactly the documented stack.
func LoadStack(t testing.TB, name, moduleLine string) string {
	t.Helper()
	path := filepath.Join(RepoRoot(t), "docs", "pam.d", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv: read documented stack: %v", err)
	}
	out, n := SubstituteModule(string(b), moduleLine)
	if n == 0 {
		t.Fatalf("testenv: %s has no pam_sms.so line", path)
	}
	return out
}

// SubstituteModule applies LoadStack's rule to stack and reports how many
// lines it changed. Comment lines are left alone.
func SubstituteModule(stack, moduleLine string) (string, int) {
	lines := strings.SplitAfter(stack, "\n")
	n := 0
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		fields := strings.Fields(line)
		for j, f := range fields {
			// fields[0] is the type, then the control (maybe "[...]" with spaces).
			if j < 2 || f != "pam_sms.so" {
				continue
			}
			at := strings.Index(line, " pam_sms.so")
			if at < 0 {
				at = strings.Index(line, "\tpam_sms.so")
			}
			if at < 0 {
				break
			}
			nl := ""
			if strings.HasSuffix(line, "\n") {
				nl = "\n"
			}
			lines[i] = line[:at+1] + moduleLine + nl
			n++
			break
		}
	}
	return strings.Join(lines, ""), n
}

// Stack returns a minimal stack for a confdir test: pam_unix for the password
// (requisite, so a wrong password stops before any SMS), then pam_sms, then
// pam_permit so that the PAM_IGNORE outcomes pass, and pam_unix account.
func Stack(moduleLine string) string {
	return fmt.Sprintf(`auth     requisite pam_unix.so
auth     required  %s
auth     required  pam_permit.so
account  required  pam_unix.so
`, moduleLine)
}
