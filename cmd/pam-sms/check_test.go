package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
)

func TestCheckWarnings(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  []string // prefixes, in order
	}{
		{"defaults", "", nil},
		{"fail_mode safe", "[policy]\nfail_mode = \"safe\"\n", []string{"policy.fail_mode:"}},
		{"validity past the module's deadline", "[code]\nvalidity = \"10m\"\n",
			[]string{"code.validity: 10m0s plus gateway.timeout 10s is longer than pam_sms.so's default deadline (6m0s): add timeout=670"}},
		{"message over one SMS", "[code]\nmessage = \"" + strings.Repeat("x", 160) + " {code}\"\n",
			[]string{"code.message: rendered text has 167 characters, over one SMS (160 GSM-7 characters)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := conf.Parse("t.conf", []byte(tt.extra+"[gateway]\nurl = \"https://gw.example/send\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := warnings(cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings = %q, want %d", got, len(tt.want))
			}
			for i := range got {
				if s := got[i].Key + ": " + got[i].Message; !strings.HasPrefix(s, tt.want[i]) || got[i].Severity != sevWarning {
					t.Errorf("warning %+v, want prefix %q", got[i], tt.want[i])
				}
			}
		})
	}
}

// finding is an expected check finding: severity, key, the line of the file
// it must point at (by its start; "" for line 0) and a part of the message.
type finding struct {
	sev, key, at, msg string
}

