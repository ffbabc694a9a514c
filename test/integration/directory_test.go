package integration_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/slapd"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// copyFile copies src to dir/name with mode (root-owned, as the helper wants
// its CA and secret files; the fixture's own are in a 0700 directory).
func copyFile(t *testing.T, src, dir, name string, mode os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(data), mode)
}

func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDirectory runs logins through the built module with the number in a
// real slapd ([directory], SPEC section 7): the SMS goes to the directory's
// number; no entry or no attribute is missing_number; an invalid value is no
// number and no SMS; a wrong bind password or CA denies with PAM_SYSTEM_ERR
// and no SMS; the first URI down fails over to the second; an exempt user
// causes no search at all; with slapd stopped, fail_mode secure denies with
// PAM_AUTHINFO_UNAVAIL and tells the user, safe lets through (PAM_IGNORE),
// and a number cached while slapd was up is used, saying so in the log,
// but not for a user the directory said has no number.
func TestDirectory(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	gw := fakegw.Start(t)
	users := []string{"smsintld1", "smsintld2", "smsintld3", "smsintld4", "smsintld5", "smsintld6"}
	for _, u := range users {
		testenv.CreateUser(t, u, "S3cret-pass-"+u)
	}
	s := slapd.Start(t, slapd.Options{LDIF: slapd.Person("smsintld1", "mobile: "+number) +
		slapd.Person("smsintld2", "telephoneNumber: +49 30 5550002") + // no mobile
		slapd.Person("smsintld3", "mobile: call me maybe") +
		slapd.Person("smsintld4", "mobile: +49 170 5550004") + // exempt
		slapd.Person("smsintld5", "mobile: +49 170 5550005")}) // cached, then "no number"

	files := testenv.SafeDir(t)
	ca := copyFile(t, s.CAFile, files, "ca.pem", 0o644)
	wrongCA := copyFile(t, slapd.UntrustedCAFile(t), files, "wrong-ca.pem", 0o644)
	pw := writeFile(t, files, "bind-password", slapd.BindPassword+"\n", 0o640)
	wrongPW := writeFile(t, files, "wrong-password", "not-the-bind-password\n", 0o640)

	type dirOpts struct {
		uris       []string
		ca, pw     string
		failMode   string
		attributes string
		noCache    bool
	}
	service := func(o dirOpts) string {
		if o.ca == "" {
			o.ca = ca
		}
		if o.pw == "" {
			o.pw = pw
		}
		if o.attributes == "" {
			o.attributes = `"mobile"`
		}
		quoted := make([]string, len(o.uris))
		for i, u := range o.uris {
			quoted[i] = fmt.Sprintf("%q", u)
		}
		cache := "cache = \"24h\"\n"
		if o.noCache {
			cache = ""
		}
		body := testenv.Config(t, gw, testenv.Options{
			FailMode: o.failMode,
			Extra:    map[string]string{"policy": "exempt_users = [\"smsintld4\"]\n"},
		}) + fmt.Sprintf(`
[directory]
uri = [%s]
base = %q
filter = "(&(objectClass=inetOrgPerson)(uid={user}))"
attribute = %s
bind_dn = %q
bind_password_file = %q
ca_file = %q
connect_timeout = "2s"
timeout = "4s"
%s`, strings.Join(quoted, ", "), slapd.People, o.attributes, slapd.BindDN, o.pw, o.ca, cache)
		conf := testenv.WriteConfig(t, t.TempDir(), body)
		return testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\nauth required pam_permit.so\n")
	}
	up := service(dirOpts{uris: []string{s.LDAPSURI}})
	// Each service keeps its cache in its own state_dir: the cache rows
	// share one ("up").
	failover := service(dirOpts{uris: []string{"ldaps://" + slapd.ClosedAddr(t), s.LDAPSURI}})
	badPW := service(dirOpts{uris: []string{s.LDAPSURI}, pw: wrongPW})
	badCA := service(dirOpts{uris: []string{s.LDAPSURI}, ca: wrongCA})
	safe := service(dirOpts{uris: []string{s.LDAPSURI}, failMode: "safe"})
	noCache := service(dirOpts{uris: []string{s.LDAPSURI}, noCache: true})

	type row struct {
		name, user, dir, rhost string
		answers                answers
		want                   error
		wantTo                 string   // wire number of the one SMS; "" for none
		wantLog                []string // in the log lines of the login
		wantTold               string   // in what the user saw
		searches               int      // slapd searches the login makes; -1: not checked
		stop                   bool     // stop slapd before this row
	}
	rows := []row{
		{name: "exempt user: no search", user: "smsintld4", dir: up, rhost: "192.0.2.170",
			wantLog: []string{"exempt user=smsintld4"}, searches: 0},
		{name: "number from the directory", user: "smsintld1", dir: up, rhost: "192.0.2.171", answers: answers{"<code>"},
			wantTo: numberWire, wantLog: []string{"success: code accepted user=smsintld1"}, searches: 1},
		{name: "no mobile: missing_number", user: "smsintld2", dir: up, rhost: "192.0.2.172", want: pam.ErrAuth,
			wantLog:  []string{"denied user=smsintld2", "no number in [numbers] or [directory]"},
			wantTold: "No mobile number is on file for you", searches: 1},
		{name: "no entry: missing_number", user: "smsintld6", dir: up, rhost: "192.0.2.173", want: pam.ErrAuth,
			wantLog: []string{"denied user=smsintld6"}, searches: 1},
		{name: "invalid value: no number, no SMS", user: "smsintld3", dir: up, rhost: "192.0.2.174", want: pam.ErrAuth,
			wantLog: []string{"denied user=smsintld3", "invalid number in directory " + s.LDAPSURI}, searches: 1},
		{name: "wrong bind password", user: "smsintld1", dir: badPW, rhost: "192.0.2.175", want: pam.ErrSystem,
			wantLog: []string{"denied: number source unusable user=smsintld1", "bind"}, searches: 0},
		{name: "wrong CA", user: "smsintld1", dir: badCA, rhost: "192.0.2.176", want: pam.ErrSystem,
			wantLog: []string{"denied: number source unusable user=smsintld1", "certificate"}, searches: 0},
		{name: "first URI down, second up", user: "smsintld1", dir: failover, rhost: "192.0.2.177", answers: answers{"<code>"},
			wantTo: numberWire, wantLog: []string{"success: code accepted user=smsintld1"}, searches: 1},
		{name: "cache filled", user: "smsintld5", dir: up, rhost: "192.0.2.178", answers: answers{"<code>"},
			wantTo: "00491705550005", searches: 1},
		{name: "slapd stopped: secure", user: "smsintld1", dir: noCache, rhost: "192.0.2.180", want: pam.ErrAuthinfoUnavail,
			wantLog:  []string{"denied: directory unavailable user=smsintld1"},
			wantTold: "The directory with your mobile number cannot be reached. Try again later.", searches: -1, stop: true},
		{name: "slapd stopped: safe", user: "smsintld1", dir: safe, rhost: "192.0.2.181",
			wantLog: []string{`directory unavailable; fail_mode is "safe"`, "user=smsintld1"}, searches: -1},
		{name: "slapd stopped: cached number", user: "smsintld5", dir: up, rhost: "192.0.2.182", answers: answers{"<code>"},
			wantTo: "00491705550005", wantLog: []string{"number from cache (directory unavailable)", "success: code accepted user=smsintld5"}, searches: -1},
		{name: "slapd stopped: never cached", user: "smsintld2", dir: up, rhost: "192.0.2.183", want: pam.ErrAuthinfoUnavail,
			wantLog: []string{"denied: directory unavailable user=smsintld2"}, searches: -1},
	}
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stop {
				s.Stop()
			}
			before, searchesBefore := gw.Count(), 0
			if tt.searches >= 0 {
				searchesBefore = len(s.Searches())
			}
			res := pamrun.Run(t, pamrun.Tx{ConfDir: tt.dir, Service: testenv.ServiceName, User: tt.user,
				Rhost: tt.rhost, Answer: tt.answers.answerer(gw)})
			checkResult(t, res, tt.want)
			checkSentTo(t, gw.Messages()[before:], tt.wantTo)
			if tt.searches >= 0 {
				if got := len(s.Searches()) - searchesBefore; got != tt.searches {
					t.Errorf("slapd received %d searches, want %d", got, tt.searches)
				}
			}
			if tt.wantTold != "" && !strings.Contains(res.Transcript(), tt.wantTold) {
				t.Errorf("user saw:\n%s\nwant %q", res.Transcript(), tt.wantTold)
			}
			all := strings.Join(sink.matching(t, "rhost="+tt.rhost, 1), "\n")
			for _, w := range tt.wantLog {
				if !strings.Contains(all, w) {
					t.Errorf("log lines for %s:\n%s\nwant %q", tt.rhost, all, w)
				}
			}
			if strings.Contains(all, "5550001") || strings.Contains(all, "5550005") || strings.Contains(all, slapd.BindPassword) {
				t.Errorf("a log line holds a number or the password:\n%s", all)
			}
		})
	}
}

