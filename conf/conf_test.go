package conf

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/netmatch"
	"github.com/pam-sms/pam_sms/smsclient"
)

// cmpOpts compares the types that have no exported fields by their meaning.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b *regexp.Regexp) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
	cmp.Comparer(func(a, b netmatch.Set) bool { return reflect.DeepEqual(a, b) }),
	cmp.Comparer(func(a, b smsclient.Number) bool {
		return a.Format(smsclient.FormatPlus) == b.Format(smsclient.FormatPlus) && a.Masked() == b.Masked()
	}),
}

// base is a minimal valid config (lines 1-2); rows append their section at line 3.
const base = "[gateway]\nurl = \"https://gw.example/send\"\n"

const fullConfig = `[policy]
groups = ["sms-2fa", "admins", "svc$"]
trusted_networks = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
trust_local = true
fail_mode = "safe"
missing_number = "ignore"

[code]
digits = 8
validity = "90s"
attempts = 5
resends = 0
language = "de"
message = "{user}@{host}: {code} ({minutes} min)"

[gateway]
url = "http://127.0.0.1:8080/send?x=1"
method = "get"
id = "acct-17"
password = "s3cret"
sender = "Acme"
timeout = "30s"
success = '^OK'
rate_limited = '^(ERR 402|LIMIT)'
ca_file = "/etc/ssl/private-ca.pem"
number_format = "+"

[gateway.fields]
id = "user"
password = "pass"
number = "dest[]"
text = "msg"
sender = "from"

[gateway.extra]
type = "text"
charset = "utf-8"

[limits]
window = "60m"
per_user = 0
per_number = 3
per_host = 100
daily = 1000
state_dir = "/run/pam-sms"

[numbers]
alice = "+49 172 34567890"
"bob.smith" = "0041 79 1234567"
`

func mustNumber(t testing.TB, s string) smsclient.Number {
	t.Helper()
	n, err := smsclient.ParseNumber(s)
	if err != nil {
		t.Fatalf("Setup: ParseNumber(%q): %v", s, err)
	}
	return n
}

// defaults is the config with every default and the given gateway URL.
func defaults(url string) *Config {
	return &Config{
		Policy: Policy{Groups: []string{"*"}, AllUsers: true},
		Code: Code{
			Digits: 6, Validity: 5 * time.Minute, Attempts: 3, Resends: 1,
			Language: "en", Message: "Your login code for {host}: {code}",
		},
		Gateway: Gateway{Config: smsclient.Config{
			URL:          url,
			Method:       "POST",
			Timeout:      10 * time.Second,
			Success:      regexp.MustCompile(`^(OK|100)\b`),
			NumberFormat: smsclient.FormatDoubleZero,
			Fields:       smsclient.Fields{ID: "id", Password: "pw", Number: "to", Text: "text", Sender: "origin"},
			Extra:        map[string]string{},
		}},
		Limits: Limits{
			Limits:   limits.Limits{Window: 15 * time.Minute, PerUser: 5, PerNumber: 5, PerHost: 20},
			StateDir: "/var/lib/pam-sms",
		},
		Numbers: map[string]smsclient.Number{},
	}
}

