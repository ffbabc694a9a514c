package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PAM files as Debian 12 and RHEL 9 ship them (auth parts; trimmed).
const (
	debianCommonAuth = `# here are the per-package modules (the "Primary" block)
auth	[success=1 default=ignore]	pam_unix.so nullok
# here's the fallback if no module succeeds
auth	requisite			pam_deny.so
auth	required			pam_permit.so
# and here are more per-package modules (the "Additional" block)
`
	debianSshd = `# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

account    required     pam_nologin.so
@include common-account
session    optional     pam_mail.so standard noenv # [1]
@include common-session
@include common-password
`
	debianLogin = `auth       optional   pam_faildelay.so  delay=3000000
auth       requisite  pam_nologin.so
@include common-auth
auth       optional   pam_group.so
@include common-account
@include common-session
@include common-password
`
	rhelPasswordAuth = `auth        required      pam_env.so
auth        required      pam_faildelay.so delay=2000000
auth        sufficient    pam_unix.so nullok
auth        required      pam_deny.so
account     required      pam_unix.so
`
	rhelSshd = `#%PAM-1.0
auth       substack     password-auth
auth       include      postlogin
account    required     pam_nologin.so
account    include      password-auth
`
	commonAccount  = "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\naccount\trequisite\tpam_deny.so\naccount\trequired\tpam_permit.so\n"
	commonSession  = "session\trequired\tpam_unix.so\n"
	commonPassword = "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword\trequisite\tpam_deny.so\npassword\trequired\tpam_permit.so\n"
	postlogin      = "session optional pam_lastlog.so silent noupdate showfailed\n"
)

