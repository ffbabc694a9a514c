package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderDropIn(t *testing.T) {
	tests := []struct {
		name       string
		o          dropInOpts
		want, lack []string
		err        string
	}{
		{name: "defaults are the shipped file", o: dropInOpts{}},
		{name: "key and code", o: dropInOpts{withKey: true},
			want: []string{"\nPubkeyAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n"},
			lack: []string{"\nAuthenticationMethods keyboard-interactive\n"}},
		{name: "own group", o: dropInOpts{group: "backupers"},
			want: []string{"\nMatch Group backupers\n\tPubkeyAuthentication yes\n\tAuthenticationMethods publickey\n"},
			lack: []string{"\nMatch Group pam-sms-automation\n"}},
		{name: "named users", o: dropInOpts{users: []string{"backup", "ansible"}},
			want: []string{"\nMatch Group pam-sms-automation\n", "\nMatch User backup,ansible\n\tPubkeyAuthentication yes\n\tAuthenticationMethods publickey\n"}},
		{name: "user with a blank", o: dropInOpts{users: []string{"a b"}}, err: "not a user name"},
		{name: "user smuggling a line", o: dropInOpts{users: []string{"a\nAuthenticationMethods none"}}, err: "not a user name"},
		{name: "pattern as user", o: dropInOpts{users: []string{"*"}}, err: "not a user name"},
		{name: "group with a comma", o: dropInOpts{group: "a,b"}, err: "not a group name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderDropIn(tt.o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.want)+len(tt.lack) == 0 && got != sshdDropIn {
				t.Errorf("got\n%s\nwant the shipped file", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, l := range tt.lack {
				if strings.Contains(got, l) {
					t.Errorf("still has %q:\n%s", l, got)
				}
			}
			if !strings.HasPrefix(got, dropInMarker) {
				t.Error("no marker line")
			}
		})
	}
}

func TestEnableSSHInstall(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "10-pam-sms.conf")
	args := []string{"enable", "--ssh", "--with-key", "--automation-users", "backup,ansible", "--sshd-dir", dir}

	p := run(t, args...)
	if p.code != exitOK || !strings.Contains(p.stdout, keyMethods+"\n") || !strings.Contains(p.stdout, "Match User backup,ansible\n") {
		t.Errorf("print: exit %d\n%s%s", p.code, p.stdout, p.stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("printing wrote the file")
	}

	i := run(t, append(args, "--install")...)
	want, _ := renderDropIn(dropInOpts{withKey: true, users: []string{"backup", "ansible"}})
	if i.code != exitOK || readFile(t, path) != want {
		t.Fatalf("install: exit %d %s%s\nfile:\n%s", i.code, i.stdout, i.stderr, readFile(t, path))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if again := run(t, append(args, "--install")...); again.code != exitOK || !strings.Contains(again.stdout, "nothing to do") {
		t.Errorf("second install: exit %d %s", again.code, again.stdout)
	}
	// Its own file is replaced by other choices.
	if other := run(t, "enable", "--ssh", "--install", "--sshd-dir", dir); other.code != exitOK || readFile(t, path) != sshdDropIn {
		t.Errorf("replacing its own file: exit %d %s", other.code, other.stderr)
	}

	foreign := "# mine\nAuthenticationMethods publickey\n"
	os.WriteFile(path, []byte(foreign), 0o644)
	if f := run(t, append(args, "--install")...); f.code != exitFailed || !strings.Contains(f.stderr, "refusing to overwrite") || readFile(t, path) != foreign {
		t.Errorf("foreign file: exit %d %s; file now:\n%s", f.code, f.stderr, readFile(t, path))
	}
	os.Remove(path)
	os.Symlink(filepath.Join(dir, "elsewhere"), path)
	if l := run(t, append(args, "--install")...); l.code != exitFailed || !strings.Contains(l.stderr, "not a regular file") {
		t.Errorf("symlink: exit %d %s", l.code, l.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); err == nil {
		t.Error("wrote through the symlink")
	}
	if m := run(t, "enable", "--ssh", "--install", "--sshd-dir", filepath.Join(dir, "nonexistent")); m.code != exitFailed || !strings.Contains(m.stderr, "not a directory") {
		t.Errorf("missing dir: exit %d %s", m.code, m.stderr)
	}
}

func TestEnableSSHUsage(t *testing.T) {
	for _, args := range [][]string{
		{"enable", "--install"},
		{"enable", "--automation-users", "backup"},
		{"enable", "--ssh", "--automation-users", "a b"},
		{"enable", "--ssh", "--automation-group", "x,y"},
	} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, r.code, exitUsage, r.stderr)
		}
	}
}

