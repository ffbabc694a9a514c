package conf

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/directory"
)

// Directory is the [directory] section: where the third number source
// (package numsource, after [numbers] and the numbers files) looks a user up.
//
// Parse checks the keys only. The files it names (bind_password_file,
// client_cert, client_key, ca_file) are read by Resolve, at an enforced
// login: the config is read on every login, and an exempt one must neither
// open the directory's secrets nor wait for a broken file.
type Directory struct {
	URIs             []string
	StartTLS         bool
	Base             string
	Filter           string
	Attributes       []string // never empty: ["mobile"] by default
	Scope            string
	BindDN           string
	BindPasswordFile string
	ClientCert       string // PEM certificate file (SASL EXTERNAL)
	ClientKey        string // PEM key file, a secret like the password file
	CAFile           string
	ConnectTimeout   time.Duration
	Timeout          time.Duration
	// Cache is how long the last number seen for a user may stand in while
	// the directory is unavailable; 0: no cache.
	Cache time.Duration
}

// MaxDirectoryCache bounds directory.cache: a number kept longer than a
// quarter may belong to someone else by now.
const MaxDirectoryCache = 90 * 24 * time.Hour

// DefaultDirectoryFilter is directory.filter when absent.
const DefaultDirectoryFilter = "(uid={user})"

func directoryKeys() []string {
	return []string{"uri", "starttls", "base", "filter", "attribute", "scope", "bind_dn", "bind_password_file",
		"client_cert", "client_key", "ca_file", "connect_timeout", "timeout", "cache"}
}

// goodDirectory is a config directory.Config.Validate accepts; each key is
// checked by putting it alone into it, so that a problem names its key.
func goodDirectory() directory.Config {
	return directory.Config{URIs: []string{"ldap://127.0.0.1"}, Base: "dc=example", Filter: DefaultDirectoryFilter}
}

// directory reads [directory]; nil when the section is absent.
func (p *parser) directory(s section) *Directory {
	if s.items == nil {
		return nil
	}
	d := &Directory{}
	d.URIs = p.stringOrList(s, "uri", nil)
	d.StartTLS = p.boolean(s, "starttls", false)
	d.Base, _ = p.str(s, "base", "")
	d.Filter, _ = p.str(s, "filter", DefaultDirectoryFilter)
	d.Attributes = p.stringOrList(s, "attribute", directory.DefaultAttributes)
	d.Scope = p.enum(s, "scope", "sub", "base", "one", "sub")
	d.BindDN, _ = p.str(s, "bind_dn", "")
	d.BindPasswordFile, _ = p.absPath(s, "bind_password_file")
	d.ClientCert, _ = p.absPath(s, "client_cert")
	d.ClientKey, _ = p.absPath(s, "client_key")
	d.CAFile, _ = p.absPath(s, "ca_file")
	d.ConnectTimeout = p.duration(s, "connect_timeout", directory.DefaultConnectTimeout, 100*time.Millisecond, directory.MaxTimeout)
	d.Timeout = p.duration(s, "timeout", directory.DefaultTimeout, 100*time.Millisecond, directory.MaxTimeout)
	if _, ok := s.items["cache"]; ok {
		d.Cache = p.duration(s, "cache", 24*time.Hour, time.Minute, MaxDirectoryCache)
	}
	p.unknown(s, directoryKeys(), keyHint("directory"))
	p.checkDirectory(s, d)
	return d
}

// checkDirectory applies directory.Config.Validate key by key, then conf's
// own rules for the keys that name files.
func (p *parser) checkDirectory(s section, d *Directory) {
	if _, ok := s.items["uri"]; !ok {
		p.addKey(s, "uri", `required key is missing (e.g. ["ldaps://ldap.example.org"])`)
	}
	if _, ok := s.items["base"]; !ok {
		p.addKey(s, "base", `required key is missing (the DN searched from, e.g. "ou=people,dc=example,dc=org")`)
	}
	before := len(p.problems)
	try := func(key string, set func(*directory.Config)) {
		if _, ok := s.items[key]; !ok {
			return
		}
		c := goodDirectory()
		set(&c)
		if err := c.Validate(); err != nil {
			p.addKey(s, key, "%s", strings.TrimPrefix(err.Error(), "directory: "))
		}
	}
	try("uri", func(c *directory.Config) { c.URIs, c.StartTLS = d.URIs, d.StartTLS })
	try("base", func(c *directory.Config) { c.Base = d.Base })
	try("filter", func(c *directory.Config) { c.Filter = d.Filter })
	try("attribute", func(c *directory.Config) { c.Attributes = d.Attributes })
	try("bind_dn", func(c *directory.Config) { c.BindDN, c.BindPassword = d.BindDN, []byte("x") })
	if _, ok := s.items["attribute"]; ok && len(d.Attributes) == 0 {
		p.addKey(s, "attribute", "must not be empty (the default is \"mobile\")")
	}
	switch {
	case d.BindDN != "" && d.BindPasswordFile == "":
		p.addKey(s, "bind_dn", "needs bind_password_file (an empty password would be an unauthenticated bind)")
	case d.BindDN == "" && d.BindPasswordFile != "":
		p.addKey(s, "bind_password_file", "needs bind_dn")
	case d.BindDN != "" && d.ClientCert != "":
		p.addKey(s, "client_cert", "bind_dn and client_cert are both set; use one way to bind")
	}
	if (d.ClientCert == "") != (d.ClientKey == "") {
		p.addKey(s, "client_cert", "client_cert and client_key go together")
	}
	if d.ConnectTimeout > d.Timeout {
		p.addKey(s, "connect_timeout", "%s is longer than timeout %s", fmtDuration(d.ConnectTimeout), fmtDuration(d.Timeout))
	}
	if len(p.problems) == before {
		// What the key-by-key checks cannot see.
		if err := d.config().Validate(); err != nil {
			p.add(s.node, "%s", strings.TrimPrefix(err.Error(), "directory: "))
		}
	}
}

