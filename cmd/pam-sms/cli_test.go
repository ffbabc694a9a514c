package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// testNumber is the number of user root in test configs; testDigits must
// never appear in any output.
const (
	testNumber   = "+49 172 34567890"
	testDigits   = "4917234567890"
	testPassword = "s3cr3t-Pa55+word"
)

// result is what one in-process run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

// runWith runs the CLI in-process with h as the machine and stdin as input.
func runWith(t *testing.T, h *host, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	env := &cliEnv{Stdin: stdin, Stdout: &out, Stderr: &errOut, Host: h}
	code := runCLI(context.Background(), env, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// run runs the CLI with a test host.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, testHost(t, goodSshd), nil, args...)
}

// testHost keeps commands off this machine's sshd and pam-auth-update: sshd
// -T prints sshdT, the helper group is root (tests cannot create pam-sms),
// the only user is root.
func testHost(t *testing.T, sshdT string) *host {
	return &host{
		SshdT: func(context.Context) ([]byte, error) { return []byte(sshdT), nil },
		RunPamAuthUpdate: func(_ context.Context, args ...string) error {
			t.Errorf("pam-auth-update %q was run in a test", args)
			return fmt.Errorf("not in tests")
		},
		ModuleDirs: []string{t.TempDir()},
		Group:      "root",
		Users:      func(context.Context) ([]string, error) { return []string{"root"}, nil },
	}
}

// sshd -T excerpts.
const (
	goodSshd = "usepam yes\nkbdinteractiveauthentication yes\npasswordauthentication no\n" +
		"pubkeyauthentication yes\nauthenticationmethods keyboard-interactive\n"
	keySshd = "usepam yes\nkbdinteractiveauthentication yes\npasswordauthentication no\n" +
		"pubkeyauthentication yes\nauthenticationmethods publickey,keyboard-interactive\n"
	debianSshdT = "usepam yes\nkbdinteractiveauthentication no\npasswordauthentication yes\n" +
		"pubkeyauthentication yes\nauthenticationmethods any\n"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the configuration must be root-owned, as conf.Load demands (CI runs tests as root)")
	}
}

// configOpts vary the test configuration.
type configOpts struct {
	url, caFile   string
	groups        string // TOML array; default ["*"]
	missing       string // missing_number; default "deny"
	numbers       string // [numbers] body; default root's number
	noNumbers     bool
	limitsSection string // extra [limits] lines
	policy        string // extra [policy] lines
	success       string
	gateway       string // extra [gateway] lines, e.g. [[gateway.failover]] tables
}

// writeConfig writes a root-owned 0640 config into a fresh directory and
// returns its path and the state directory.
func writeConfig(t *testing.T, o configOpts) (path, stateDir string) {
	t.Helper()
	dir := t.TempDir()
	stateDir = filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stateDir, 0o770|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if o.url == "" {
		o.url = "http://127.0.0.1:9/send"
	}
	if o.groups == "" {
		o.groups = `["*"]`
	}
	if o.missing == "" {
		o.missing = "deny"
	}
	if o.numbers == "" && !o.noNumbers {
		o.numbers = fmt.Sprintf("root = %q\n", testNumber)
	}
	if o.success == "" {
		o.success = `^(OK|100)\\b`
	}
	ca := ""
	if o.caFile != "" {
		ca = fmt.Sprintf("ca_file = %q\n", o.caFile)
	}
	ca += o.gateway
	body := fmt.Sprintf(`[policy]
groups = %s
trusted_networks = ["10.0.0.0/8"]
missing_number = %q
%s
[code]
message = "Code {code} for {user}"

[gateway]
url = %q
id = "test-id"
password = %q
timeout = "5s"
success = "%s"
%s
[limits]
window = "15m"
state_dir = %q
%s
[numbers]
%s`, o.groups, o.missing, o.policy, o.url, testPassword, o.success, ca, stateDir, o.limitsSection, o.numbers)
	path = filepath.Join(dir, "pam_sms.conf")
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	return path, stateDir
}

// gateway is a fake SMS gateway on 127.0.0.1 that records the forms.
type gateway struct {
	srv   *httptest.Server
	reply string
	mu    sync.Mutex
	forms []url.Values
	got   chan url.Values
}

