package conf

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The keys of SPEC section 8: each problem at its line and key, no value
// that may be a secret repeated.
func TestParseReachErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"proxy_scheme", base + "proxy = \"https://p.example:3128\"\n", []string{
			`3: gateway.proxy: scheme must be http (the proxy is asked with CONNECT for an https gateway), not "https"`}},
		{"proxy_no_port", base + "proxy = \"http://p.example\"\n", []string{
			`3: gateway.proxy: needs a port, e.g. "http://proxy.example:3128"`}},
		{"proxy_password_in_url", base + "proxy = \"http://u:hunter2@p.example:3128\"\n", []string{
			`3: gateway.proxy: must not hold a password; put it into proxy_password_file`}},
		{"proxy_user_without_file", base + "proxy = \"http://u@p.example:3128\"\n", []string{
			`3: gateway.proxy: names a user but proxy_password_file is not set`}},
		{"proxy_file_without_user", base + "proxy = \"http://p.example:3128\"\nproxy_password_file = \"/etc/p\"\n", []string{
			`4: gateway.proxy_password_file: is set but proxy names no user (write "http://USER@HOST:PORT")`}},
		{"proxy_file_without_proxy", base + "proxy_password_file = \"/etc/p\"\n", []string{
			`3: gateway.proxy_password_file: is set but proxy is not`}},
		{"proxy_file_relative", base + "proxy = \"http://u@p.example:3128\"\nproxy_password_file = \"p\"\n", []string{
			`4: gateway.proxy_password_file: must be an absolute path, not "p"`}},
		{"http_gateway_remote_proxy", "[gateway]\nurl = \"http://127.0.0.1:8080/send\"\nproxy = \"http://p.example:3128\"\n", []string{
			`3: gateway.proxy: an http:// gateway may only be reached through a proxy on a loopback address: ` +
				`the credentials and the code would cross the proxy hop in clear (use https)`}},
		{"auth_unknown", base + "auth = \"digest\"\n", []string{
			`3: gateway.auth: must be "basic", not "digest"`}},
		{"auth_basic_no_id", base + "auth = \"basic\"\n", []string{
			`3: gateway.auth: "basic" needs id (the user name of the credentials)`}},
		{"body_unknown", base + "body = \"xml\"\n", []string{
			`3: gateway.body: must be "form" or "json", not "xml"`}},
		{"body_json_get", base + "method = \"GET\"\nbody = \"json\"\n", []string{
			`4: gateway.body: "json" needs method = "POST"`}},
		{"message_id_no_group", base + "message_id = \"SM[0-9]+\"\n", []string{
			`3: gateway.message_id: the pattern needs a capture group: its first group is the id (e.g. "\"sid\": *\"([^\"]+)\"")`}},
		{"message_id_invalid", base + "message_id = \"(\"\n", []string{
			`3: gateway.message_id: invalid regular expression: missing closing ): "("`}},
		{"header_type", base + "[gateway.headers]\nX-Key = 5\n", []string{
			`4: gateway.headers.X-Key: must be a string, not an integer`}},
		{"header_reserved", base + "[gateway.headers]\nHost = \"evil.example\"\n", []string{
			`4: gateway.headers.Host: is set by pam_sms itself and cannot be configured`}},
		{"header_bad_name", base + "[gateway.headers]\n\"X Key\" = \"v\"\n", []string{
			`4: gateway.headers."X Key": not a valid header name (letters, digits and !#$%&'*+-.^_` + "`" + `|~)`}},
		{"header_control_char", base + "[gateway.headers]\nX-Key = \"tok\\r\\nX-Evil: 1\"\n", []string{
			`4: gateway.headers.X-Key: the value holds a control character`}},
		{"header_twice", base + "[gateway.headers]\nX-Key = \"a\"\nx-key = \"b\"\n", []string{
			`5: gateway.headers.x-key: is the header "X-Key" again (header names ignore case)`}},
		{"authorization_with_basic", base + "id = \"AC1\"\nauth = \"basic\"\n[gateway.headers]\nAuthorization = \"Bearer t\"\n", []string{
			`6: gateway.headers.Authorization: auth = "basic" sets it already`}},
		{"header_file_relative", base + "[gateway.header_files]\nX-Key = \"key\"\n", []string{
			`4: gateway.header_files.X-Key: must be an absolute path, not "key"`}},
		{"header_file_and_header", base + "[gateway.headers]\nX-Key = \"a\"\n[gateway.header_files]\nx-key = \"/etc/k\"\n", []string{
			`6: gateway.header_files.x-key: the header is also set in gateway.headers (as "X-Key"); keep one`}},
		{"reach_unknown_typo", base + "mesage_id = \"(x)\"\n", []string{
			`3: gateway.mesage_id: unknown key (did you mean message_id?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProblems(t, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the proxy password: %v", err)
			}
		})
	}
}

// parseProblems parses in, which must fail with an *Error, and returns
// its problems as strings (and the error, to look for secrets in it).
func parseProblems(t *testing.T, in string) ([]string, error) {
	t.Helper()
	_, err := Parse("", []byte(in))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse error %v, want *Error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	return got, err
}

func TestParseReachValid(t *testing.T) {
	in := base + `id = "AC1"
auth = "basic"
body = "json"
proxy = "http://squid@p.example:3128"
proxy_password_file = "/etc/security/proxy"
message_id = '"sid" *: *"([^"]+)"'
[gateway.headers]
Accept = "application/json"
[gateway.header_files]
X-Api-Key = "/etc/security/key"
`
	cfg, err := Parse("", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Gateway
	if g.Auth != "basic" || g.Body != "json" || g.Proxy != "http://squid@p.example:3128" ||
		g.ProxyPasswordFile != "/etc/security/proxy" || g.MessageID.String() != `"sid" *: *"([^"]+)"` ||
		g.Headers["Accept"] != "application/json" || g.HeaderFiles["X-Api-Key"] != "/etc/security/key" {
		t.Errorf("gateway = %+v", g)
	}
	if g.SecretHeaders != nil || g.ProxyPassword != "" {
		t.Errorf("Parse read files: %+v", g)
	}
}

