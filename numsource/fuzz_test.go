package numsource

import (
	"maps"
	"slices"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/pam-sms/pam_sms/conf"
)

// FuzzLookupMatchesTOML: whenever the login's scan finds a number for a user
// in a valid TOML file, a TOML decoder reads the same string for that user
// from the same bytes, so the scan never texts a number the file does not
// give the user. For a file pam-sms check passes, the two agree on every
// user, and TOML accepts every file check passes.
func FuzzLookupMatchesTOML(f *testing.F) {
	for _, s := range []string{
		"alice = \"+49 172 34567890\"\n",
		"\"alice\"=\"+1 202 5550123\" # c\r\nbob = \"+44 7700 900123\"\n",
		"[t]\nalice = \"+49 172 34567890\"\n",
		"x = \"\"\"\nalice = \"+49 172 34567890\"\n\"\"\"\n",
		"x = '''\nalice = \"+49 172 34567890\"\n'''\n",
		"x = [\n\"a\",\nalice = \"+49 172 34567890\"]\n",
		"john.doe = \"+49 172 34567890\"\n\"john.doe\" = \"+49 172 34567891\"\n",
		"# [x]\nalice = \"+49 172 34567890\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 || conf.CheckNesting("f", data) != nil {
			return // the decoder's time grows with the square of the depth
		}
		var doc map[string]any
		_, terr := toml.Decode(string(data), &doc)
		l := list("f", data)
		clean := l.Err() == nil
		if clean && terr != nil {
			t.Fatalf("List passes a file TOML refuses: %v", terr)
		}
		users := []string{"alice", "bob", "john.doe", "doe", "a", "x"}
		for _, e := range l.Entries {
			users = append(users, e.User)
		}
		if terr == nil {
			users = append(users, slices.Collect(maps.Keys(doc))...)
		}
		for _, u := range users {
			e, ok, err := File{Path: "f"}.lookup(data, u)
			if err != nil || !ok || e.Problem != "" {
				if clean && terr == nil {
					if v, isStr := doc[u].(string); isStr && err == nil && !ok && validNumber(v) {
						t.Fatalf("check passes the file, TOML gives %q a number, the scan finds none", u)
					}
				}
				continue
			}
			if terr != nil {
				// Lines the scan did not need may be broken; check
				// reports them. What it read means what TOML says
				// wherever the file is TOML.
				continue
			}
			v, isStr := doc[u].(string)
			if !isStr {
				t.Fatalf("scan found a number for %q, TOML has %#v", u, doc[u])
			}
			if n, problem := parseNumber(v); problem != "" || !n.Equal(e.Number) {
				t.Fatalf("scan and TOML disagree on %q", u)
			}
		}
	})
}

func validNumber(v string) bool {
	_, problem := parseNumber(v)
	return problem == ""
}
