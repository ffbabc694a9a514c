package slapd_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/test/internal/slapd"
)

// ldapsearch runs OpenLDAP's own client against the fixture, so the fixture
// is checked by something other than the code it serves to test.
func ldapsearch(t *testing.T, s *slapd.Server, env []string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		t.Skip("ldapsearch not installed (Debian's ldap-utils; make deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ldapsearch", args...)
	cmd.Env = append(os.Environ(), append([]string{"LDAPTLS_CACERT=" + s.CAFile, "LDAPTLS_REQCERT=demand"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestServer: the fixture answers over ldaps, StartTLS and plain ldap with
// the reader's password and the client certificate, hides People from
// anonymous binds, rejects a wrong password (err=49 in its log), logs each
// search with its filter, and is gone after Stop.
func TestServer(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: slapd.Person("alice", "mobile: +49 170 5550001") +
		slapd.PersonIn(slapd.Public, "pub", "mobile: +49 170 5550009") +
		slapd.ADUser("John Doe", "jdoe", "jdoe@corp.example", "mobile: +49 170 5550010")})
	reader := []string{"-x", "-D", slapd.BindDN, "-y", s.PasswordFile, "-LLL"}
	cert := []string{"LDAPTLS_CERT=" + s.ClientCertFile, "LDAPTLS_KEY=" + s.ClientKeyFile}
	tests := []struct {
		name  string
		env   []string
		args  []string
		want  string // in the output; "" = must fail
		nowan string // not in the output
	}{
		{"ldaps", nil, append(reader, "-H", s.LDAPSURI, "-b", slapd.People, "(uid=alice)", "mobile"), "mobile: +49 170 5550001", ""},
		{"StartTLS", nil, append(reader, "-H", s.LDAPURI, "-ZZ", "-b", slapd.People, "(uid=alice)", "mobile"), "mobile: +49 170 5550001", ""},
		{"plain", nil, append(reader, "-H", s.LDAPURI, "-b", slapd.People, "(uid=alice)", "mobile"), "mobile: +49 170 5550001", ""},
		{"SASL EXTERNAL", cert, []string{"-Y", "EXTERNAL", "-LLL", "-H", s.LDAPSURI, "-b", slapd.People, "(uid=alice)", "mobile"}, "mobile: +49 170 5550001", ""},
		{"AD attributes match case-insensitively", nil, append(reader, "-H", s.LDAPSURI, "-b", slapd.People, "(sAMAccountName=JDOE)", "mobile"), "mobile: +49 170 5550010", ""},
		{"anonymous reads Public", nil, []string{"-x", "-LLL", "-H", s.LDAPSURI, "-b", slapd.Public, "(uid=pub)", "mobile"}, "mobile: +49 170 5550009", ""},
		{"anonymous does not read People", nil, []string{"-x", "-LLL", "-H", s.LDAPSURI, "-b", slapd.Base, "(uid=alice)", "mobile"}, "", "5550001"},
		{"wrong password", nil, []string{"-x", "-D", slapd.BindDN, "-w", "wrong", "-H", s.LDAPSURI, "-b", slapd.People, "(uid=alice)"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ldapsearch(t, s, tt.env, tt.args...)
			if tt.want != "" && (err != nil || !strings.Contains(out, tt.want)) {
				t.Errorf("ldapsearch: %v\n%s\nwant %q", err, out, tt.want)
			}
			if tt.want == "" && tt.nowan == "" && err == nil {
				t.Errorf("ldapsearch succeeded, want a failure:\n%s", out)
			}
			if tt.nowan != "" && strings.Contains(out, tt.nowan) {
				t.Errorf("ldapsearch output has %q:\n%s", tt.nowan, out)
			}
		})
	}
	if !strings.Contains(s.Log(), "err=49") {
		t.Error("slapd's log has no err=49 after a wrong password")
	}
	var found bool
	for _, sr := range s.Searches() {
		if sr.Base == slapd.People && sr.Scope == "2" && sr.Filter == "(uid=alice)" {
			found = true
		}
	}
	if !found {
		t.Errorf("Searches() = %+v, want one (uid=alice) under People", s.Searches())
	}

	addr := strings.TrimSuffix(strings.TrimPrefix(s.LDAPSURI, "ldaps://"), "/")
	s.Stop()
	s.Stop() // idempotent
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts after Stop", addr)
	}
}

// TestSilentAddr: the hung server accepts and then never answers.
func TestSilentAddr(t *testing.T) {
	c, err := net.DialTimeout("tcp", slapd.SilentAddr(t), time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var buf [1]byte
	if _, err := c.Read(buf[:]); !os.IsTimeout(err) {
		t.Errorf("read: %v, want a timeout", err)
	}
}

// TestClosedAddr: nothing listens there.
func TestClosedAddr(t *testing.T) {
	if c, err := net.DialTimeout("tcp", slapd.ClosedAddr(t), time.Second); err == nil {
		c.Close()
		t.Error("ClosedAddr accepts a connection")
	}
}
