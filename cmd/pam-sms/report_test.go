package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pam-sms/pam_sms/limits"
)

func TestExplain(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name     string
		opts     configOpts
		args     []string
		wantCode int
		want     explanation
	}{
		{
			name: "challenge", args: []string{"root"},
			want: explanation{Outcome: "challenge", Reason: "second factor required",
				PAMResult: "PAM_SUCCESS with the right code", Number: "+49 *** *****890"},
		},
		{
			name: "trusted network", args: []string{"root", "--rhost", "10.1.2.3"},
			want: explanation{Rhost: "10.1.2.3", Outcome: "exempt", Reason: "client is in trusted_networks", PAMResult: "PAM_IGNORE"},
		},
		{
			name: "untrusted network, flag first", args: []string{"--rhost", "192.0.2.1", "root"},
			want: explanation{Rhost: "192.0.2.1", Outcome: "challenge", Reason: "second factor required",
				PAMResult: "PAM_SUCCESS with the right code", Number: "+49 *** *****890"},
		},
		{
			name: "not in groups", opts: configOpts{groups: `["no-such-group-xyz"]`}, args: []string{"root"},
			want: explanation{Outcome: "exempt", Reason: "user is in none of the enforced groups", PAMResult: "PAM_IGNORE"},
		},
		{
			name: "no number, deny", opts: configOpts{noNumbers: true}, args: []string{"root"},
			want: explanation{Outcome: "deny-no-number", Reason: "no number configured for the user", PAMResult: "PAM_AUTH_ERR"},
		},
		{
			name: "no number, ignore", opts: configOpts{noNumbers: true, missing: "ignore"}, args: []string{"root"},
			want: explanation{Outcome: "ignore-no-number", Reason: `no number configured and missing_number is "ignore"`, PAMResult: "PAM_IGNORE"},
		},
		// Break-glass comes before the number and the trusted networks.
		{
			name: "exempt user without a number", opts: configOpts{noNumbers: true, policy: `exempt_users = ["root"]`}, args: []string{"root"},
			want: explanation{Outcome: "exempt", Reason: "user in exempt_users", PAMResult: "PAM_IGNORE"},
		},
		{
			name: "exempt group, untrusted client", opts: configOpts{policy: `exempt_groups = ["no-such-group-xyz", "root"]`},
			args: []string{"root", "--rhost", "192.0.2.1"},
			want: explanation{Rhost: "192.0.2.1", Outcome: "exempt", Reason: "member of exempt group root", PAMResult: "PAM_IGNORE"},
		},
		{
			name: "unknown user", args: []string{"no-such-user-xyz"}, wantCode: exitFailed,
			want: explanation{User: "no-such-user-xyz", Outcome: "user-unknown", Reason: "user unknown to the system", PAMResult: "PAM_USER_UNKNOWN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := writeConfig(t, tt.opts)
			r := run(t, append([]string{"explain", "--config", path, "--json"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tt.wantCode, r.stderr)
			}
			var got explanation
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			if tt.want.User == "" {
				tt.want.User = "root"
			}
			if tt.want.Outcome == "challenge" {
				tt.want.Source = "[numbers] in " + path
			}
			got.Groups = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("explanation (-want +got):\n%s", diff)
			}
			text := run(t, append([]string{"explain", "--config", path}, tt.args...)...)
			if !strings.Contains(text.stdout, "decision: "+tt.want.Outcome+": "+tt.want.Reason) {
				t.Errorf("text view:\n%s", text.stdout)
			}
			assertNoSecrets(t, r.stdout+text.stdout)
		})
	}
}

