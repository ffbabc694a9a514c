// Package integration runs real libpam transactions through the built
// pam_sms.so and pam-sms-helper against a fake gateway on 127.0.0.1, one
// test row per row of SPEC section 4.
package integration_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

const (
	number       = "+49 170 5550001"
	numberWire   = "00491705550001"
	codeSentLine = "info: Code sent to +49 *** ****001"
	prompt       = "prompt-off: SMS code: "
)

// Answers for the prompts, in order. "<code>" is the code of the newest SMS,
// "<spaced>" the same typed as "123 456", "<late>" the same after a 30 s code
// expired, "<abort>" aborts the conversation, "<sleep>" waits past the
// module's deadline; anything else is typed as is.
type answers []string

func (a answers) answerer(gw *fakegw.Gateway) pamrun.Answerer {
	return func(n int, m pamrun.Msg) (string, error) {
		if n > len(a) {
			return "", fmt.Errorf("unexpected prompt %d: %q", n, m.Text)
		}
		switch a[n-1] {
		case "<abort>":
			return "", errors.New("user aborted")
		case "<sleep>":
			time.Sleep(4 * time.Second)
			return "", nil
		case "<late>": // the right code, after the shortest validity (30 s) ran out
			time.Sleep(31 * time.Second)
			fallthrough
		case "<code>", "<spaced>":
			if gw == nil {
				return "", errors.New("no gateway")
			}
			msgs := gw.Messages()
			if len(msgs) == 0 {
				return "", errors.New("prompted before any SMS was sent")
			}
			code, ok := fakegw.ParseCode(msgs[len(msgs)-1].Text)
			if !ok {
				return "", fmt.Errorf("no code in %q", msgs[len(msgs)-1].Text)
			}
			if a[n-1] == "<spaced>" {
				return code[:3] + " " + code[3:], nil
			}
			return code, nil
		}
		return a[n-1], nil
	}
}

type outcome struct {
	name    string
	opts    testenv.Options
	tls     bool   // gateway speaks HTTPS
	noCA    bool   // with tls: ca_file not set, so the certificate is untrusted
	reply   string // gateway answer "STATUS BODY"; "" = default 200 "100 OK"
	down    bool   // nothing listens at the gateway URL
	slow    bool   // the gateway answers after the client's timeout
	user    string // default root
	rhost   string
	args    []string // extra module arguments
	answers answers
	wantErr error // nil = PAM_SUCCESS
	wantSMS int
	// Lines the user must have seen, in order (other lines may come between).
	wantSaw []string
}

