package packaging_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The throwaway Debian 12 root for install tests (never the host: dpkg -i
// would rewrite the host's /etc/pam.d/common-*).
const (
	chrootSuite = "bookworm"
	chrootCache = "/var/cache/pam-sms-test"
)

// chrootIncludes are the packages added to the minbase root.
var chrootIncludes = []string{"pamtester"}

// chrootEnv is the whole environment of commands run in the chroot.
var chrootEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}

// chrootTarball returns the cached root of the install tests.
func chrootTarball(t *testing.T) string {
	t.Helper()
	return cachedRoot(t, "minbase", chrootIncludes, "install test")
}

// cachedRoot returns a cached mmdebstrap tarball of a minbase root with
// includes, building it on the first run. The name holds a hash of everything
// that shapes the root (flavor names roots that differ otherwise), so a change
// of the package list builds a new one. It skips the test (what) when the root
// cannot be built (no mmdebstrap, no mirror).
func cachedRoot(t *testing.T, flavor string, includes []string, what string) string {
	t.Helper()
	// The machine's own apt mirror: the tests name none.
	mirror, err := debianMirror(chrootSuite)
	if err != nil {
		t.Skipf("%s skipped: %v", what, err)
	}
	parts := []string{chrootSuite, "minbase"}
	if flavor != "minbase" {
		parts = append(parts, flavor)
	}
	key := sha256.Sum256([]byte(strings.Join(append(append(parts, mirror), includes...), "\n")))
	path := filepath.Join(chrootCache, chrootSuite+"-"+flavor+"-"+hex.EncodeToString(key[:6])+".tar")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(chrootCache, 0o755); err != nil {
		t.Fatal(err)
	}
	// A unique temporary name and a rename: concurrent runs never see half a file.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	defer os.RemoveAll(tmp)
	out, err := output("", "mmdebstrap", "--variant=minbase", "--format=tar", "--include="+strings.Join(includes, ","),
		chrootSuite, tmp, mirror)
	if err != nil {
		t.Skipf("%s skipped: cannot build the Debian 12 root with mmdebstrap: %v\n%s", what, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// chroot is a fresh copy of the cached root with /proc mounted.
type chroot struct {
	dir string
}

// newChroot unpacks a fresh root and mounts /proc; cleanup unmounts it and
// removes the root only once nothing is mounted below it.
func newChroot(t *testing.T) *chroot {
	t.Helper()
	return newChrootFrom(t, chrootTarball(t))
}

// newChrootFrom is newChroot with another cached root, e.g. the Debian 11
// root of the release build (releaseRoot).
func newChrootFrom(t *testing.T, tarball string) *chroot {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "pam-sms-chroot-")
	if err != nil {
		t.Fatal(err)
	}
	c := &chroot{dir: dir}
	t.Cleanup(func() { c.remove(t) })
	run(t, "", "tar", "--numeric-owner", "-xpf", tarball, "-C", dir)
	run(t, "", "mount", "-t", "proc", "proc", filepath.Join(dir, "proc"))
	return c
}

func (c *chroot) remove(t *testing.T) {
	proc := filepath.Join(c.dir, "proc")
	if c.mounted(proc) {
		if out, err := output("", "umount", proc); err != nil {
			t.Errorf("umount %s: %v\n%s", proc, err, out)
		}
	}
	if c.mounted(proc) {
		t.Errorf("%s is still mounted; %s left in place", proc, c.dir)
		return
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("remove chroot: %v", err)
	}
}

// mounted reports whether path is a mount point, from /proc/self/mounts.
func (c *chroot) mounted(path string) bool {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return true // unknown: do not delete anything below it
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == path {
			return true
		}
	}
	return false
}

// cmd returns a command that runs inside the chroot with a clean environment.
func (c *chroot) cmd(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{c.dir, "env", "-i"}, chrootEnv...)
	return exec.CommandContext(ctx, "chroot", append(full, args...)...)
}

