package packaging_test

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// shippedELFs are the binaries both packages install.
var shippedELFs = []string{"pam_sms.so", "pam-sms-helper", "pam-sms"}

// glibcVersion is a GLIBC_x.y symbol version.
type glibcVersion struct{ major, minor int }

func (v glibcVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v glibcVersion) less(w glibcVersion) bool {
	return v.major < w.major || v.major == w.major && v.minor < w.minor
}

var glibcVersionName = regexp.MustCompile(`^GLIBC_([0-9]+)\.([0-9]+)(?:\.[0-9]+)?$`)

func parseGlibcVersion(s string) (glibcVersion, bool) {
	m := glibcVersionName.FindStringSubmatch(s)
	if m == nil {
		return glibcVersion{}, false // GLIBC_PRIVATE, other libraries' versions
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return glibcVersion{major, minor}, true
}

// glibcNeeds reads the GLIBC_ versions an ELF file requires: its version
// needs (SHT_GNU_verneed), which the dynamic linker checks before running
// anything and refuses with "version `GLIBC_2.34' not found". For each
// version it names the imported symbols bound to it.
func glibcNeeds(path string) (map[glibcVersion][]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	defer f.Close()
	needs, err := f.DynamicVersionNeeds()
	if err != nil {
		return nil, fmt.Errorf("version needs of %s: %w", path, err)
	}
	out := map[glibcVersion][]string{}
	for _, lib := range needs {
		for _, dep := range lib.Needs {
			if v, ok := parseGlibcVersion(dep.Dep); ok {
				if _, seen := out[v]; !seen {
					out[v] = nil
				}
			}
		}
	}
	syms, err := f.ImportedSymbols()
	if err != nil {
		return nil, fmt.Errorf("imported symbols of %s: %w", path, err)
	}
	for _, s := range syms {
		if v, ok := parseGlibcVersion(s.Version); ok {
			if _, needed := out[v]; !needed {
				return nil, fmt.Errorf("%s: symbol %s@%s without a version need", path, s.Name, s.Version)
			}
			out[v] = append(out[v], s.Name)
		}
	}
	return out, nil
}

// maxGlibc returns the newest version in needs.
func maxGlibc(needs map[glibcVersion][]string) (glibcVersion, bool) {
	var max glibcVersion
	found := false
	for v := range needs {
		if !found || max.less(v) {
			max, found = v, true
		}
	}
	return max, found
}

// glibcDepends returns the glibc floor nfpm.yaml declares for the .deb
// ("libc6 (>= X)") and the .rpm ("glibc >= X").
func glibcDepends(t *testing.T) (deb, rpm glibcVersion) {
	t.Helper()
	nfpm := readRepoFile(t, "packaging/nfpm.yaml")
	for _, d := range []struct {
		re  *regexp.Regexp
		dst *glibcVersion
	}{
		{regexp.MustCompile(`(?m)^\s+- libc6 \(>= ([0-9.]+)\)$`), &deb},
		{regexp.MustCompile(`(?m)^\s+- glibc >= ([0-9.]+)$`), &rpm},
	} {
		m := d.re.FindStringSubmatch(nfpm)
		if m == nil {
			t.Fatalf("nfpm.yaml: no dependency matching %s", d.re)
		}
		v, ok := parseGlibcVersion("GLIBC_" + m[1])
		if !ok {
			t.Fatalf("nfpm.yaml: glibc version %q", m[1])
		}
		*d.dst = v
	}
	return deb, rpm
}

// releaseGlibcMax is the oldest glibc the release binaries must load with:
// Debian 11's and Ubuntu 20.04's 2.31, the glibc of mk/release.sh's root.
// PAM_SMS_GLIBC_MAX sets another (e.g. for a build root of one's own).
const releaseGlibcMax = "2.31"

// glibcLimit is releaseGlibcMax or PAM_SMS_GLIBC_MAX.
func glibcLimit(t *testing.T) glibcVersion {
	t.Helper()
	limit := releaseGlibcMax
	if env := os.Getenv("PAM_SMS_GLIBC_MAX"); env != "" {
		limit = env
	}
	lv, ok := parseGlibcVersion("GLIBC_" + limit)
	if !ok {
		t.Fatalf("glibc limit %q is not a glibc version like 2.31", limit)
	}
	return lv
}

// glibcFloor returns the newest GLIBC_ version any shipped binary in dir
// needs, with a line per binary naming its newest version and the symbols
// bound to it, and an error when a binary needs more than limit (or none
// at all: not a dynamically linked glibc binary).
func glibcFloor(dir string, limit glibcVersion) (glibcVersion, []string, error) {
	var overall glibcVersion
	var lines []string
	var errs []error
	for _, name := range shippedELFs {
		needs, err := glibcNeeds(filepath.Join(dir, name))
		if err != nil {
			return overall, lines, err
		}
		max, ok := maxGlibc(needs)
		if !ok {
			errs = append(errs, fmt.Errorf("%s requires no GLIBC_ version: not a dynamically linked glibc binary", name))
			continue
		}
		syms := slices.Clone(needs[max])
		slices.Sort(syms)
		lines = append(lines, fmt.Sprintf("%s needs glibc %s (%s)", name, max, strings.Join(syms, ", ")))
		if limit.less(max) {
			errs = append(errs, fmt.Errorf("%s needs GLIBC_%s (%s), above %s", name, max, strings.Join(syms, ", "), limit))
		}
		if overall.less(max) {
			overall = max
		}
	}
	return overall, lines, errors.Join(errs...)
}

// packagedELFs unpacks the shipped binaries of a package into a directory of
// their own (file names as in shippedELFs): deb with dpkg-deb -x, rpm with
// rpm2cpio and cpio (without its absolute names, which cpio would write to
// the host's /).
func packagedELFs(t *testing.T, pkg string) string {
	t.Helper()
	tree := t.TempDir()
	pamDir := "lib/x86_64-linux-gnu/security"
	if strings.HasSuffix(pkg, ".rpm") {
		pamDir = "usr/lib64/security"
		if out, err := outputEnv(tree, []string{"PKG=" + pkg}, "sh", "-c",
			`rpm2cpio "$PKG" | cpio -idm --quiet --no-absolute-filenames`); err != nil {
			t.Fatalf("unpacking %s: %v\n%s", filepath.Base(pkg), err, out)
		}
	} else {
		run(t, "", "dpkg-deb", "-x", pkg, tree)
	}
	flat := t.TempDir()
	for name, p := range map[string]string{
		"pam_sms.so":     filepath.Join(pamDir, "pam_sms.so"),
		"pam-sms-helper": "usr/libexec/pam-sms/pam-sms-helper",
		"pam-sms":        "usr/sbin/pam-sms",
	} {
		if err := os.Rename(filepath.Join(tree, p), filepath.Join(flat, name)); err != nil {
			t.Fatalf("%s: %v", filepath.Base(pkg), err)
		}
	}
	return flat
}

// TestGlibcFloor reads the GLIBC_ versions every binary in the packages of
// `make package` requires (unpacked from the .deb and the .rpm: the release
// build, mk/release.sh, in a Debian 11 root): its version needs, which the
// dynamic linker checks before running anything and refuses with "version
// `GLIBC_2.34' not found". None may be above 2.31 (Debian 11, Ubuntu
// 20.04). Built on Debian 12 (glibc 2.36), __libc_start_main,
// pthread_create, dlsym and res_search bind to GLIBC_2.34, the release that
// merged libpthread, libdl and libresolv into libc, and the module's
// closefrom is new in 2.34 (pam_sms.c has a fallback for older glibc).
//
// The packages declare the newest version found as their glibc dependency
// (.deb libc6 (>= X), .rpm glibc >= X): a newer one would refuse systems the
// binaries run on, an older one install where they cannot load.
func TestGlibcFloor(t *testing.T) {
	debPkg, rpmPkg := releasePackages(t)
	deb, rpm := glibcDepends(t)
	for _, pkg := range []string{debPkg, rpmPkg} {
		t.Run(filepath.Ext(pkg)[1:], func(t *testing.T) {
			overall, lines, err := glibcFloor(packagedELFs(t, pkg), glibcLimit(t))
			for _, l := range lines {
				t.Log(l)
			}
			if err != nil {
				t.Fatalf("%s: %v\nmk/release.sh must build in a root with glibc %s or older", filepath.Base(pkg), err, glibcLimit(t))
			}
			t.Logf("the binaries of %s need glibc %s", filepath.Base(pkg), overall)
			if deb != overall || rpm != overall {
				t.Errorf("the release binaries need glibc %s, but nfpm.yaml declares libc6 (>= %s) and glibc >= %s: "+
					"set both dependencies to %s (the build root's glibc decides what the binaries need)",
					overall, deb, rpm, overall)
			}
		})
	}
}

// TestGlibcFloorCatchesHostBuild runs the check of TestGlibcFloor on the
// development build (`make build`, on this Debian 12 host, glibc 2.36):
// it must fail and name GLIBC_2.34, so the check is known to catch a
// binary that Debian 11 would refuse to load.
func TestGlibcFloorCatchesHostBuild(t *testing.T) {
	out, err := output("", "getconf", "GNU_LIBC_VERSION")
	host, ok := parseGlibcVersion("GLIBC_" + strings.TrimPrefix(strings.TrimSpace(out), "glibc "))
	if err != nil || !ok {
		t.Skipf("host glibc unknown (%v): %q", err, out)
	}
	if !(glibcVersion{2, 33}).less(host) {
		t.Skipf("host glibc %s: its builds need nothing above 2.31 to catch", host)
	}
	bin := snapshotBinaries(t, repoRoot(t))
	overall, lines, err := glibcFloor(bin, glibcVersion{2, 31})
	for _, l := range lines {
		t.Log(l)
	}
	if err == nil {
		t.Fatalf("the host build (glibc %s) passes the 2.31 check, needing only %s: the reader misses version needs", host, overall)
	}
	t.Logf("as expected: %v", err)
	if overall != (glibcVersion{2, 34}) || !strings.Contains(err.Error(), "needs GLIBC_2.34") {
		t.Errorf("host build needs %s, error %q; want GLIBC_2.34 (libc merged libpthread, libdl; closefrom)", overall, err)
	}
}

// TestGlibcNeedsMatchObjdump checks the reader against objdump -T: the same
// GLIBC_ versions appear in both.
func TestGlibcNeedsMatchObjdump(t *testing.T) {
	if _, err := exec.LookPath("objdump"); err != nil {
		t.Skip("objdump (binutils) is not installed")
	}
	bin := snapshotBinaries(t, repoRoot(t))
	verRe := regexp.MustCompile(`\(?(GLIBC_[0-9.]+)\)?\s`)
	for _, name := range shippedELFs {
		path := filepath.Join(bin, name)
		needs, err := glibcNeeds(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for v := range needs {
			got = append(got, v.String())
		}
		out := run(t, "", "objdump", "-T", path)
		var want []string
		for _, m := range verRe.FindAllStringSubmatch(out, -1) {
			v, ok := parseGlibcVersion(m[1])
			if ok && !slices.Contains(want, v.String()) {
				want = append(want, v.String())
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: reader found GLIBC_ %q, objdump -T %q", name, got, want)
		}
	}
}
