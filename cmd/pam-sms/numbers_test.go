package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNumbers: pam-sms numbers lists the enforced users with the masked
// number and where it comes from ([numbers] before the files, the first file
// before the second), those without one with the reason, leaves exempt users
// out, and with --missing lists only the users without a number.
func TestNumbers(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	first := writeRootFile(t, dir, "first", "daemon = \"+49 170 5550123\"\nsys = \"0170 5550124\"\nroot = \"+49 170 5550125\"\n")
	second := writeRootFile(t, dir, "second", "# second\ndaemon = \"+49 170 5550126\"\n\"sync\" = \"+41 79 5550127\"\n")
	path, _ := writeConfig(t, configOpts{policy: fmt.Sprintf("exempt_users = [\"bin\"]\nnumbers_files = [%q, %q]", first, second)})
	h := testHost(t, goodSshd)
	h.Users = func(context.Context) ([]string, error) {
		return []string{"root", "bin", "daemon", "sys", "sync", "nobody"}, nil
	}
	all := []numberRow{
		{User: "root", Number: "+49 *** *****890", Source: "[numbers] in " + path},
		{User: "daemon", Number: "+49 *** ****123", Source: first + " line 1"},
		{User: "sys", Source: first + " line 2", Reason: "no number configured for the user: invalid number in " + first +
			" line 2: number must start with + or 00 and a country code; a national number (single leading 0) is not accepted"},
		{User: "sync", Number: "+41 ** ****127", Source: second + " line 3"},
		{User: "nobody", Reason: "no number configured for the user: no number in [numbers], " + first + " or " + second},
	}
	for _, tt := range []struct {
		name string
		args []string
		want []numberRow
	}{
		{"all", nil, all},
		{"missing", []string{"--missing"}, []numberRow{all[2], all[4]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runWith(t, h, nil, append([]string{"numbers", "--config", path, "--json"}, tt.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var got []numberRow
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			text := runWith(t, h, nil, append([]string{"numbers", "--config", path}, tt.args...)...)
			for _, row := range tt.want {
				want := row.User + " .*" + row.Number
				if row.Number == "" {
					want = row.User + " .*- .*" + row.Reason
				}
				if !matchLine(text.stdout, want) {
					t.Errorf("no line %q in:\n%s", want, text.stdout)
				}
			}
			if strings.Contains(text.stdout, "bin ") || strings.Contains(r.stdout+text.stdout, "555012") {
				t.Errorf("an exempt user or a whole number is listed:\n%s", text.stdout)
			}
		})
	}

	// A numbers file an enforced user needs that cannot be used: the list
	// would be wrong, so there is none.
	broken, _ := writeConfig(t, configOpts{policy: fmt.Sprintf("numbers_files = [%q]", filepath.Join(dir, "missing"))})
	r := runWith(t, h, nil, "numbers", "--config", broken)
	if r.code != exitProblem || !strings.Contains(r.stderr, "missing: file does not exist") {
		t.Errorf("missing numbers file: exit %d, stderr %s", r.code, r.stderr)
	}
}

// matchLine reports whether a line of out matches the regular expression re
// (with QuoteMeta applied to all but " .*").
func matchLine(out, re string) bool {
	parts := strings.Split(re, " .*")
	for _, line := range strings.Split(out, "\n") {
		rest, ok := line, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return true
		}
	}
	return false
}