// run runs a command in the chroot and fails the test when it fails.
func (c *chroot) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.output(args...)
	if err != nil {
		t.Fatalf("chroot: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// output runs a command in the chroot and returns its output and error.
func (c *chroot) output(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := c.cmd(ctx, args...).CombinedOutput()
	return string(out), err
}

// path is the host path of a path inside the chroot.
func (c *chroot) path(p string) string { return filepath.Join(c.dir, p) }

// read returns a file of the chroot, "" when it does not exist.
func (c *chroot) read(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(c.path(p))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(data)
}

// write creates a file in the chroot.
func (c *chroot) write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(c.path(p), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exists reports whether a path exists in the chroot (without following a
// final symbolic link).
func (c *chroot) exists(p string) bool {
	_, err := os.Lstat(c.path(p))
	return err == nil
}

// checkModes compares `stat -c '%a %U:%G'` inside the chroot with want.
func (c *chroot) checkModes(t *testing.T, want map[string]string) {
	t.Helper()
	for path, w := range want {
		got := strings.TrimSpace(c.run(t, "stat", "-c", "%a %U:%G", path))
		if got != w {
			t.Errorf("%s is %q, want %q", path, got, w)
		}
	}
}

// smsLine is the line pam-auth-update writes for the profile "sms" (it adds
// a trailing blank, which the comparison ignores).
const smsLine = "auth\t[success=ok ignore=ignore default=die]\tpam_sms.so"

// markedLine is a line as `pam-sms enable` adds it; prerm and %preun remove it.
const markedLine = "auth required pam_sms.so # added by pam-sms enable\n"

// testDebInstall installs, enables, uses, removes and purges the .deb in a
// fresh Debian 12 root, then installs and erases the .rpm there with rpm
// --root to run its scriptlets.
func testDebInstall(t *testing.T, deb, rpm string) {
	c := newChroot(t)
	pristine := c.read(t, "/etc/pam.d/common-auth")
	if !strings.Contains(pristine, "pam_permit.so") {
		t.Fatalf("chroot common-auth has no pam_permit line:\n%s", pristine)
	}
	if err := os.WriteFile(c.path("/tmp/pkg.deb"), mustRead(t, deb), 0o644); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"install", func(t *testing.T) {
			out := c.run(t, "dpkg", "-i", "/tmp/pkg.deb")
			t.Logf("dpkg -i:\n%s", out)
			c.checkModes(t, map[string]string{
				"/usr/libexec/pam-sms/pam-sms-helper":       "2755 root:pam-sms",
				"/etc/security/pam_sms.conf":                "640 root:pam-sms",
				"/var/lib/pam-sms":                          "2770 root:pam-sms",
				"/lib/x86_64-linux-gnu/security/pam_sms.so": "644 root:root",
				"/usr/sbin/pam-sms":                         "755 root:root",
				"/usr/share/pam-configs/sms":                "644 root:root",
			})
			if got := c.read(t, "/etc/pam.d/common-auth"); got != pristine {
				t.Errorf("common-auth changed by the install (Default: no):\n%s", got)
			}
		}},
		{"enable", func(t *testing.T) {
			c.run(t, "pam-auth-update", "--enable", "sms")
			checkEnabled(t, c.read(t, "/etc/pam.d/common-auth"))
			if !strings.Contains(c.read(t, "/var/lib/pam/seen"), "sms\n") {
				t.Errorf("/var/lib/pam/seen does not list sms")
			}
		}},
		{"module-loads", func(t *testing.T) {
			c.write(t, "/etc/pam.d/smsload", "auth required pam_sms.so\naccount required pam_permit.so\n")
			out, _ := c.output("pamtester", "-v", "smsload", "root", "authenticate")
			t.Logf("pamtester smsload (shipped config, gateway not configured):\n%s", out)
			for _, bad := range []string{"Module is unknown", "dlopen", "unable to"} {
				if strings.Contains(out, bad) {
					t.Errorf("pam_sms.so did not load by bare name: output contains %q", bad)
				}
			}
		}},
		{"login-with-code", func(t *testing.T) { testLogin(t, c) }},
		{"remove", func(t *testing.T) {
			c.write(t, "/etc/pam.d/smsmarked", "@include common-auth\n"+markedLine)
			out := c.run(t, "dpkg", "-r", "libpam-sms")
			t.Logf("dpkg -r:\n%s", out)
			if got := c.read(t, "/etc/pam.d/common-auth"); got != pristine {
				t.Errorf("common-auth after dpkg -r differs from before the install:\n%s\nwant:\n%s", got, pristine)
			}
			if seen := c.read(t, "/var/lib/pam/seen"); regexp.MustCompile(`(?m)^sms$`).MatchString(seen) {
				t.Errorf("/var/lib/pam/seen still lists sms:\n%s", seen)
			}
			if got := c.read(t, "/etc/pam.d/smsmarked"); got != "@include common-auth\n" {
				t.Errorf("prerm left the line of pam-sms enable: %q", got)
			}
			for _, gone := range []string{"/lib/x86_64-linux-gnu/security/pam_sms.so", "/usr/libexec/pam-sms", "/usr/share/pam-configs/sms"} {
				if c.exists(gone) {
					t.Errorf("%s still present after dpkg -r", gone)
				}
			}
			if !c.exists("/etc/security/pam_sms.conf") {
				t.Errorf("dpkg -r removed the conffile (only purge may)")
			}
		}},
		{"purge", func(t *testing.T) {
			c.run(t, "dpkg", "-P", "libpam-sms")
			for _, gone := range []string{"/etc/security/pam_sms.conf", "/var/lib/pam-sms"} {
				if c.exists(gone) {
					t.Errorf("%s still present after dpkg -P", gone)
				}
			}
			if out, err := c.output("dpkg-query", "-W", "-f=${Status}", "libpam-sms"); err == nil && strings.Contains(out, "installed") && !strings.Contains(out, "not-installed") {
				t.Errorf("libpam-sms still known to dpkg: %q", out)
			}
		}},
		{"rpm-scriptlets", func(t *testing.T) { testRPMScriptlets(t, c, rpm) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) && s.name != "login-with-code" && s.name != "module-loads" {
			return // later steps depend on this one
		}
	}
}

// checkEnabled checks that the pam_sms line sits in the Additional block:
// after pam_unix and pam_permit, so it runs only after a correct password.
func checkEnabled(t *testing.T, commonAuth string) {
	t.Helper()
	lines := strings.Split(commonAuth, "\n")
	index := func(substr string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, "auth") && strings.Contains(l, substr) {
				return i
			}
		}
		return -1
	}
	sms, unix, permit := index("pam_sms.so"), index("pam_unix.so"), index("pam_permit.so")
	if sms < 0 || strings.TrimSpace(lines[sms]) != smsLine {
		t.Fatalf("common-auth has no line %q:\n%s", smsLine, commonAuth)
	}
	if unix < 0 || permit < 0 || sms < unix || sms < permit {
		t.Errorf("pam_sms line (%d) not after pam_unix (%d) and pam_permit (%d):\n%s", sms, unix, permit, commonAuth)
	}
}

// smsGateway is a fake SMS gateway: it records each request's form and
// answers "OK".
type smsGateway struct {
	url  string // base URL, set by startGateway
	mu   sync.Mutex
	sent []url.Values
	got  chan url.Values
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.sent = append(g.sent, r.Form)
	g.mu.Unlock()
	select {
	case g.got <- r.Form:
	default:
	}
	io.WriteString(w, "OK\n")
}

func (g *smsGateway) requests() []url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]url.Values(nil), g.sent...)
}

