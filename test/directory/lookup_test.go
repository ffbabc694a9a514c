// Package directory_test runs directory.Lookup against a real slapd (the
// fixture test/internal/slapd may only be imported from under test/).
package directory_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/pam-sms/pam_sms/directory"
	"github.com/pam-sms/pam_sms/test/internal/slapd"
)

// entries is the directory every Lookup test searches.
var entries = slapd.Person("alice", "mobile: +49 170 5550001") +
	slapd.Person("bob", "telephoneNumber: +49 30 5550002") + // no mobile
	slapd.Person("carol", "mobile: +49 170 5550003", "mobile: +49 170 5550033") +
	slapd.Person("dave", "telephoneNumber: +49 30 5550004") +
	slapd.Person("erin", "telephoneNumber: +49 30 5550005", "mobile: +49 170 5550005") +
	slapd.Person("twin1", "description: twin", "mobile: +49 170 5550006") +
	slapd.Person("twin2", "description: twin", "mobile: +49 170 5550007") +
	// A user name with a backslash: escaping must keep it findable.
	"dn: cn=backslash," + slapd.People + "\nobjectClass: inetOrgPerson\ncn: backslash\nsn: backslash\nuid: a\\b\nmobile: +49 170 5550008\n\n" +
	slapd.PersonIn(slapd.Public, "pub", "mobile: +49 170 5550009") +
	slapd.ADUser("John Doe", "jdoe", "jdoe@corp.example", "mobile: +49 170 5550010")

// base is a config for the fixture: simple bind over ldaps, uid filter.
func base(s *slapd.Server) directory.Config {
	return directory.Config{
		URIs:           []string{s.LDAPSURI},
		Base:           slapd.People,
		Filter:         "(uid={user})",
		BindDN:         slapd.BindDN,
		BindPassword:   []byte(slapd.BindPassword),
		CAFile:         s.CAFile,
		ConnectTimeout: 2 * time.Second,
		Timeout:        5 * time.Second,
	}
}

// lookup runs one Lookup and checks that it made at most one search, and
// returns the searches it made.
func lookup(t *testing.T, s *slapd.Server, cfg directory.Config, user string) (directory.Result, error, []slapd.Search) {
	t.Helper()
	before := len(s.Searches())
	res, err := directory.Lookup(context.Background(), cfg, user)
	after := s.Searches()[before:]
	if len(after) > 1 {
		t.Errorf("Lookup(%q) made %d searches, want at most 1: %+v", user, len(after), after)
	}
	return res, err, after
}

