package packaging_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A fresh Debian 12 machine as the top of the README describes it: a minimal
// system plus the three packages the README has the reader install before
// cloning (a minimal Debian has no make or git). No Go at all. systemd is
// there as on any installed Debian 12 (not running: the tests that need its
// tools, systemd-analyze and the like, only run them).
var freshIncludes = []string{"git", "make", "ca-certificates", "systemd"}

// freshSource is where the clone lands in the fresh root (root's home:
// every directory above it root-owned, as the module wants for its helper).
const freshSource = "/root/pam_sms"

// freshTimeout bounds each step in the fresh root. The first run downloads
// about 100 MB of Debian packages and the Go toolchain (about 70 MB) and
// builds the standard library: a few minutes on a normal machine.
const freshTimeout = 30 * time.Minute

// Caches kept between runs under chrootCache (bind-mounted into the root):
// the Go module cache (go.mod's modules and the toolchain the go command
// fetches), apt's downloaded .deb files, and chrootCache itself at its own
// path, so that the nested make test's chroot tests take the Debian roots
// the host built (and leave the ones they build for the next run). apt still
// resolves and installs everything from the mirror's indices on every run,
// and the Go build cache always starts empty. PAM_SMS_FRESH_NOCACHE=1 runs
// without any of them, as a machine that never ran this.
var freshCaches = []struct{ host, inRoot string }{
	{"fresh-gomodcache", "/root/go/pkg/mod"},
	{"fresh-apt-archives", "/var/cache/apt/archives"},
	{".", chrootCache},
}

// freshNestedEnv is set for the make test run inside the fresh root: it
// skips TestFreshDebian there (no root inside the root).
const freshNestedEnv = "PAM_SMS_FRESH_NESTED"