// loginConfig is the test's pam_sms.conf: local logins are challenged, the
// code goes to a fake gateway on loopback (the chroot shares the host's
// network namespace).
const loginConfig = `[policy]
trusted_networks = []
trust_local = false

[code]
message = "TESTCODE {code}"

[gateway]
url = "%s/send"

[numbers]
root = "+49 172 34567890"
`

// testLogin logs root in through pamtester with the code the fake gateway
// received: the real module, the real helper, the installed paths.
func testLogin(t *testing.T, c *chroot) {
	gw := startGateway(t)
	writeLoginConfig(t, c, gw.url)
	c.write(t, "/etc/pam.d/smslogin", "auth required pam_sms.so\naccount required pam_permit.so\n")
	loginWithCode(t, c, gw, "smslogin")
}

// startGateway starts a fake gateway on loopback (the chroot shares the
// host's network namespace), stopped when the test ends.
func startGateway(t *testing.T) *smsGateway {
	t.Helper()
	gw := &smsGateway{got: make(chan url.Values, 4)}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	gw.url = srv.URL
	return gw
}

// writeLoginConfig writes loginConfig for the gateway at gwURL as the
// package installs the file: 0640 root:pam-sms.
func writeLoginConfig(t *testing.T, c *chroot, gwURL string) {
	t.Helper()
	c.write(t, "/etc/security/pam_sms.conf", fmt.Sprintf(loginConfig, gwURL))
	c.run(t, "chown", "root:pam-sms", "/etc/security/pam_sms.conf")
	c.run(t, "chmod", "0640", "/etc/security/pam_sms.conf")
}