func TestOutcomes(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smsintg")
	testenv.CreateUser(t, "smsint01", "S3cret-pass-01", "smsintg")
	testenv.CreateUser(t, "smsint02", "S3cret-pass-02")
	numbers := map[string]string{"root": number, "smsint01": number, "smsint02": number}

	tests := []outcome{
		// Exempt: PAM_IGNORE. Alone in a stack libpam turns it into PERM_DENIED;
		// TestExemptUserLogsIn shows the same decision in a real stack.
		{name: "user in no enforced group", user: "smsint02",
			opts:    testenv.Options{Groups: []string{"smsintg"}, Numbers: numbers},
			wantErr: pam.ErrPermDenied, wantSMS: 0},
		{name: "user in an enforced supplementary group", user: "smsint01",
			opts:    testenv.Options{Groups: []string{"smsintg"}, Numbers: numbers},
			answers: answers{"<code>"}, wantSMS: 1},
		{name: "client in trusted IPv4 network", rhost: "10.1.2.3",
			opts:    testenv.Options{TrustedNetworks: []string{"10.0.0.0/8"}, Numbers: numbers},
			wantErr: pam.ErrPermDenied, wantSMS: 0},
		{name: "client in trusted IPv6 network", rhost: "2001:db8::7",
			opts:    testenv.Options{TrustedNetworks: []string{"2001:db8::/32"}, Numbers: numbers},
			wantErr: pam.ErrPermDenied, wantSMS: 0},
		{name: "IPv4-mapped client in trusted IPv4 network", rhost: "::ffff:10.1.2.3",
			opts:    testenv.Options{TrustedNetworks: []string{"10.0.0.0/8"}, Numbers: numbers},
			wantErr: pam.ErrPermDenied, wantSMS: 0},
		{name: "client outside trusted networks", rhost: "192.0.2.10",
			opts:    testenv.Options{TrustedNetworks: []string{"10.0.0.0/8"}, Numbers: numbers},
			answers: answers{"<code>"}, wantSMS: 1},
		{name: "host name never matches a trusted network", rhost: "trusted.example",
			opts:    testenv.Options{TrustedNetworks: []string{"10.0.0.0/8"}, Numbers: numbers},
			answers: answers{"<code>"}, wantSMS: 1},
		{name: "local login with trust_local", opts: testenv.Options{TrustLocal: true, Numbers: numbers},
			wantErr: pam.ErrPermDenied, wantSMS: 0},
		{name: "local login without trust_local", opts: testenv.Options{Numbers: numbers},
			answers: answers{"<code>"}, wantSMS: 1},

		// The challenge.
		{name: "right code", rhost: "192.0.2.10", opts: testenv.Options{Numbers: numbers},
			answers: answers{"<code>"}, wantSMS: 1, wantSaw: []string{codeSentLine, prompt}},
		{name: "right code typed with spaces", opts: testenv.Options{Numbers: numbers},
			answers: answers{"<spaced>"}, wantSMS: 1},
		{name: "wrong code until attempts are used up", opts: testenv.Options{Numbers: numbers},
			answers: answers{"000000x", "1", "12345678"}, wantErr: pam.ErrAuth, wantSMS: 1,
			wantSaw: []string{codeSentLine, prompt, "error: Wrong code, try again.", prompt,
				"error: Wrong code, try again.", prompt, "error: Too many wrong codes."}},
		{name: "wrong then right code", opts: testenv.Options{Numbers: numbers},
			answers: answers{"111111", "<code>"}, wantSMS: 1},
		{name: "empty answer sends a new code that works", opts: testenv.Options{Numbers: numbers},
			answers: answers{"", "<code>"}, wantSMS: 2,
			wantSaw: []string{codeSentLine, prompt, codeSentLine, prompt}},
		{name: "empty answer without resends counts as wrong", opts: testenv.Options{Resends: -1, Attempts: 1, Numbers: numbers},
			answers: answers{""}, wantErr: pam.ErrAuth, wantSMS: 1},
		{name: "resends used up", opts: testenv.Options{Resends: 1, Attempts: 1, Numbers: numbers},
			answers: answers{"", ""}, wantErr: pam.ErrAuth, wantSMS: 2},
		{name: "conversation aborted", opts: testenv.Options{Numbers: numbers},
			answers: answers{"<abort>"}, wantErr: pam.ErrAuth, wantSMS: 1},
		{name: "user does not answer before the module's deadline", opts: testenv.Options{Numbers: numbers},
			args: []string{"timeout=2"}, answers: answers{"<sleep>"}, wantErr: pam.ErrAuth, wantSMS: 1},
		{name: "code expired", opts: testenv.Options{Validity: "30s", Numbers: numbers},
			answers: answers{"<late>"}, wantErr: pam.ErrAuth, wantSMS: 1,
			wantSaw: []string{codeSentLine, prompt, "error: The code has expired. Log in again to get a new one."}},
		{name: "German texts", opts: testenv.Options{Language: "de", Numbers: numbers},
			answers: answers{"9"}, wantErr: pam.ErrAuth, wantSMS: 1,
			wantSaw: []string{"info: Code gesendet an +49 *** ****001", "prompt-off: SMS-Code: "}},

		// Numbers.
		{name: "no number, missing_number deny", opts: testenv.Options{},
			wantErr: pam.ErrAuth, wantSMS: 0,
			wantSaw: []string{"error: No mobile number is on file for you. Contact your administrator."}},
		{name: "no number, missing_number ignore", opts: testenv.Options{MissingNumber: "ignore"},
			wantErr: pam.ErrPermDenied, wantSMS: 0},
		{name: "user unknown to the system", user: "smsint-nobody-here", opts: testenv.Options{Numbers: numbers},
			wantErr: pam.ErrUserUnknown, wantSMS: 0},

		// The gateway unusable: fail_mode secure denies, safe lets pass.
		{name: "gateway down, secure", down: true, opts: testenv.Options{Numbers: numbers},
			wantErr: pam.ErrAuthinfoUnavail, wantSaw: []string{"error: The SMS code could not be sent. Try again later."}},
		{name: "gateway down, safe", down: true, opts: testenv.Options{FailMode: "safe", Numbers: numbers},
			wantErr: pam.ErrPermDenied},
		{name: "gateway slow", slow: true, opts: testenv.Options{GatewayTimeout: "1s", Numbers: numbers},
			wantErr: pam.ErrAuthinfoUnavail, wantSMS: 1,
			wantSaw: []string{"error: The SMS code could not be sent. Try again later."}},
		{name: "gateway 500", reply: "500 internal error", opts: testenv.Options{Numbers: numbers},
			wantErr: pam.ErrAuthinfoUnavail, wantSMS: 1,
			wantSaw: []string{"error: The SMS service did not accept the code. Try again later or contact your administrator."}},
		{name: "gateway 429", reply: "429 slow down", opts: testenv.Options{Numbers: numbers},
			wantErr: pam.ErrAuthinfoUnavail, wantSMS: 1,
			wantSaw: []string{"error: The SMS service is not sending more codes right now. Try again later."}},
		{name: "gateway 200 with an unmatched body", reply: "200 ERROR 900 auth failed", opts: testenv.Options{Numbers: numbers},
			wantErr: pam.ErrAuthinfoUnavail, wantSMS: 1},
		{name: "gateway rate_limited pattern", reply: "200 403 daily limit",
			opts:    testenv.Options{Numbers: numbers, Extra: map[string]string{"gateway": `rate_limited = "^403"`}},
			wantErr: pam.ErrAuthinfoUnavail, wantSMS: 1},
		{name: "gateway 500, safe", reply: "500 internal error", opts: testenv.Options{FailMode: "safe", Numbers: numbers},
			wantErr: pam.ErrPermDenied, wantSMS: 1},
		{name: "HTTPS gateway with ca_file", tls: true, opts: testenv.Options{Numbers: numbers},
			answers: answers{"<code>"}, wantSMS: 1},
		{name: "HTTPS gateway with an untrusted certificate", tls: true, noCA: true, opts: testenv.Options{Numbers: numbers},
			wantErr: pam.ErrAuthinfoUnavail, wantSMS: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runOutcome(t, build, tt)
		})
	}
}

