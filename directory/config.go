package directory

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Defaults and bounds of Config's timeouts.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultTimeout        = 10 * time.Second
	MaxTimeout            = 60 * time.Second
)

// DefaultAttributes is the attribute list when Config.Attributes is empty.
var DefaultAttributes = []string{"mobile"}

// UserPlaceholder is replaced in Config.Filter by the escaped user name.
const UserPlaceholder = "{user}"

// maxURIs and maxAttributes keep a bad config from making a login slow.
const (
	maxURIs       = 10
	maxAttributes = 10
)

// Config says where and how to look a user's number up.
//
// An OpenLDAP example:
//
//	URIs:       []string{"ldaps://ldap1.example.org", "ldaps://ldap2.example.org"}
//	Base:       "ou=people,dc=example,dc=org"
//	Filter:     "(&(objectClass=inetOrgPerson)(uid={user}))"
//	Attributes: []string{"mobile"}
//
// Active Directory is LDAP too: the account name is sAMAccountName (or
// userPrincipalName, "name@domain"), the number is in mobile (or
// telephoneNumber), and StartTLS on port 389 or LDAPS on 636 both work:
//
//	URIs:       []string{"ldaps://dc1.corp.example.com", "ldaps://dc2.corp.example.com"}
//	Base:       "OU=Staff,DC=corp,DC=example,DC=com"
//	Filter:     "(&(objectCategory=person)(objectClass=user)(sAMAccountName={user}))"
//	            or "(userPrincipalName={user}@corp.example.com)"
//	Attributes: []string{"mobile", "telephoneNumber"}
//	BindDN:     "CN=pam-sms,OU=Service Accounts,DC=corp,DC=example,DC=com"
//	CAFile:     the file holding the AD certificate services' root CA
//
// Referrals (AD's answers pointing at other domains of the forest) are not
// followed: search the domain that holds the accounts.
type Config struct {
	// URIs are tried in order: "ldaps://host[:port]" or "ldap://host[:port]".
	// An ldap:// URI must use StartTLS, except to a loopback IP address
	// (127.0.0.0/8, ::1) where it may stay plain.
	URIs []string
	// StartTLS makes ldap:// URIs start TLS before binding; ldaps:// URIs are
	// TLS from the first byte either way.
	StartTLS bool
	// Base is the DN searched from.
	Base string
	// Filter is an RFC 4515 filter holding UserPlaceholder at least once,
	// e.g. "(uid={user})". The user name is escaped (RFC 4515: * ( ) \ NUL
	// and bytes over 0x7f become \XX) before it is put in, so it can only
	// ever be a value: it cannot close the filter or add a wildcard.
	Filter string
	// Attributes holding the number, in order of preference: the first one
	// the entry has wins. Empty means DefaultAttributes ("mobile").
	Attributes []string
	// Scope is "base", "one" or "sub" (empty: "sub").
	Scope string
	// BindDN and BindPassword: a simple bind. Empty BindDN and no
	// ClientCert: anonymous (no bind at all).
	BindDN       string
	BindPassword []byte
	// ClientCert: a TLS client certificate and a SASL EXTERNAL bind (the
	// server maps the certificate to its identity). Excludes BindDN.
	ClientCert *tls.Certificate
	// CAFile is a PEM bundle of the CAs trusted for the server certificate;
	// when set it is the only trust anchor, when empty the system's roots
	// are. The server's name (or IP address) is always verified: there is
	// no way to turn verification off.
	CAFile string
	// ConnectTimeout bounds setting up a session with one server: TCP
	// connect, TLS handshake or StartTLS, and the bind. A server that does
	// not make it in time is skipped for the next URI. Zero:
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Timeout bounds the whole Lookup, failover included. Zero:
	// DefaultTimeout. Both are at most MaxTimeout.
	Timeout time.Duration
}