// pamDir writes a pam.d tree with the distribution files plus extra.
func pamDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"common-auth": debianCommonAuth, "common-account": commonAccount, "common-session": commonSession,
		"common-password": commonPassword, "password-auth": rhelPasswordAuth, "postlogin": postlogin,
		"other": "auth required pam_deny.so\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDoctorStacks(t *testing.T) {
	requireRoot(t)
	cfg, _ := writeConfig(t, configOpts{})
	tests := []struct {
		name    string
		service string // default "svc"
		stack   string
		sshdT   string // default goodSshd
		want    string // status of the pam_sms line
		msg     string // in its message
	}{
		{name: "debian sshd line", stack: "@include common-auth\nauth required pam_sms.so\n", want: statusOK,
			msg: "runs only after the password"},
		{name: "pam-auth-update control", stack: "@include common-auth\nauth [success=ok ignore=ignore default=die] pam_sms.so\n", want: statusOK},
		{name: "requisite pam_unix", stack: "auth required pam_env.so\nauth requisite pam_unix.so nullok\nauth required pam_sms.so\n", want: statusOK},
		{name: "requisite sms", stack: "@include common-auth\nauth requisite pam_sms.so\n", want: statusOK},
		{name: "pam-auth-update result in common-auth", service: "common-auth",
			stack: debianCommonAuth + "auth\t[success=ok ignore=ignore default=die]\tpam_sms.so\n", want: statusOK},
		{name: "before pam_unix", stack: "auth required pam_sms.so\nauth requisite pam_unix.so\n", want: statusFail,
			msg: "runs before any password step"},
		{name: "before the include", stack: "auth required pam_sms.so\n@include common-auth\n", want: statusFail,
			msg: "runs before any password step"},
		{name: "sufficient", stack: "@include common-auth\nauth sufficient pam_sms.so\n", want: statusFail,
			msg: "control `sufficient`"},
		{name: "sufficient then pam_deny (authselect shape)",
			stack: "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth sufficient pam_sms.so\nauth required pam_deny.so\n",
			want:  statusFail, msg: "control `sufficient`"},
		{name: "optional", stack: "@include common-auth\nauth optional pam_sms.so\n", want: statusFail, msg: "control `optional`"},
		{name: "default=ignore", stack: "@include common-auth\nauth [success=ok default=ignore] pam_sms.so\n", want: statusFail,
			msg: "skips pam_sms.so on error (auth_err=ignore"},
		{name: "default=ok", stack: "@include common-auth\nauth [success=ok ignore=ignore default=ok] pam_sms.so\n", want: statusFail,
			msg: "skips pam_sms.so on error"},
		{name: "authinfo_unavail=ignore", stack: "@include common-auth\nauth [success=ok ignore=ignore authinfo_unavail=ignore default=die] pam_sms.so\n",
			want: statusFail, msg: "authinfo_unavail=ignore"},
		{name: "include password-auth", stack: "auth include password-auth\nauth required pam_sms.so\n", want: statusFail,
			msg: "never runs, so no code is asked (2FA bypass)"},
		{name: "substack password-auth", stack: "auth substack password-auth\nauth required pam_sms.so\n", want: statusWarn,
			msg: "an SMS is sent even after a wrong password"},
		{name: "required pam_unix", stack: "auth required pam_unix.so\nauth required pam_sms.so\n", want: statusWarn,
			msg: "an SMS is sent even after a wrong password"},
		{name: "optional pam_unix", stack: "auth optional pam_unix.so\nauth required pam_sms.so\n", want: statusFail,
			msg: "a wrong password with a right code logs in"},
		{name: "duo control denies exempt users", stack: "@include common-auth\nauth [success=ok default=bad] pam_sms.so\n",
			want: statusWarn, msg: "denies users exempt from SMS (ignore=bad)"},
		{name: "key and sms with a key first", service: "sshd", sshdT: keySshd,
			stack: "auth required pam_sms.so\nauth required pam_permit.so\n", want: statusOK, msg: "after the SSH key"},
		{name: "key and sms without a key", service: "sshd",
			stack: "auth required pam_sms.so\nauth required pam_permit.so\n", want: statusFail, msg: "runs before any password step"},
		{name: "continued line", stack: "@include common-auth\nauth [success=ok \\\n  default=ignore] pam_sms.so\n", want: statusFail,
			msg: "skips pam_sms.so on error"},
		{name: "bad control", stack: "@include common-auth\nauth [success=ok default=maybe] pam_sms.so\n", want: statusFail,
			msg: "libpam cannot use this line"},
		{name: "account line", stack: "@include common-auth\nauth required pam_sms.so\naccount required pam_sms.so\n", want: statusFail,
			msg: "pam_sms.so only authenticates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.service
			if svc == "" {
				svc = "svc"
			}
			dir := pamDir(t, map[string]string{svc: tt.stack})
			sshdT := tt.sshdT
			if sshdT == "" {
				sshdT = goodSshd
			}
			r := runWith(t, testHost(t, sshdT), nil, "doctor", "--json", "--pam-dir", dir, "--config", cfg)
			var rep doctorReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("%v in %q (stderr %s)", err, r.stdout, r.stderr)
			}
			prefix := "stack " + filepath.Join(dir, svc) + ":"
			worst, msgs := "", ""
			for _, it := range rep.Items {
				if !strings.HasPrefix(it.Check, prefix) {
					continue
				}
				msgs += it.Status + " " + it.Message + "\n"
				if it.Status != statusOK && !startsWithCommand(it.Fix) {
					t.Errorf("%s %s: the fix does not start with a command: %q", it.Status, it.Check, it.Fix)
				}
				if worst == "" || rank(it.Status) > rank(worst) {
					worst = it.Status
				}
			}
			if worst != tt.want || !strings.Contains(msgs, tt.msg) {
				t.Errorf("got %s, want %s with %q; items:\n%s", worst, tt.want, tt.msg, msgs)
			}
			if wantExit := map[bool]int{true: exitFailed, false: exitOK}[rep.Fail > 0]; r.code != wantExit {
				t.Errorf("exit %d with %d FAIL", r.code, rep.Fail)
			}
		})
	}
}

func rank(s string) int { return map[string]int{statusOK: 0, statusWarn: 1, statusFail: 2}[s] }

func TestDoctorSshd(t *testing.T) {
	requireRoot(t)
	cfg, _ := writeConfig(t, configOpts{})
	dir := pamDir(t, map[string]string{"sshd": "@include common-auth\nauth required pam_sms.so\n"})
	tests := []struct {
		name, sshdT, want string
		msgs              []string
	}{
		{"drop-in installed", goodSshd, statusOK, []string{"UsePAM yes, KbdInteractiveAuthentication yes"}},
		{"key and sms", keySshd, statusOK, nil},
		{"debian defaults", debianSshdT, statusFail, []string{"KbdInteractiveAuthentication is no",
			"a key alone logs in", "PasswordAuthentication is yes"}},
		{"no pam", strings.Replace(goodSshd, "usepam yes", "usepam no", 1), statusFail, []string{"UsePAM is no"}},
		{"key alone allowed", strings.Replace(goodSshd, "authenticationmethods keyboard-interactive",
			"authenticationmethods publickey keyboard-interactive", 1), statusWarn, []string{`allows "publickey"`}},
		{"old keyword", "usepam yes\nchallengeresponseauthentication no\nauthenticationmethods keyboard-interactive\n",
			statusFail, []string{"KbdInteractiveAuthentication is no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runWith(t, testHost(t, tt.sshdT), nil, "doctor", "--json", "--pam-dir", dir, "--config", cfg)
			var rep doctorReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			for _, it := range rep.Items {
				if it.Check != "sshd" {
					continue
				}
				if it.Status != tt.want {
					t.Errorf("status %s, want %s: %s", it.Status, tt.want, it.Message)
				}
				for _, m := range tt.msgs {
					if !strings.Contains(it.Message, m) {
						t.Errorf("message %q lacks %q", it.Message, m)
					}
				}
				return
			}
			t.Errorf("no sshd item in %s", r.stdout)
		})
	}
}