func TestCheckFindings(t *testing.T) {
	requireRoot(t)
	lockoutNone := finding{sevWarning, "policy.missing_number", "missing_number =",
		`with groups = ["*"], every user without a number (in [numbers] or a numbers file) is locked out of the services that use pam_sms; 0 of 1 users who can log in have no number.`}
	tests := []struct {
		name  string
		opts  configOpts
		setup func(t *testing.T, stateDir string)
		want  []finding // in this order, and no others
		// locked is the users check names as locked out.
		locked []string
	}{
		{name: "good, groups * and deny: the lockout is said with the count", want: []finding{lockoutNone}},
		{name: "good, a group, ignore", opts: configOpts{groups: `["root"]`, missing: "ignore", noNumbers: true}},

		// The placeholder URL and other example names never reach a gateway.
		{name: "placeholder URL", opts: configOpts{url: "https://gateway.example/send"}, want: []finding{
			lockoutNone, {sevProblem, "gateway.url", "url =", "gateway.example is the shipped placeholder"}}},
		{name: "example domain", opts: configOpts{url: "https://sms.example.com/send"}, want: []finding{
			lockoutNone, {sevProblem, "gateway.url", "url =", "sms.example.com is a name reserved for examples"}}},

		// state_dir: what limits.Open refuses, or doctor fails, is a problem.
		{name: "state_dir missing", setup: func(t *testing.T, dir string) { must(t, os.Remove(dir)) }, want: []finding{
			lockoutNone, {sevProblem, "limits.state_dir", "state_dir =", "does not exist: every SMS login is denied"}}},
		{name: "state_dir a symbolic link", setup: func(t *testing.T, dir string) {
			must(t, os.Remove(dir))
			must(t, os.Symlink(t.TempDir(), dir))
		}, want: []finding{lockoutNone, {sevProblem, "limits.state_dir", "state_dir =", "is a symbolic link"}}},
		{name: "state_dir a file", setup: func(t *testing.T, dir string) {
			must(t, os.Remove(dir))
			must(t, os.WriteFile(dir, nil, 0o600))
		}, want: []finding{lockoutNone, {sevProblem, "limits.state_dir", "state_dir =", "is not a directory"}}},
		{name: "state_dir writable by others", setup: func(t *testing.T, dir string) { must(t, os.Chmod(dir, 0o777)) }, want: []finding{
			lockoutNone,
			{sevProblem, "limits.state_dir", "state_dir =", "is writable by others: the helper refuses it"},
			{sevWarning, "limits.state_dir", "state_dir =", "has mode 0777, not 2770"}}},
		{name: "state_dir not owned by root", setup: func(t *testing.T, dir string) { must(t, os.Chown(dir, 65534, 0)) }, want: []finding{
			lockoutNone, {sevProblem, "limits.state_dir", "state_dir =", "is owned by uid 65534, not root"}}},
		{name: "state_dir mode 0755", setup: func(t *testing.T, dir string) { must(t, os.Chmod(dir, 0o755)) }, want: []finding{
			lockoutNone, {sevWarning, "limits.state_dir", "state_dir =", "has mode 0755, not 2770"}}},
		{name: "state_dir group", setup: func(t *testing.T, dir string) { must(t, os.Chown(dir, 0, 65534)) }, want: []finding{
			lockoutNone, {sevWarning, "limits.state_dir", "state_dir =", "has group gid 65534, not root"}}},

		// Groups: none existing is a problem, one missing among others a warning.
		{name: "no listed group exists", opts: configOpts{groups: `["no-such-group-a", "no-such-group-b"]`}, want: []finding{
			{sevProblem, "policy.groups", "groups =", `group "no-such-group-a" does not exist, nor does any other group listed: nobody is asked for a code`},
			{sevProblem, "policy.groups", "groups =", `group "no-such-group-b" does not exist`}}},
		{name: "one listed group missing", opts: configOpts{groups: `["root", "no-such-group-a"]`}, want: []finding{
			{sevWarning, "policy.groups", "groups =", `group "no-such-group-a" does not exist: nobody is enforced through it`}}},
		{name: "no exempt group exists", opts: configOpts{policy: `exempt_groups = ["no-such-group-a"]`}, want: []finding{
			lockoutNone, {sevProblem, "policy.exempt_groups", "exempt_groups =", "the break-glass exemption exempts nobody"}}},
		{name: "one exempt group missing", opts: configOpts{policy: `exempt_groups = ["no-such-group-a", "root"]`}, want: []finding{
			lockoutNone, {sevWarning, "policy.exempt_groups", "exempt_groups =", `group "no-such-group-a" does not exist: nobody is exempt through it`}}},
		{name: "exempt user missing", opts: configOpts{policy: `exempt_users = ["no-such-user-xyz"]`}, want: []finding{
			lockoutNone, {sevWarning, "policy.exempt_users", "exempt_users =", `user "no-such-user-xyz" does not exist`}}},

		// [numbers]
		{name: "number of an unknown user", opts: configOpts{numbers: "root = \"+49 172 34567890\"\nno-such-user-xyz = \"+49 172 34567891\"\n"},
			want: []finding{lockoutNone, {sevWarning, "numbers.no-such-user-xyz", "no-such-user-xyz =", "no such user on this system"}}},
		{name: "unassigned country code", opts: configOpts{numbers: "root = \"+999 1234 5678\"\n"},
			want: []finding{lockoutNone, {sevWarning, "numbers.root", "root =", "country code +999 is not assigned"}}},
		{name: "fixed-line number", opts: configOpts{numbers: "root = \"+49 30 1234567\"\n"},
			want: []finding{lockoutNone, {sevWarning, "numbers.root", "root =", "+49 3... is not a mobile number in Germany"}}},

		// Who would be locked out, by name.
		{name: "locked out, groups *", opts: configOpts{noNumbers: true}, locked: []string{"root"}, want: []finding{
			{sevWarning, "policy.missing_number", "missing_number =", "1 of 1 users who can log in have no number and are locked out: root. Before enabling:"}}},
		{name: "locked out, a group", opts: configOpts{groups: `["root"]`, noNumbers: true}, locked: []string{"root"}, want: []finding{
			{sevWarning, "policy.missing_number", "missing_number =", "1 of 1 users who can log in have no number and are locked out: root."}}},
		{name: "break-glass user is not locked out", opts: configOpts{noNumbers: true, policy: `exempt_users = ["root"]`}, want: []finding{lockoutNone}},
		{name: "not locked out under ignore", opts: configOpts{noNumbers: true, missing: "ignore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, state := writeConfig(t, tt.opts)
			if tt.setup != nil {
				tt.setup(t, state)
			}
			res := checkConfig(context.Background(), testHost(t, goodSshd), path)
			data, err := os.ReadFile(path)
			must(t, err)
			if len(res.Problems) != len(tt.want) {
				t.Errorf("%d findings, want %d:\n%s", len(res.Problems), len(tt.want), listFindings(res.Problems))
			}
			wantFail := false
			for i, w := range tt.want {
				wantFail = wantFail || w.sev == sevProblem
				if i >= len(res.Problems) {
					break
				}
				g := res.Problems[i]
				if g.File != path || g.Severity != w.sev || g.Key != w.key || g.Line != lineStarting(t, data, w.at) ||
					!strings.Contains(g.Message, w.msg) {
					t.Errorf("finding %d:\n%s\nwant %s at %q: %s: ...%s...", i, g, w.sev, w.at, w.key, w.msg)
				}
			}
			if res.failed() != wantFail || res.Config == nil {
				t.Errorf("failed() = %t, want %t; Config %v", res.failed(), wantFail, res.Config != nil)
			}
			if !slices.Equal(res.Locked, tt.locked) {
				t.Errorf("locked out %q, want %q", res.Locked, tt.locked)
			}
			r := run(t, "check", "--config", path)
			if (r.code == exitOK) == wantFail {
				t.Errorf("pam-sms check: exit %d\n%s", r.code, r.stdout)
			}
			assertNoSecrets(t, r.stdout+r.stderr)
		})
	}
}

