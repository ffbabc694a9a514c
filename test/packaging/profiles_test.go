package packaging_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var (
	includeIf = regexp.MustCompile(`\s*\{(include|exclude) if "([a-z-]+)"\}`)
	ifThen    = regexp.MustCompile(`\{if (not )?"([a-z-]+)":([^|}]*)(?:\|([^}]*))?\}`)
)

// renderAuthselect applies the template directives of authselect-profiles(5)
// that the profile uses: {include if "f"}, {exclude if "f"} and
// {if [not ]"f":yes[|no]}.
func renderAuthselect(t *testing.T, tmpl string, features map[string]bool) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(tmpl, "\n") {
		if m := includeIf.FindStringSubmatch(line); m != nil {
			if (m[1] == "include") != features[m[2]] {
				continue
			}
			line = includeIf.ReplaceAllString(line, "")
		}
		line = ifThen.ReplaceAllStringFunc(line, func(s string) string {
			m := ifThen.FindStringSubmatch(s)
			if features[m[2]] != (m[1] == "not ") {
				return m[3]
			}
			return m[4]
		})
		if strings.ContainsAny(line, "{}") {
			t.Fatalf("unrendered template directive in %q", line)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// authLine is one line of a PAM auth section.
type authLine struct{ control, module string }

func authLines(stack string) []authLine {
	var lines []authLine
	for _, l := range strings.Split(stack, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "auth" {
			continue
		}
		control := f[1]
		i := 2
		for ; strings.HasPrefix(control, "[") && !strings.HasSuffix(control, "]"); i++ {
			control += " " + f[i]
		}
		lines = append(lines, authLine{control, f[i]})
	}
	return lines
}

var successJump = regexp.MustCompile(`success=([0-9]+)`)

// TestAuthselectProfile renders the vendor profile for each feature set and
// follows the jumps: a correct password must land on pam_sms, a wrong one on
// a pam_deny before it (no SMS for a wrong password), and pam_sms must
// accept PAM_IGNORE (exempt users) without failing open on errors.
func TestAuthselectProfile(t *testing.T) {
	for _, file := range []string{"system-auth", "password-auth"} {
		tmpl := readRepoFile(t, filepath.Join("packaging", "authselect", "pam-sms", file))
		for _, fl := range []bool{false, true} {
			for _, nn := range []bool{false, true} {
				features := map[string]bool{"with-faillock": fl, "without-nullok": nn}
				t.Run(fmt.Sprintf("%s/faillock=%v/without-nullok=%v", file, fl, nn), func(t *testing.T) {
					stack := renderAuthselect(t, tmpl, features)
					checkAuthFlow(t, authLines(stack))
					if got := strings.Contains(stack, "pam_unix.so nullok"); got == nn {
						t.Errorf("nullok present=%v with without-nullok=%v", got, nn)
					}
					if got := strings.Contains(stack, "pam_faillock.so"); got != fl {
						t.Errorf("pam_faillock present=%v with with-faillock=%v", got, fl)
					}
				})
			}
		}
	}
}

func checkAuthFlow(t *testing.T, lines []authLine) {
	t.Helper()
	unix, sms := -1, -1
	for i, l := range lines {
		switch l.module {
		case "pam_unix.so":
			unix = i
		case "pam_sms.so":
			sms = i
		}
	}
	if unix < 0 || sms < 0 {
		t.Fatalf("auth section lacks pam_unix or pam_sms: %v", lines)
	}
	m := successJump.FindStringSubmatch(lines[unix].control)
	if m == nil {
		t.Fatalf("pam_unix control %q has no success jump", lines[unix].control)
	}
	n, _ := strconv.Atoi(m[1])
	if target := unix + 1 + n; target != sms {
		t.Errorf("pam_unix success=%d lands on line %d (%s), want pam_sms", n, target, lines[min(target, len(lines)-1)].module)
	}
	denied := false
	for _, l := range lines[unix+1 : sms] {
		if l.module == "pam_deny.so" && l.control == "requisite" {
			denied = true
		}
	}
	if !denied {
		t.Errorf("a wrong password reaches pam_sms (no requisite pam_deny between): %v", lines)
	}
	if got := lines[sms].control; got != "[success=done ignore=ignore default=die]" {
		t.Errorf("pam_sms control %q", got)
	}
	if sms+1 >= len(lines) || lines[sms+1] != (authLine{"required", "pam_permit.so"}) {
		t.Errorf("pam_sms not followed by required pam_permit.so (exempt users would fail): %v", lines[sms:])
	}
}

// TestPamConfigsProfile checks the pam-auth-update profile field by field.
func TestPamConfigsProfile(t *testing.T) {
	got := readRepoFile(t, "packaging/pam-configs/sms")
	want := "Name: SMS one-time code as second factor (pam_sms)\n" +
		"Default: no\n" +
		"Priority: 192\n" +
		"Auth-Type: Additional\n" +
		"Auth:\n" +
		"\t[success=ok ignore=ignore default=die]\tpam_sms.so\n"
	if got != want {
		t.Errorf("packaging/pam-configs/sms:\n%s\nwant:\n%s", got, want)
	}
}

// TestSshdDropIn checks the directives of the shipped sshd drop-in, which
// the end-to-end tests load.
func TestSshdDropIn(t *testing.T) {
	var got []string
	for _, l := range strings.Split(readRepoFile(t, "packaging/sshd/10-pam-sms.conf"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			got = append(got, l)
		}
	}
	want := []string{"UsePAM yes", "KbdInteractiveAuthentication yes", "PasswordAuthentication no", "AuthenticationMethods keyboard-interactive",
		"Match Group pam-sms-automation", "PubkeyAuthentication yes", "AuthenticationMethods publickey"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("directives %q, want %q", got, want)
	}
}

// TestLintExceptionsJustified requires a comment right above every lintian
// override and rpmlint filter.
func TestLintExceptionsJustified(t *testing.T) {
	for _, f := range []string{"packaging/lintian/libpam-sms", "packaging/pam_sms.rpmlintrc"} {
		lines := strings.Split(readRepoFile(t, f), "\n")
		n := 0
		for i, l := range lines {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			n++
			if i == 0 || !strings.HasPrefix(lines[i-1], "#") && !isException(lines[i-1]) {
				t.Errorf("%s:%d: %q has no justifying comment above it", f, i+1, l)
			}
		}
		if n == 0 {
			t.Errorf("%s: no entries", f)
		}
	}
}

// isException reports whether a line is an override or filter (several may
// share one comment).
func isException(l string) bool {
	return strings.HasPrefix(l, "libpam-sms: ") || strings.HasPrefix(l, "addFilter(")
}

// manSection returns the text of the .SH section with the given title, up
// to the next .SH.
func manSection(page, title string) string {
	_, rest, ok := strings.Cut(page, "\n.SH "+title+"\n")
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(rest, "\n.SH ")
	return "\n" + body
}

var (
	confSection = regexp.MustCompile(`^(?:# )?\[([a-z.]+)\]`) // "# [directory]": an optional section shown commented out
	confKey     = regexp.MustCompile(`^#? ?([a-z_]+) = `)
)

// TestManPagesComplete checks that pam_sms.conf(5) documents every key of
// the shipped example config, pam_sms(8) every module argument and pam-sms(8)
// every subcommand.
func TestManPagesComplete(t *testing.T) {
	conf5 := readRepoFile(t, "packaging/man/pam_sms.conf.5")
	section := ""
	for _, l := range strings.Split(readRepoFile(t, "conf/pam_sms.conf"), "\n") {
		if m := confSection.FindStringSubmatch(l); m != nil {
			section = m[1]
			if strings.HasPrefix(section, "gateway.failover.") {
				// A failover's tables take the keys of [gateway]'s, documented
				// there; the failover itself has a section of its own.
				if !strings.Contains(conf5, `.SH "[[gateway.failover]]"`) {
					t.Errorf("pam_sms.conf.5: no section [[gateway.failover]]")
				}
				continue
			}
			if !strings.Contains(conf5, `.SH "[`+section+`]"`) {
				t.Errorf("pam_sms.conf.5: no section [%s]", section)
			}
			continue
		}
		m := confKey.FindStringSubmatch(l)
		if m == nil || section == "numbers" || section == "gateway.extra" || strings.HasPrefix(section, "gateway.failover.") {
			continue // examples, not keys
		}
		if !strings.Contains(manSection(conf5, `"[`+section+`]"`), "\n.B "+m[1]+"\n") {
			t.Errorf("pam_sms.conf.5: key %s.%s not documented in its section", section, m[1])
		}
	}
	man8 := readRepoFile(t, "packaging/man/pam_sms.8")
	for _, arg := range []string{`.BI config= path`, `.BI helper= path`, `.BI timeout= seconds`, "\n.B debug\n", "\n.BR 360 .\n"} {
		if !strings.Contains(man8, arg) {
			t.Errorf("pam_sms.8 lacks %q", arg)
		}
	}
	cli := readRepoFile(t, "packaging/man/pam-sms.8")
	for _, cmd := range []string{"check", "explain", "send\\-test", "try", "enable", "disable", "doctor", "limits show", "limits reset", "prune", "demo"} {
		if !strings.Contains(cli, ".B pam\\-sms "+cmd) {
			t.Errorf("pam-sms.8: no synopsis for %q", cmd)
		}
	}
}
