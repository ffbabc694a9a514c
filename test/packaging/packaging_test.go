package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostTools are the Debian packages the host needs for these tests (besides
// make, gcc and go, which `make test` needs anyway).
var hostTools = []string{"lintian", "rpm", "rpm2cpio", "cpio", "rpmlint", "python3-magic", "mmdebstrap", "util-linux",
	"selinux-policy-dev", "checkpolicy", "semodule-utils"} // the rpm's SELinux module (mk/selinux.mk)

// pkgInfo is what `make package-info` prints: the version the build uses and
// the file names it produces.
type pkgInfo struct {
	Version string // git describe, the input (VERSION)
	Epoch   string // SOURCE_DATE_EPOCH
	Deb     string // file name of the .deb
	RPM     string // file name of the .rpm
}

// readPkgInfo asks the Makefile which version and timestamp it would use.
func readPkgInfo(t *testing.T, root string) pkgInfo {
	t.Helper()
	out := run(t, root, "make", "-s", "--no-print-directory", "package-info")
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			kv[k] = v
		}
	}
	info := pkgInfo{Version: kv["VERSION"], Epoch: kv["SOURCE_DATE_EPOCH"], Deb: kv["DEB"], RPM: kv["RPM"]}
	if info.Epoch == "" || info.Deb == "" || info.RPM == "" {
		t.Fatalf("make package-info: incomplete output:\n%s", out)
	}
	return info
}