// TestLookupAnswers: the three answers (found, no entry, no number) over
// every transport and bind, with the attribute list, multiple values, and
// Active Directory style filters; each Lookup is exactly one search.
func TestLookupAnswers(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: entries})
	both := []string{"mobile", "telephoneNumber"}
	tests := []struct {
		name   string
		edit   func(*directory.Config)
		user   string
		status directory.Status
		attr   string
		value  string
		values int
	}{
		{name: "mobile", user: "alice", status: directory.Found, attr: "mobile", value: "+49 170 5550001", values: 1},
		{name: "no such user", user: "nobody", status: directory.NoEntry},
		{name: "no mobile", user: "bob", status: directory.NoNumber},
		{name: "two values: first", user: "carol", status: directory.Found, attr: "mobile", value: "+49 170 5550003", values: 2},
		{name: "telephoneNumber only, default list", user: "dave", status: directory.NoNumber},
		{name: "telephoneNumber only, list", user: "dave", edit: func(c *directory.Config) { c.Attributes = both },
			status: directory.Found, attr: "telephoneNumber", value: "+49 30 5550004", values: 1},
		{name: "list order wins over entry order", user: "erin", edit: func(c *directory.Config) { c.Attributes = both },
			status: directory.Found, attr: "mobile", value: "+49 170 5550005", values: 1},
		{name: "list order reversed", user: "erin", edit: func(c *directory.Config) { c.Attributes = []string{"telephoneNumber", "mobile"} },
			status: directory.Found, attr: "telephoneNumber", value: "+49 30 5550005", values: 1},
		{name: "StartTLS", user: "alice", edit: func(c *directory.Config) { c.URIs, c.StartTLS = []string{s.LDAPURI}, true },
			status: directory.Found, attr: "mobile", value: "+49 170 5550001", values: 1},
		{name: "plain ldap to 127.0.0.1", user: "alice", edit: func(c *directory.Config) { c.URIs = []string{s.LDAPURI} },
			status: directory.Found, attr: "mobile", value: "+49 170 5550001", values: 1},
		{name: "SASL EXTERNAL over ldaps", user: "alice", edit: func(c *directory.Config) { external(c, s) },
			status: directory.Found, attr: "mobile", value: "+49 170 5550001", values: 1},
		{name: "SASL EXTERNAL over StartTLS", user: "alice", edit: func(c *directory.Config) {
			external(c, s)
			c.URIs, c.StartTLS = []string{s.LDAPURI}, true
		}, status: directory.Found, attr: "mobile", value: "+49 170 5550001", values: 1},
		{name: "anonymous, readable subtree", user: "pub", edit: func(c *directory.Config) { anonymous(c); c.Base = slapd.Public },
			status: directory.Found, attr: "mobile", value: "+49 170 5550009", values: 1},
		{name: "scope one", user: "alice", edit: func(c *directory.Config) { c.Scope = "one" },
			status: directory.Found, attr: "mobile", value: "+49 170 5550001", values: 1},
		{name: "scope base on another entry", user: "alice", edit: func(c *directory.Config) { c.Scope, c.Base = "base", "uid=bob,"+slapd.People },
			status: directory.NoEntry},
		{name: "AD sAMAccountName, any case", user: "JDoe", edit: func(c *directory.Config) {
			c.Filter = "(&(objectClass=inetOrgPerson)(sAMAccountName={user}))"
		}, status: directory.Found, attr: "mobile", value: "+49 170 5550010", values: 1},
		{name: "AD userPrincipalName", user: "jdoe", edit: func(c *directory.Config) { c.Filter = "(userPrincipalName={user}@corp.example)" },
			status: directory.Found, attr: "mobile", value: "+49 170 5550010", values: 1},
		{name: "backslash in the name", user: `a\b`, status: directory.Found, attr: "mobile", value: "+49 170 5550008", values: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base(s)
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			res, err, searches := lookup(t, s, cfg, tt.user)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.user, err)
			}
			if len(searches) != 1 {
				t.Errorf("Lookup(%q) made %d searches, want 1", tt.user, len(searches))
			}
			if res.Status != tt.status || res.Attribute != tt.attr || res.Value != tt.value || res.Values != tt.values {
				t.Errorf("Lookup(%q) = %+v, want %v %q=%q (%d values)", tt.user, res, tt.status, tt.attr, tt.value, tt.values)
			}
			if res.URI != cfg.URIs[0] {
				t.Errorf("Result.URI = %q, want %q", res.URI, cfg.URIs[0])
			}
			if tt.status != directory.NoEntry && res.DN == "" {
				t.Errorf("Result.DN empty for %v", res.Status)
			}
		})
	}
}

func external(c *directory.Config, s *slapd.Server) {
	anonymous(c)
	cert := s.ClientCert
	c.ClientCert = &cert
}

func anonymous(c *directory.Config) {
	c.BindDN, c.BindPassword = "", nil
}

// TestLookupInjection: a user name with filter syntax stays a value. The
// filter slapd received is the escaped one, and no other entry matches.
func TestLookupInjection(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: entries})
	tests := []struct {
		user   string
		filter string // as slapd logs it (case-insensitive hex)
	}{
		{"*", `(uid=\2a)`},
		{"al*", `(uid=al\2a)`},
		{"alice)(uid=*", `(uid=alice\29\28uid=\2a)`},
		{"*)(|(uid=*", `(uid=\2a\29\28|\28uid=\2a)`},
		{"alice\x00", `(uid=alice\00)`},
		{`\2a`, `(uid=\5c2a)`},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			res, err, searches := lookup(t, s, base(s), tt.user)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.user, err)
			}
			if res.Status != directory.NoEntry {
				t.Errorf("Lookup(%q) = %+v, want no entry", tt.user, res)
			}
			if len(searches) != 1 || !strings.EqualFold(searches[0].Filter, tt.filter) {
				t.Errorf("slapd saw %+v, want one search with filter %s", searches, tt.filter)
			}
		})
	}
}