func TestEnableDisable(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name     string
		args     []string
		files    map[string]string
		changed  []string // files that get the line
		after    string   // line after which it goes, in each changed file
		wantCode int
		stderr   string
	}{
		{name: "debian sshd", args: []string{"--service", "sshd"}, files: map[string]string{"sshd": debianSshd},
			changed: []string{"sshd"}, after: "@include common-auth\n"},
		{name: "debian all", args: []string{"--service", "all"}, files: map[string]string{"sshd": debianSshd, "login": debianLogin},
			changed: []string{"sshd", "login"}, after: "@include common-auth\n"},
		{name: "explicit lines", args: []string{"--service", "login"},
			files:   map[string]string{"login": "auth required pam_env.so\nauth requisite pam_unix.so nullok\naccount required pam_unix.so\n"},
			changed: []string{"login"}, after: "auth requisite pam_unix.so nullok\n"},
		{name: "no newline at the end", args: []string{"--service", "login"},
			files:   map[string]string{"login": "auth required pam_env.so\nauth requisite pam_unix.so nullok"},
			changed: []string{"login"}, after: "auth requisite pam_unix.so nullok\n"},
		{name: "rhel substack", args: []string{"--service", "sshd"}, files: map[string]string{"sshd": rhelSshd},
			wantCode: exitFailed, stderr: "send an SMS even for a wrong password"},
		{name: "include", args: []string{"--service", "sshd"},
			files:    map[string]string{"sshd": "auth include password-auth\naccount include password-auth\n"},
			wantCode: exitFailed, stderr: "never run after a right password (2FA bypass)"},
		{name: "required pam_unix", args: []string{"--service", "login"},
			files:    map[string]string{"login": "auth required pam_unix.so\n"},
			wantCode: exitFailed, stderr: "refused, the stack would be wrong: an SMS is sent even after a wrong password"},
		{name: "common-auth has it already", args: []string{"--service", "sshd"},
			files: map[string]string{"sshd": debianSshd,
				"common-auth": debianCommonAuth + "auth\t[success=ok ignore=ignore default=die]\tpam_sms.so\n"},
			wantCode: exitFailed, stderr: "already runs pam_sms.so through @include common-auth"},
		{name: "no password step", args: []string{"--service", "login"}, files: map[string]string{"login": "auth required pam_permit.so\n"},
			wantCode: exitFailed, stderr: "no password step found"},
	}
	h, cfg := enableHost(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := pamDir(t, tt.files)
			for name := range tt.files {
				if err := os.Chmod(filepath.Join(dir, name), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			r := runWith(t, h, nil, append([]string{"enable", "--config", cfg, "--pam-dir", dir}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("enable: exit %d, want %d; stderr %q, want %q", r.code, tt.wantCode, r.stderr, tt.stderr)
			}
			if !strings.Contains(r.stdout, "AuthenticationMethods keyboard-interactive") {
				t.Errorf("enable did not print the sshd drop-in:\n%s", r.stdout)
			}
			for _, name := range tt.changed {
				path := filepath.Join(dir, name)
				got, orig := readFile(t, path), tt.files[name]
				// A last line without newline gets the new line without one too.
				want := strings.Replace(orig, tt.after, tt.after+smsLine+"\n", 1)
				if !strings.HasSuffix(orig, "\n") {
					want = strings.Replace(orig, strings.TrimSuffix(tt.after, "\n"), tt.after+smsLine, 1)
				}
				if got != want {
					t.Errorf("%s after enable:\n%s\nwant:\n%s", name, got, want)
				}
				if b := readFile(t, path+backupSuffix); b != orig {
					t.Errorf("backup of %s:\n%s", name, b)
				}
				if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
					t.Errorf("%s: mode %v after enable, want 0640", name, fi.Mode())
				}
				// The packaging's prerm/%preun removes the same lines.
				cp := filepath.Join(t.TempDir(), name)
				os.WriteFile(cp, []byte(got), 0o644)
				if out, err := exec.Command("sed", "-i", `/# added by pam-sms enable[[:space:]]*$/d`, cp).CombinedOutput(); err != nil {
					t.Fatalf("sed: %v %s", err, out)
				}
				if sedOut := readFile(t, cp); strings.HasSuffix(orig, "\n") && sedOut != orig {
					t.Errorf("the prerm sed leaves %s as:\n%s", name, sedOut)
				}
			}
			if len(tt.changed) > 0 {
				again := runWith(t, h, nil, append([]string{"enable", "--config", cfg, "--pam-dir", dir}, tt.args...)...)
				if again.code != exitOK || !strings.Contains(again.stdout, "already names pam_sms.so") {
					t.Errorf("second enable: exit %d\n%s%s", again.code, again.stdout, again.stderr)
				}
				doc := run(t, "doctor", "--json", "--pam-dir", dir, "--config", "/nonexistent")
				for _, name := range tt.changed {
					if !strings.Contains(doc.stdout, `"check": "stack `+filepath.Join(dir, name)) {
						t.Errorf("doctor does not check %s", name)
					}
				}
				var rep doctorReport
				if err := json.Unmarshal([]byte(doc.stdout), &rep); err != nil {
					t.Fatal(err)
				}
				for _, it := range rep.Items {
					if strings.HasPrefix(it.Check, "stack ") && it.Status != statusOK {
						t.Errorf("doctor finds fault with what enable wrote: %+v", it)
					}
				}
			}
			d := run(t, append([]string{"disable", "--pam-dir", dir}, tt.args...)...)
			if d.code != exitOK {
				t.Fatalf("disable: exit %d %s", d.code, d.stderr)
			}
			after := snapshot(t, dir)
			for name, body := range before {
				if after[name] != body {
					t.Errorf("%s after enable+disable:\n%q\nwant byte-identical:\n%q", name, after[name], body)
				}
			}
		})
	}
}

