package pamstack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	in := "# comment\n\nauth [success=ok\tdefault=die] /lib/x/pam_sms.so config=/etc/x # trailing\n" +
		"-auth optional \\\n  pam_gnome_keyring.so\n@include common-auth\nauth required\n"
	got := ParseFile("f", []byte(in))
	want := []Line{
		{File: "f", Num: 3, End: 3, Type: "auth", Control: "[success=ok default=die]", Module: "/lib/x/pam_sms.so", Args: []string{"config=/etc/x"}},
		{File: "f", Num: 4, End: 5, Type: "-auth", Control: "optional", Module: "pam_gnome_keyring.so", Args: []string{}},
		{File: "f", Num: 6, End: 6, Type: "@include", Module: "common-auth"},
		{File: "f", Num: 7, End: 7, Type: "auth", Control: "required", Problem: "no module"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines: %+v", len(got), got)
	}
	for i := range want {
		if got[i].Text() != want[i].Text() || got[i].Num != want[i].Num || got[i].End != want[i].End ||
			got[i].Problem != want[i].Problem || got[i].Type != want[i].Type {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[0].IsSMS() || got[1].IsSMS() {
		t.Error("IsSMS")
	}
	if v, ok := got[0].Arg("config"); !ok || v != "/etc/x" {
		t.Errorf("Arg config = %q, %v", v, ok)
	}
}

func TestControlActionsRefusesMalformedControls(t *testing.T) {
	for _, control := range []string{"requird", "success=ok]", "[success=ok", "[bogus=ok]", "[success=sideways]"} {
		if _, err := controlActions(control); err == nil {
			t.Errorf("controlActions(%q) accepted a malformed control", control)
		}
	}
	if _, err := controlActions("[success=ok ignore=ignore default=die]"); err != nil {
		t.Errorf("the documented control was refused: %v", err)
	}
}

const (
	commonAuth = "auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\n"
	// passwordAuth is RHEL's password-auth: sufficient pam_unix ends the
	// whole stack on success when included.
	passwordAuth = "auth required pam_env.so\nauth sufficient pam_unix.so nullok\nauth required pam_deny.so\n"
)

// writeDir writes a pam.d tree with common-auth, password-auth and files.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"common-auth": commonAuth, "password-auth": passwordAuth}
	for k, v := range files {
		all[k] = v
	}
	for name, body := range all {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSimulate replays logins over stacks whose outcome libpam's rules fix.
func TestSimulate(t *testing.T) {
	tests := []struct {
		name    string
		stack   string
		sc      scenario
		want    int
		smsRuns bool
	}{
		{"common-auth, right password and code", "@include common-auth\nauth required pam_sms.so\n", scenario{pamSuccess, pamSuccess}, pamSuccess, true},
		{"common-auth, wrong password stops before sms", "@include common-auth\nauth required pam_sms.so\n", scenario{pamAuthErr, pamSuccess}, pamAuthErr, false},
		{"common-auth, wrong code", "@include common-auth\nauth required pam_sms.so\n", scenario{pamSuccess, pamAuthErr}, pamAuthErr, true},
		{"ignore passes", "@include common-auth\nauth [success=ok ignore=ignore default=die] pam_sms.so\n", scenario{pamSuccess, pamIgnore}, pamSuccess, true},
		{"include password-auth skips sms", "auth include password-auth\nauth required pam_sms.so\n", scenario{pamSuccess, pamAuthErr}, pamSuccess, false},
		{"substack password-auth runs sms", "auth substack password-auth\nauth required pam_sms.so\n", scenario{pamSuccess, pamAuthErr}, pamAuthErr, true},
		{"substack, wrong password still reaches sms", "auth substack password-auth\nauth required pam_sms.so\n", scenario{pamAuthErr, pamSuccess}, pamAuthErr, true},
		{"sufficient sms lets an error fall through", "auth requisite pam_unix.so\nauth sufficient pam_sms.so\nauth required pam_permit.so\n", scenario{pamSuccess, pamAuthErr}, pamSuccess, true},
		{"missing include fails", "@include nonexistent\nauth required pam_sms.so\n", scenario{pamSuccess, pamSuccess}, pamPermDenied, true},
		{"broken control fails", "auth requisite pam_unix.so\nauth [success=ok default=maybe] pam_sms.so\n", scenario{pamSuccess, pamSuccess}, pamPermDenied, true},
		{"jump over pam_deny", "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_sms.so\n", scenario{pamSuccess, pamSuccess}, pamSuccess, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(writeDir(t, map[string]string{"svc": tt.stack}))
			hs, err := r.AuthStack("svc")
			if err != nil {
				t.Fatal(err)
			}
			out := simulate(hs, tt.sc)
			ran := false
			for i, h := range hs {
				if h.IsSMS() && out.reached[i] {
					ran = true
				}
			}
			if out.status != tt.want || ran != tt.smsRuns {
				t.Errorf("status %s, pam_sms ran %v; want %s, %v", codeName(out.status), ran, codeName(tt.want), tt.smsRuns)
			}
		})
	}
}

// TestCheckStack checks the verdict on each pam_sms line of a service.
func TestCheckStack(t *testing.T) {
	tests := []struct {
		name, stack, keyStep, want, msg string
	}{
		{"debian", "@include common-auth\nauth required pam_sms.so\n", "", StatusOK, "runs only after the password"},
		{"before the password", "auth required pam_sms.so\n@include common-auth\n", "", StatusFail, "runs before any password step"},
		{"key first", "auth required pam_sms.so\nauth required pam_permit.so\n", "AuthenticationMethods publickey,keyboard-interactive", StatusOK, "after the SSH key"},
		{"sufficient", "@include common-auth\nauth sufficient pam_sms.so\n", "", StatusFail, "control `sufficient`"},
		{"include", "auth include password-auth\nauth required pam_sms.so\n", "", StatusFail, "2FA bypass"},
		{"substack", "auth substack password-auth\nauth required pam_sms.so\n", "", StatusWarn, "even after a wrong password"},
		{"ignore=bad", "@include common-auth\nauth [success=ok default=bad] pam_sms.so\n", "", StatusWarn, "denies users exempt"},
		{"account line", "@include common-auth\nauth required pam_sms.so\naccount required pam_sms.so\n", "", StatusFail, "only authenticates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(writeDir(t, map[string]string{"sshd": tt.stack}))
			stacks, err := FindSMSStacks(r)
			if err != nil || len(stacks) != 1 || stacks[0].Name != "sshd" {
				t.Fatalf("FindSMSStacks: %+v, %v", stacks, err)
			}
			worst, msgs := StatusOK, ""
			for _, it := range CheckStack(r, stacks[0], tt.keyStep) {
				msgs += it.Status + " " + it.Message + "\n"
				if it.Status == StatusFail || it.Status == StatusWarn && worst == StatusOK {
					worst = it.Status
				}
				if it.Status != StatusOK && it.Fix == "" {
					t.Errorf("%s without a fix: %s", it.Status, it.Message)
				}
			}
			if worst != tt.want || !strings.Contains(msgs, tt.msg) {
				t.Errorf("got %s, want %s with %q:\n%s", worst, tt.want, tt.msg, msgs)
			}
		})
	}
}

func TestSkipServiceFile(t *testing.T) {
	for name, want := range map[string]bool{"sshd": false, "sshd" + BackupSuffix: true, "login.dpkg-old": true, ".hidden": true, "common-auth": false} {
		if got := SkipServiceFile(name); got != want {
			t.Errorf("SkipServiceFile(%q) = %v", name, got)
		}
	}
}

// TestFixCommands runs the sed command each fix gives on the real file and
// checks the stack again: it must pass. Fixes no sed can make open the
// editor at the line.
func TestFixCommands(t *testing.T) {
	tests := []struct {
		name, stack string
		fixPrefix   string
	}{
		{"sufficient", "@include common-auth\nauth sufficient pam_sms.so\n", "sed -i '2s/"},
		{"default=ignore, tabs", "@include common-auth\nauth\t[success=ok\tdefault=ignore]\tpam_sms.so\n", "sed -i '2s/"},
		{"optional", "@include common-auth\n  auth optional pam_sms.so config=/etc/x.conf\n", "sed -i '2s/"},
		{"ignore=bad", "@include common-auth\nauth [success=ok default=bad] pam_sms.so\n", "sed -i '2s/"},
		{"optional pam_unix", "auth optional pam_unix.so\nauth required pam_sms.so\n", "sed -i '1s/"},
		{"required pam_unix", "auth required pam_unix.so\nauth required pam_sms.so\n", "sed -i '1s/"},
		{"account line", "@include common-auth\nauth required pam_sms.so\naccount required pam_sms.so\n", "sed -i '3d'"},
		{"continued control", "@include common-auth\nauth [success=ok \\\n  default=ignore] pam_sms.so\n", "vi +2 "},
		{"include", "auth include password-auth\nauth required pam_sms.so\n", "sed -i '2d' "},
		{"substack", "auth substack password-auth\nauth required pam_sms.so\n", "sed -i '2d' "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"svc": tt.stack})
			check := func() []Item {
				r := NewReader(dir)
				stacks, err := FindSMSStacks(r)
				if err != nil || len(stacks) != 1 {
					t.Fatalf("FindSMSStacks: %v", err)
				}
				return CheckStack(r, stacks[0], "")
			}
			var fixes []string
			for _, it := range check() {
				if it.Status != StatusOK {
					fixes = append(fixes, it.Fix)
				}
			}
			if len(fixes) != 1 || !strings.HasPrefix(fixes[0], tt.fixPrefix) {
				t.Fatalf("fixes %q, want one starting with %q", fixes, tt.fixPrefix)
			}
			if !strings.HasPrefix(fixes[0], "sed -i '") || strings.Contains(fixes[0], "&&") {
				return
			}
			cmd, _, _ := strings.Cut(fixes[0], " (")
			if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", cmd, err, out)
			}
			for _, it := range check() {
				if it.Status != StatusOK {
					t.Errorf("after %s:\n%s\nstill %s: %s", cmd, readAll(t, filepath.Join(dir, "svc")), it.Status, it.Message)
				}
			}
		})
	}
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