// TestExplainNumbersFiles: explain asks the numbers files as the helper
// does, says which gave the number or why there is none, and opens none for
// an exempt login.
func TestExplainNumbersFiles(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	good := writeRootFile(t, dir, "good", "# numbers\nroot = \"+49 170 5550123\"\n")
	bad := writeRootFile(t, dir, "bad", "bob = \"+1 202 5550199\"\nroot = \"0170 5550123\"\n")
	other := writeRootFile(t, dir, "other", "bob = \"+1 202 5550199\"\n")
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name     string
		files    []string
		args     []string
		wantCode int
		want     explanation
	}{
		{name: "number from a file", files: []string{good}, args: []string{"root"},
			want: explanation{Outcome: "challenge", Reason: "second factor required", PAMResult: "PAM_SUCCESS with the right code",
				Number: "+49 *** ****123", Source: good + " line 2"}},
		{name: "invalid number in the first file that has the user", files: []string{bad, good}, args: []string{"root"},
			want: explanation{Outcome: "deny-no-number", PAMResult: "PAM_AUTH_ERR", Source: bad + " line 2",
				Reason: "no number configured for the user: invalid number in " + bad + " line 2: number must start with + or 00 and a country code; a national number (single leading 0) is not accepted"}},
		{name: "in no source", files: []string{other}, args: []string{"root"},
			want: explanation{Outcome: "deny-no-number", PAMResult: "PAM_AUTH_ERR",
				Reason: "no number configured for the user: no number in [numbers] or " + other}},
		{name: "missing file", files: []string{missing, good}, args: []string{"root"}, wantCode: exitProblem,
			want: explanation{Outcome: "source-error", PAMResult: "PAM_SYSTEM_ERR",
				Reason: "number source unusable: numbers file " + missing + ": file does not exist"}},
		{name: "exempt login never opens the file", files: []string{missing}, args: []string{"root", "--rhost", "10.9.9.9"},
			want: explanation{Rhost: "10.9.9.9", Outcome: "exempt", Reason: "client is in trusted_networks", PAMResult: "PAM_IGNORE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quoted := make([]string, len(tt.files))
			for i, f := range tt.files {
				quoted[i] = fmt.Sprintf("%q", f)
			}
			path, _ := writeConfig(t, configOpts{noNumbers: true, policy: "numbers_files = [" + strings.Join(quoted, ", ") + "]"})
			r := run(t, append([]string{"explain", "--config", path, "--json"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tt.wantCode, r.stderr)
			}
			var got explanation
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			tt.want.User, got.Groups = "root", nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("explanation (-want +got):\n%s", diff)
			}
			text := run(t, append([]string{"explain", "--config", path}, tt.args...)...)
			if tt.want.Source != "" && !strings.Contains(text.stdout, "number:   from "+tt.want.Source+"\n") {
				t.Errorf("text view does not say where the number is from:\n%s", text.stdout)
			}
			if strings.Contains(r.stdout+text.stdout, "5550123") {
				t.Errorf("explain shows a whole number:\n%s", r.stdout+text.stdout)
			}
		})
	}
}

// writeRootFile writes a root-owned 0640 file, as numbers files must be.
func writeRootFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExplainLimitReached(t *testing.T) {
	requireRoot(t)
	path, state := writeConfig(t, configOpts{limitsSection: "per_user = 1\n"})
	takeSend(t, state, 1)
	r := run(t, "explain", "--config", path, "root")
	want := "limit:    reached now, the send would be refused: per_user 1/1 (pam-sms limits reset root)"
	if r.code != exitOK || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, stdout:\n%s\nwant %q", r.code, r.stdout, want)
	}
}