// config is d as a directory.Config without the secrets; the bind password
// and the client certificate stand as placeholders so that Validate sees
// which way of binding is configured.
func (d *Directory) config() directory.Config {
	c := directory.Config{
		URIs: d.URIs, StartTLS: d.StartTLS, Base: d.Base, Filter: d.Filter, Attributes: d.Attributes,
		Scope: d.Scope, BindDN: d.BindDN, CAFile: d.CAFile, ConnectTimeout: d.ConnectTimeout, Timeout: d.Timeout,
	}
	if d.BindDN != "" {
		c.BindPassword = []byte("placeholder")
	}
	if d.ClientCert != "" {
		c.ClientCert = &tls.Certificate{Certificate: [][]byte{{0}}, PrivateKey: struct{}{}}
	}
	return c
}

// stringOrList reads a string or an array of strings.
func (p *parser) stringOrList(s section, name string, def []string) []string {
	n, ok := s.items[name]
	if !ok {
		return def
	}
	if v, isStr := n.val.(string); isStr {
		return []string{v}
	}
	if _, isArr := n.val.([]any); !isArr {
		p.add(n, "must be a string or an array of strings, not %s", typeName(n.val))
		return def
	}
	list, _ := p.strings(s, name, def)
	return list
}

// Resolve reads the files of d and returns the directory.Config a lookup
// uses: the bind password from bind_password_file (CheckFile's rules, as
// the gateway's password_file), the client certificate and key (the key
// with CheckFile's rules), and ca_file checked as the gateway's. The error
// is an *Error whose problems name the keys (Line 0: KeyLines finds them);
// it never holds a secret.
func (d *Directory) Resolve(path string) (directory.Config, error) {
	c := d.config()
	c.BindPassword, c.ClientCert = nil, nil
	var problems []Problem
	fail := func(key string, err error) {
		problems = append(problems, Problem{Key: "directory." + key, Msg: trimPkg(err)})
	}
	if d.BindPasswordFile != "" {
		pw, err := readSecretLine(d.BindPasswordFile, "the directory bind password")
		if err != nil {
			fail("bind_password_file", err)
		}
		c.BindPassword = pw
	}
	if d.ClientCert != "" {
		cert, err := loadClientCert(d.ClientCert, d.ClientKey)
		if err != nil {
			fail("client_cert", err)
		}
		c.ClientCert = cert
	}
	if d.CAFile != "" {
		if err := checkCAFile(d.CAFile); err != nil {
			fail("ca_file", err)
		}
	}
	if len(problems) > 0 {
		return directory.Config{}, &Error{Path: path, Problems: problems}
	}
	if err := c.Validate(); err != nil {
		return directory.Config{}, &Error{Path: path, Problems: []Problem{{Key: "directory", Msg: strings.TrimPrefix(err.Error(), "directory: ")}}}
	}
	return c, nil
}

// readSecretLine is readPassword for another secret: the first line, without
// trailing white space, of a file that passes CheckFile.
func readSecretLine(path, what string) ([]byte, error) {
	data, err := readChecked(path, maxPasswordSize)
	if err != nil {
		return nil, err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimRight(line, " \t\r\v\f")
	if len(line) == 0 {
		return nil, fmt.Errorf("conf: %s: the first line is empty; it must hold %s", path, what)
	}
	return bytes.Clone(line), nil
}

// loadClientCert reads the client certificate (checkCAFile's rules: owned by
// root, not writable by others) and its key (CheckFile's: a secret).
func loadClientCert(certFile, keyFile string) (*tls.Certificate, error) {
	if err := checkCAFile(certFile); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	keyPEM, err := readChecked(keyFile, maxPasswordSize)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("conf: %s and %s: not a certificate and its key", certFile, keyFile)
	}
	return &cert, nil
}