// loginWithCode runs `pamtester service root authenticate`, answers the
// prompt with the code the gateway received and checks that the login
// succeeded after exactly one SMS to root's number.
func loginWithCode(t *testing.T, c *chroot, gw *smsGateway, service string) {
	t.Helper()
	before := len(gw.requests())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.cmd(ctx, "pamtester", "-v", service, "root", "authenticate")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var exitErr error
	select {
	case form := <-gw.got:
		code := regexp.MustCompile(`^TESTCODE ([0-9]+)$`).FindStringSubmatch(form.Get("text"))
		if code == nil {
			t.Errorf("gateway got text %q, want \"TESTCODE <digits>\"", form.Get("text"))
			stdin.Close()
		} else {
			// pamtester reads the answer from stdin after its prompt.
			io.WriteString(stdin, code[1]+"\n")
			stdin.Close()
		}
		exitErr = <-done
	case exitErr = <-done:
		t.Errorf("pamtester ended before any SMS was sent (module or helper not functional?)")
	case <-ctx.Done():
		cancel()
		exitErr = <-done
		t.Errorf("no SMS within 2 minutes")
	}
	t.Logf("pamtester %s root authenticate:\n%s", service, out.String())
	if exitErr != nil || !strings.Contains(out.String(), "successfully authenticated") {
		t.Errorf("login with the right code failed (%v):\n%s", exitErr, out.String())
	}
	reqs := gw.requests()[before:]
	if len(reqs) != 1 {
		t.Fatalf("gateway got %d requests for this login, want 1", len(reqs))
	}
	if got := reqs[0].Get("to"); got != "004917234567890" {
		t.Errorf("gateway got recipient %q, want 004917234567890 (number_format \"00\")", got)
	}
	if reqs[0].Has("pw") {
		t.Errorf("gateway got a password field, none is configured")
	}
}

// testRPMScriptlets installs and erases the .rpm in the chroot with the
// host's rpm --root (scriptlets run chrooted, with the chroot's /bin/sh):
// %pre creates the group before unpack, %preun removes the lines of
// `pam-sms enable`, %postun removes the state.
func testRPMScriptlets(t *testing.T, c *chroot, rpm string) {
	if out, err := c.output("groupdel", "pam-sms"); err != nil {
		t.Fatalf("groupdel pam-sms: %v\n%s", err, out)
	}
	if err := os.WriteFile(c.path("/tmp/pkg.rpm"), mustRead(t, rpm), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "", "rpm", "--root", c.dir, "--initdb")
	// Debian's rpm warns that alien should be used; --force-debian says we know.
	out := run(t, "", "rpm", "--root", c.dir, "--force-debian", "-ivh", "--nodeps", c.path("/tmp/pkg.rpm"))
	t.Logf("rpm -ivh:\n%s", out)
	c.checkModes(t, map[string]string{
		"/usr/libexec/pam-sms/pam-sms-helper": "2755 root:pam-sms",
		"/etc/security/pam_sms.conf":          "640 root:pam-sms",
		"/var/lib/pam-sms":                    "2770 root:pam-sms",
		"/usr/lib64/security/pam_sms.so":      "755 root:root",
	})
	c.write(t, "/etc/pam.d/smsmarked", "@include common-auth\n"+markedLine)
	out = run(t, "", "rpm", "--root", c.dir, "--force-debian", "-e", "pam_sms")
	t.Logf("rpm -e:\n%s", out)
	if got := c.read(t, "/etc/pam.d/smsmarked"); got != "@include common-auth\n" {
		t.Errorf("%%preun left the line of pam-sms enable: %q", got)
	}
	for _, gone := range []string{"/usr/lib64/security/pam_sms.so", "/usr/libexec/pam-sms", "/var/lib/pam-sms", "/usr/share/authselect/vendor/pam-sms"} {
		if c.exists(gone) {
			t.Errorf("%s still present after rpm -e", gone)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