// snapshot reads every service file of dir (not the backups).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), backupSuffix) {
			m[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
		}
	}
	return m
}

func TestDisableKeepsOwnLines(t *testing.T) {
	requireRoot(t)
	own := "@include common-auth\nauth required pam_sms.so # mine\n"
	dir := pamDir(t, map[string]string{"sshd": own})
	r := run(t, "disable", "--pam-dir", dir)
	if r.code != exitOK || readFile(t, filepath.Join(dir, "sshd")) != own || !strings.Contains(r.stdout, "no line added by pam-sms enable") {
		t.Errorf("exit %d, %s", r.code, r.stdout)
	}
}

func TestEnableSshdWarnings(t *testing.T) {
	requireRoot(t)
	dir := pamDir(t, map[string]string{"sshd": debianSshd})
	h, cfg := enableHost(t)
	h.SshdT = testHost(t, debianSshdT).SshdT
	r := runWith(t, h, nil, "enable", "--config", cfg, "--pam-dir", dir, "--service", "sshd")
	for _, want := range []string{"warning: sshd -T shows", "KbdInteractiveAuthentication is no",
		"a key alone logs in", "PasswordAuthentication is yes", dropInPath} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("enable output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != exitOK {
		t.Errorf("exit %d", r.code)
	}
}