// TestFreshDebian runs the README's two commands in a clean Debian 12 root
// without Go, as root with no terminal, from a clone of the committed tree.
// make demo must bring Debian's golang from bookworm-backports (Debian 12's
// own golang is 1.19), let it fetch go.mod's toolchain through the Go module
// proxy, build, and log in with an SMS code, installing none of the
// test-only packages. Then `make deps` must install everything the tests
// need, and `make test` must pass in the root: every package's tests, with
// each package having run some (fresh_maketest_test.go).
//
// The nested make test runs with PAM_SMS_FRESH_NESTED=1, which skips only
// this test there: it would build the root inside itself again, and the
// outer run proves it. The other chroot tests run nested as on any machine
// (the host's /var/cache/pam-sms-test is bound into the root, so they take
// the Debian roots the outer run built, and build the missing ones with
// mmdebstrap; PAM_SMS_FRESH_NOCACHE=1 leaves it and the other caches out).
func TestFreshDebian(t *testing.T) {
	requireRoot(t)
	if os.Getenv(freshNestedEnv) != "" {
		t.Skipf("%s is set: this is the make test that TestFreshDebian runs inside its fresh root, which it proves by running", freshNestedEnv)
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skip("fresh machine test skipped: no mmdebstrap (make deps installs it)")
	}
	root := repoRoot(t)
	want := goModVersion(t, root)
	c := newFreshChroot(t)

	// Nothing of Go in the fresh root.
	if out, err := c.output("sh", "-c", "command -v go"); err == nil {
		t.Fatalf("the fresh root has a go: %s", out)
	}
	for _, glob := range []string{"/usr/local/go", "/usr/lib/go", "/usr/lib/go-*"} {
		if m, _ := filepath.Glob(c.path(glob)); len(m) > 0 {
			t.Fatalf("the fresh root has %v", m)
		}
	}
	copySource(t, root, c.path(freshSource))

	start := time.Now()
	out := c.make(t, "demo")
	t.Logf("make demo: %s", time.Since(start).Round(time.Second))
	t.Logf("make demo output:\n%s", out)
	if !strings.Contains(out, "PAM result: success") {
		t.Fatal("make demo did not log in")
	}

	// Debian's golang came from backports, added from the root's own mirror.
	golang := c.run(t, "dpkg-query", "-W", "-f=${Package} ${Version}\n", "golang-1.*-go")
	t.Logf("installed: %s", strings.TrimSpace(golang))
	if !regexp.MustCompile(`(?m)^golang-1\.(2[1-9]|[3-9][0-9])-go \S*~bpo12`).MatchString(golang) {
		t.Errorf("no golang >= 1.21 from bookworm-backports installed:\n%s", golang)
	}
	mirror, _ := debianMirror(chrootSuite)
	if list := c.read(t, "/etc/apt/sources.list.d/bookworm-backports.list"); !strings.Contains(list, mirror+" bookworm-backports main") {
		t.Errorf("bookworm-backports.list does not use the root's mirror:\n%s", list)
	}
	// The go command fetched go.mod's toolchain as a module.
	toolchain := fmt.Sprintf("/root/go/pkg/mod/golang.org/toolchain@v0.0.1-go%s.linux-%s", want, runtime.GOARCH)
	if !c.exists(toolchain) {
		t.Errorf("no %s in the module cache", toolchain)
	}
	// make demo installs only what the demo needs.
	for _, p := range testOnlyDebs {
		if out, err := c.output("dpkg-query", "-W", "-f=${Status}", p); err == nil && strings.Contains(out, "install ok installed") {
			t.Errorf("make demo installed %s, which only the tests need", p)
		}
	}

	start = time.Now()
	c.make(t, "build")
	t.Logf("make build: %s", time.Since(start).Round(time.Second))
	for _, f := range []string{"pam_sms.so", "pam-sms-helper", "pam-sms"} {
		if !c.exists(filepath.Join(freshSource, "build", f)) {
			t.Errorf("make build left no build/%s", f)
		}
	}
	start = time.Now()
	out = c.inSource(t, "sh mk/go.sh test -count=1 ./conf/")
	t.Logf("go test ./conf/: %s\n%s", time.Since(start).Round(time.Second), out)
	if !regexp.MustCompile(`(?m)^ok\s+\S+/conf\b`).MatchString(out) {
		t.Errorf("go test ./conf/ did not pass:\n%s", out)
	}

	// The set-up half of `make test`: every package the tests need.
	start = time.Now()
	c.make(t, "deps")
	t.Logf("make deps: %s", time.Since(start).Round(time.Second))
	for _, p := range testOnlyDebs {
		if out, err := c.output("dpkg-query", "-W", "-f=${Status}", p); err != nil || !strings.Contains(out, "install ok installed") {
			t.Errorf("make deps did not install %s", p)
		}
	}
	if t.Failed() {
		return
	}

	// The whole `make test`, as the README has it run.
	c.makeTest(t)
}

// testOnlyDebs are packages only the tests need: make deps installs them,
// make demo must not.
var testOnlyDebs = []string{"lintian", "rpm", "mmdebstrap", "openssh-server", "tmux", "pamtester"}

// goModVersion is go.mod's `go` line, e.g. 1.26.8.
func goModVersion(t *testing.T, root string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(mustRead(t, filepath.Join(root, "go.mod"))))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return m[1]
}

// freshTarball returns the cached root for the fresh machine (its own key,
// next to the install tests' root).
func freshTarball(t *testing.T) string {
	t.Helper()
	return cachedRoot(t, "fresh", freshIncludes, "fresh machine test")
}

// freshChroot is a chroot with /proc, the host's resolver configuration
// (a chroot shares the host's network) and the caches mounted.
type freshChroot struct {
	*chroot
	mounts []string // host paths, in mount order
	lock   *os.File // freshCacheLock while this root uses the caches
}