// snapshotBinaries copies the three built binaries into a directory of the
// test, so that both builds of the reproducibility check package the same
// bytes even if build/ is rebuilt meanwhile. Under `make test`
// PAM_SMS_BUILD names the fresh build; otherwise `make build` runs first.
func snapshotBinaries(t *testing.T, root string) string {
	t.Helper()
	src := os.Getenv("PAM_SMS_BUILD")
	if src == "" {
		run(t, root, "make", "-s", "--no-print-directory", "build")
		src = filepath.Join(root, "build")
	}
	dst := t.TempDir()
	for _, f := range []string{"pam_sms.so", "pam-sms-helper", "pam-sms"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatalf("packaging: built binary missing: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// buildPackages builds both packages from the binaries in bin into out,
// with the version and time pinned so that two builds are comparable.
func buildPackages(t *testing.T, root, bin, out string, info pkgInfo) (deb, rpm string) {
	t.Helper()
	run(t, root, "make", "-s", "--no-print-directory", "package-files", "PKG_IN="+bin, "PKG_OUT="+out,
		"VERSION="+info.Version, "SOURCE_DATE_EPOCH="+info.Epoch)
	deb, rpm = filepath.Join(out, info.Deb), filepath.Join(out, info.RPM)
	for _, f := range []string{deb, rpm} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("make package-files: %v", err)
		}
	}
	return deb, rpm
}

// TestPackages builds the packages once and checks them: contents, control
// data, lintian, rpmlint, reproducibility, and a real install in a chroot.
func TestPackages(t *testing.T) {
	requireRoot(t)
	ensureDebs(t, hostTools...)
	root := repoRoot(t)
	info := readPkgInfo(t, root)
	if last, err := output(root, "git", "log", "-1", "--format=%ct"); err == nil && strings.TrimSpace(last) != "" {
		if got, want := info.Epoch, strings.TrimSpace(last); got != want {
			t.Errorf("make package-info: SOURCE_DATE_EPOCH=%s, want the last commit's time %s", got, want)
		}
	}
	bin := snapshotBinaries(t, root)
	deb, rpm := buildPackages(t, root, bin, t.TempDir(), info)
	for _, f := range []string{deb, rpm} {
		if fi, err := os.Stat(f); err == nil {
			t.Logf("%s: %d bytes", filepath.Base(f), fi.Size())
		}
	}

	t.Run("deb-contents", func(t *testing.T) { checkDebContents(t, deb) })
	t.Run("deb-control", func(t *testing.T) { checkDebControl(t, deb) })
	t.Run("rpm-contents", func(t *testing.T) { checkRPMContents(t, rpm) })
	t.Run("rpm-metadata", func(t *testing.T) { checkRPMMetadata(t, rpm) })
	t.Run("rpm-selinux", func(t *testing.T) { checkRPMSELinux(t, root, rpm) }) // selinux_test.go
	t.Run("lintian", func(t *testing.T) { checkLintian(t, deb) })
	t.Run("rpmlint", func(t *testing.T) { checkRPMLint(t, root, rpm) })
	t.Run("reproducible", func(t *testing.T) {
		deb2, rpm2 := buildPackages(t, root, bin, t.TempDir(), info)
		for _, pair := range [][2]string{{deb, deb2}, {rpm, rpm2}} {
			a, errA := os.ReadFile(pair[0])
			b, errB := os.ReadFile(pair[1])
			if errA != nil || errB != nil {
				t.Fatalf("read packages: %v %v", errA, errB)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s: two builds with SOURCE_DATE_EPOCH=%s differ", filepath.Base(pair[0]), info.Epoch)
			}
		}
	})
	t.Run("install", func(t *testing.T) { testDebInstall(t, deb, rpm) })
}

// entry is one file or directory of a package: mode as ls prints it,
// owner:group, and for rpm the file flags (c config, n noreplace, d doc,
// l license).
type entry struct {
	Mode  string
	Owner string
	Flags string
}

const (
	regular = "-rw-r--r--"
	exec755 = "-rwxr-xr-x"
	dir755  = "drwxr-xr-x"
	setgid  = "-rwxr-sr-x"
	conf640 = "-rw-r-----"
	state   = "drwxrws---"
	rootGrp = "root:root"
	smsGrp  = "root:pam-sms"
)

// wantDebFiles is every non-directory entry of the .deb.
var wantDebFiles = map[string]entry{
	"/etc/fail2ban/filter.d/pam-sms.conf":                {regular, rootGrp, ""},
	"/etc/security/pam_sms.conf":                         {conf640, smsGrp, ""},
	"/lib/x86_64-linux-gnu/security/pam_sms.so":          {regular, rootGrp, ""},
	"/usr/libexec/pam-sms/pam-sms-helper":                {setgid, smsGrp, ""},
	"/usr/lib/systemd/system/pam-sms-prune.service":      {regular, rootGrp, ""},
	"/usr/lib/systemd/system/pam-sms-prune.timer":        {regular, rootGrp, ""},
	"/usr/lib/sysusers.d/pam-sms.conf":                   {regular, rootGrp, ""},
	"/usr/lib/tmpfiles.d/pam-sms.conf":                   {regular, rootGrp, ""},
	"/usr/sbin/pam-sms":                                  {exec755, rootGrp, ""},
	"/usr/share/doc/libpam-sms/changelog.Debian.gz":      {regular, rootGrp, ""},
	"/usr/share/doc/libpam-sms/copyright":                {regular, rootGrp, ""},
	"/usr/share/doc/libpam-sms/examples/10-pam-sms.conf": {regular, rootGrp, ""},
	"/usr/share/lintian/overrides/libpam-sms":            {regular, rootGrp, ""},
	"/usr/share/man/man5/pam_sms.conf.5.gz":              {regular, rootGrp, ""},
	"/usr/share/man/man8/pam-sms.8.gz":                   {regular, rootGrp, ""},
	"/usr/share/man/man8/pam_sms.8.gz":                   {regular, rootGrp, ""},
	"/usr/share/pam-configs/sms":                         {regular, rootGrp, ""},
}

// debStateDir is the one directory of the .deb that is not 0755 root:root.
var debStateDir = map[string]entry{"/var/lib/pam-sms": {state, smsGrp, ""}}

// parseDebContents reads `dpkg-deb -c`: "MODE OWNER/GROUP SIZE DATE TIME ./PATH".
// nfpm writes the generated changelog with numeric ids only; 0/0 is root.
func parseDebContents(t *testing.T, listing string) (files, dirs map[string]entry) {
	t.Helper()
	files, dirs = map[string]entry{}, map[string]entry{}
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: unexpected line %q", line)
		}
		owner := strings.Replace(f[1], "/", ":", 1)
		if owner == "0:0" {
			owner = rootGrp
		}
		path := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if path == "" {
			continue
		}
		e := entry{Mode: f[0], Owner: owner}
		if strings.HasPrefix(f[0], "d") {
			dirs[path] = e
		} else {
			files[path] = e
		}
	}
	return files, dirs
}

func checkDebContents(t *testing.T, deb string) {
	files, dirs := parseDebContents(t, run(t, "", "dpkg-deb", "-c", deb))
	if diff := cmp.Diff(wantDebFiles, files); diff != "" {
		t.Errorf("dpkg-deb -c: files differ (-want +got):\n%s", diff)
	}
	for path, got := range dirs {
		want, ok := debStateDir[path]
		if !ok {
			want = entry{dir755, rootGrp, ""}
		}
		if got != want {
			t.Errorf("dpkg-deb -c: directory %s is %v, want %v", path, got, want)
		}
	}
	for path := range debStateDir {
		if _, ok := dirs[path]; !ok {
			t.Errorf("dpkg-deb -c: directory %s missing", path)
		}
	}
}