// TestCheckShipped: the shipped config fails check for its placeholders, the
// gateway URL and (where it is not there yet) the password file, and warns
// about the lockout of groups = ["*"] with missing_number = "deny".
func TestCheckShipped(t *testing.T) {
	requireRoot(t)
	data, err := os.ReadFile("../../conf/pam_sms.conf")
	must(t, err)
	path := filepath.Join(t.TempDir(), "pam_sms.conf")
	must(t, os.WriteFile(path, data, 0o640))
	res := checkConfig(context.Background(), testHost(t, goodSshd), path)
	want := []finding{
		{sevProblem, "gateway.url", "url =", "gateway.example is the shipped placeholder"},
		{sevWarning, "policy.missing_number", "missing_number =", `with groups = ["*"], every user without a number (in [numbers] or a numbers file) is locked out`},
	}
	if _, err := os.Lstat("/etc/security/pam_sms.secret"); err != nil {
		want = append(want, finding{sevProblem, "gateway.password_file", "password_file =", "file does not exist"})
	}
	for _, w := range want {
		if !slices.ContainsFunc(res.Problems, func(g problem) bool {
			return g.Severity == w.sev && g.Key == w.key && g.Line == lineStarting(t, data, w.at) && strings.Contains(g.Message, w.msg)
		}) {
			t.Errorf("no finding %+v in:\n%s", w, listFindings(res.Problems))
		}
	}
	if !res.failed() {
		t.Error("the shipped config passes check")
	}
	if !slices.Contains(res.Locked, "root") {
		t.Errorf("locked out %q: root has no number in the shipped config", res.Locked)
	}
}

func listFindings(ps []problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// lineStarting is the 1-based line of data that starts with prefix; 0 for "".
func lineStarting(t *testing.T, data []byte, prefix string) int {
	t.Helper()
	if prefix == "" {
		return 0
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("Setup: no line starts with %q", prefix)
	return 0
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckNumbersFiles: check reads each numbers file as the helper does and
// reports every problem with its file, line and key (a bad line, an invalid
// number, a user listed twice, a missing or unsafe file), never the number;
// a user whose number is in a file is not counted as locked out.
func TestCheckNumbersFiles(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	good := writeRootFile(t, dir, "good", "# fleet\nroot = \"+49 170 5550123\"\n")
	bad := writeRootFile(t, dir, "bad", strings.Join([]string{
		`alice = "+49 170 5550124"`,
		`bob = "0170 5550125"`,
		`[admins]`,
		`alice = "+49 170 5550126"`,
		`carol = "+49 30 5550127"`, // fixed line: a warning
		``,
	}, "\n"))
	unsafe := writeRootFile(t, dir, "unsafe", "")
	must(t, os.Chmod(unsafe, 0o644))
	missing := filepath.Join(dir, "missing")
	path, _ := writeConfig(t, configOpts{noNumbers: true,
		policy: fmt.Sprintf("numbers_files = [%q, %q, %q, %q]", good, bad, unsafe, missing)})
	res := checkConfig(context.Background(), testHost(t, goodSshd), path)
	want := []problem{
		{File: bad, Line: 2, Key: "bob", Severity: sevProblem,
			Message: "number must start with + or 00 and a country code; a national number (single leading 0) is not accepted"},
		{File: bad, Line: 3, Severity: sevProblem,
			Message: `not a user = "number" line (a numbers file holds only those, comments and blank lines): no [tables]`},
		{File: bad, Line: 4, Key: "alice", Severity: sevProblem, Message: "listed again (first at line 1, which is used)"},
		{File: unsafe, Severity: sevProblem, Message: "is mode 0644; it must not be readable by others (chmod 0640 " + unsafe +
			"): the enforced users it is read for are denied"},
		{File: missing, Severity: sevProblem, Message: "file does not exist: the enforced users it is read for are denied"},
	}
	for _, w := range want {
		if !slices.Contains(res.Problems, w) {
			t.Errorf("no finding %s in:\n%s", w, listFindings(res.Problems))
		}
	}
	if !slices.ContainsFunc(res.Problems, func(p problem) bool {
		return p.File == bad && p.Line == 5 && p.Key == "carol" && p.Severity == sevWarning
	}) {
		t.Errorf("no warning for the fixed-line number of carol in:\n%s", listFindings(res.Problems))
	}
	if slices.Contains(res.Locked, "root") {
		t.Errorf("root is counted as locked out, but has a number in %s", good)
	}
	// testHost's helper group is root, which owns these files: no warning
	// until one is not readable by the group.
	must(t, os.Chmod(good, 0o600))
	res = checkConfig(context.Background(), testHost(t, goodSshd), path)
	if !slices.ContainsFunc(res.Problems, func(p problem) bool {
		return p.File == good && p.Severity == sevWarning && strings.HasPrefix(p.Message, "not readable by group root")
	}) {
		t.Errorf("no warning for a numbers file of mode 0600 in:\n%s", listFindings(res.Problems))
	}
	must(t, os.Chmod(good, 0o640))
	if !res.failed() {
		t.Error("check passes broken numbers files")
	}
	r := run(t, "check", "--config", path, "--json")
	if r.code != exitFailed || !strings.Contains(r.stdout, `"file": "`+bad+`"`) {
		t.Errorf("check --json: exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "555012") {
		t.Errorf("check repeats a number:\n%s", r.stdout)
	}

	// The good file alone passes, and the count says so.
	path, _ = writeConfig(t, configOpts{noNumbers: true, policy: fmt.Sprintf("numbers_files = [%q]", good)})
	r = run(t, "check", "--config", path)
	if !strings.Contains(r.stdout, "OK (0 numbers, 1 in numbers files,") {
		t.Errorf("check of a good numbers file: exit %d\n%s", r.code, r.stdout)
	}
}