var (
	attrName = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)$`)
	scopes   = map[string]int{"": ldap.ScopeWholeSubtree, "sub": ldap.ScopeWholeSubtree, "one": ldap.ScopeSingleLevel, "base": ldap.ScopeBaseObject}
)

// Validate reports the first problem of c, naming the field. Lookup calls it
// too; a config it refuses never reaches the network.
func (c Config) Validate() error {
	if len(c.URIs) == 0 {
		return errors.New("directory: no URI")
	}
	if len(c.URIs) > maxURIs {
		return fmt.Errorf("directory: %d URIs, at most %d", len(c.URIs), maxURIs)
	}
	for _, raw := range c.URIs {
		if _, err := parseURI(raw, c.StartTLS); err != nil {
			return err
		}
	}
	if c.Base == "" {
		return errors.New("directory: base is empty")
	}
	if _, err := ldap.ParseDN(c.Base); err != nil {
		return fmt.Errorf("directory: base %q is not a DN: %v", c.Base, err)
	}
	if !strings.Contains(c.Filter, UserPlaceholder) {
		return fmt.Errorf("directory: filter %q does not contain %s", c.Filter, UserPlaceholder)
	}
	if _, err := ldap.CompileFilter(userFilter(c.Filter, "x")); err != nil {
		return fmt.Errorf("directory: filter %q: %v", c.Filter, err)
	}
	if len(c.Attributes) > maxAttributes {
		return fmt.Errorf("directory: %d attributes, at most %d", len(c.Attributes), maxAttributes)
	}
	for _, a := range c.Attributes {
		if !attrName.MatchString(a) {
			return fmt.Errorf("directory: attribute %q is not an attribute name", a)
		}
	}
	if _, ok := scopes[c.Scope]; !ok {
		return fmt.Errorf("directory: scope %q: want base, one or sub", c.Scope)
	}
	if err := c.validateBind(); err != nil {
		return err
	}
	return c.validateTimeouts()
}

func (c Config) validateBind() error {
	switch {
	case c.BindDN != "" && c.ClientCert != nil:
		return errors.New("directory: bind DN and client certificate both set; use one")
	case c.BindDN != "" && len(c.BindPassword) == 0:
		// An empty password would be an unauthenticated bind (RFC 4513 5.1.2):
		// it "succeeds" without proving anything.
		return errors.New("directory: bind DN without a bind password")
	case c.BindDN == "" && len(c.BindPassword) != 0:
		return errors.New("directory: bind password without a bind DN")
	case c.BindDN != "":
		if _, err := ldap.ParseDN(c.BindDN); err != nil {
			return fmt.Errorf("directory: bind DN %q is not a DN: %v", c.BindDN, err)
		}
	case c.ClientCert != nil:
		if len(c.ClientCert.Certificate) == 0 || c.ClientCert.PrivateKey == nil {
			return errors.New("directory: client certificate without certificate or key")
		}
		for _, raw := range c.URIs {
			if u, _ := parseURI(raw, c.StartTLS); !u.tls {
				return fmt.Errorf("directory: client certificate needs TLS; %s is plain (use ldaps:// or starttls)", raw)
			}
		}
	}
	return nil
}

func (c Config) validateTimeouts() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"connect timeout", c.ConnectTimeout}, {"timeout", c.Timeout}} {
		if d.v < 0 || d.v > MaxTimeout {
			return fmt.Errorf("directory: %s %v: want more than 0 and at most %v", d.name, d.v, MaxTimeout)
		}
	}
	if c = c.withDefaults(); c.ConnectTimeout > c.Timeout {
		return fmt.Errorf("directory: connect timeout %v is longer than the timeout %v", c.ConnectTimeout, c.Timeout)
	}
	return nil
}

// withDefaults fills the zero values that have defaults.
func (c Config) withDefaults() Config {
	if len(c.Attributes) == 0 {
		c.Attributes = DefaultAttributes
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// server is one parsed URI.
type server struct {
	uri      string // as configured
	addr     string // host:port to dial
	host     string // for certificate verification
	tls      bool   // TLS in the end (ldaps, or ldap with StartTLS)
	startTLS bool
}

func parseURI(raw string, startTLS bool) (server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return server{}, fmt.Errorf("directory: URI %q: %v", raw, err)
	}
	s := server{uri: raw, host: u.Hostname()}
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "ldaps":
		s.tls = true
		if port == "" {
			port = ldap.DefaultLdapsPort
		}
	case "ldap":
		s.tls, s.startTLS = startTLS, startTLS
		if port == "" {
			port = ldap.DefaultLdapPort
		}
	default:
		return server{}, fmt.Errorf("directory: URI %q: want ldaps:// or ldap://", raw)
	}
	// An LDAP URL may carry a DN, attributes, scope and filter (RFC 4516);
	// those come from the config's own keys, so refuse them here.
	if s.host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return server{}, fmt.Errorf("directory: URI %q: want scheme://host[:port] only", raw)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return server{}, fmt.Errorf("directory: URI %q: bad port", raw)
	}
	if !s.tls && !isLoopback(s.host) {
		return server{}, fmt.Errorf("directory: URI %q is unencrypted: use ldaps:// or starttls (plain ldap:// only to 127.0.0.1 or ::1)", raw)
	}
	s.addr = net.JoinHostPort(s.host, port)
	return s, nil
}

// isLoopback accepts loopback IP literals only: a name such as "localhost"
// is whatever the resolver says, and a plain connection must not depend on it.
func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// userFilter puts the RFC 4515-escaped user name into the filter.
func userFilter(filter, user string) string {
	return strings.ReplaceAll(filter, UserPlaceholder, ldap.EscapeFilter(user))
}