func checkDebControl(t *testing.T, deb string) {
	fields := []struct{ name, want string }{
		{"Package", "libpam-sms"},
		{"Architecture", "amd64"},
		{"Section", "admin"},
		{"Priority", "optional"},
		{"Pre-Depends", "passwd"},
		{"Depends", "libc6 (>= 2.25), libpam0g (>= 0.99.7.1), libpam-runtime (>= 1.1.1-3~)"},
		{"Homepage", "https://github.com/pam-sms/pam_sms"},
	}
	for _, f := range fields {
		got := strings.TrimSpace(run(t, "", "dpkg-deb", "-f", deb, f.name))
		if got != f.want {
			t.Errorf("dpkg-deb -f %s: %q, want %q", f.name, got, f.want)
		}
	}
	wantConffiles := "/etc/fail2ban/filter.d/pam-sms.conf\n/etc/security/pam_sms.conf"
	if got := strings.TrimSpace(run(t, "", "dpkg-deb", "-I", deb, "conffiles")); got != wantConffiles {
		t.Errorf("conffiles: %q, want %q", got, wantConffiles)
	}
	scripts := []struct{ name, want string }{
		{"preinst", "groupadd --system pam-sms"},
		{"preinst", "systemd-sysusers --replace=/usr/lib/sysusers.d/pam-sms.conf -"},
		{"postinst", "systemd-tmpfiles --create pam-sms.conf"},
		{"postinst", "pam-auth-update --package\n"},
		{"prerm", "pam-auth-update --package --remove sms"},
		{"prerm", "# added by pam-sms enable"},
		{"postrm", "rm -rf /var/lib/pam-sms"},
	}
	for _, s := range scripts {
		got := run(t, "", "dpkg-deb", "-I", deb, s.name)
		if !strings.Contains(got, s.want) {
			t.Errorf("%s does not contain %q:\n%s", s.name, s.want, got)
		}
	}
}