func newFreshChroot(t *testing.T) *freshChroot {
	t.Helper()
	start := time.Now()
	tarball := freshTarball(t)
	t.Logf("fresh root %s: %s", filepath.Base(tarball), time.Since(start).Round(time.Second))
	dir, err := os.MkdirTemp("/var/tmp", "pam-sms-fresh-")
	if err != nil {
		t.Fatal(err)
	}
	c := &freshChroot{chroot: &chroot{dir: dir}}
	t.Cleanup(func() {
		for _, p := range c.remove() {
			t.Error(p)
		}
	})
	// The root is a mount point of its own, as / is on a machine: unshare
	// --mount (the e2e tests' private namespaces) makes / private, which
	// only a mount's root can be.
	c.mount(t, dir, "--bind", dir)
	run(t, "", "tar", "--numeric-owner", "-xpf", tarball, "-C", dir)
	c.mount(t, c.path("/proc"), "-t", "proc", "proc")
	c.mount(t, c.path("/sys"), "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs")
	// A private devpts instance: apt and dpkg open pseudo-terminals, and the
	// su, login and sudo tests run on one (/dev/ptmx opens this instance).
	c.mount(t, c.path("/dev/pts"), "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts")
	c.mount(t, c.path("/dev/shm"), "-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "shm")
	c.makeDevices(t)
	// No /dev/log, as on a machine without a syslog daemon: the tests that
	// read the helper's syslog lines listen where log/syslog looks next.
	if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		c.write(t, "/etc/resolv.conf", string(data))
	}
	c.trustLocalCAs(t)
	// No service starts in the root (openssh-server's would listen on the
	// host's port 22: a chroot shares the host's network).
	if err := os.WriteFile(c.path("/usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PAM_SMS_FRESH_NOCACHE") == "" && c.lockCaches(t) {
		for _, m := range freshCaches {
			host := filepath.Join(chrootCache, m.host)
			if err := os.MkdirAll(host, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(c.path(m.inRoot), 0o755); err != nil {
				t.Fatal(err)
			}
			c.mount(t, c.path(m.inRoot), "--bind", host)
		}
		// apt downloads into partial/ first; the bind hid the root's own.
		if err := os.MkdirAll(c.path("/var/cache/apt/archives/partial"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// freshCacheLock is flocked by the run whose root has the caches: two roots
// sharing apt's archives would trip over its lock there.
var freshCacheLock = filepath.Join(chrootCache, "fresh.lock")

// lockCaches takes freshCacheLock without waiting; when another run holds
// it, this one goes without the caches (as PAM_SMS_FRESH_NOCACHE=1).
func (c *freshChroot) lockCaches(t *testing.T) bool {
	t.Helper()
	if err := os.MkdirAll(chrootCache, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(freshCacheLock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		t.Logf("another fresh-machine run holds %s (%v): this one runs without the caches", freshCacheLock, err)
		return false
	}
	c.lock = f
	return true
}

// mount runs mount(8) with args and the target last, and remembers the target.
func (c *freshChroot) mount(t *testing.T, target string, args ...string) {
	t.Helper()
	run(t, "", "mount", append(args, target)...)
	c.mounts = append(c.mounts, target)
}

// trustLocalCAs gives the root the certificate authorities the host added
// locally (a TLS-inspecting proxy's, for instance): the root shares the
// host's network, and the go command's HTTPS requests must pass there as they
// do on the host. A machine without such a proxy has none to copy.
func (c *freshChroot) trustLocalCAs(t *testing.T) {
	t.Helper()
	const dir = "/usr/local/share/ca-certificates"
	crts, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
	if len(crts) == 0 {
		return
	}
	if err := os.MkdirAll(c.path(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, crt := range crts {
		c.write(t, filepath.Join(dir, filepath.Base(crt)), string(mustRead(t, crt)))
	}
	c.run(t, "update-ca-certificates")
}

// makeDevices creates the device nodes a build and apt use when the root
// lacks them (mmdebstrap's tarball normally has them).
func (c *freshChroot) makeDevices(t *testing.T) {
	t.Helper()
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		p := c.path("/dev/" + d.name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			continue
		}
		os.Remove(p)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, int(d.major<<8|d.minor)); err != nil {
			t.Fatalf("mknod %s: %v", p, err)
		}
	}
}

// remove ends every process left in the root, unmounts everything mounted
// at or below it (its own mounts, and any a nested test left, which is a
// problem), lazily as a last resort, and deletes the root only when nothing
// is mounted below it any more (a bind-mounted cache would go too). It
// returns the problems it met.
func (c *freshChroot) remove() []string {
	var problems []string
	if left := killInRoot(c.dir, 10*time.Second); len(left) > 0 {
		problems = append(problems, fmt.Sprintf("processes in the fresh root survived SIGKILL: %v", left))
	}
	// The last mounted first, so that a nested test's mounts go before the
	// root's own that they sit on.
	for _, m := range slices.Backward(c.mountsBelow()) {
		if !slices.Contains(c.mounts, m) {
			problems = append(problems, "left mounted in the fresh root: "+m)
		}
		if out, err := output("", "umount", m); err != nil {
			problems = append(problems, fmt.Sprintf("umount %s: %v\n%s", m, err, out))
			if out, err := output("", "umount", "--lazy", m); err != nil {
				problems = append(problems, fmt.Sprintf("umount --lazy %s: %v\n%s", m, err, out))
			}
		}
	}
	if left := c.mountsBelow(); len(left) > 0 {
		return append(problems, fmt.Sprintf("still mounted: %v; %s left in place", left, c.dir))
	}
	if err := os.RemoveAll(c.dir); err != nil {
		problems = append(problems, fmt.Sprintf("remove fresh root: %v", err))
	}
	if c.lock != nil {
		c.lock.Close() // the caches are free once nothing runs in the root
	}
	return problems
}

// mountsBelow lists the mount points at and below the root in mount order,
// from /proc/self/mounts.
func (c *freshChroot) mountsBelow() []string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return []string{"(cannot read /proc/self/mounts)"}
	}
	var below []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == c.dir || strings.HasPrefix(f[1], c.dir+"/")) {
			below = append(below, f[1])
		}
	}
	return below
}

// make runs `make TARGET` in the source tree as root with standard input
// not a terminal, and fails the test when it fails.
func (c *freshChroot) make(t *testing.T, target string) string {
	t.Helper()
	return c.inSource(t, "make "+target)
}

// inSource runs a shell command in the source tree (shell) and fails the
// test when it fails.
func (c *freshChroot) inSource(t *testing.T, script string) string {
	t.Helper()
	out, err := c.shell(stepTimeout(t, freshTimeout), nil, script)
	if err != nil {
		t.Fatalf("in the fresh root: %s: %v\n%s", script, err, out)
	}
	return out
}

// stepTimeout is d, or less so that a step ends (and the cleanup unmounts
// and removes the root) before go test's -timeout panics, which skips every
// cleanup.
func stepTimeout(t *testing.T, d time.Duration) time.Duration {
	if deadline, ok := t.Deadline(); ok {
		if left := time.Until(deadline) - 2*time.Minute; left < d {
			return max(left, time.Second)
		}
	}
	return d
}

// shell runs a shell command in the source tree, in a login-like
// environment (HOME=/root) plus env, in its own process group, killed as a
// whole after timeout; it returns the combined output.
func (c *freshChroot) shell(timeout time.Duration, env []string, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{c.dir, "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8"}
	args = append(append(args, env...), "sh", "-c", "cd "+freshSource+" && "+script)
	cmd := exec.CommandContext(ctx, "chroot", args...)
	cmd.Stdin = nil // /dev/null: the demo answers by itself
	var buf strings.Builder
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return buf.String(), err
}

// copySource clones the repository into dst, checking out HEAD: what the
// README's clone gives a new administrator (make test's gofmt step lists the
// files with git, and make package's version is git describe's).
// Uncommitted changes are not part of it: commit them to test them here.
func copySource(t *testing.T, root, dst string) {
	t.Helper()
	head := strings.TrimSpace(run(t, root, "git", "rev-parse", "HEAD"))
	run(t, "", "git", "clone", "--quiet", "--no-hardlinks", "--no-checkout", root, dst)
	run(t, dst, "git", "checkout", "--quiet", "--detach", head)
}