// takeSend records n sends for root, as the helper does.
func takeSend(t *testing.T, state string, n int) {
	t.Helper()
	st, err := limits.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := limits.Limits{Window: 15 * time.Minute, PerUser: 100, PerNumber: 100}
	for range n {
		if err := st.Take(l, limits.Keys{User: "root", Number: testDigits}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExplainBadConfig(t *testing.T) {
	r := run(t, "explain", "--config", "/nonexistent/pam_sms.conf", "root")
	if r.code != exitProblem || !strings.Contains(r.stderr, "/nonexistent/pam_sms.conf") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestSendTest(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name      string
		reply     string
		args      []string
		wantCode  int
		wantClass string
	}{
		// The reply echoes the password and the number: both must be scrubbed.
		{"user", "100 OK " + testPassword + " " + testDigits, []string{"root"}, exitOK, "sent"},
		{"number", "100 OK", []string{"+49 172 34567890"}, exitOK, "sent"},
		{"refused", "ERROR 401 bad password " + testPassword, []string{"root"}, exitFailed, "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := startGateway(t, tt.reply, false)
			path, _ := writeConfig(t, configOpts{url: gw.url()})
			r := run(t, append([]string{"send-test", "--config", path}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			form := gw.next(t)
			if form.Get("pw") != testPassword || form.Get("to") != "00"+testDigits {
				t.Errorf("the gateway got pw=%q to=%q: the real values must be sent", form.Get("pw"), form.Get("to"))
			}
			for _, want := range []string{"request to +49 *** *****890:", "POST " + gw.url(), "pw=********",
				"to=0049********890", "status:   200", "class:    " + tt.wantClass} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
			j := run(t, append([]string{"send-test", "--config", path, "--json"}, tt.args...)...)
			gw.next(t)
			var rep sendReport
			if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil {
				t.Fatalf("%v in %s", err, j.stdout)
			}
			if rep.Class != tt.wantClass || rep.Status != 200 || rep.To != "+49 *** *****890" {
				t.Errorf("json report %+v", rep)
			}
			assertNoSecrets(t, r.stdout+r.stderr+j.stdout+j.stderr)
		})
	}
}

func TestSendTestUnreachable(t *testing.T) {
	requireRoot(t)
	path, _ := writeConfig(t, configOpts{url: "http://127.0.0.1:1/send"})
	r := run(t, "send-test", "--config", path, "root")
	if r.code != exitFailed || !strings.Contains(r.stdout, "class:    unreachable") || !strings.Contains(r.stdout, "status:   no answer") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	assertNoSecrets(t, r.stdout+r.stderr)
}

func TestSendTestNoNumber(t *testing.T) {
	requireRoot(t)
	path, _ := writeConfig(t, configOpts{noNumbers: true})
	r := run(t, "send-test", "--config", path, "root")
	if r.code != exitProblem || !strings.Contains(r.stderr, "root has no number in [numbers]") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestLimits(t *testing.T) {
	requireRoot(t)
	path, state := writeConfig(t, configOpts{limitsSection: "per_user = 2\nper_number = 5\ndaily = 0\n"})
	takeSend(t, state, 2)

	r := run(t, "limits", "show", "root", "--config", path)
	if r.code != exitFailed || !strings.Contains(r.stdout, "root") || !strings.Contains(r.stdout, "2/2") ||
		!strings.Contains(r.stdout, "+49 *** *****890") || !strings.Contains(r.stdout, "limit reached") {
		t.Errorf("show at the limit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	j := run(t, "limits", "show", "--json", "--config", path)
	var rep limitsReport
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil {
		t.Fatalf("%v in %s", err, j.stdout)
	}
	want := userCounts{User: "root", Number: "+49 *** *****890", PerUser: counter{2, 2}, PerNumber: counter{2, 5}, Reached: true}
	if len(rep.Users) != 1 || rep.Users[0] != want || rep.Window != "15m0s" || rep.Daily != (counter{2, 0}) { // two sends today, no daily limit
		t.Errorf("json %+v, want users [%+v]", rep, want)
	}

	if r := run(t, "limits", "reset", "root", "--config", path); r.code != exitOK ||
		r.stdout != "cleared the counters of user root, number +49 *** *****890\n" {
		t.Errorf("reset: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "limits", "show", "--config", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "0/2") || strings.Contains(r.stdout, "limit reached") {
		t.Errorf("after reset: exit %d\n%s", r.code, r.stdout)
	}
	assertNoSecrets(t, r.stdout+j.stdout)
}

func TestCheck(t *testing.T) {
	requireRoot(t)
	good, _ := writeConfig(t, configOpts{})
	bad, _ := writeConfig(t, configOpts{groups: `"wheel"`})
	lockout := problem{File: good, Line: 4, Key: "policy.missing_number", Severity: sevWarning}
	tests := []struct {
		name, path string
		wantCode   int
		text       string // stdout prefix
		report     checkReport
	}{
		{"valid", good, exitOK, lockout.String(),
			checkReport{Path: good, OK: true, Problems: []problem{lockout}, Numbers: 1, TrustedNetworks: 1}},
		{"bad value", bad, exitFailed, bad + ":2: policy.groups: ",
			checkReport{Path: bad, Problems: []problem{{File: bad, Line: 2, Key: "policy.groups", Severity: sevProblem}}}},
		{"missing file", "/nonexistent/pam_sms.conf", exitFailed, "/nonexistent/pam_sms.conf: file does not exist\n",
			checkReport{Path: "/nonexistent/pam_sms.conf", Problems: []problem{{File: "/nonexistent/pam_sms.conf", Severity: sevProblem}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "check", "--config", tt.path)
			if r.code != tt.wantCode || !strings.HasPrefix(r.stdout, tt.text) {
				t.Errorf("exit %d, stdout %q, want prefix %q", r.code, r.stdout, tt.text)
			}
			if tt.report.OK && !strings.HasSuffix(r.stdout, tt.path+": OK (1 numbers, 1 trusted network ranges)\n") {
				t.Errorf("stdout %q does not end in OK", r.stdout)
			}
			j := run(t, "check", "--json", "--config", tt.path)
			var got checkReport
			if err := json.Unmarshal([]byte(j.stdout), &got); err != nil {
				t.Fatal(err)
			}
			if j.code != tt.wantCode || got.OK != tt.report.OK || got.Path != tt.report.Path || len(got.Problems) != len(tt.report.Problems) ||
				got.Numbers != tt.report.Numbers || got.TrustedNetworks != tt.report.TrustedNetworks {
				t.Errorf("json %+v, want %+v", got, tt.report)
			}
			for i := range got.Problems {
				g, w := got.Problems[i], tt.report.Problems[i]
				if g.File != w.File || g.Line != w.Line || g.Key != w.Key || g.Severity != w.Severity || g.Message == "" {
					t.Errorf("problem %+v, want %+v with a message", g, w)
				}
			}
			// The JSON names exactly these fields for each finding.
			var raw struct {
				Problems []map[string]any `json:"problems"`
			}
			if err := json.Unmarshal([]byte(j.stdout), &raw); err != nil || len(raw.Problems) == 0 {
				t.Fatalf("raw json: %v", err)
			}
			for _, p := range raw.Problems {
				if len(p) != 5 || p["file"] == nil || p["line"] == nil || p["key"] == nil || p["message"] == nil || p["severity"] == nil {
					t.Errorf("finding %v: want exactly file, line, key, message, severity", p)
				}
			}
		})
	}
}
