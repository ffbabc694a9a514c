package packaging_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The release build (`make package`: mk/release.sh builds the binaries in
// the cached Debian 11 root, nfpm packages them) is made once per test run
// and shared by the tests that need it; TestMain removes it.
var release struct {
	once     sync.Once
	dir      string // everything below: removed by TestMain
	bin      string // the three binaries (RELEASE_BIN)
	deb, rpm string // the packages
	root     string // the cached root tarball
	skip     string // why the root cannot be built
	err      string // the failed build's output
}

func TestMain(m *testing.M) {
	code := m.Run()
	if release.dir != "" {
		os.RemoveAll(release.dir)
	}
	os.Exit(code)
}

// buildRelease runs mk/release.sh --root once for the cached root (a skip
// when it cannot be built: no mmdebstrap, no mirror), then `make package`
// with its binaries and packages in a directory of the test run.
func buildRelease(t *testing.T) {
	t.Helper()
	requireRoot(t)
	ensureDebs(t, "mmdebstrap", "util-linux", "rpm2cpio", "cpio")
	root := repoRoot(t)
	release.once.Do(func() {
		start := time.Now()
		out, err := output(root, "sh", "mk/release.sh", "--root")
		if err != nil {
			release.skip = "cannot build the Debian 11 root: " + err.Error() + "\n" + out
			return
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		release.root = lines[len(lines)-1]
		t.Logf("Debian 11 root %s: %s", filepath.Base(release.root), time.Since(start).Round(time.Second))
		dir, err := os.MkdirTemp("", "pam-sms-release-")
		if err != nil {
			release.err = err.Error()
			return
		}
		release.dir = dir
		bin, pkg := filepath.Join(dir, "bin"), filepath.Join(dir, "pkg")
		if err := os.Mkdir(pkg, 0o755); err != nil {
			release.err = err.Error()
			return
		}
		info := readPkgInfo(t, root)
		start = time.Now()
		out, err = output(root, "make", "-s", "--no-print-directory", "package", "RELEASE_BIN="+bin, "PKG_OUT="+pkg)
		if err != nil {
			release.err = "make package: " + err.Error() + "\n" + out
			return
		}
		t.Logf("make package: %s", time.Since(start).Round(time.Second))
		release.bin, release.deb, release.rpm = bin, filepath.Join(pkg, info.Deb), filepath.Join(pkg, info.RPM)
		for _, f := range []string{release.deb, release.rpm} {
			if _, err := os.Stat(f); err != nil {
				release.err = "make package: " + err.Error()
			}
		}
	})
	if release.skip != "" {
		t.Skip("release build skipped: " + release.skip)
	}
	if release.err != "" {
		t.Fatal(release.err)
	}
}

// releaseBinaries returns the directory of the release binaries.
func releaseBinaries(t *testing.T) string {
	t.Helper()
	buildRelease(t)
	return release.bin
}

// releasePackages returns the .deb and .rpm of `make package`.
func releasePackages(t *testing.T) (deb, rpm string) {
	t.Helper()
	buildRelease(t)
	return release.deb, release.rpm
}

// releaseRoot returns the cached Debian 11 root the release build runs in:
// the install tests use a copy of it as their Debian 11 machine (it has
// pamtester, and a compiler they do not use), so a cold run builds one root.
func releaseRoot(t *testing.T) string {
	t.Helper()
	buildRelease(t)
	return release.root
}

// releaseSuites are the roots the release packages are installed into.
var releaseSuites = []struct {
	name    string
	glibc   string // what `getconf GNU_LIBC_VERSION` prints in the root
	tarball func(*testing.T) string
}{
	{"debian11-bullseye", "glibc 2.31", releaseRoot},
	{"debian12-bookworm", "glibc 2.36", chrootTarball},
}

// TestReleaseInstall installs the .deb of the release build (`make package`)
// into a Debian 11 and a Debian 12 root and logs root in with the SMS code
// the fake gateway received: the module loads and the setgid helper runs
// with each distribution's glibc and libpam, from the installed paths.
func TestReleaseInstall(t *testing.T) {
	deb, _ := releasePackages(t)
	for _, s := range releaseSuites {
		t.Run(s.name, func(t *testing.T) {
			c := newChrootFrom(t, s.tarball(t))
			if got := strings.TrimSpace(c.run(t, "getconf", "GNU_LIBC_VERSION")); got != s.glibc {
				t.Fatalf("root has %s, want %s", got, s.glibc)
			}
			if err := os.WriteFile(c.path("/tmp/pkg.deb"), mustRead(t, deb), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("dpkg -i:\n%s", c.run(t, "dpkg", "-i", "/tmp/pkg.deb"))
			c.checkModes(t, map[string]string{
				"/usr/libexec/pam-sms/pam-sms-helper":       "2755 root:pam-sms",
				"/etc/security/pam_sms.conf":                "640 root:pam-sms",
				"/var/lib/pam-sms":                          "2770 root:pam-sms",
				"/lib/x86_64-linux-gnu/security/pam_sms.so": "644 root:root",
			})
			testLogin(t, c)
			// The admin tool runs too (cgo: os/user through NSS), on the
			// configuration of the login.
			out, err := c.output("pam-sms", "check")
			t.Logf("pam-sms check:\n%s", out)
			if err != nil {
				t.Errorf("pam-sms check: %v", err)
			}
		})
	}
}