// wantRPM is every entry of the .rpm, directories included (an rpm owns
// only the directories it lists).
var wantRPM = map[string]entry{
	"/etc/fail2ban/filter.d/pam-sms.conf":                        {regular, rootGrp, "cn"},
	"/etc/security/pam_sms.conf":                                 {conf640, smsGrp, "cn"},
	"/usr/lib/systemd/system/pam-sms-prune.service":              {regular, rootGrp, ""},
	"/usr/lib/systemd/system/pam-sms-prune.timer":                {regular, rootGrp, ""},
	"/usr/lib/sysusers.d/pam-sms.conf":                           {regular, rootGrp, ""},
	"/usr/lib/tmpfiles.d/pam-sms.conf":                           {regular, rootGrp, ""},
	"/usr/lib64/security/pam_sms.so":                             {exec755, rootGrp, ""},
	"/usr/libexec/pam-sms":                                       {dir755, rootGrp, ""},
	"/usr/libexec/pam-sms/pam-sms-helper":                        {setgid, smsGrp, ""},
	"/usr/sbin/pam-sms":                                          {exec755, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms":                       {dir755, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/README":                {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/dconf-db":              {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/dconf-locks":           {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/fingerprint-auth":      {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/nsswitch.conf":         {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/password-auth":         {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/postlogin":             {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/smartcard-auth":        {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms/system-auth":           {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd":                  {dir755, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/README":           {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/REQUIREMENTS":     {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/dconf-db":         {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/dconf-locks":      {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/fingerprint-auth": {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/nsswitch.conf":    {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/password-auth":    {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/postlogin":        {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/smartcard-auth":   {regular, rootGrp, ""},
	"/usr/share/authselect/vendor/pam-sms-sssd/system-auth":      {regular, rootGrp, ""},
	"/usr/share/doc/pam_sms/10-pam-sms.conf":                     {regular, rootGrp, "d"},
	"/usr/share/licenses/pam_sms/copyright":                      {regular, rootGrp, "l"},
	"/usr/share/man/man5/pam_sms.conf.5.gz":                      {regular, rootGrp, "d"},
	"/usr/share/man/man8/pam-sms.8.gz":                           {regular, rootGrp, "d"},
	"/usr/share/man/man8/pam_sms.8.gz":                           {regular, rootGrp, "d"},
	"/usr/share/pam-sms":                                         {dir755, rootGrp, ""},
	"/usr/share/pam-sms/selinux":                                 {dir755, rootGrp, ""},
	"/usr/share/pam-sms/selinux/pam_sms.fc":                      {regular, rootGrp, ""},
	"/usr/share/pam-sms/selinux/pam_sms.if":                      {regular, rootGrp, ""},
	"/usr/share/pam-sms/selinux/pam_sms.te":                      {regular, rootGrp, ""},
	"/usr/share/selinux/packages/pam_sms.pp":                     {regular, rootGrp, ""},
	"/var/lib/pam-sms":                                           {state, smsGrp, ""},
}

func checkRPMContents(t *testing.T, rpm string) {
	// Same data as `rpm -qlvp`, plus the file flags (config, noreplace, doc).
	out := run(t, "", "rpm", "-qp", "--qf",
		"[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES} %{FILEFLAGS:fflags}\n]", rpm)
	got := map[string]entry{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("rpm -qp: unexpected line %q", line)
		}
		e := entry{Mode: f[0], Owner: f[1]}
		if len(f) > 3 {
			e.Flags = f[3]
		}
		got[f[2]] = e
	}
	if diff := cmp.Diff(wantRPM, got); diff != "" {
		t.Errorf("rpm contents differ (-want +got):\n%s", diff)
	}
}

func checkRPMMetadata(t *testing.T, rpm string) {
	if got := strings.TrimSpace(run(t, "", "rpm", "-qp", "--qf", "%{NAME} %{ARCH} %{URL} %{LICENSE}", rpm)); got != "pam_sms x86_64 https://github.com/pam-sms/pam_sms Apache-2.0" {
		t.Errorf("rpm name/arch/url/license: %q", got)
	}
	requires := run(t, "", "rpm", "-qp", "--requires", rpm)
	for _, want := range []string{"pam", "glibc >= 2.25"} {
		if !slices.Contains(strings.Split(requires, "\n"), want) {
			t.Errorf("rpm requires %q missing:\n%s", want, requires)
		}
	}
	scripts := run(t, "", "rpm", "-qp", "--scripts", rpm)
	for _, want := range []string{
		"groupadd --system pam-sms",                                     // %pre
		"systemd-sysusers --replace=/usr/lib/sysusers.d/pam-sms.conf -", // %pre
		"systemd-tmpfiles --create pam-sms.conf",                        // %post
		"authselect current --raw",                                      // %preun: leave our profile
		"# added by pam-sms enable",                                     // %preun: lines of the CLI
		`[ "$1" -eq 0 ] || exit 0`,                                      // %preun: final erase only
		"rm -rf /var/lib/pam-sms",                                       // %postun
	} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scripts do not contain %q", want)
		}
	}
	if strings.Contains(scripts, "authselect select pam-sms") {
		t.Errorf("rpm scripts select the authselect profile; the administrator must")
	}
}

// checkLintian fails on every error or warning lintian reports that
// packaging/lintian/libpam-sms does not override.
func checkLintian(t *testing.T, deb string) {
	out, err := output("", "lintian", "-EvIL", "+pedantic", "--show-overrides", deb)
	t.Logf("lintian -EvIL +pedantic --show-overrides:\n%s", out)
	if tags := lintTags(out, "E", "W"); len(tags) > 0 {
		t.Errorf("lintian reports errors or warnings:\n%s", strings.Join(tags, "\n"))
	}
	if err != nil && len(lintTags(out, "E", "W")) == 0 {
		t.Errorf("lintian failed: %v", err)
	}
}

// checkRPMLint runs rpmlint with packaging/pam_sms.rpmlintrc. rpmlint
// unpacks the rpm with `rpm2cpio | cpio -id`, and nfpm's cpio entries have
// absolute names, which cpio (as root) writes to the real / of the host. So
// rpmlint runs as nobody, in a directory of its own, with a cpio that strips
// the leading slash; without the unpacked files rpmlint would also skip its
// binary checks (and warn only-non-binary-in-usr-lib).
func checkRPMLint(t *testing.T, root, rpm string) {
	if _, err := exec.LookPath("rpmlint"); err != nil {
		t.Skip("rpmlint is not installed and could not be installed")
	}
	work, err := os.MkdirTemp("", "pam-sms-rpmlint-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	bin := filepath.Join(work, "bin")
	tmp := filepath.Join(work, "tmp")
	for _, d := range []string{bin, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := "#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "cpio"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(work, filepath.Base(rpm))
	rc := filepath.Join(work, "pam_sms.rpmlintrc")
	run(t, "", "cp", rpm, pkg)
	run(t, "", "cp", filepath.Join(root, "packaging", "pam_sms.rpmlintrc"), rc)
	run(t, "", "chmod", "0755", work)
	run(t, "", "chown", "nobody", tmp)

	out, err := output(tmp, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"env", "-i", "PATH="+bin+":/usr/bin:/bin", "HOME="+tmp, "TMPDIR="+tmp, "LC_ALL=C.UTF-8",
		"rpmlint", "-r", rc, pkg)
	t.Logf("rpmlint -r pam_sms.rpmlintrc:\n%s", out)
	if tags := lintTags(out, "E", "W"); len(tags) > 0 {
		t.Errorf("rpmlint reports errors or warnings:\n%s", strings.Join(tags, "\n"))
	}
	if !strings.Contains(out, "0 errors, 0 warnings") {
		t.Errorf("rpmlint: no clean summary (exit: %v)", err)
	}
}
