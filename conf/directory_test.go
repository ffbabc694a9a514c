package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseDirectory: a complete [directory] and the defaults.
func TestParseDirectory(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       Directory
	}{
		{"defaults", "[directory]\nuri = \"ldaps://ldap.example.org\"\nbase = \"dc=example,dc=org\"\n", Directory{
			URIs: []string{"ldaps://ldap.example.org"}, Base: "dc=example,dc=org", Filter: DefaultDirectoryFilter,
			Attributes: []string{"mobile"}, Scope: "sub", ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second,
		}},
		{"full", `[directory]
uri = ["ldap://dc1.corp.example", "ldap://dc2.corp.example"]
starttls = true
base = "OU=Staff,DC=corp,DC=example"
filter = "(&(objectClass=user)(sAMAccountName={user}))"
attribute = ["mobile", "telephoneNumber"]
scope = "one"
bind_dn = "CN=pam-sms,DC=corp,DC=example"
bind_password_file = "/etc/security/pam_sms.ldap-password"
ca_file = "/etc/ssl/corp-ca.pem"
connect_timeout = "2s"
timeout = "4s"
cache = "24h"
`, Directory{
			URIs: []string{"ldap://dc1.corp.example", "ldap://dc2.corp.example"}, StartTLS: true,
			Base: "OU=Staff,DC=corp,DC=example", Filter: "(&(objectClass=user)(sAMAccountName={user}))",
			Attributes: []string{"mobile", "telephoneNumber"}, Scope: "one", BindDN: "CN=pam-sms,DC=corp,DC=example",
			BindPasswordFile: "/etc/security/pam_sms.ldap-password", CAFile: "/etc/ssl/corp-ca.pem",
			ConnectTimeout: 2 * time.Second, Timeout: 4 * time.Second, Cache: 24 * time.Hour,
		}},
		{"client certificate", "[directory]\nuri = \"ldaps://ldap\"\nbase = \"dc=x\"\nattribute = \"telephoneNumber\"\n" +
			"client_cert = \"/etc/ssl/c.pem\"\nclient_key = \"/etc/ssl/c.key\"\n", Directory{
			URIs: []string{"ldaps://ldap"}, Base: "dc=x", Filter: DefaultDirectoryFilter, Attributes: []string{"telephoneNumber"},
			Scope: "sub", ClientCert: "/etc/ssl/c.pem", ClientKey: "/etc/ssl/c.key", ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("test.conf", []byte(base+c.body))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Directory == nil {
				t.Fatal("Directory is nil")
			}
			if d := cmp.Diff(c.want, *cfg.Directory); d != "" {
				t.Errorf("Directory (-want +got):\n%s", d)
			}
		})
	}
	cfg, err := Parse("test.conf", []byte(base))
	if err != nil || cfg.Directory != nil {
		t.Errorf("no [directory]: Directory = %v, %v; want nil", cfg.Directory, err)
	}
}

// TestParseDirectoryErrors: every problem at its line and key.
func TestParseDirectoryErrors(t *testing.T) {
	const head = "[directory]\n" // line 3
	for _, c := range []struct{ name, body, want string }{
		{"no uri", `base = "dc=x"`, "test.conf:3: directory.uri: required key is missing"},
		{"no base", `uri = "ldaps://l"`, "test.conf:3: directory.base: required key is missing"},
		{"plain remote", "uri = \"ldap://ldap.example\"\nbase = \"dc=x\"", "test.conf:4: directory.uri: " + `URI "ldap://ldap.example" is unencrypted`},
		{"bad scheme", "uri = [\"http://l\"]\nbase = \"dc=x\"", "test.conf:4: directory.uri: "},
		{"uri type", "uri = 3\nbase = \"dc=x\"", "test.conf:4: directory.uri: must be a string or an array of strings"},
		{"base not DN", "uri = \"ldaps://l\"\nbase = \"nodn\"", "test.conf:5: directory.base: base \"nodn\" is not a DN"},
		{"filter without user", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nfilter = \"(uid=x)\"", "test.conf:6: directory.filter: "},
		{"filter syntax", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nfilter = \"(uid={user}\"", "test.conf:6: directory.filter: "},
		{"attribute", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nattribute = [\"mo bile\"]", "test.conf:6: directory.attribute: "},
		{"scope", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nscope = \"tree\"", "test.conf:6: directory.scope: must be"},
		{"bind dn alone", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nbind_dn = \"cn=r,dc=x\"", "test.conf:6: directory.bind_dn: needs bind_password_file"},
		{"password alone", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nbind_password_file = \"/p\"", "test.conf:6: directory.bind_password_file: needs bind_dn"},
		{"relative file", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nca_file = \"ca.pem\"", "test.conf:6: directory.ca_file: must be an absolute path"},
		{"cert without key", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nclient_cert = \"/c\"", "test.conf:6: directory.client_cert: client_cert and client_key go together"},
		{"timeouts", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nconnect_timeout = \"20s\"\ntimeout = \"5s\"", "test.conf:6: directory.connect_timeout: 20s is longer than timeout 5s"},
		{"cache", "uri = \"ldaps://l\"\nbase = \"dc=x\"\ncache = \"1000000h\"", "test.conf:6: directory.cache: must be between"},
		{"typo", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nbind_passwort_file = \"/p\"", "test.conf:6: directory.bind_passwort_file: unknown key (did you mean bind_password_file?)"},
		{"misplaced", "uri = \"ldaps://l\"\nbase = \"dc=x\"\nfail_mode = \"safe\"", "unknown key (it belongs in [policy])"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("test.conf", []byte(base+head+c.body+"\n"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse error = %v; want it to contain %q", err, c.want)
			}
		})
	}
}

// TestLoadDirectoryNoFiles: Load does not open the directory's files (an
// exempt login must not depend on them); Resolve does, with the file rules.
func TestLoadDirectoryNoFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("config files must be owned by root: run as root")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "ldap-password")
	path := filepath.Join(dir, "pam_sms.conf")
	body := base + "[directory]\nuri = \"ldaps://127.0.0.1\"\nbase = \"dc=x\"\nbind_dn = \"cn=r,dc=x\"\n" +
		"bind_password_file = \"" + pw + "\"\nca_file = \"" + filepath.Join(dir, "missing-ca.pem") + "\"\n"
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load with missing directory files: %v", err)
	}
	_, err = cfg.Directory.Resolve(path)
	for _, want := range []string{"directory.bind_password_file: " + pw, "directory.ca_file: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve = %v; want %q", err, want)
		}
	}
	if err := os.WriteFile(pw, []byte("s3cret-bind\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = cfg.Directory.Resolve(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("Resolve with a 0644 password file = %v; want readable by others", err)
	}
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Resolve error %v holds the password", err)
	}
	_ = os.Chmod(pw, 0o640)
	cfg.Directory.CAFile = ""
	dc, err := cfg.Directory.Resolve(path)
	if err != nil || string(dc.BindPassword) != "s3cret-bind" {
		t.Errorf("Resolve = %q, %v; want the password", dc.BindPassword, err)
	}
}
