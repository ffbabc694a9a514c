package testenv

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
)

// TestMessage is the SMS template of every test config; fakegw.Code reads it.
const TestMessage = "TESTCODE {code} {host}"

// Options describe a test config. The zero value gives the standard test
// config: every user enforced, nothing trusted, trust_local false, fail_mode
// "secure", missing_number "deny", 6 digits, 3 attempts, 1 resend, generous
// limits, a gateway timeout of 5s.
type Options struct {
	Groups          []string          // default ["*"]
	TrustedNetworks []string          // default none
	TrustLocal      bool              //
	FailMode        string            // default "secure"
	MissingNumber   string            // default "deny"
	Attempts        int               // default 3
	Resends         int               // default 1; -1 writes 0
	Language        string            // default "en"
	URL             string            // default the gateway's URL
	GatewayTimeout  string            // default "5s"
	Validity        string            // default "5m"
	Numbers         map[string]string // user -> number as an admin writes it
	// Extra holds more lines per section ("policy", "code", "gateway",
	// "limits"), appended verbatim; do not repeat a key set above.
	Extra map[string]string
}

// Config renders a test config for gw (nil when o.URL is set, e.g. a closed
// port). The gateway's CAFile becomes ca_file; state_dir is a fresh t.TempDir().
func Config(t testing.TB, gw *fakegw.Gateway, o Options) string {
	t.Helper()
	url, caFile := o.URL, ""
	if gw != nil {
		caFile = gw.CAFile
		if url == "" {
			url = gw.URL
		}
	}
	if url == "" {
		t.Fatal("testenv: Config needs a gateway or Options.URL")
	}
	groups := o.Groups
	if groups == nil {
		groups = []string{"*"}
	}
	resends := orDefault(o.Resends, 1)
	if o.Resends < 0 {
		resends = 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[policy]\ngroups = %s\ntrusted_networks = %s\ntrust_local = %t\nfail_mode = %s\nmissing_number = %s\n%s\n",
		list(groups), list(o.TrustedNetworks), o.TrustLocal,
		quote(orDefault(o.FailMode, "secure")), quote(orDefault(o.MissingNumber, "deny")), o.Extra["policy"])
	fmt.Fprintf(&b, "[code]\ndigits = 6\nvalidity = %s\nattempts = %d\nresends = %d\nlanguage = %s\nmessage = %s\n%s\n",
		quote(orDefault(o.Validity, "5m")), orDefault(o.Attempts, 3), resends, quote(orDefault(o.Language, "en")), quote(TestMessage), o.Extra["code"])
	fmt.Fprintf(&b, "[gateway]\nurl = %s\nmethod = \"POST\"\nid = \"test-id\"\npassword = \"test-secret\"\ntimeout = %s\n",
		quote(url), quote(orDefault(o.GatewayTimeout, "5s")))
	if caFile != "" {
		fmt.Fprintf(&b, "ca_file = %s\n", quote(caFile))
	}
	fmt.Fprintf(&b, "%s\n", o.Extra["gateway"])
	fmt.Fprintf(&b, "[limits]\nwindow = \"15m\"\nper_user = 1000\nper_number = 1000\nper_host = 10000\ndaily = 0\nstate_dir = %s\n%s\n",
		quote(t.TempDir()), o.Extra["limits"])
	b.WriteString("[numbers]\n")
	for _, u := range slices.Sorted(maps.Keys(o.Numbers)) {
		fmt.Fprintf(&b, "%s = %s\n", u, quote(o.Numbers[u]))
	}
	return b.String()
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// quote writes a TOML basic string; test values are plain ASCII.
func quote(s string) string { return strconv.Quote(s) }

func list(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