func runOutcome(t *testing.T, build string, tt outcome) {
	var gw *fakegw.Gateway
	switch {
	case tt.down:
		tt.opts.URL = fakegw.ClosedURL(t)
	case tt.tls:
		gw = fakegw.StartTLS(t)
	default:
		gw = fakegw.Start(t)
	}
	if tt.reply != "" {
		status, body, _ := strings.Cut(tt.reply, " ")
		var code int
		fmt.Sscan(status, &code)
		gw.SetResponse(code, body)
	}
	if tt.slow {
		gw.SetDelay(3 * time.Second)
	}
	user := tt.user
	if user == "" {
		user = "root"
	}
	cfgGW := gw
	if tt.noCA {
		tt.opts.URL, cfgGW = gw.URL, nil
	}
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, cfgGW, tt.opts))
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf, tt.args...)+"\n")
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: user, Rhost: tt.rhost,
		Answer: tt.answers.answerer(gw)})
	checkResult(t, res, tt.wantErr)
	if gw != nil {
		if got := gw.Count(); got != tt.wantSMS {
			t.Errorf("gateway received %d requests, want %d", got, tt.wantSMS)
		}
		for _, m := range gw.Messages() {
			checkMessage(t, m)
		}
	}
	checkSaw(t, res, tt.wantSaw)
}

func checkResult(t *testing.T, res pamrun.Result, want error) {
	t.Helper()
	if (want == nil && res.Err != nil) || (want != nil && !errors.Is(res.Err, want)) {
		t.Fatalf("pam_authenticate = %v, want %v; user saw:\n%s", res.Err, want, res.Transcript())
	}
}

// checkSentTo asserts the SMS a login sent: none when to is "", else
// exactly one, to that wire number.
func checkSentTo(t *testing.T, msgs []fakegw.Message, to string) {
	t.Helper()
	switch {
	case to == "" && len(msgs) != 0:
		t.Errorf("%d SMS sent, want none", len(msgs))
	case to != "" && (len(msgs) != 1 || msgs[0].To != to):
		t.Errorf("SMS = %+v, want one to %s", msgs, to)
	}
}

// checkMessage asserts what the gateway got: the contract's fields, the
// number in the configured format, a code of the configured length.
func checkMessage(t *testing.T, m fakegw.Message) {
	t.Helper()
	if m.Method != "POST" || m.To != numberWire || m.Form.Get("id") != "test-id" ||
		m.Form.Get("pw") != "test-secret" || m.Sender != "" {
		t.Errorf("gateway request: method %s, fields %v", m.Method, m.Form)
	}
	code, ok := fakegw.ParseCode(m.Text)
	if !ok || len(code) != 6 {
		t.Errorf("SMS text %q holds no 6-digit code", m.Text)
	}
}

// checkSaw asserts that want appears in the transcript in order.
func checkSaw(t *testing.T, res pamrun.Result, want []string) {
	t.Helper()
	i := 0
	for _, m := range res.Msgs {
		if i < len(want) && m.String() == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("user saw:\n%s\nwant, in order:\n%s", res.Transcript(), strings.Join(want, "\n"))
	}
}