// TestDirectoryCLI: the administrator's tools with [directory], through the
// built pam-sms: explain names the directory as the source (and says when it
// cannot be reached), check places a missing bind password file at its line,
// doctor binds and finds an enforced user's number (masked), send-test
// texts the directory's number.
func TestDirectoryCLI(t *testing.T) {
	testenv.RequireRoot(t)
	gw := fakegw.Start(t)
	testenv.CreateGroup(t, "smsintlcg")
	testenv.CreateUser(t, "smsintlc1", "S3cret-pass-lc1", "smsintlcg")
	s := slapd.Start(t, slapd.Options{LDIF: slapd.Person("smsintlc1", "mobile: "+number)})
	files := testenv.SafeDir(t)
	ca := copyFile(t, s.CAFile, files, "ca.pem", 0o644)
	pw := writeFile(t, files, "bind-password", slapd.BindPassword+"\n", 0o640)
	config := func(pwFile string) string {
		body := testenv.Config(t, gw, testenv.Options{Groups: []string{"smsintlcg"}}) + fmt.Sprintf(`
[directory]
uri = [%q]
base = %q
bind_dn = %q
bind_password_file = %q
ca_file = %q
timeout = "4s"
connect_timeout = "2s"
`, s.LDAPSURI, slapd.People, slapd.BindDN, pwFile, ca)
		return testenv.WriteConfig(t, t.TempDir(), body)
	}
	good := config(pw)
	missing := config(filepath.Join(files, "missing-password"))
	cliDir := os.Getenv("PAM_SMS_BUILD")
	if cliDir == "" {
		cliDir = filepath.Join(testenv.RepoRoot(t), "build")
	}
	pamSMS := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(cliDir, "pam-sms"), args...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := pamSMS("explain", "--config", good, "--rhost", "192.0.2.190", "smsintlc1")
	if code != 0 || !strings.Contains(out, "number:   from directory "+s.LDAPSURI) || !strings.Contains(out, "+49 *** ****001") {
		t.Errorf("explain: exit %d\n%s\nwant the directory as the source and the masked number", code, out)
	}

	out, code = pamSMS("check", "--config", missing)
	line := 0
	for i, l := range strings.Split(readFile(t, missing), "\n") {
		if strings.HasPrefix(l, "bind_password_file") {
			line = i + 1
		}
	}
	if want := fmt.Sprintf("%s:%d: directory.bind_password_file: ", missing, line); code == 0 || !strings.Contains(out, want) {
		t.Errorf("check with a missing bind password file: exit %d\n%s\nwant %q", code, out, want)
	}

	out, _ = pamSMS("doctor", "--config", good, "--json")
	var rep struct {
		Items []struct{ Status, Check, Message string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	found := false
	for _, it := range rep.Items {
		if it.Check == "directory" {
			found = true
			if it.Status != "OK" || !strings.Contains(it.Message, "smsintlc1 has +49 *** ****001 in mobile") {
				t.Errorf("doctor's directory item: %+v", it)
			}
		}
	}
	if !found {
		t.Errorf("doctor has no directory item:\n%s", out)
	}

	before := gw.Count()
	out, code = pamSMS("send-test", "--config", good, "smsintlc1")
	if msgs := gw.Messages()[before:]; code != 0 || len(msgs) != 1 || msgs[0].To != numberWire {
		t.Errorf("send-test smsintlc1: exit %d, SMS %+v\n%s\nwant one to the directory's number", code, msgs, out)
	}

	s.Stop()
	out, code = pamSMS("explain", "--config", good, "--rhost", "192.0.2.191", "smsintlc1")
	if code != 3 || !strings.Contains(out, "directory-unavailable") || !strings.Contains(out, "PAM_AUTHINFO_UNAVAIL") {
		t.Errorf("explain, slapd stopped: exit %d\n%s\nwant directory-unavailable, PAM_AUTHINFO_UNAVAIL, exit 3", code, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
