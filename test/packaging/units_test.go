package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pruneUnits are the systemd units that run `pam-sms prune` daily.
var pruneUnits = []string{"pam-sms-prune.service", "pam-sms-prune.timer"}

// TestPruneUnits checks the units' settings, that systemd parses them, and
// that both packages ship them where systemd looks.
func TestPruneUnits(t *testing.T) {
	root := repoRoot(t)
	want := map[string][]string{
		"pam-sms-prune.service": {
			"Type=oneshot", "ExecStart=/usr/sbin/pam-sms prune", "Documentation=man:pam-sms(8)",
			"ProtectSystem=strict", "ReadWritePaths=/var/lib/pam-sms", "NoNewPrivileges=yes",
			"PrivateNetwork=yes", "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=CAP_DAC_OVERRIDE",
		},
		"pam-sms-prune.timer": {"OnCalendar=daily", "Persistent=true", "WantedBy=timers.target", "Documentation=man:pam-sms(8)"},
	}
	dir := t.TempDir()
	for _, unit := range pruneUnits {
		data, err := os.ReadFile(filepath.Join(root, "packaging", "systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for _, w := range want[unit] {
			if !slices.Contains(lines, w) {
				t.Errorf("%s: no line %q", unit, w)
			}
		}
		// systemd-analyze verify wants ExecStart= to exist: point it at
		// an executable of this machine (the package's path is checked above).
		text := strings.ReplaceAll(string(data), "ExecStart=/usr/sbin/pam-sms", "ExecStart="+os.Args[0])
		if err := os.WriteFile(filepath.Join(dir, unit), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	nfpm := readRepoFile(t, "packaging/nfpm.yaml")
	for _, unit := range pruneUnits {
		entry := "  - src: packaging/systemd/" + unit + "\n    dst: /usr/lib/systemd/system/" + unit + "\n" +
			"    file_info: {mode: 0644, owner: root, group: root}\n"
		if !strings.Contains(nfpm, entry) {
			t.Errorf("nfpm.yaml does not ship %s to /usr/lib/systemd/system for both packages (want the entry\n%s)", unit, entry)
		}
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed; the units were checked as text only")
	}
	args := []string{"verify", "--man=no"}
	for _, unit := range pruneUnits {
		args = append(args, filepath.Join(dir, unit))
	}
	// It exits 0 on unknown keys, with a warning: any output is a failure.
	if out, err := output(dir, "systemd-analyze", args...); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestMaintainerScriptsTimer runs the maintainer scripts in a mount namespace
// of their own (tmpfs over /run, /etc/pam.d and /var/lib, so that nothing of
// the machine changes) with stand-ins for the commands they call, with and
// without a running systemd: the prune timer is enabled and started only when
// systemd runs, and stopped and forgotten on removal.
func TestMaintainerScriptsTimer(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	root := repoRoot(t)
	const timer = "pam-sms-prune.timer"
	tests := []struct {
		script  string
		args    []string
		systemd bool
		want    []string
	}{
		{"deb/postinst", []string{"configure"}, false, []string{"systemd-tmpfiles --create pam-sms.conf", "pam-auth-update --package"}},
		{"deb/postinst", []string{"configure"}, true, []string{
			"systemd-tmpfiles --create pam-sms.conf",
			"pam-auth-update --package",
			"deb-systemd-helper unmask " + timer,
			"deb-systemd-helper --quiet was-enabled " + timer,
			"deb-systemd-helper enable " + timer,
			"systemctl --system daemon-reload",
			"deb-systemd-invoke start " + timer,
		}},
		{"deb/prerm", []string{"remove"}, false, []string{"pam-auth-update --package --remove sms"}},
		{"deb/prerm", []string{"remove"}, true, []string{
			"pam-auth-update --package --remove sms",
			"deb-systemd-invoke stop " + timer + " pam-sms-prune.service",
		}},
		{"deb/prerm", []string{"upgrade", "1.0"}, true, nil},
		{"deb/postrm", []string{"remove"}, false, nil},
		{"deb/postrm", []string{"remove"}, true, []string{"systemctl --system daemon-reload", "deb-systemd-helper mask " + timer}},
		{"deb/postrm", []string{"purge"}, false, []string{"deb-systemd-helper purge " + timer, "deb-systemd-helper unmask " + timer}},
		{"rpm/post.sh", []string{"1"}, false, []string{"systemd-tmpfiles --create pam-sms.conf"}},
		{"rpm/post.sh", []string{"1"}, true, []string{"systemd-tmpfiles --create pam-sms.conf", "systemctl daemon-reload", "systemctl enable --now " + timer}},
		{"rpm/post.sh", []string{"2"}, true, []string{"systemd-tmpfiles --create pam-sms.conf", "systemctl daemon-reload"}},
		{"rpm/preun.sh", []string{"0"}, false, []string{"systemctl --no-reload disable " + timer, "authselect current --raw"}},
		{"rpm/preun.sh", []string{"0"}, true, []string{"systemctl --no-reload disable --now " + timer, "authselect current --raw"}},
		{"rpm/preun.sh", []string{"1"}, true, nil},
		{"rpm/postun.sh", []string{"0"}, false, nil},
		{"rpm/postun.sh", []string{"0"}, true, []string{"systemctl daemon-reload"}},
	}
	stubs := t.TempDir()
	for _, name := range []string{"pam-auth-update", "deb-systemd-helper", "deb-systemd-invoke", "systemctl", "authselect", "systemd-tmpfiles"} {
		stub := "#!/bin/sh\necho \"${0##*/} $*\" >>\"$CALLS\"\n"
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// set -e: if a mount fails, the script does not run on the machine.
	const wrapper = `set -e
mount -t tmpfs tmpfs /run
if [ "$SYSTEMD" = 1 ]; then mkdir -p /run/systemd/system; fi
mount -t tmpfs tmpfs /etc/pam.d
mount -t tmpfs tmpfs /var/lib
script=$1
shift
PATH="$STUBS:/usr/sbin:/usr/bin:/sbin:/bin" sh "$script" "$@"`
	for _, tt := range tests {
		name := tt.script + " " + strings.Join(tt.args, " ")
		if tt.systemd {
			name += ", systemd running"
		}
		t.Run(name, func(t *testing.T) {
			calls := filepath.Join(t.TempDir(), "calls")
			systemd := "0"
			if tt.systemd {
				systemd = "1"
			}
			args := append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", wrapper, "sh",
				filepath.Join(root, "packaging", tt.script)}, tt.args...)
			out, err := outputEnv(root, []string{"CALLS=" + calls, "STUBS=" + stubs, "SYSTEMD=" + systemd}, "unshare", args...)
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, out)
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
				t.Errorf("%s ran:\n%q\nwant\n%q", name, got, tt.want)
			}
		})
	}
}
