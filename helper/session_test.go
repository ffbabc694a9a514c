package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pam-sms/pam_sms/policy"
)

// testGateway records the texts it was asked to send.
type testGateway struct {
	srv   *httptest.Server
	mu    sync.Mutex
	texts []string
}

func newTestGateway(t *testing.T) *testGateway {
	g := &testGateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		g.mu.Lock()
		g.texts = append(g.texts, form.Get("text"))
		g.mu.Unlock()
		io.WriteString(w, "100 OK")
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *testGateway) sent() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.texts...)
}

var codeRE = regexp.MustCompile(`CODE ([0-9]+)`)

// writeSessionConfig writes a root-owned config that sends through g with
// the given [limits] lines and numbers.
func writeSessionConfig(t *testing.T, g *testGateway, limitLines string, numbers map[string]string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the configuration must be owned by root: run as root")
	}
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "[policy]\ngroups = [\"*\"]\ntrusted_networks = []\ntrust_local = false\n")
	fmt.Fprintf(&b, "[code]\nmessage = \"CODE {code}\"\nresends = 0\n")
	fmt.Fprintf(&b, "[gateway]\nurl = %q\nid = \"id\"\npassword = \"pw\"\n", g.srv.URL+"/send")
	fmt.Fprintf(&b, "[limits]\nstate_dir = %q\n%s\n[numbers]\n", filepath.Join(dir, "state"), limitLines)
	for user, n := range numbers {
		fmt.Fprintf(&b, "%s = %q\n", user, n)
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pam_sms.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeNSS resolves names as a case-insensitive NSS (sssd, some LDAP setups)
// does: any spelling of a known name gives the account as it is stored.
func fakeNSS(uid string, names ...string) func(string) (policy.Account, error) {
	return func(name string) (policy.Account, error) {
		for _, n := range names {
			if strings.EqualFold(n, name) {
				return policy.Account{Name: n, UID: uid}, nil
			}
		}
		return policy.Account{}, policy.ErrUnknownUser
	}
}

// login runs one session for req as the module would, answering the prompt
// with the code the gateway got, and returns the PAM code and what the user
// was told.
func login(t *testing.T, cfg string, g *testGateway, req policy.Request, root bool, lookup func(string) (policy.Account, error)) (int, []string) {
	t.Helper()
	hc, mod := pipe(t)
	told := make(chan []string)
	go func() {
		var lines []string
		r := bufio.NewReader(mod)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				told <- lines
				return
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			if strings.HasPrefix(l, "prompt_echo_off ") {
				sent := g.sent()
				code := ""
				if m := codeRE.FindStringSubmatch(sent[len(sent)-1]); m != nil {
					code = m[1]
				}
				io.WriteString(mod, "resp "+code+"\n")
			}
		}
	}()
	s := &session{conn: hc, req: req, log: &logger{}, configPath: cfg, root: root, lookup: lookup}
	rc := s.serve()
	hc.c.Close()
	return rc, <-told
}

// per_user counts the account, not the spelling asked for: with an NSS that
// resolves "ALICE" to alice, both spellings share alice's budget.
func TestLimitsKeyResolvedAccount(t *testing.T) {
	g := newTestGateway(t)
	cfg := writeSessionConfig(t, g, "per_user = 1\nper_number = 100\nper_host = 100",
		map[string]string{"alice": "+49 170 5550001"})
	nss := fakeNSS(strconv.Itoa(os.Getuid()), "alice")

	if rc, told := login(t, cfg, g, policy.Request{User: "ALICE", Service: "sshd", Rhost: "192.0.2.1"}, true, nss); rc != pamSuccess {
		t.Fatalf("first login as ALICE: rc %d, told %q; want success", rc, told)
	}
	rc, told := login(t, cfg, g, policy.Request{User: "alice", Service: "sshd", Rhost: "192.0.2.2"}, true, nss)
	if rc != pamAuthErr || !slices.Contains(told, "error "+texts["en"].Limited) {
		t.Fatalf("second login as alice: rc %d, told %q; want PAM_AUTH_ERR and the limit message", rc, told)
	}
	if n := len(g.sent()); n != 1 {
		t.Fatalf("gateway got %d texts, want 1: the second spelling had a budget of its own", n)
	}
}

// A caller without root chose its rhost: its sends must not count against
// (or be refused by) that host's per_host budget. A root caller's rhost is
// the real client's and is counted.
func TestLimitsHostOnlyForRoot(t *testing.T) {
	for _, root := range []bool{false, true} {
		t.Run(fmt.Sprintf("root=%v", root), func(t *testing.T) {
			g := newTestGateway(t)
			cfg := writeSessionConfig(t, g, "per_user = 100\nper_number = 100\nper_host = 1",
				map[string]string{"alice": "+49 170 5550001", "bob": "+49 170 5550002"})
			nss := fakeNSS(strconv.Itoa(os.Getuid()), "alice", "bob")
			rhost := "192.0.2.7"
			if rc, told := login(t, cfg, g, policy.Request{User: "alice", Rhost: rhost}, root, nss); rc != pamSuccess {
				t.Fatalf("alice: rc %d, told %q; want success", rc, told)
			}
			rc, told := login(t, cfg, g, policy.Request{User: "bob", Rhost: rhost}, root, nss)
			want := pamSuccess // the host budget was not touched
			if root {
				want = pamAuthErr // the host's one send is spent
			}
			if rc != want {
				t.Fatalf("bob from the same rhost: rc %d, told %q; want %d", rc, told, want)
			}
		})
	}
}

// Log lines keep the name asked for and add the account's own spelling when
// NSS resolved it to another one.
func TestWhoNamesResolvedAccount(t *testing.T) {
	tests := []struct {
		asked, account, want string
	}{
		{"ALICE", "alice", "x user=ALICE account=alice rhost=192.0.2.1 service=sshd"},
		{"alice", "alice", "x user=alice rhost=192.0.2.1 service=sshd"},
		{"alice", "", "x user=alice rhost=192.0.2.1 service=sshd"}, // before the lookup
	}
	for _, tt := range tests {
		s := &session{req: policy.Request{User: tt.asked, Rhost: "192.0.2.1", Service: "sshd"}, account: tt.account}
		if got := line("x", s.who()...); got != tt.want {
			t.Errorf("who for %q resolved to %q: %q, want %q", tt.asked, tt.account, got, tt.want)
		}
	}
}
