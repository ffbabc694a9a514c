package directory

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		URIs:         []string{"ldaps://ldap.example.org"},
		Base:         "ou=people,dc=example,dc=org",
		Filter:       "(uid={user})",
		BindDN:       "cn=reader,dc=example,dc=org",
		BindPassword: []byte("secret"),
	}
}

// TestValidate: every rule of Config, each with the field it names; a plain
// ldap:// URI is only accepted to a loopback IP address.
func TestValidate(t *testing.T) {
	cert := &tls.Certificate{Certificate: [][]byte{{1}}, PrivateKey: struct{}{}}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid; else part of the error
	}{
		{"valid", func(c *Config) {}, ""},
		{"ldap with StartTLS", func(c *Config) { c.URIs, c.StartTLS = []string{"ldap://ldap.example.org:389"}, true }, ""},
		{"plain ldap to 127.0.0.1", func(c *Config) { c.URIs = []string{"ldap://127.0.0.1:3389"} }, ""},
		{"plain ldap to 127.1.2.3", func(c *Config) { c.URIs = []string{"ldap://127.1.2.3"} }, ""},
		{"plain ldap to ::1", func(c *Config) { c.URIs = []string{"ldap://[::1]:3389/"} }, ""},
		{"plain ldap to a name", func(c *Config) { c.URIs = []string{"ldap://ldap.example.org"} }, "unencrypted"},
		{"plain ldap to localhost", func(c *Config) { c.URIs = []string{"ldap://localhost"} }, "unencrypted"},
		{"plain ldap to a LAN address", func(c *Config) { c.URIs = []string{"ldap://10.0.0.1"} }, "unencrypted"},
		{"plain second URI", func(c *Config) { c.URIs = append(c.URIs, "ldap://ldap2.example.org") }, "ldap2.example.org"},
		{"anonymous", func(c *Config) { c.BindDN, c.BindPassword = "", nil }, ""},
		{"AD filter and list", func(c *Config) {
			c.Filter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={user}))"
			c.Attributes = []string{"mobile", "telephoneNumber"}
		}, ""},
		{"UPN filter", func(c *Config) { c.Filter = "(userPrincipalName={user}@corp.example.com)" }, ""},
		{"OID attribute", func(c *Config) { c.Attributes = []string{"0.9.2342.19200300.100.1.41"} }, ""},
		{"scopes", func(c *Config) { c.Scope = "one" }, ""},
		{"timeouts", func(c *Config) { c.ConnectTimeout, c.Timeout = time.Second, MaxTimeout }, ""},
		{"client certificate", func(c *Config) { c.BindDN, c.BindPassword, c.ClientCert = "", nil, cert }, ""},

		{"no URI", func(c *Config) { c.URIs = nil }, "no URI"},
		{"too many URIs", func(c *Config) { c.URIs = make([]string, 11) }, "at most"},
		{"ldapi", func(c *Config) { c.URIs = []string{"ldapi:///run/slapd/ldapi"} }, "want ldaps:// or ldap://"},
		{"http", func(c *Config) { c.URIs = []string{"https://ldap.example.org"} }, "want ldaps:// or ldap://"},
		{"URL with a DN", func(c *Config) { c.URIs = []string{"ldaps://ldap.example.org/dc=example,dc=org"} }, "host[:port] only"},
		{"URL with a filter", func(c *Config) { c.URIs = []string{"ldaps://ldap.example.org/??sub?(uid=*)"} }, "host[:port] only"},
		{"URL with user info", func(c *Config) { c.URIs = []string{"ldaps://u:p@ldap.example.org"} }, "host[:port] only"},
		{"no host", func(c *Config) { c.URIs = []string{"ldaps://"} }, "host[:port] only"},
		{"bad port", func(c *Config) { c.URIs = []string{"ldaps://ldap.example.org:0"} }, "bad port"},
		{"empty base", func(c *Config) { c.Base = "" }, "base is empty"},
		{"bad base", func(c *Config) { c.Base = "people" }, "not a DN"},
		{"filter without {user}", func(c *Config) { c.Filter = "(uid=alice)" }, "does not contain {user}"},
		{"filter syntax", func(c *Config) { c.Filter = "(uid={user}" }, "filter"},
		{"filter without parentheses", func(c *Config) { c.Filter = "uid={user}" }, "filter"},
		{"bad attribute", func(c *Config) { c.Attributes = []string{"mobile)(x"} }, "not an attribute name"},
		{"empty attribute", func(c *Config) { c.Attributes = []string{""} }, "not an attribute name"},
		{"bad scope", func(c *Config) { c.Scope = "subtree" }, "scope"},
		{"bind DN without password", func(c *Config) { c.BindPassword = nil }, "without a bind password"},
		{"password without bind DN", func(c *Config) { c.BindDN = "" }, "without a bind DN"},
		{"bad bind DN", func(c *Config) { c.BindDN = "reader" }, "not a DN"},
		{"bind DN and certificate", func(c *Config) { c.ClientCert = cert }, "both set"},
		{"empty certificate", func(c *Config) { c.BindDN, c.BindPassword, c.ClientCert = "", nil, &tls.Certificate{} }, "without certificate or key"},
		{"certificate over plain loopback", func(c *Config) {
			c.BindDN, c.BindPassword, c.ClientCert = "", nil, cert
			c.URIs = []string{"ldap://127.0.0.1"}
		}, "needs TLS"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
		{"timeout too long", func(c *Config) { c.Timeout = MaxTimeout + 1 }, "at most"},
		{"connect timeout too long", func(c *Config) { c.ConnectTimeout = MaxTimeout + 1 }, "connect timeout"},
		{"connect timeout over timeout", func(c *Config) { c.ConnectTimeout, c.Timeout = 5*time.Second, time.Second }, "longer than"},
		{"connect timeout over default timeout", func(c *Config) { c.ConnectTimeout = DefaultTimeout + time.Second }, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate: nil, want an error with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate: %v, want it to say %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the bind password", err)
			}
		})
	}
}

// TestUserFilter: RFC 4515 escaping keeps every user name a plain value.
func TestUserFilter(t *testing.T) {
	tests := []struct{ filter, user, want string }{
		{"(uid={user})", "alice", "(uid=alice)"},
		{"(uid={user})", "*", `(uid=\2a)`},
		{"(uid={user})", "alice)(uid=*", `(uid=alice\29\28uid=\2a)`},
		{"(uid={user})", `a\b`, `(uid=a\5cb)`},
		{"(uid={user})", "a\x00", `(uid=a\00)`},
		{"(uid={user})", "jörg", `(uid=j\c3\b6rg)`},
		{"(|(uid={user})(mail={user}@example.org))", "x*", `(|(uid=x\2a)(mail=x\2a@example.org))`},
	}
	for _, tt := range tests {
		if got := userFilter(tt.filter, tt.user); got != tt.want {
			t.Errorf("userFilter(%q, %q) = %q, want %q", tt.filter, tt.user, got, tt.want)
		}
	}
}

// TestStatusString: the answers have names for logs and pam-sms explain.
func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Found: "found", NoEntry: "no entry", NoNumber: "no number", 0: "Status(0)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