// TestLookupDefinitiveErrors: a wrong password, an untrusted or unverifiable
// certificate, a missing base, an ambiguous filter are errors, not answers,
// and not ErrUnavailable (no cache, no fail_mode "safe"); none is retried
// on the next URI.
func TestLookupDefinitiveErrors(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: entries})
	other := slapd.UntrustedCAFile(t)
	tests := []struct {
		name string
		edit func(*directory.Config)
		want string // in the error
	}{
		{"wrong bind password", func(c *directory.Config) { c.BindPassword = []byte("wrong") }, "Invalid Credentials"},
		{"unknown bind DN", func(c *directory.Config) { c.BindDN = "cn=nobody," + slapd.Base }, "Invalid Credentials"},
		{"wrong CA, ldaps", func(c *directory.Config) { c.CAFile = other }, "certificate signed by unknown authority"},
		{"wrong CA, StartTLS", func(c *directory.Config) {
			c.CAFile, c.URIs, c.StartTLS = other, []string{s.LDAPURI}, true
		}, "certificate signed by unknown authority"},
		{"system roots only", func(c *directory.Config) { c.CAFile = "" }, "certificate signed by unknown authority"},
		{"certificate for another address", func(c *directory.Config) {
			c.URIs = []string{"ldaps://" + forward(t, "127.0.0.2:0", strings.TrimSuffix(strings.TrimPrefix(s.LDAPSURI, "ldaps://"), "/"))}
		}, "certificate is valid for"},
		{"missing base", func(c *directory.Config) { c.Base = "ou=nowhere," + slapd.Base }, "No Such Object"},
		{"two entries match", func(c *directory.Config) { c.Filter = "(description={user})" }, "more than one entry"},
		{"client certificate, wrong CA", func(c *directory.Config) {
			external(c, s)
			c.CAFile = other
		}, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base(s)
			tt.edit(&cfg)
			// A working second server must not be used after a definitive error.
			good := base(s).URIs[0]
			cfg.URIs = append(cfg.URIs, good)
			user := "alice"
			if strings.Contains(tt.name, "two entries") {
				user = "twin"
			}
			res, err, _ := lookup(t, s, cfg, user)
			if err == nil {
				t.Fatalf("Lookup = %+v, want an error", res)
			}
			if errors.Is(err, directory.ErrUnavailable) {
				t.Errorf("error %q is ErrUnavailable, want a definitive error", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), cfg.URIs[0]) {
				t.Errorf("error %q, want it to name %q and the URI %s", err, tt.want, cfg.URIs[0])
			}
			if res != (directory.Result{}) {
				t.Errorf("Result %+v with the error, want zero", res)
			}
			if strings.Contains(err.Error(), string(cfg.BindPassword)) && len(cfg.BindPassword) > 0 {
				t.Errorf("error %q shows the bind password", err)
			}
		})
	}
	if !strings.Contains(s.Log(), "err=49") {
		t.Errorf("slapd's log has no err=49 (the rejected bind)")
	}
}

// TestLookupWrongPasswordIsLDAPError: the wiring can tell a rejected bind
// (ldap result 49) apart with errors.As.
func TestLookupWrongPasswordIsLDAPError(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: entries})
	cfg := base(s)
	cfg.BindPassword = []byte("wrong")
	_, err := directory.Lookup(context.Background(), cfg, "alice")
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("error %v, want ldap result 49 in its chain", err)
	}
}