// TestDoctorBrokenAndFixed runs doctor on a deliberately broken machine and
// on the same machine fixed (go test -v shows both checklists).
func TestDoctorBrokenAndFixed(t *testing.T) {
	requireRoot(t)
	// Under /run (root, 0755), not t.TempDir(): pam_sms.so refuses a helper
	// below /tmp (mode 1777), and so does doctor.
	root, err := os.MkdirTemp("/run", "pam-sms-doctor-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	module := filepath.Join(root, "lib", "pam_sms.so")
	helper := filepath.Join(root, "libexec", "pam-sms-helper")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{module, 0o644}, {helper, 0o755}} {
		os.MkdirAll(filepath.Dir(f.path), 0o755)
		if err := os.WriteFile(f.path, []byte("x"), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	doctor := func(t *testing.T, sshdT, cfg, dir string) (result, doctorReport) {
		r := runWith(t, testHost(t, sshdT), nil, "doctor", "--verbose", "--pam-dir", dir, "--config", cfg)
		t.Logf("$ pam-sms doctor --verbose\n%s", r.stdout)
		j := runWith(t, testHost(t, sshdT), nil, "doctor", "--verbose", "--json", "--pam-dir", dir, "--config", cfg)
		var rep doctorReport
		if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		return r, rep
	}
	status := func(rep doctorReport, prefix string) string {
		worst := ""
		for _, it := range rep.Items {
			if strings.HasPrefix(it.Check, prefix) && (worst == "" || rank(it.Status) > rank(worst)) {
				worst = it.Status
			}
		}
		return worst
	}

	t.Run("broken", func(t *testing.T) {
		if !isDebian() {
			t.Skip("the expected fixes are Debian's")
		}
		cfg, state := writeConfig(t, configOpts{groups: `["root"]`, noNumbers: true, url: "http://127.0.0.1:1/send"})
		os.Chmod(state, 0o777)
		os.Chmod(helper, 0o775)
		args := " " + filepath.Join(root, "missing", "pam_sms.so") + " helper=" + helper + " config=" + cfg + "\n"
		dir := pamDir(t, map[string]string{
			"sshd":  "auth required" + args + "@include common-auth\n",
			"login": "@include common-auth\nauth sufficient" + args,
		})
		r, rep := doctor(t, debianSshdT, cfg, dir)
		if r.code != exitFailed {
			t.Errorf("exit %d, want 1", r.code)
		}
		for prefix, want := range map[string]string{
			"config": statusOK, "state dir": statusFail, "module": statusFail, "helper": statusFail,
			"stack " + dir + "/sshd:1": statusFail, "stack " + dir + "/login:2": statusFail,
			"sshd": statusFail, "gateway": statusFail, "users": statusWarn,
		} {
			if got := status(rep, prefix); got != want {
				t.Errorf("%s: %s, want %s", prefix, got, want)
			}
		}
		if !strings.Contains(r.stdout, "users: 1 of 1 users who can log in are enforced and have no number") || !strings.Contains(r.stdout, "      - root\n") {
			t.Errorf("users line:\n%s", r.stdout)
		}
		for _, it := range rep.Items {
			if it.Status != statusOK && !startsWithCommand(it.Fix) {
				t.Errorf("%s %s: the fix does not start with a command: %q", it.Status, it.Check, it.Fix)
			}
		}
		for check, want := range map[string]string{
			"state dir":                 "install -d -o root -g root -m 2770 " + state,
			"helper":                    "chown root:root " + helper + "; chmod 2755 " + helper,
			"module":                    "apt-get install --reinstall libpam-sms, or vi +2 " + dir + "/login: correct the pam_sms.so path",
			"stack " + dir + "/sshd:1":  "sed -i '1d' " + dir + "/sshd && pam-sms enable --service sshd --pam-dir " + dir,
			"stack " + dir + "/login:2": "sed -i '2s/",
			"sshd":                      "pam-sms enable --ssh --install && sshd -t && systemctl reload ",
			"gateway":                   "curl -sS --max-time 10 -o /dev/null http://127.0.0.1:1/",
			"users":                     "vi " + cfg + `: add a line NAME = "+..." under [numbers]`,
		} {
			found := false
			for _, it := range rep.Items {
				if strings.HasPrefix(it.Check, check) && strings.HasPrefix(it.Fix, want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s item whose fix starts with %q", check, want)
			}
		}
	})
	t.Run("fixed", func(t *testing.T) {
		gw := startGateway(t, "100 OK", true)
		cfg, _ := writeConfig(t, configOpts{groups: `["root"]`, url: gw.url(), caFile: gw.caFile(t)})
		os.Chmod(helper, 0o755|os.ModeSetgid)
		args := " " + module + " helper=" + helper + " config=" + cfg + "\n"
		dir := pamDir(t, map[string]string{
			"sshd":  "@include common-auth\nauth required" + args,
			"login": "@include common-auth\nauth [success=ok ignore=ignore default=die]" + args,
		})
		r, rep := doctor(t, goodSshd, cfg, dir)
		if r.code != exitOK || rep.Fail != 0 || rep.Warn != 0 {
			t.Errorf("exit %d, %d FAIL, %d WARN:\n%s", r.code, rep.Fail, rep.Warn, r.stdout)
		}
		if gw.count() != 0 {
			t.Errorf("doctor sent %d SMS", gw.count())
		}
	})
}

// fixCommands are the commands doctor's fixes start with.
var fixCommands = []string{"chmod", "chown", "chgrp", "install", "groupadd", "gpasswd", "mv", "sed", "vi", "pam-sms",
	"apt-get", "dnf", "authselect", "sshd", "curl", "ls", "getent"}

// startsWithCommand reports whether fix starts with one of fixCommands
// followed by an argument.
func startsWithCommand(fix string) bool {
	name, rest, _ := strings.Cut(fix, " ")
	for _, c := range fixCommands {
		if name == c && rest != "" {
			return true
		}
	}
	return false
}