func TestExemptUserLogsIn(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw := fakegw.Start(t)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
		TrustedNetworks: []string{"192.0.2.0/24"}, Numbers: map[string]string{"root": number}}))
	// The documented control: an exempt user passes, a failure is final.
	stack := "auth [success=ok ignore=ignore default=die] " + testenv.ModuleLine(build, conf) + "\n" +
		"auth required pam_permit.so\n"
	dir := testenv.ServiceDir(t, stack)
	for _, tt := range []struct {
		rhost   string
		wantSMS int
	}{{"192.0.2.99", 0}, {"198.51.100.1", 1}} {
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: tt.rhost,
			Answer: answers{"<code>"}.answerer(gw)})
		checkResult(t, res, nil)
		if got := gw.Count(); got != tt.wantSMS {
			t.Errorf("rhost %s: gateway received %d requests in total, want %d", tt.rhost, got, tt.wantSMS)
		}
	}
}

func TestLimitReached(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw := fakegw.Start(t)
	body := testenv.Config(t, gw, testenv.Options{Numbers: map[string]string{"root": number}})
	body = strings.Replace(body, "per_user = 1000", "per_user = 2", 1)
	conf := testenv.WriteConfig(t, t.TempDir(), body)
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
	login := func(a answers) pamrun.Result {
		return pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Answer: a.answerer(gw)})
	}
	checkResult(t, login(answers{"<code>"}), nil)
	// The second code is the last one allowed: the resend it asks for is refused.
	res := login(answers{""})
	checkResult(t, res, pam.ErrAuth)
	checkSaw(t, res, []string{codeSentLine, prompt, "error: Too many codes were requested. Try again later."})
	res = login(answers{"<code>"})
	checkResult(t, res, pam.ErrAuth)
	if got := gw.Count(); got != 2 {
		t.Errorf("gateway received %d requests, want 2 (the limit)", got)
	}
}

func TestConfigProblemsDeny(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	tests := []struct {
		name  string
		write func(t *testing.T, path, good string)
	}{
		{"missing", func(t *testing.T, path, good string) {}},
		{"unknown key", func(t *testing.T, path, good string) {
			writeConf(t, path, strings.Replace(good, "[policy]\n", "[policy]\nfail_mod = \"safe\"\n", 1), 0o640)
		}},
		{"bad number", func(t *testing.T, path, good string) {
			writeConf(t, path, strings.Replace(good, number, "0170 5550001", 1), 0o640)
		}},
		{"bad sender", func(t *testing.T, path, good string) {
			writeConf(t, path, strings.Replace(good, "[gateway]\n", "[gateway]\nsender = \"1nvalid sender!\"\n", 1), 0o640)
		}},
		{"syntax error", func(t *testing.T, path, good string) { writeConf(t, path, good+"\n[[[\n", 0o640) }},
		{"readable by others", func(t *testing.T, path, good string) { writeConf(t, path, good, 0o644) }},
		{"writable by group", func(t *testing.T, path, good string) { writeConf(t, path, good, 0o660) }},
		{"fail_mode safe in a broken file still denies", func(t *testing.T, path, good string) {
			writeConf(t, path, strings.Replace(good, `fail_mode = "secure"`, `fail_mode = "safe"`, 1)+"bogus = 1\n", 0o640)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := fakegw.Start(t)
			good := testenv.Config(t, gw, testenv.Options{Numbers: map[string]string{"root": number}})
			path := filepath.Join(t.TempDir(), "pam_sms.conf")
			tt.write(t, path, good)
			dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, path)+"\n")
			res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root",
				Answer: answers{"<code>"}.answerer(gw)})
			checkResult(t, res, pam.ErrSystem)
			checkSaw(t, res, []string{"error: Login by SMS code is not available. Contact your administrator."})
			if n := gw.Count(); n != 0 {
				t.Errorf("gateway received %d requests, want none", n)
			}
		})
	}
}

func writeConf(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestMissingHelperDenies(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw := fakegw.Start(t)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{Numbers: map[string]string{"root": number}}))
	line := fmt.Sprintf("%s/pam_sms.so config=%s helper=/nonexistent/pam-sms-helper", build, conf)
	dir := testenv.ServiceDir(t, "auth required "+line+"\n")
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Answer: answers{"<code>"}.answerer(gw)})
	checkResult(t, res, pam.ErrSystem)
	if n := gw.Count(); n != 0 {
		t.Errorf("gateway received %d requests, want none", n)
	}
}

// The module's deadline also bounds a helper stuck in the gateway call.
func TestDeadlineKillsHelperStuckOnGateway(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw := fakegw.Start(t)
	gw.SetDelay(30 * time.Second)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
		GatewayTimeout: "20s", Numbers: map[string]string{"root": number}}))
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf, "timeout=2")+"\n")
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Limit: 15 * time.Second,
		Answer: answers{"<code>"}.answerer(gw)})
	checkResult(t, res, pam.ErrAuth)
}