// TestDoctorKeyOnly: an enforced user whom a Match block lets in with a key
// alone is a WARN naming the user, with the command that fixes it.
func TestDoctorKeyOnly(t *testing.T) {
	requireRoot(t)
	dir := pamDir(t, map[string]string{"sshd": "@include common-auth\nauth required pam_sms.so\n"})
	tests := []struct {
		name, groups, match, userT, want, msg string
	}{
		{"match user", `["*"]`, "Match User root,backup\n\tAuthenticationMethods publickey\n", "authenticationmethods publickey\n",
			statusWarn, `root is enforced (policy.groups) but sshd lets it log in with AuthenticationMethods "publickey"`},
		{"match user, the fix", `["*"]`, "Match User backup,r*t\n\tAuthenticationMethods publickey\n", "authenticationmethods publickey\n",
			statusWarn, "10-pam-sms.conf: take root out of its Match User line"},
		{"match group", `["*"]`, "Match Group root\n\tAuthenticationMethods publickey\n", "authenticationmethods publickey\n",
			statusWarn, "gpasswd -d root root"},
		{"match group, key and code", `["*"]`, "Match Group root\n\tAuthenticationMethods publickey,keyboard-interactive\n",
			"authenticationmethods publickey,keyboard-interactive\n", statusOK, "none of the 1 enforced users"},
		{"not enforced", `["daemon"]`, "Match User root\n\tAuthenticationMethods publickey\n", "authenticationmethods publickey\n", "", ""},
		{"no match blocks", `["*"]`, "", "authenticationmethods publickey\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := writeConfig(t, configOpts{groups: tt.groups})
			sshdDir := t.TempDir()
			os.WriteFile(filepath.Join(sshdDir, "sshd_config"), []byte("Include "+sshdDir+"/conf.d/*.conf\nPort 22\n"), 0o644)
			os.Mkdir(filepath.Join(sshdDir, "conf.d"), 0o755)
			os.WriteFile(filepath.Join(sshdDir, "conf.d", "10-pam-sms.conf"), []byte("UsePAM yes\n"+tt.match), 0o644)
			h := testHost(t, goodSshd)
			h.SshdConfig = filepath.Join(sshdDir, "sshd_config")
			var asked []string
			h.SshdTUser = func(_ context.Context, user string) ([]byte, error) {
				asked = append(asked, user)
				return []byte(goodSshd[:strings.Index(goodSshd, "authenticationmethods")] + tt.userT), nil
			}
			r := runWith(t, h, nil, "doctor", "--json", "--pam-dir", dir, "--config", cfg)
			var rep doctorReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			var got *item
			for i, it := range rep.Items {
				if it.Check == "sshd key alone" {
					got = &rep.Items[i]
				}
			}
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("unexpected %+v (sshd -T asked for %q)", *got, asked)
			case tt.want == "":
			case got == nil:
				t.Errorf("no key-alone item; sshd -T asked for %q", asked)
			case got.Status != tt.want || !strings.Contains(got.Message+" fix: "+got.Fix, tt.msg):
				t.Errorf("got %+v, want %s with %q", *got, tt.want, tt.msg)
			}
		})
	}
}