// TestLookupFailover: servers that are down or hang are skipped within
// ConnectTimeout; the Result names the server that answered; with no server
// left the error is ErrUnavailable, within Timeout.
func TestLookupFailover(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: entries})
	closed := slapd.ClosedAddr(t)
	silent := slapd.SilentAddr(t)
	const connect, total = 300 * time.Millisecond, 1500 * time.Millisecond
	tests := []struct {
		name     string
		uris     []string
		startTLS bool
		anon     bool
		found    string // URI expected in Result; "" means ErrUnavailable
		min, max time.Duration
	}{
		{name: "first closed, second up", uris: []string{"ldaps://" + closed, s.LDAPSURI}, found: s.LDAPSURI, max: connect},
		{name: "first hangs in TLS, second up", uris: []string{"ldaps://" + silent, s.LDAPSURI}, found: s.LDAPSURI, min: connect, max: total},
		{name: "first hangs in StartTLS, second up", uris: []string{"ldap://" + silent, s.LDAPURI}, startTLS: true, found: s.LDAPURI, min: connect, max: total},
		{name: "first hangs in the bind, second up", uris: []string{"ldap://" + silent, s.LDAPURI}, found: s.LDAPURI, min: connect, max: total},
		{name: "ldaps to a plain port: a broken server", uris: []string{strings.Replace(s.LDAPURI, "ldap://", "ldaps://", 1), s.LDAPSURI}, found: s.LDAPSURI, max: connect},
		{name: "all closed", uris: []string{"ldaps://" + closed, "ldap://" + closed}, startTLS: true, max: connect},
		{name: "all hang", uris: []string{"ldaps://" + silent, "ldap://" + silent}, startTLS: true, min: 2 * connect, max: total},
		{name: "hangs after the search is sent: no second search", uris: []string{"ldap://" + silent, s.LDAPURI}, anon: true, min: total, max: total},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base(s)
			cfg.URIs, cfg.StartTLS = tt.uris, tt.startTLS
			cfg.ConnectTimeout, cfg.Timeout = connect, total
			if tt.anon {
				anonymous(&cfg)
			}
			start := time.Now()
			res, err, searches := lookup(t, s, cfg, "alice")
			took := time.Since(start)
			// Scheduling slack on a loaded machine; the bound is what matters.
			if took < tt.min || took > tt.max+time.Second {
				t.Errorf("Lookup took %v, want %v..%v", took, tt.min, tt.max)
			}
			if tt.found == "" {
				if !errors.Is(err, directory.ErrUnavailable) {
					t.Fatalf("Lookup = %+v, %v; want ErrUnavailable", res, err)
				}
				if len(searches) != 0 {
					t.Errorf("slapd saw %d searches, want none", len(searches))
				}
				for _, u := range tt.uris {
					if !strings.Contains(err.Error(), u) {
						t.Errorf("error %q does not name %s", err, u)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if res.Status != directory.Found || res.URI != tt.found || len(searches) != 1 {
				t.Errorf("Lookup = %+v with %d searches, want found at %s with 1", res, len(searches), tt.found)
			}
		})
	}
}

// TestLookupServerStopped: a directory that went down is ErrUnavailable,
// and a context the caller ends stops the Lookup early.
func TestLookupServerStopped(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: entries})
	cfg := base(s)
	cfg.URIs = append(cfg.URIs, s.LDAPURI)
	cfg.StartTLS = true
	if res, err := directory.Lookup(context.Background(), cfg, "alice"); err != nil || res.Status != directory.Found {
		t.Fatalf("before stop: %+v, %v", res, err)
	}
	s.Stop()
	if _, err := directory.Lookup(context.Background(), cfg, "alice"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("after stop: %v, want ErrUnavailable", err)
	}

	silent := slapd.SilentAddr(t)
	cfg.URIs = []string{"ldaps://" + silent}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := directory.Lookup(ctx, cfg, "alice")
	if !errors.Is(err, directory.ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("Lookup with a 200ms context: %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
}

// TestLookupRefusesBeforeNetwork: what Validate refuses is never sent.
func TestLookupRefusesBeforeNetwork(t *testing.T) {
	cfg := directory.Config{URIs: []string{"ldap://" + slapd.SilentAddr(t)}, Base: slapd.People, Filter: "(uid=*)"}
	if _, err := directory.Lookup(context.Background(), cfg, "alice"); err == nil || errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("filter without {user}: %v, want a config error", err)
	}
	cfg.Filter = "(uid={user})"
	if _, err := directory.Lookup(context.Background(), cfg, ""); err == nil {
		t.Error("empty user name: no error")
	}
	cfg.CAFile = "/nonexistent/ca.pem"
	cfg.URIs = []string{"ldaps://127.0.0.1:1"}
	if _, err := directory.Lookup(context.Background(), cfg, "alice"); err == nil || errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("missing CA file: %v, want a config error", err)
	}
}

// forward listens on listen and relays every connection to target: the
// slapd behind another address, which its certificate does not name.
func forward(t *testing.T, listen, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return l.Addr().String()
}
