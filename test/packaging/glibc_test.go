package packaging_test

import (
	"debug/elf"
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

// TestGlibcFloor reads the GLIBC_ versions every shipped binary requires
// and reports the newest. The packages declare that version as their glibc
// dependency (.deb libc6 (>= X), .rpm glibc >= X), so the two must be the
// same: a newer requirement would install where the binaries cannot load,
// an older one would refuse systems they run on. The requirement comes from
// the glibc of the build root: today's Debian 12 builds (glibc 2.36) bind
// __libc_start_main, pthread_create, dlsym and res_search to GLIBC_2.34,
// the release that merged libpthread, libdl and libresolv into libc, and
// the module calls closefrom, new in 2.34. Building in an older root lowers
// the requirement (the module then needs a closefrom fallback), and the
// dependencies must follow.
//
// With PAM_SMS_GLIBC_MAX set (a release build configured for an older root,
// e.g. 2.31 for Debian 11 and Ubuntu 20.04), the test also fails when any
// binary needs more than that.
func TestGlibcFloor(t *testing.T) {
	root := repoRoot(t)
	bin := snapshotBinaries(t, root)
	var overall glibcVersion
	for _, name := range shippedELFs {
		needs, err := glibcNeeds(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		max, ok := maxGlibc(needs)
		if !ok {
			t.Errorf("%s requires no GLIBC_ version: not a dynamically linked glibc binary", name)
			continue
		}
		syms := slices.Clone(needs[max])
		slices.Sort(syms)
		t.Logf("%s needs glibc %s (%s)", name, max, strings.Join(syms, ", "))
		if overall.less(max) {
			overall = max
		}
	}
	t.Logf("the shipped binaries need glibc %s", overall)

	deb, rpm := glibcDepends(t)
	if deb != overall || rpm != overall {
		t.Errorf("the binaries need glibc %s, but nfpm.yaml declares libc6 (>= %s) and glibc >= %s: "+
			"set both dependencies to %s (the build root's glibc decides what the binaries need)",
			overall, deb, rpm, overall)
	}
	if limit := os.Getenv("PAM_SMS_GLIBC_MAX"); limit != "" {
		lv, ok := parseGlibcVersion("GLIBC_" + limit)
		if !ok {
			t.Fatalf("PAM_SMS_GLIBC_MAX=%q is not a glibc version like 2.31", limit)
		}
		if lv.less(overall) {
			t.Errorf("the binaries need glibc %s, above PAM_SMS_GLIBC_MAX=%s: build them in a root with glibc %s", overall, lv, lv)
		}
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