// Load reads the proxy password and the header files with password_file's
// rules; their contents never appear in a problem.
func TestLoadReachFiles(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	proxyPW := writeFile(t, dir, "proxy", "pr0xy-pw\n", 0o640)
	key := writeFile(t, dir, "key", "k3y-value  \nsecond\n", 0o640)
	badKey := writeFile(t, dir, "badkey", "tok\x01en\n", 0o640)
	open := writeFile(t, dir, "open", "w0rld-readable\n", 0o644)
	conf := func(body string) string {
		return writeFile(t, dir, "pam_sms.conf", base+body, 0o640)
	}

	cfg, err := Load(conf("proxy = \"http://squid@127.0.0.1:3128\"\nproxy_password_file = \"" + proxyPW +
		"\"\n[gateway.header_files]\nX-Api-Key = \"" + key + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway.ProxyPassword != "pr0xy-pw" || cfg.Gateway.SecretHeaders["X-Api-Key"] != "k3y-value" {
		t.Errorf("proxy password %q, secret headers %q", cfg.Gateway.ProxyPassword, cfg.Gateway.SecretHeaders)
	}

	_, err = Load(conf("[gateway.header_files]\nX-Api-Key = \"" + open + "\"\nX-Other = \"" + badKey + "\"\n" +
		"X-Gone = \"" + filepath.Join(dir, "missing") + "\"\n"))
	for _, want := range []string{
		"gateway.header_files.X-Api-Key: " + open + " is mode 0644; it must not be readable by others",
		"gateway.header_files.X-Other: the value holds a control character",
		"gateway.header_files.X-Gone: " + filepath.Join(dir, "missing") + ": file does not exist",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %v, want one with %q", err, want)
		}
	}
	for _, secret := range []string{"w0rld-readable", "tok\x01en"} {
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error repeats a file's content: %v", err)
		}
	}
}