func TestParseValid(t *testing.T) {
	full := &Config{
		Path: "test.conf",
		Policy: Policy{
			Groups:          []string{"sms-2fa", "admins", "svc$"},
			TrustedNetworks: netmatch.MustParse("10.0.0.0/8", "2001:db8::/32", "192.0.2.7"),
			TrustLocal:      true,
			FailMode:        FailSafe,
			MissingNumber:   MissingIgnore,
		},
		Code: Code{
			Digits: 8, Validity: 90 * time.Second, Attempts: 5, Resends: 0,
			Language: "de", Message: "{user}@{host}: {code} ({minutes} min)",
		},
		Gateway: Gateway{Config: smsclient.Config{
			URL:          "http://127.0.0.1:8080/send?x=1",
			Method:       "GET",
			ID:           "acct-17",
			Password:     "s3cret",
			Sender:       "Acme",
			Timeout:      30 * time.Second,
			Success:      regexp.MustCompile(`^OK`),
			RateLimited:  regexp.MustCompile(`^(ERR 402|LIMIT)`),
			CAFile:       "/etc/ssl/private-ca.pem",
			NumberFormat: smsclient.FormatPlus,
			Fields:       smsclient.Fields{ID: "user", Password: "pass", Number: "dest[]", Text: "msg", Sender: "from"},
			Extra:        map[string]string{"type": "text", "charset": "utf-8"},
		}},
		Limits: Limits{
			Limits:   limits.Limits{Window: time.Hour, PerUser: 0, PerNumber: 3, PerHost: 100, Daily: 1000},
			StateDir: "/run/pam-sms",
		},
		Numbers: map[string]smsclient.Number{
			"alice":     mustNumber(t, "+49 172 34567890"),
			"bob.smith": mustNumber(t, "0041 79 1234567"),
		},
	}
	minimal := defaults("https://gw.example/send")
	minimal.Path = "test.conf"
	exemptCfg := defaults("https://gw.example/send")
	exemptCfg.Path = "test.conf"
	exemptCfg.Policy.ExemptUsers = []string{"breakglass"}
	exemptCfg.Policy.ExemptGroups = []string{"wheel-emergency", "ops"}
	filesCfg := defaults("https://gw.example/send")
	filesCfg.Path = "test.conf"
	filesCfg.Policy.NumbersFiles = []string{"/etc/security/pam_sms.numbers", "/srv/hr/numbers.toml"}

	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{"full", fullConfig, full},
		{"minimal", base, minimal},
		{"empty_sections", base + "[policy]\n[code]\n[gateway.fields]\n[gateway.extra]\n[limits]\n[numbers]\n", minimal},
		{"empty_trusted_networks", base + "[policy]\ntrusted_networks = []\n", minimal},
		{"exempt", base + "[policy]\nexempt_users = [\"breakglass\"]\nexempt_groups = [\"wheel-emergency\", \"ops\"]\n", exemptCfg},
		// Parse never opens a numbers file: neither path exists here.
		{"numbers_files", base + "[policy]\nnumbers_files = [\"/etc/security/pam_sms.numbers\", \"/srv/hr/numbers.toml\"]\n", filesCfg},
		{"numbers_files_empty", base + "[policy]\nnumbers_files = []\n", minimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("test.conf", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGatewayURL(t *testing.T) {
	for _, u := range []string{
		"https://gw.example/send",
		"https://192.0.2.1:8443/x?a=b",
		"http://127.0.0.1/send",
		"http://127.8.9.10:9000/send",
		"http://[::1]:8080/send",
		"http://localhost:8080/send",
		"http://LOCALHOST/send",
		"HTTPS://gw.example/send",
	} {
		t.Run(u, func(t *testing.T) {
			cfg, err := Parse("t", []byte("[gateway]\nurl = \""+u+"\"\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cfg.Gateway.URL != u {
				t.Errorf("URL = %q, want %q", cfg.Gateway.URL, u)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // Problem.String() of every problem, in order
	}{
		// Syntax: one problem with the line; the bad token is not repeated.
		{"syntax_table", base + "[policy\n", []string{
			`3: syntax error: expected '.' or ']' to end table name, but got '\n' instead`}},
		{"syntax_secret_not_shown", "[gateway]\nurl = \"https://gw.example/\"\npassword = hunter2\n", []string{
			`3: syntax error: expected value but found "..." instead`}},
		{"duplicate_key", base + "url = \"https://other.example/\"\n", []string{
			`3: syntax error: Key 'gateway.url' has already been defined.`}},

		// Sections.
		{"missing_gateway", "", []string{
			`gateway.url: required key is missing (the gateway's send URL)`}},
		{"missing_url", "[gateway]\nid = \"x\"\n", []string{
			`1: gateway.url: required key is missing (the gateway's send URL)`}},
		{"unknown_section_typo", base + "[polcy]\ngroups = [\"*\"]\n", []string{
			`3: polcy: unknown section (did you mean [policy]?)`}},
		{"unknown_section", base + "[ldap]\nuri = \"ldap://x\"\n", []string{
			`3: ldap: unknown section`}},
		{"top_level_key", "digits = 6\n" + base, []string{
			`1: digits: unknown key (it belongs in [code])`}},
		{"section_not_table", "policy = 5\n" + base, []string{
			`1: policy: must be a table, not an integer`}},
		{"section_array_of_tables", base + "[[limits]]\nwindow = \"5m\"\n", []string{
			`3: limits: must be a table, not an array of tables`}},

		// [policy]
		{"groups_type", base + "[policy]\ngroups = \"wheel\"\n", []string{
			`4: policy.groups: must be an array of strings, not a string`}},
		{"groups_element_type", base + "[policy]\ngroups = [\"wheel\", 5]\n", []string{
			`4: policy.groups: element 2 must be a string, not an integer`}},
		{"groups_empty", base + "[policy]\ngroups = []\n", []string{
			`4: policy.groups: must not be empty (use ["*"] for every user)`}},
		{"groups_bad_name", base + "[policy]\ngroups = [\"ok\", \"bad name\", \"-x\"]\n", []string{
			`4: policy.groups: "bad name" is not a valid group name`,
			`4: policy.groups: "-x" is not a valid group name`}},
		{"groups_too_long", base + "[policy]\ngroups = [\"" + strings.Repeat("g", 33) + "\"]\n", []string{
			`4: policy.groups: "ggggggggggggggggggggggggggggggggg" is not a valid group name`}},
		{"trusted_networks_host_bits", base + "[policy]\ntrusted_networks = [\"10.0.0.1/8\"]\n", []string{
			`4: policy.trusted_networks: entry 0 "10.0.0.1/8": host bits set; did you mean 10.0.0.0/8?`}},
		{"trusted_networks_hostname", base + "[policy]\ntrusted_networks = [\"10.0.0.0/8\", \"intranet\"]\n", []string{
			`4: policy.trusted_networks: entry 1 "intranet": not an IP address or CIDR prefix (host names are not allowed)`}},
		{"trusted_networks_type", base + "[policy]\ntrusted_networks = \"10.0.0.0/8\"\n", []string{
			`4: policy.trusted_networks: must be an array of strings, not a string`}},
		{"trust_local_type", base + "[policy]\ntrust_local = \"yes\"\n", []string{
			`4: policy.trust_local: must be true or false, not a string`}},
		{"fail_mode", base + "[policy]\nfail_mode = \"open\"\n", []string{
			`4: policy.fail_mode: must be "secure" or "safe", not "open"`}},
		{"fail_mode_type", base + "[policy]\nfail_mode = true\n", []string{
			`4: policy.fail_mode: must be a string, not a boolean`}},
		{"missing_number", base + "[policy]\nmissing_number = \"allow\"\n", []string{
			`4: policy.missing_number: must be "deny" or "ignore", not "allow"`}},
		{"exempt_users_type", base + "[policy]\nexempt_users = \"root\"\n", []string{
			`4: policy.exempt_users: must be an array of strings, not a string`}},
		{"exempt_users_star", base + "[policy]\nexempt_users = [\"*\"]\n", []string{
			`4: policy.exempt_users: "*" would exempt every user; list the break-glass names`}},
		{"exempt_users_bad_names", base + "[policy]\nexempt_users = [\"ok\", \"bad name\", \"\"]\n", []string{
			`4: policy.exempt_users: "bad name" is not a valid user name`,
			`4: policy.exempt_users: "" is not a valid user name`}},
		{"exempt_groups_element_type", base + "[policy]\nexempt_groups = [\"wheel\", 5]\n", []string{
			`4: policy.exempt_groups: element 2 must be a string, not an integer`}},
		{"exempt_groups_star", base + "[policy]\nexempt_groups = [\"*\"]\n", []string{
			`4: policy.exempt_groups: "*" would exempt every group; list the break-glass names`}},
		{"exempt_groups_bad_name", base + "[policy]\nexempt_groups = [\"-x\"]\n", []string{
			`4: policy.exempt_groups: "-x" is not a valid group name`}},
		{"numbers_files_type", base + "[policy]\nnumbers_files = \"/etc/n\"\n", []string{
			`4: policy.numbers_files: must be an array of strings, not a string`}},
		{"numbers_files_every_bad_path", base + "[policy]\nnumbers_files = [\"numbers\", \"/etc//n\", \"/etc/n\", \"/etc/n\", 7]\n", []string{
			`4: policy.numbers_files: element 5 must be a string, not an integer`}},
		{"numbers_files_paths", base + "[policy]\nnumbers_files = [\"numbers\", \"/etc//n\", \"/etc/n\", \"/etc/n\"]\n", []string{
			`4: policy.numbers_files: must hold absolute paths, not "numbers"`,
			`4: policy.numbers_files: must hold clean paths (write "/etc/n")`,
			`4: policy.numbers_files: "/etc/n" is listed twice`}},
		{"numbers_files_too_many", base + "[policy]\nnumbers_files = [" + manyFiles(17) + "]\n", []string{
			`4: policy.numbers_files: lists 17 files; at most 16 are allowed (merge some)`}},
		{"numbers_file_typo", base + "[policy]\nnumber_files = [\"/etc/n\"]\n", []string{
			`4: policy.number_files: unknown key (did you mean numbers_files?)`}},
		{"exempt_typo", base + "[policy]\nexempt_user = [\"root\"]\n", []string{
			`4: policy.exempt_user: unknown key (did you mean exempt_users?)`}},
		// Every bad entry is named, not only the first.
		{"trusted_networks_every_bad_entry", base + "[policy]\ntrusted_networks = [\"10.0.0.1/8\", \"192.0.2.0/24\", \"intranet\", \" 10.1.0.0/16\"]\n", []string{
			`4: policy.trusted_networks: entry 0 "10.0.0.1/8": host bits set; did you mean 10.0.0.0/8?`,
			`4: policy.trusted_networks: entry 2 "intranet": not an IP address or CIDR prefix (host names are not allowed)`,
			`4: policy.trusted_networks: entry 3 " 10.1.0.0/16": leading or trailing white space`}},
		{"policy_unknown_typo", base + "[policy]\ntrusted_network = []\n", []string{
			`4: policy.trusted_network: unknown key (did you mean trusted_networks?)`}},
		{"policy_key_elsewhere", base + "[policy]\ndigits = 6\n", []string{
			`4: policy.digits: unknown key (it belongs in [code])`}},

		// [code]
		{"digits_low", base + "[code]\ndigits = 3\n", []string{`4: code.digits: must be between 4 and 10, not 3`}},
		{"digits_high", base + "[code]\ndigits = 11\n", []string{`4: code.digits: must be between 4 and 10, not 11`}},
		{"digits_string", base + "[code]\ndigits = \"6\"\n", []string{`4: code.digits: must be an integer, not a string`}},
		{"digits_float", base + "[code]\ndigits = 6.5\n", []string{`4: code.digits: must be an integer, not a float`}},
		{"validity_low", base + "[code]\nvalidity = \"10s\"\n", []string{
			`4: code.validity: must be between 30s and 1h, not "10s"`}},
		{"validity_high", base + "[code]\nvalidity = \"61m\"\n", []string{
			`4: code.validity: must be between 30s and 1h, not "61m"`}},
		{"validity_negative", base + "[code]\nvalidity = \"-5m\"\n", []string{
			`4: code.validity: must be between 30s and 1h, not "-5m"`}},
		{"validity_syntax", base + "[code]\nvalidity = \"5 minutes\"\n", []string{
			`4: code.validity: invalid duration "5 minutes" (use a number and a unit, e.g. "5m")`}},
		{"validity_integer", base + "[code]\nvalidity = 300\n", []string{
			`4: code.validity: must be a duration string such as "5m", not an integer`}},
		{"attempts_low", base + "[code]\nattempts = 0\n", []string{`4: code.attempts: must be between 1 and 10, not 0`}},
		{"attempts_high", base + "[code]\nattempts = 11\n", []string{`4: code.attempts: must be between 1 and 10, not 11`}},
		{"resends_negative", base + "[code]\nresends = -1\n", []string{`4: code.resends: must be between 0 and 5, not -1`}},
		{"resends_high", base + "[code]\nresends = 6\n", []string{`4: code.resends: must be between 0 and 5, not 6`}},
		{"language", base + "[code]\nlanguage = \"fr\"\n", []string{`4: code.language: must be "en" or "de", not "fr"`}},
		{"message_empty", base + "[code]\nmessage = \"\"\n", []string{`4: code.message: must not be empty`}},
		{"message_no_code", base + "[code]\nmessage = \"Welcome to {host}\"\n", []string{
			`4: code.message: must contain {code}`}},
		{"message_placeholders", base + "[code]\nmessage = \"{code} {foo} {Host} {foo}\"\n", []string{
			`4: code.message: unknown placeholder "{foo}" (use {code}, {host}, {user} or {minutes})`,
			`4: code.message: unknown placeholder "{Host}" (use {code}, {host}, {user} or {minutes})`}},
		{"message_type", base + "[code]\nmessage = 5\n", []string{`4: code.message: must be a string, not an integer`}},
		{"code_unknown", base + "[code]\nlength = 6\n", []string{`4: code.length: unknown key`}},

		// [gateway]
		// Never echoed: the user info is a credential.
		{"url_userinfo", "[gateway]\nurl = \"https://id:secret@gw.example/send\"\n", []string{
			`2: gateway.url: must not hold user:password@; use id and password_file`}},
		{"url_relative", "[gateway]\nurl = \"gw.example/send\"\n", []string{
			`2: gateway.url: must be an absolute https URL such as "https://gateway.example/send"`}},
		{"url_no_host", "[gateway]\nurl = \"https:///send\"\n", []string{
			`2: gateway.url: must be an absolute https URL such as "https://gateway.example/send"`}},
		{"url_scheme", "[gateway]\nurl = \"ftp://gw.example/send\"\n", []string{
			`2: gateway.url: scheme must be https (or http to a loopback address), not "ftp"`}},
		{"url_http_remote", "[gateway]\nurl = \"http://gw.example/send\"\n", []string{
			`2: gateway.url: http is allowed only to a loopback address: the gateway credentials and the code would travel in clear (use https)`}},
		{"url_http_private", "[gateway]\nurl = \"http://10.0.0.1/send\"\n", []string{
			`2: gateway.url: http is allowed only to a loopback address: the gateway credentials and the code would travel in clear (use https)`}},
		{"url_type", "[gateway]\nurl = 5\n", []string{`2: gateway.url: must be a string, not an integer`}},
		{"method", base + "method = \"PUT\"\n", []string{`3: gateway.method: must be "POST" or "GET", not "PUT"`}},
		{"id_type", base + "id = 17\n", []string{`3: gateway.id: must be a string, not an integer`}},
		{"password_type", base + "password = 1234\n", []string{`3: gateway.password: must be a string, not an integer`}},
		{"password_and_file", base + "password = \"x\"\npassword_file = \"/etc/security/pam_sms.secret\"\n", []string{
			`4: gateway.password_file: password and password_file are both set; keep only one`}},
		{"password_file_relative", base + "password_file = \"pam_sms.secret\"\n", []string{
			`3: gateway.password_file: must be an absolute path, not "pam_sms.secret"`}},
		{"sender_short", base + "sender = \"ab\"\n", []string{
			`3: gateway.sender: sender is too short: 2 characters, at least 3 required`}},
		{"sender_plus", base + "sender = \"+49172123\"\n", []string{
			`3: gateway.sender: numeric sender must start with 00, not +`}},
		{"sender_char", base + "sender = \"Ac me\"\n", []string{
			`3: gateway.sender: sender: bad character ' ' at position 3; only a-z A-Z 0-9 . - _ are allowed`}},
		{"timeout_low", base + "timeout = \"500ms\"\n", []string{
			`3: gateway.timeout: must be between 1s and 1m, not "500ms"`}},
		{"timeout_high", base + "timeout = \"2m\"\n", []string{
			`3: gateway.timeout: must be between 1s and 1m, not "2m"`}},
		{"success_empty", base + "success = \"\"\n", []string{
			`3: gateway.success: must not be empty (a pattern matching the gateway's answer)`}},
		{"success_bad", base + "success = \"^(OK\"\n", []string{
			"3: gateway.success: invalid regular expression: missing closing ): \"^(OK\""}},
		{"rate_limited_bad", base + "rate_limited = \"[a\"\n", []string{
			"3: gateway.rate_limited: invalid regular expression: missing closing ]: \"[a\""}},
		{"ca_file_relative", base + "ca_file = \"ca.pem\"\n", []string{
			`3: gateway.ca_file: must be an absolute path, not "ca.pem"`}},
		{"number_format", base + "number_format = \"0049\"\n", []string{
			`3: gateway.number_format: must be "00", "+" or "digits", not "0049"`}},
		{"gateway_unknown_typo", base + "passwd = \"x\"\n", []string{
			`3: gateway.passwd: unknown key (did you mean password?)`}},
		{"gateway_key_elsewhere", base + "number = \"to\"\n", []string{
			`3: gateway.number: unknown key (it belongs in [gateway.fields])`}},

		// [gateway.fields]
		{"fields_not_table", base + "fields = \"id\"\n", []string{`3: gateway.fields: must be a table, not a string`}},
		{"field_empty", base + "[gateway.fields]\nid = \"\"\n", []string{`4: gateway.fields.id: must not be empty`}},
		{"field_bad_chars", base + "[gateway.fields]\nnumber = \"to number\"\n", []string{
			`4: gateway.fields.number: "to number" is not a valid field name (use letters, digits and _ . - [ ])`}},
		{"field_type", base + "[gateway.fields]\ntext = 1\n", []string{`4: gateway.fields.text: must be a string, not an integer`}},
		{"field_collides_default", base + "[gateway.fields]\ntext = \"to\"\n", []string{
			`4: gateway.fields.text: "to" is also the name of gateway.fields.number`}},
		{"field_collides_default_earlier", base + "[gateway.fields]\nid = \"text\"\n", []string{
			`4: gateway.fields.id: "text" is also the name of gateway.fields.text`}},
		{"field_collides_explicit", base + "[gateway.fields]\nid = \"user\"\nsender = \"user\"\n", []string{
			`5: gateway.fields.sender: "user" is also the name of gateway.fields.id`}},
		{"field_unknown", base + "[gateway.fields]\nphone = \"to\"\n", []string{
			`4: gateway.fields.phone: unknown key`}},

		// [gateway.extra]
		{"extra_int", base + "[gateway.extra]\nflash = 1\n", []string{`4: gateway.extra.flash: must be a string, not an integer`}},
		{"extra_bool", base + "[gateway.extra]\nflash = true\n", []string{`4: gateway.extra.flash: must be a string, not a boolean`}},
		{"extra_collides", base + "[gateway.extra]\nto = \"x\"\n", []string{
			`4: gateway.extra.to: collides with gateway.fields.number; the field would be sent twice`}},
		{"extra_collides_custom", base + "[gateway.fields]\ntext = \"msg\"\n[gateway.extra]\nmsg = \"x\"\ntext = \"y\"\n", []string{
			`6: gateway.extra.msg: collides with gateway.fields.text; the field would be sent twice`}},
		{"extra_bad_name", base + "[gateway.extra]\n\"a b\" = \"x\"\n", []string{
			`4: gateway.extra."a b": is not a valid field name (use letters, digits and _ . - [ ])`}},

		// [limits]
		{"window_low", base + "[limits]\nwindow = \"30s\"\n", []string{`4: limits.window: must be between 1m and 1h, not "30s"`}},
		{"window_high", base + "[limits]\nwindow = \"2h\"\n", []string{`4: limits.window: must be between 1m and 1h, not "2h"`}},
		{"per_user_negative", base + "[limits]\nper_user = -1\n", []string{`4: limits.per_user: must be between 0 and 10000, not -1`}},
		{"per_number_string", base + "[limits]\nper_number = \"5\"\n", []string{`4: limits.per_number: must be an integer, not a string`}},
		{"per_host_float", base + "[limits]\nper_host = 1.5\n", []string{`4: limits.per_host: must be an integer, not a float`}},
		{"per_user_too_large", base + "[limits]\nper_user = 10001\n", []string{`4: limits.per_user: must be between 0 and 10000, not 10001`}},
		{"daily_negative", base + "[limits]\ndaily = -10\n", []string{`4: limits.daily: must be between 0 and 10000, not -10`}},
		{"state_dir_relative", base + "[limits]\nstate_dir = \"var/lib/pam-sms\"\n", []string{
			`4: limits.state_dir: must be an absolute path, not "var/lib/pam-sms"`}},
		{"state_dir_unclean", base + "[limits]\nstate_dir = \"/var/lib/../lib/pam-sms/\"\n", []string{
			`4: limits.state_dir: must be a clean path (write "/var/lib/pam-sms")`}},
		{"limits_unknown_typo", base + "[limits]\nper_users = 5\n", []string{
			`4: limits.per_users: unknown key (did you mean per_user?)`}},

		// [numbers]: messages never repeat the number.
		{"number_national", base + "[numbers]\nalice = \"0172 34567890\"\n", []string{
			`4: numbers.alice: number must start with + or 00 and a country code; a national number (single leading 0) is not accepted`}},
		{"number_letters", base + "[numbers]\nalice = \"+49 172 CALLME\"\n", []string{
			`4: numbers.alice: number: bad character 'C' at position 9; only digits and single spaces may follow + or 00`}},
		{"number_too_long", base + "[numbers]\nalice = \"+49 172 345678901234\"\n", []string{
			`4: numbers.alice: number has 17 digits; E.164 allows at most 15`}},
		{"number_type", base + "[numbers]\nalice = 4917234567890\n", []string{`4: numbers.alice: must be a string, not an integer`}},
		{"number_table", base + "[numbers]\nalice.mobile = \"+49 172 34567890\"\n", []string{
			`4: numbers.alice: must be a string, not a table`}},
		{"number_bad_user", base + "[numbers]\n\"bad user\" = \"+49 172 34567890\"\n", []string{
			`4: numbers."bad user": not a valid user name`}},
		{"number_key_control", base + "[numbers]\n\"a\\nb\" = \"+49 172 34567890\"\n", []string{
			`4: numbers."a\nb": not a valid user name`}},

		// Everything is reported, in line order.
		{"several", `[code]
digits = 2
validity = "1d"
[gateway]
method = "PATCH"
password = "x"
password_file = "/x"
[limits]
per_host = -1
[bogus]
`, []string{
			`2: code.digits: must be between 4 and 10, not 2`,
			`3: code.validity: invalid duration "1d" (use a number and a unit, e.g. "5m")`,
			`4: gateway.url: required key is missing (the gateway's send URL)`,
			`5: gateway.method: must be "POST" or "GET", not "PATCH"`,
			`7: gateway.password_file: password and password_file are both set; keep only one`,
			`9: limits.per_host: must be between 0 and 10000, not -1`,
			`10: bogus: unknown section`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("test.conf", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want %d problems", cfg, len(tt.want))
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with the error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %q is not a *Error", err, err)
			}
			if e.Path != "test.conf" {
				t.Errorf("Path = %q, want test.conf", e.Path)
			}
			got := make([]string, len(e.Problems))
			for i, p := range e.Problems {
				got[i] = p.String()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseNoSecretsInErrors checks that passwords, numbers and extra values
// stay out of messages even when their keys are wrong.
func TestParseNoSecretsInErrors(t *testing.T) {
	tests := []struct{ in, secret string }{
		{"[gateway]\nurl = \"https://u:Pa55word@gw.example\"\npassword = \"Pa55word\"\npassword_file = \"/x\"\n", "Pa55word"},
		{"[gateway]\nurl = \"http://u:Pa55word@gw.example/\"\n", "Pa55word"},
		{"[gateway]\nurl = \"https://gw.example/\"\npassword = Pa55word\n", "Pa55word"},
		{"[gateway]\nurl = \"https://gw.example/\"\npassword = \"Pa55word\n", "Pa55word"},
		{"[gateway]\nurl = \"https://gw.example/\"\n[gateway.extra]\nid = \"T0kenT0ken\"\n", "T0kenT0ken"},
		{"[numbers]\nalice = \"0172 34567890\"\n", "34567890"},
		{"[numbers]\nalice = \"+49 172 34567890 x\"\n", "34567890"},
		{"[numbers]\nalice = \"+49  172 34567890\"\n", "34567890"},
		{"[numbers]\nalice = \"+49 172 3456789012345\"\n", "3456789012345"},
		{"[numbers]\nalice = \"+049 172 34567890\"\n", "34567890"},
	}
	for _, tt := range tests {
		_, err := Parse("t", []byte(tt.in))
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", tt.in)
			continue
		}
		if strings.Contains(err.Error(), tt.secret) {
			t.Errorf("Parse(%q) error repeats %q: %v", tt.in, tt.secret, err)
		}
	}
}

func TestNumberMsg(t *testing.T) {
	generic := `not a valid mobile number (use the international format, e.g. "+49 172 34567890")`
	tests := []struct{ err, number, want string }{
		{"smsclient: number is empty", "", "number is empty"},
		{"smsclient: bad +49 1723", "+49 1723", generic},
		{"smsclient: bad 0172", "0172", generic},
		{"smsclient: has 12345 in it", "+1 2 3", generic},
	}
	for _, tt := range tests {
		if got := numberMsg(errors.New(tt.err), tt.number); got != tt.want {
			t.Errorf("numberMsg(%q, %q) = %q, want %q", tt.err, tt.number, got, tt.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Path: "/etc/security/pam_sms.conf", Problems: []Problem{
		{Key: "gateway.url", Msg: "required key is missing"},
		{Line: 3, Msg: "syntax error: x"},
		{Line: 7, Key: "code.digits", Msg: "must be between 4 and 10, not 3"},
	}}
	want := "/etc/security/pam_sms.conf: gateway.url: required key is missing\n" +
		"/etc/security/pam_sms.conf:3: syntax error: x\n" +
		"/etc/security/pam_sms.conf:7: code.digits: must be between 4 and 10, not 3"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	e.Path = ""
	if got, want := e.Error(), "gateway.url: required key is missing\n3: syntax error: x\n7: code.digits: must be between 4 and 10, not 3"; got != want {
		t.Errorf("Error() without path =\n%s\nwant\n%s", got, want)
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name     string
		message  string
		validity time.Duration
		host     string
		want     string
	}{
		{"default", "Your login code for {host}: {code}", 5 * time.Minute, "web1", "Your login code for web1: 123456"},
		{"all", "{user}@{host}: {code}, {minutes} min, again {code}", 5 * time.Minute, "web1", "alice@web1: 123456, 5 min, again 123456"},
		{"minutes_round_up", "{minutes}", 90 * time.Second, "h", "2"},
		{"minutes_under_one", "{minutes}", 30 * time.Second, "h", "1"},
		{"minutes_hour", "{minutes}", time.Hour, "h", "60"},
		{"no_recursion", "{host} {code}", time.Minute, "{code}{user}", "{code}{user} 123456"},
		{"unknown_left", "{code} {x}", time.Minute, "h", "123456 {x}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Code{Message: tt.message, Validity: tt.validity}
			if got := c.Render("123456", tt.host, "alice"); got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := knownKeys("gateway")
	tests := []struct{ in, want string }{
		{"passwd", "password"},
		{"URL", "url"},
		{"timout", "timeout"},
		{"ratelimited", "rate_limited"},
		{"x", ""},
		{"proxi", "proxy"},
		{"sms_proxy", ""},
		{strings.Repeat("a", 100), ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// manyFiles lists n distinct numbers files as TOML array elements.
func manyFiles(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "\"/etc/n%d\",", i)
	}
	return b.String()
}
