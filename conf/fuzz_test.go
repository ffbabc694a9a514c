package conf

import (
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/pam-sms/pam_sms/smsclient"
)

// FuzzParse: Parse never panics, an error is always a non-empty *Error, an
// accepted config holds only values within the documented ranges, and the
// nesting pre-scan agrees with the decoder (see checkNesting).
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(fullConfig))
	f.Add(readShipped(f))
	f.Add([]byte(""))
	f.Add([]byte("[policy\n"))
	f.Add([]byte(base + "[numbers]\nalice.x = 1\n\"a b\" = \"+49 172 1\"\n"))
	f.Add([]byte(base + "[code]\nmessage = \"{code}{{x}}\"\ndigits = 9223372036854775807\n"))
	f.Add([]byte("gateway = { url = \"http://[::1]/\", fields = { id = \"to\" }, extra = { to = 1 } }\n"))
	f.Add([]byte("[[a.b]]\n[a.b.c]\nd.e = [{f = [[1]]}, \"]]\"]\n"))
	f.Add([]byte("x = [\n  '''[[''', \"\"\"{\\\"\"\"\"\",  # [[\n  [{'a'.\"b\" = {}}],\n]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkNesting(t, data)
		cfg, err := Parse("fuzz.conf", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %T %q is not a *Error with problems", err, err)
			}
			for _, p := range e.Problems {
				if p.Msg == "" || p.Line < 0 {
					t.Fatalf("bad problem %+v", p)
				}
			}
			if cfg != nil {
				t.Fatalf("config returned with an error")
			}
			return
		}
		checkRanges(t, cfg)
	})
}

// checkNesting: on a document the decoder accepts, the pre-scan with bound b
// never refuses one the decoder builds at most b deep (a valid config is
// never refused), and what it accepts is at most 2b deep: it counts a table
// below an array of tables ("[[a]]" then "[a.b]") one level short per array.
// Only documents within MaxNesting are decoded, to keep each run fast.
func checkNesting(t *testing.T, data []byte) {
	t.Helper()
	if nestingLine(data, MaxNesting) != 0 {
		return
	}
	var v map[string]any
	if _, err := toml.Decode(string(data), &v); err != nil {
		return
	}
	depth := treeDepth(v, 0)
	for b := 1; b <= depth; b++ {
		refused := nestingLine(data, b) != 0
		if refused && depth <= b || !refused && depth > 2*b {
			t.Fatalf("bound %d, decoded depth %d: refused = %v", b, depth, refused)
		}
	}
}

// checkRanges asserts the SPEC section 3 ranges on an accepted config.
func checkRanges(t *testing.T, cfg *Config) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("accepted config out of range: "+format, args...)
	}
	p, c, g, l := cfg.Policy, cfg.Code, cfg.Gateway, cfg.Limits
	if len(p.Groups) == 0 || p.AllUsers != slices.Contains(p.Groups, "*") {
		fail("groups %q, AllUsers %v", p.Groups, p.AllUsers)
	}
	if p.FailMode != FailSecure && p.FailMode != FailSafe || p.MissingNumber != MissingDeny && p.MissingNumber != MissingIgnore {
		fail("fail_mode %d, missing_number %d", p.FailMode, p.MissingNumber)
	}
	if c.Digits < 4 || c.Digits > 10 || c.Attempts < 1 || c.Attempts > 10 || c.Resends < 0 || c.Resends > 5 {
		fail("digits %d, attempts %d, resends %d", c.Digits, c.Attempts, c.Resends)
	}
	if c.Validity < 30*time.Second || c.Validity > time.Hour {
		fail("validity %v", c.Validity)
	}
	if c.Language != "en" && c.Language != "de" || !strings.Contains(c.Message, "{code}") {
		fail("language %q, message %q", c.Language, c.Message)
	}
	u, err := url.Parse(g.URL)
	if err != nil || u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		fail("url %q", g.URL)
	}
	if g.Method != "POST" && g.Method != "GET" {
		fail("method %q", g.Method)
	}
	if g.Password != "" && g.PasswordFile != "" {
		fail("password and password_file")
	}
	if g.Sender != "" && smsclient.ValidateSender(g.Sender) != nil {
		fail("sender %q", g.Sender)
	}
	if g.Timeout < time.Second || g.Timeout > time.Minute || g.Success == nil || g.Success.String() == "" {
		fail("timeout %v, success %v", g.Timeout, g.Success)
	}
	fields := []string{g.Fields.ID, g.Fields.Password, g.Fields.Number, g.Fields.Text, g.Fields.Sender}
	for i, f := range fields {
		if !validField(f) || slices.Index(fields, f) != i {
			fail("fields %q", fields)
		}
	}
	for k := range g.Extra {
		if slices.Contains(fields, k) {
			fail("extra %q collides with a field", k)
		}
	}
	if l.Window < time.Minute || l.Window > time.Hour || l.PerUser < 0 || l.PerNumber < 0 || l.PerHost < 0 || l.Daily < 0 {
		fail("limits %+v", l.Limits)
	}
	if !filepath.IsAbs(l.StateDir) || filepath.Clean(l.StateDir) != l.StateDir {
		fail("state_dir %q", l.StateDir)
	}
	for user, n := range cfg.Numbers {
		if !validName(user) || !n.IsValid() {
			fail("numbers entry %q", user)
		}
	}
}