func startGateway(t *testing.T, reply string, tlsOn bool) *gateway {
	g := &gateway{reply: reply, got: make(chan url.Values, 16)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.forms = append(g.forms, r.Form)
		g.mu.Unlock()
		g.got <- r.Form
		io.WriteString(w, g.reply)
	})
	g.srv = httptest.NewUnstartedServer(h)
	// doctor hangs up right after the handshake; that is no error here.
	g.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		g.srv.StartTLS()
	} else {
		g.srv.Start()
	}
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) url() string { return g.srv.URL + "/send" }

// caFile writes the TLS gateway's certificate for ca_file.
func (g *gateway) caFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// next waits for the next request, bounded.
func (g *gateway) next(t *testing.T) url.Values {
	t.Helper()
	select {
	case f := <-g.got:
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway received no SMS within 20s")
		return nil
	}
}

func (g *gateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.forms)
}

func TestDocs(t *testing.T) {
	names := map[string]bool{}
	for _, c := range commands() {
		t.Run(c.Name, func(t *testing.T) {
			if names[c.Name] {
				t.Errorf("command %q listed twice", c.Name)
			}
			names[c.Name] = true
			if c.ShortHelp == "" || !unicode.IsUpper([]rune(c.ShortHelp)[0]) {
				t.Errorf("ShortHelp %q: want a capitalized verb", c.ShortHelp)
			}
			if strings.HasSuffix(c.ShortHelp, ".") {
				t.Errorf("ShortHelp %q ends with a period", c.ShortHelp)
			}
			if !strings.HasPrefix(c.ShortUsage, "pam-sms "+c.Name) {
				t.Errorf("ShortUsage %q does not start with %q", c.ShortUsage, "pam-sms "+c.Name)
			}
			ex := strings.Index(c.LongHelp, "Examples:")
			if ex < 0 {
				t.Fatalf("LongHelp has no Examples: section")
			}
			if !strings.Contains(c.LongHelp[ex:], "pam-sms "+c.Name) && c.Name != "demo" {
				t.Errorf("the examples do not run pam-sms %s", c.Name)
			}
			r := run(t, c.Name, "--help")
			if r.code != exitOK || !strings.Contains(r.stderr, "Examples:") || !strings.Contains(r.stderr, "usage: "+c.ShortUsage) {
				t.Errorf("pam-sms %s --help: exit %d, stderr:\n%s", c.Name, r.code, r.stderr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"explain"}, "pam-sms explain: missing USER"},
		{[]string{"explain", "a", "b"}, `pam-sms explain: too many arguments: ["b"]`},
		{[]string{"send-test"}, "pam-sms send-test: missing USER or NUMBER"},
		{[]string{"try"}, "pam-sms try: missing USER"},
		{[]string{"try", "root", "--service", "../etc/x"}, "a service is a file name"},
		{[]string{"enable", "--service", "sudo"}, `pam-sms enable: --service "sudo": want sshd, login or all`},
		{[]string{"disable", "extra"}, `pam-sms disable: too many arguments: ["extra"]`},
		{[]string{"doctor", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"limits"}, `pam-sms limits: want "show" or "reset"`},
		{[]string{"limits", "reset"}, "pam-sms limits: missing USER"},
		{[]string{"limits", "show", "a", "b"}, `too many arguments: ["b"]`},
		{[]string{"nosuch"}, `pam-sms: unknown command "nosuch"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			r := run(t, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
		})
	}
}

func TestDropInMatchesPackaging(t *testing.T) {
	want, err := os.ReadFile("../../packaging/sshd/10-pam-sms.conf")
	if err != nil {
		t.Fatal(err)
	}
	if sshdDropIn != string(want) {
		t.Error("cmd/pam-sms/sshd_dropin.conf differs from packaging/sshd/10-pam-sms.conf: copy it over")
	}
}

// assertNoSecrets fails when output holds the gateway password or the
// full number in any encoding.
func assertNoSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{testPassword, url.QueryEscape(testPassword), testDigits, "s3cr3t"} {
		if strings.Contains(out, s) {
			t.Errorf("output contains the secret %q:\n%s", s, out)
		}
	}
}
