package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The sysusers.d and tmpfiles.d lines of pam_sms (without comments).
const (
	sysusersLine = "g pam-sms -"
	tmpfilesLine = "d /var/lib/pam-sms 2770 root pam-sms -"
)

// configLines returns the lines of a repository file that are neither empty
// nor comments.
func configLines(t *testing.T, rel string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(readRepoFile(t, rel), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestSystemdNativeFiles checks the sysusers.d and tmpfiles.d files, that
// both packages ship them where systemd looks, and that the line the
// pre-install scripts feed systemd-sysusers (the file is not unpacked yet
// then) is the shipped one.
func TestSystemdNativeFiles(t *testing.T) {
	for rel, want := range map[string][]string{
		"packaging/sysusers/pam-sms.conf": {sysusersLine},
		"packaging/tmpfiles/pam-sms.conf": {tmpfilesLine},
	} {
		if got := configLines(t, rel); !slices.Equal(got, want) {
			t.Errorf("%s: lines %q, want %q", rel, got, want)
		}
	}
	nfpm := readRepoFile(t, "packaging/nfpm.yaml")
	for _, e := range []struct{ src, dst string }{
		{"packaging/sysusers/pam-sms.conf", "/usr/lib/sysusers.d/pam-sms.conf"},
		{"packaging/tmpfiles/pam-sms.conf", "/usr/lib/tmpfiles.d/pam-sms.conf"},
	} {
		entry := "  - src: " + e.src + "\n    dst: " + e.dst + "\n    file_info: {mode: 0644, owner: root, group: root}\n"
		if !strings.Contains(nfpm, entry) {
			t.Errorf("nfpm.yaml does not ship %s to %s for both packages (want the entry\n%s)", e.src, e.dst, entry)
		}
	}
	inline := "printf '%s\\n' '" + sysusersLine + "' | systemd-sysusers --replace=/usr/lib/sysusers.d/pam-sms.conf -"
	for _, script := range []string{"packaging/deb/preinst", "packaging/rpm/pre.sh"} {
		if text := strings.Join(strings.Fields(readRepoFile(t, script)), " "); !strings.Contains(text, inline) {
			t.Errorf("%s does not feed %q to systemd-sysusers --replace=/usr/lib/sysusers.d/pam-sms.conf", script, sysusersLine)
		}
	}
}

// TestSystemdNativeApply applies the shipped files with the real
// systemd-sysusers and systemd-tmpfiles to an empty root: the group is a
// system group, the directory 2770 root:pam-sms, and a directory whose mode
// or group was changed is put right again.
func TestSystemdNativeApply(t *testing.T) {
	requireRoot(t)
	for _, tool := range []string{"systemd-sysusers", "systemd-tmpfiles"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package systemd)", tool)
		}
	}
	root := repoRoot(t)
	sysroot := t.TempDir()
	if err := os.Mkdir(filepath.Join(sysroot, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	sysusers := filepath.Join(root, "packaging", "sysusers", "pam-sms.conf")
	tmpfiles := filepath.Join(root, "packaging", "tmpfiles", "pam-sms.conf")
	run(t, "", "systemd-sysusers", "--root="+sysroot, sysusers)

	gid := -1
	for _, l := range strings.Split(string(mustRead(t, filepath.Join(sysroot, "etc", "group"))), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 4 && f[0] == "pam-sms" {
			gid, _ = strconv.Atoi(f[2])
		}
	}
	// systemd's system range ends at 999 (SYS_GID_MAX of Debian and Fedora).
	if gid <= 0 || gid >= 1000 {
		t.Fatalf("systemd-sysusers: group pam-sms gid %d, want a system gid (1..999)", gid)
	}

	state := filepath.Join(sysroot, "var", "lib", "pam-sms")
	check := func(step string) {
		t.Helper()
		fi, err := os.Stat(state)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if got, want := fi.Mode()&(os.ModePerm|os.ModeSetgid|os.ModeSticky|os.ModeSetuid), os.ModeSetgid|0o770; got != want || !fi.IsDir() {
			t.Errorf("%s: %s mode %v, want directory %v", step, state, got, want)
		}
		if st.Uid != 0 || int(st.Gid) != gid {
			t.Errorf("%s: %s owner %d:%d, want 0:%d (root:pam-sms)", step, state, st.Uid, st.Gid, gid)
		}
	}
	run(t, "", "systemd-tmpfiles", "--root="+sysroot, "--create", tmpfiles)
	check("systemd-tmpfiles --create")

	// A later run (each boot, each upgrade) repairs mode and group.
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 0, 0); err != nil {
		t.Fatal(err)
	}
	run(t, "", "systemd-tmpfiles", "--root="+sysroot, "--create", tmpfiles)
	check("systemd-tmpfiles --create after chmod 0755, chown root:root")

	// No age field, so --clean leaves an old counter alone: pam-sms prune
	// decides what is stale.
	old := filepath.Join(state, "user-alice")
	if err := os.WriteFile(old, []byte("x"), 0o660); err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().AddDate(-1, 0, 0)
	if err := os.Chtimes(old, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	run(t, "", "systemd-tmpfiles", "--root="+sysroot, "--clean", tmpfiles)
	if _, err := os.Stat(old); err != nil {
		t.Errorf("systemd-tmpfiles --clean removed a state file: %v", err)
	}
}

// TestMaintainerScriptsSystemdNative runs the install scripts in a mount
// namespace of their own with a PATH of stand-ins only, so that whether
// systemd-sysusers and systemd-tmpfiles exist is the test's choice: with
// them the scripts use the shipped sysusers.d line and tmpfiles.d file;
// without them (no systemd: a container, Devuan) groupadd and install -d,
// as before; and groupadd also when systemd-sysusers created no group (an
// administrator's /etc/sysusers.d/pam-sms.conf masking ours).
func TestMaintainerScriptsSystemdNative(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	root := repoRoot(t)
	const (
		sysusersCall = "systemd-sysusers --replace=/usr/lib/sysusers.d/pam-sms.conf - <" + sysusersLine + ">"
		groupaddCall = "groupadd --system pam-sms"
		getentCall   = "getent group pam-sms"
		tmpfilesCall = "systemd-tmpfiles --create pam-sms.conf"
		installCall  = "install -d -m 2770 -o root -g pam-sms /var/lib/pam-sms"
	)
	tests := []struct {
		name     string
		script   string
		args     []string
		systemd  bool // systemd-sysusers and systemd-tmpfiles exist
		creates  bool // the systemd-sysusers stand-in creates the group
		hasGroup bool // the group exists before the script runs
		want     []string
	}{
		{"deb fresh install, systemd", "deb/preinst", []string{"install"}, true, true, false, []string{sysusersCall, getentCall}},
		{"deb fresh install, sysusers masked", "deb/preinst", []string{"install"}, true, false, false, []string{sysusersCall, getentCall, groupaddCall}},
		{"deb fresh install, no systemd", "deb/preinst", []string{"install"}, false, false, false, []string{getentCall, groupaddCall}},
		{"deb upgrade, no systemd", "deb/preinst", []string{"upgrade", "1.0"}, false, false, true, []string{getentCall}},
		{"rpm fresh install, systemd", "rpm/pre.sh", []string{"1"}, true, true, false, []string{sysusersCall, getentCall}},
		{"rpm fresh install, sysusers masked", "rpm/pre.sh", []string{"1"}, true, false, false, []string{sysusersCall, getentCall, groupaddCall}},
		{"rpm fresh install, no systemd", "rpm/pre.sh", []string{"1"}, false, false, false, []string{getentCall, groupaddCall}},
		{"deb configure, systemd", "deb/postinst", []string{"configure"}, true, false, true, []string{tmpfilesCall, "pam-auth-update --package"}},
		{"deb configure, no systemd", "deb/postinst", []string{"configure"}, false, false, true, []string{installCall, "pam-auth-update --package"}},
		{"rpm post, systemd", "rpm/post.sh", []string{"1"}, true, false, true, []string{tmpfilesCall}},
		{"rpm post upgrade, no systemd", "rpm/post.sh", []string{"2"}, false, false, true, []string{installCall}},
	}
	// Each stand-in logs its command line; getent answers from $STATE/group,
	// which the systemd-sysusers stand-in creates when $CREATES is 1.
	stubs := map[string]string{
		"getent":           `echo "getent $*" >>"$CALLS"; [ -e "$STATE/group" ]`,
		"groupadd":         `echo "groupadd $*" >>"$CALLS"; : >"$STATE/group"`,
		"systemd-sysusers": `read -r in; echo "systemd-sysusers $* <$in>" >>"$CALLS"; if [ "$CREATES" = 1 ]; then : >"$STATE/group"; fi`,
		"systemd-tmpfiles": `echo "systemd-tmpfiles $*" >>"$CALLS"`,
		"install":          `echo "install $*" >>"$CALLS"`,
		"pam-auth-update":  `echo "pam-auth-update $*" >>"$CALLS"`,
	}
	withSystemd, without := t.TempDir(), t.TempDir()
	for name, body := range stubs {
		for _, dir := range []string{withSystemd, without} {
			if dir == without && strings.HasPrefix(name, "systemd-") {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	// set -e: if a mount fails, the script does not run on the machine.
	// /run without /run/systemd/system: the prune timer is not touched.
	const wrapper = `set -e
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/pam.d
mount -t tmpfs tmpfs /var/lib
script=$1
shift
PATH="$STUBS" /bin/sh "$script" "$@"`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			calls, state := filepath.Join(dir, "calls"), filepath.Join(dir, "state")
			if err := os.Mkdir(state, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.hasGroup {
				if err := os.WriteFile(filepath.Join(state, "group"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			stubDir, creates := without, "0"
			if tt.systemd {
				stubDir = withSystemd
			}
			if tt.creates {
				creates = "1"
			}
			args := append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", wrapper, "sh",
				filepath.Join(root, "packaging", tt.script)}, tt.args...)
			env := []string{"CALLS=" + calls, "STATE=" + state, "STUBS=" + stubDir, "CREATES=" + creates}
			out, err := outputEnv(root, env, "unshare", args...)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", tt.script, strings.Join(tt.args, " "), err, out)
			}
			data, err := os.ReadFile(calls)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			var got []string
			if s := strings.TrimSpace(string(data)); s != "" {
				got = strings.Split(s, "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s %s ran:\n%q\nwant\n%q", tt.script, strings.Join(tt.args, " "), got, tt.want)
			}
		})
	}
}
