package packaging_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/pamstack"
)

// sssdProfileDir is the authselect vendor profile based on authselect's sssd.
const sssdProfileDir = "packaging/authselect/pam-sms-sssd"

// sssdAuthFeatures are the features of the profile that change an auth
// section; every combination is rendered and replayed.
var sssdAuthFeatures = []string{
	"with-faillock", "without-nullok", "with-smartcard", "with-smartcard-required",
	"with-pam-u2f-2fa", "without-pam-u2f-nouserok", "with-pam-gnome-keyring",
}

// sssdOtherFeatures change nsswitch.conf, dconf or the account, password and
// session sections only.
var sssdOtherFeatures = []string{
	"with-mkhomedir", "with-ecryptfs", "with-smartcard-lock-on-removal", "with-silent-lastlog",
	"with-sudo", "with-pamaccess", "with-pwhistory", "with-altfiles", "with-group-merging",
	"with-mdns4", "with-mdns6", "with-files-access-provider", "with-subid", "with-libvirt", "with-tlog",
}

// sssdNotOffered are features of authselect's sssd profile that add a way
// to log in without a password (fingerprint, a U2F key alone, GSSAPI, a
// homed record): this profile has no SMS step after them, so it does not
// know them.
var sssdNotOffered = []string{"with-fingerprint", "with-pam-u2f", "with-gssapi", "with-systemd-homed", "with-switchable-auth"}

var (
	tmplDirective = regexp.MustCompile(`\{(include|exclude|continue) if ((?:[^{}"]|"[^"]*")+)\}`)
	tmplImply     = regexp.MustCompile(`^\{imply "([a-z0-9-]+)" if ((?:[^{}"]|"[^"]*")+)\}$`)
	tmplIf        = regexp.MustCompile(`\{if ((?:[^{}:"]|"[^"]*")+):([^|{}]*)(?:\|([^{}]*))?\}`)
	tmplFeature   = regexp.MustCompile(`"([a-z0-9-]+)"`)
)

// evalFeatures evaluates an authselect condition: "feature" operands with
// not, and, or (authselect-profiles(5); no parentheses are used).
func evalFeatures(t *testing.T, expr string, on map[string]bool) bool {
	t.Helper()
	var or []bool
	for _, disj := range strings.Split(expr, " or ") {
		val := true
		for _, term := range strings.Split(disj, " and ") {
			term = strings.TrimSpace(term)
			neg := strings.HasPrefix(term, "not ")
			term = strings.TrimSpace(strings.TrimPrefix(term, "not "))
			m := tmplFeature.FindStringSubmatch(term)
			if m == nil || m[0] != term {
				t.Fatalf("cannot evaluate condition %q", expr)
			}
			val = val && on[m[1]] != neg
		}
		or = append(or, val)
	}
	return slices.Contains(or, true)
}

// renderProfileFile renders one file of an authselect profile as authselect
// does for the selected features: {imply}, {continue if}, {include if},
// {exclude if} and {if cond:yes|no}, conditions with not/and/or.
func renderProfileFile(t *testing.T, tmpl string, selected map[string]bool) string {
	t.Helper()
	on := map[string]bool{}
	for f, v := range selected {
		on[f] = v
	}
	lines := strings.Split(tmpl, "\n")
	for _, l := range lines {
		if m := tmplImply.FindStringSubmatch(strings.TrimSpace(l)); m != nil && evalFeatures(t, m[2], on) {
			on[m[1]] = true
		}
	}
	var out []string
	for _, line := range lines {
		if tmplImply.MatchString(strings.TrimSpace(line)) {
			continue
		}
		if m := tmplDirective.FindStringSubmatch(line); m != nil {
			cond := evalFeatures(t, m[2], on)
			switch m[1] {
			case "continue":
				// Everything above is the file when the condition is
				// false; below, when it is true.
				if !cond {
					return strings.Join(out, "\n")
				}
				out = nil
				continue
			case "include":
				if !cond {
					continue
				}
			case "exclude":
				if cond {
					continue
				}
			}
			line = tmplDirective.ReplaceAllString(line, "")
		}
		line = tmplIf.ReplaceAllStringFunc(line, func(s string) string {
			m := tmplIf.FindStringSubmatch(s)
			if evalFeatures(t, m[1], on) {
				return m[2]
			}
			return m[3]
		})
		if strings.ContainsAny(line, "{}") {
			t.Fatalf("unrendered template directive in %q", line)
		}
		out = append(out, strings.TrimRight(line, " "))
	}
	return strings.Join(out, "\n")
}

// pamLine is one auth line of a rendered stack.
type pamLine struct {
	control string
	module  string
	args    []string
}

func parseAuth(t *testing.T, stack string) []pamLine {
	t.Helper()
	var lines []pamLine
	for _, l := range strings.Split(stack, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "auth" {
			continue
		}
		control, i := f[1], 2
		for ; strings.HasPrefix(control, "[") && !strings.HasSuffix(control, "]"); i++ {
			control += " " + f[i]
		}
		lines = append(lines, pamLine{control, f[i], f[i+1:]})
	}
	return lines
}

// PAM return codes (security/_pam_types.h) and the control words for them.
const (
	pSuccess         = 0
	pPermDenied      = 6
	pAuthErr         = 7
	pAuthinfoUnavail = 9
	pUserUnknown     = 10
	pIgnore          = 25
)

var pamCodeWords = map[int]string{
	pSuccess: "success", pPermDenied: "perm_denied", pAuthErr: "auth_err",
	pAuthinfoUnavail: "authinfo_unavail", pUserUnknown: "user_unknown", pIgnore: "ignore",
}

// action returns the action of a control for a return code: "ok", "done",
// "bad", "die", "ignore" or a jump count.
func action(t *testing.T, control string, code int) string {
	t.Helper()
	switch control {
	case "required":
		control = "[success=ok new_authtok_reqd=ok ignore=ignore default=bad]"
	case "requisite":
		control = "[success=ok new_authtok_reqd=ok ignore=ignore default=die]"
	case "sufficient":
		control = "[success=done new_authtok_reqd=done default=ignore]"
	case "optional":
		control = "[success=ok new_authtok_reqd=ok default=ignore]"
	}
	if !strings.HasPrefix(control, "[") {
		t.Fatalf("unknown control %q", control)
	}
	def := "bad"
	for _, kv := range strings.Fields(strings.Trim(control, "[]")) {
		k, v, _ := strings.Cut(kv, "=")
		if k == pamCodeWords[code] {
			return v
		}
		if k == "default" {
			def = v
		}
	}
	return def
}

// dispatch replays libpam's _pam_dispatch_aux over one auth section (a first
// call: jumps do not change the result) and returns the result and whether
// pam_sms.so ran.
func dispatch(t *testing.T, lines []pamLine, answer func(pamLine) int) (result int, smsRan bool) {
	t.Helper()
	const (
		undef, positive, negative = 0, 1, -1
	)
	impression, status := undef, pPermDenied
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		ret := answer(l)
		if l.module == "pam_sms.so" {
			smsRan = true
		}
		switch act := action(t, l.control, ret); act {
		case "ignore":
		case "ok", "done":
			if impression == undef || (impression == positive && status == pSuccess) {
				if ret != pIgnore {
					impression, status = positive, ret
				}
			}
			if act == "done" && impression == positive {
				return status, smsRan
			}
		case "bad", "die":
			if impression != negative {
				impression, status = negative, ret
				if ret == pIgnore {
					status = pPermDenied
				}
			}
			if act == "die" {
				return status, smsRan
			}
		default:
			n, err := strconv.Atoi(act)
			if err != nil || n <= 0 {
				t.Fatalf("line %d (%s): bad action %q", i, l.module, act)
			}
			if i+n >= len(lines) {
				t.Fatalf("line %d (%s): jump %d leaves the stack", i, l.module, n)
			}
			i += n
		}
	}
	if status == pSuccess && impression != positive {
		status = pPermDenied
	}
	return status, smsRan
}

// login is one kind of login and what each module answers to it.
type login struct {
	name    string
	service string
	regular bool // pam_usertype isregular
	local   bool // pam_localuser: in /etc/passwd
	unix    int  // pam_unix with the typed password
	sss     int  // pam_sss forward_pass
	card    int  // pam_sss try_cert_auth / require_cert_auth / allow_missing_name
	u2f     int  // pam_u2f
	wantIn  bool // reaches pam_sms (and so, depending on it, logs in)
	// cardOnly: only the cert_auth options of pam_sss let it in: only in
	// system-auth with with-smartcard or with-smartcard-required.
	cardOnly bool
}

var logins = []login{
	{"local user, right password", "sudo", true, true, pSuccess, pUserUnknown, pIgnore, pSuccess, true, false},
	{"local user, wrong password", "sudo", true, true, pAuthErr, pUserUnknown, pIgnore, pSuccess, false, false},
	{"SSSD user, right password", "sudo", true, false, pUserUnknown, pSuccess, pIgnore, pSuccess, true, false},
	{"SSSD user, wrong password", "sudo", true, false, pUserUnknown, pAuthErr, pIgnore, pSuccess, false, false},
	{"SSSD user, sssd down", "sudo", true, false, pUserUnknown, pAuthinfoUnavail, pAuthinfoUnavail, pSuccess, false, false},
	{"system user (root), right password", "su", false, true, pSuccess, pUserUnknown, pIgnore, pSuccess, true, false},
	{"system user (root), wrong password", "su", false, true, pAuthErr, pUserUnknown, pIgnore, pSuccess, false, false},
	// pam_sss answers for the card and PIN whether asked by forward_pass
	// (sssd with pam_cert_auth) or by the cert_auth options.
	{"SSSD user, smart card and PIN at login", "login", true, false, pUserUnknown, pSuccess, pSuccess, pSuccess, true, false},
	{"SSSD user, wrong PIN at login", "login", true, false, pUserUnknown, pAuthErr, pAuthErr, pSuccess, false, false},
	{"local user, right password, no U2F key", "sudo", true, true, pSuccess, pUserUnknown, pIgnore, pAuthErr, false, false},
	{"local user, smart card and PIN", "sudo", true, true, pAuthErr, pUserUnknown, pSuccess, pSuccess, true, true},
}

func (lg login) answer(l pamLine, sms int) int {
	has := func(a string) bool { return slices.Contains(l.args, a) }
	switch l.module {
	case "pam_usertype.so":
		if lg.regular {
			return pSuccess
		}
		return pAuthErr
	case "pam_localuser.so":
		if lg.local {
			return pSuccess
		}
		return pPermDenied
	case "pam_unix.so":
		return lg.unix
	case "pam_sss.so":
		if has("try_cert_auth") || has("require_cert_auth") || has("allow_missing_name") {
			return lg.card
		}
		return lg.sss
	case "pam_u2f.so":
		return lg.u2f
	case "pam_succeed_if.so": // service notin login:gdm:...
		if lg.service == "login" {
			return pAuthErr
		}
		return pSuccess
	case "pam_sms.so":
		return sms
	case "pam_deny.so", "pam_debug.so":
		return pAuthErr
	case "pam_faillock.so":
		if has("authfail") {
			return pAuthErr
		}
	}
	return pSuccess
}

// featureSets returns every subset of features as a map.
func featureSets(features []string) []map[string]bool {
	var sets []map[string]bool
	for mask := 0; mask < 1<<len(features); mask++ {
		set := map[string]bool{}
		for i, f := range features {
			set[f] = mask&(1<<i) != 0
		}
		sets = append(sets, set)
	}
	return sets
}

func featureName(set map[string]bool) string {
	var on []string
	for f, v := range set {
		if v {
			on = append(on, f)
		}
	}
	slices.Sort(on)
	if len(on) == 0 {
		return "no features"
	}
	return strings.Join(on, ",")
}

// TestAuthselectSSSDProfile renders system-auth, password-auth and
// smartcard-auth of the sssd-based profile for every combination of the
// features that touch the auth section and replays each kind of login
// (local, SSSD, system user, smart card; right and wrong secret) through
// libpam's rules: every right first factor reaches pam_sms, no wrong one
// does, pam_sms decides the login (its failures deny, PAM_IGNORE of exempt
// users passes), and the pam_sms line is one that pam-sms doctor accepts.
func TestAuthselectSSSDProfile(t *testing.T) {
	files := []string{"system-auth", "password-auth", "smartcard-auth"}
	tmpl := map[string]string{}
	for _, f := range files {
		tmpl[f] = readRepoFile(t, filepath.Join(sssdProfileDir, f))
	}
	for _, set := range featureSets(sssdAuthFeatures) {
		if set["without-pam-u2f-nouserok"] && !set["with-pam-u2f-2fa"] {
			continue // only an option of with-pam-u2f-2fa
		}
		t.Run(featureName(set), func(t *testing.T) {
			pamd := t.TempDir()
			card := set["with-smartcard"] || set["with-smartcard-required"]
			for _, file := range files {
				stack := renderProfileFile(t, tmpl[file], set)
				if err := os.WriteFile(filepath.Join(pamd, file), []byte(stack+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				lines := parseAuth(t, stack)
				if file == "smartcard-auth" && !card {
					if r, _ := dispatch(t, lines, func(l pamLine) int { return logins[0].answer(l, pSuccess) }); r == pSuccess {
						t.Errorf("%s without with-smartcard lets a login through", file)
					}
					continue
				}
				checkSSSDStack(t, file, stack, lines, set)
			}
			if set["with-smartcard-required"] {
				// password-auth denies every login before any
				// password (replayed above); the doctor reads a
				// pam_sms line that no login reaches as a bypass.
				if err := os.Remove(filepath.Join(pamd, "password-auth")); err != nil {
					t.Fatal(err)
				}
			}
			checkWithDoctor(t, pamd)
		})
	}
}

func checkSSSDStack(t *testing.T, file, stack string, lines []pamLine, set map[string]bool) {
	t.Helper()
	if got := strings.Contains(stack, "pam_unix.so nullok"); got == set["without-nullok"] && file != "smartcard-auth" {
		t.Errorf("%s: nullok present=%v with without-nullok=%v", file, got, set["without-nullok"])
	}
	if got := strings.Contains(stack, "pam_faillock.so"); got != set["with-faillock"] {
		t.Errorf("%s: pam_faillock present=%v with with-faillock=%v", file, got, set["with-faillock"])
	}
	for _, lg := range logins {
		if lg.u2f != pSuccess && !set["with-pam-u2f-2fa"] {
			continue // no U2F step in this stack
		}
		var wantIn bool
		switch {
		case file == "smartcard-auth":
			wantIn = lg.card == pSuccess // the card only
		case file == "password-auth" && set["with-smartcard-required"]:
			wantIn = false // no password logins at all
		case file == "system-auth" && set["with-smartcard-required"] && lg.service == "login":
			wantIn = lg.card == pSuccess // the card is required for login services
		default:
			wantIn = lg.wantIn && (!lg.cardOnly || file == "system-auth" && (set["with-smartcard"] || set["with-smartcard-required"]))
		}
		for _, sms := range []int{pSuccess, pAuthErr, pAuthinfoUnavail, pIgnore} {
			result, ran := dispatch(t, lines, func(l pamLine) int { return lg.answer(l, sms) })
			if ran != wantIn {
				t.Errorf("%s, %s, pam_sms answering %d: pam_sms ran=%v, want %v", file, lg.name, sms, ran, wantIn)
				continue
			}
			wantOK := wantIn && (sms == pSuccess || sms == pIgnore)
			if (result == pSuccess) != wantOK {
				t.Errorf("%s, %s, pam_sms answering %d: result %d, want success=%v", file, lg.name, sms, result, wantOK)
			}
		}
	}
}

// checkWithDoctor runs pam-sms doctor's stack check on the rendered files.
func checkWithDoctor(t *testing.T, pamd string) {
	t.Helper()
	r := pamstack.NewReader(pamd)
	stacks, err := pamstack.FindSMSStacks(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) == 0 {
		t.Fatal("pam_sms.so found in no rendered file")
	}
	for _, s := range stacks {
		for _, it := range pamstack.CheckStack(r, s, "") {
			if it.Status != pamstack.StatusOK {
				t.Errorf("pam-sms doctor on %s: %s %s: %s", s.Name, it.Status, it.Check, it.Message)
			}
		}
	}
}

// TestAuthselectSSSDNsswitch renders nsswitch.conf for every combination of
// the features it knows: users, groups and the other SSSD maps always come
// from sss as in authselect's sssd profile, each map is set once.
func TestAuthselectSSSDNsswitch(t *testing.T) {
	tmpl := readRepoFile(t, filepath.Join(sssdProfileDir, "nsswitch.conf"))
	features := []string{"with-tlog", "with-altfiles", "with-group-merging", "with-libvirt", "with-mdns4", "with-mdns6", "with-sudo", "with-subid"}
	for _, set := range featureSets(features) {
		maps := map[string]string{}
		for _, l := range strings.Split(renderProfileFile(t, tmpl, set), "\n") {
			name, val, ok := strings.Cut(l, ":")
			if !ok || strings.HasPrefix(l, "#") {
				continue
			}
			if _, dup := maps[name]; dup {
				t.Errorf("%s: map %s twice", featureName(set), name)
			}
			maps[name] = strings.Join(strings.Fields(val), " ")
		}
		for _, m := range []string{"passwd", "group", "services", "netgroup", "automount"} {
			if !slices.Contains(strings.Fields(maps[m]), "sss") {
				t.Errorf("%s: %s: %q lacks sss", featureName(set), m, maps[m])
			}
		}
		if _, ok := maps["sudoers"]; ok != set["with-sudo"] {
			t.Errorf("%s: sudoers map present=%v", featureName(set), ok)
		}
		if strings.Contains(maps["hosts"], "mdns") != (set["with-mdns4"] || set["with-mdns6"]) {
			t.Errorf("%s: hosts %q", featureName(set), maps["hosts"])
		}
	}
}

// TestAuthselectSSSDFiles checks that the profile has the files of an
// authselect profile, that every file renders with every feature set that
// is all-on, all-off or one feature on, that the README documents every
// feature the templates use, and that the features this profile does not
// offer appear in no template.
func TestAuthselectSSSDFiles(t *testing.T) {
	files := []string{"README", "REQUIREMENTS", "dconf-db", "dconf-locks", "fingerprint-auth", "nsswitch.conf",
		"password-auth", "postlogin", "smartcard-auth", "system-auth"}
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), sssdProfileDir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, files) {
		t.Errorf("profile files %q, want %q", got, files)
	}
	all := append(slices.Clone(sssdAuthFeatures), sssdOtherFeatures...)
	sets := []map[string]bool{{}, {}}
	for _, f := range all {
		sets[1][f] = true
		sets = append(sets, map[string]bool{f: true})
	}
	readme := readRepoFile(t, filepath.Join(sssdProfileDir, "README"))
	offered, _, _ := strings.Cut(readme, "NOT OFFERED")
	for _, f := range files[1:] {
		tmpl := readRepoFile(t, filepath.Join(sssdProfileDir, f))
		for _, set := range sets {
			renderProfileFile(t, tmpl, set)
		}
		for _, m := range tmplFeature.FindAllStringSubmatch(tmpl, -1) {
			if !slices.Contains(all, m[1]) {
				t.Errorf("%s uses feature %s, which the test does not know", f, m[1])
			}
			if !strings.Contains(offered, "\n"+m[1]+"::\n") {
				t.Errorf("%s uses feature %s, which README does not document", f, m[1])
			}
		}
	}
	for _, f := range sssdNotOffered {
		if !strings.Contains(readme, f) {
			t.Errorf("README does not say that %s is not offered", f)
		}
		if strings.Contains(offered, "\n"+f+"::\n") {
			t.Errorf("README offers %s", f)
		}
	}
	if !strings.Contains(readme, fmt.Sprintf("authselect select pam-sms-sssd")) {
		t.Errorf("README has no example")
	}
}

// TestPreunLeavesSSSDProfile runs %preun (final erase) with a stand-in
// authselect whose current profile is pam-sms-sssd: it selects sssd with the
// same features. When authselect refuses every profile, %preun turns the
// pam_sms.so lines of /etc/authselect into pam_permit.so, and the replayed
// stacks still let a right password in and keep a wrong one out. It runs in
// a mount namespace with a tmpfs over /etc.
func TestPreunLeavesSSSDProfile(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	root := repoRoot(t)
	features := map[string]bool{"with-faillock": true, "with-mkhomedir": true}
	for _, tt := range []struct {
		name      string
		selectOK  bool
		wantCalls []string
	}{
		{"authselect selects sssd", true, []string{
			"authselect current --raw",
			"authselect select sssd with-faillock with-mkhomedir",
		}},
		{"authselect refuses", false, []string{
			"authselect current --raw",
			"authselect select sssd with-faillock with-mkhomedir",
			"authselect select sssd",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stubs, in, out := filepath.Join(dir, "bin"), filepath.Join(dir, "in"), filepath.Join(dir, "out")
			for _, d := range []string{stubs, in, out} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			selectRC := "1"
			if tt.selectOK {
				selectRC = "0"
			}
			authselect := `echo "authselect $*" >>"$CALLS"
case "$1" in
current) echo "pam-sms-sssd with-faillock with-mkhomedir" ;;
select) exit ` + selectRC + ` ;;
esac`
			for name, body := range map[string]string{"authselect": authselect, "systemctl": `:`} {
				if err := os.WriteFile(filepath.Join(stubs, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stacks := []string{"system-auth", "password-auth", "smartcard-auth"}
			for _, f := range stacks {
				stack := renderProfileFile(t, readRepoFile(t, filepath.Join(sssdProfileDir, f)), features)
				if err := os.WriteFile(filepath.Join(in, f), []byte(stack+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			const wrapper = `set -e
mount -t tmpfs tmpfs /etc
mkdir /etc/authselect /etc/pam.d
cp "$IN"/* /etc/authselect/
PATH="$STUBS:/usr/bin:/bin" /bin/sh "$1" 0
cp /etc/authselect/* "$OUT"/`
			calls := filepath.Join(dir, "calls")
			env := []string{"CALLS=" + calls, "STUBS=" + stubs, "IN=" + in, "OUT=" + out}
			o, err := outputEnv(root, env, "unshare", "--mount", "--propagation", "private", "--",
				"/bin/sh", "-c", wrapper, "sh", filepath.Join(root, "packaging", "rpm", "preun.sh"))
			if err != nil {
				t.Fatalf("%%preun: %v\n%s", err, o)
			}
			if got := strings.Split(strings.TrimSpace(string(mustRead(t, calls))), "\n"); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("%%preun ran\n%q\nwant\n%q", got, tt.wantCalls)
			}
			for _, f := range stacks {
				after := string(mustRead(t, filepath.Join(out, f)))
				if tt.selectOK {
					if after != string(mustRead(t, filepath.Join(in, f))) {
						t.Errorf("%s changed although authselect selected sssd", f)
					}
					continue
				}
				lines := parseAuth(t, after)
				if len(lines) != len(parseAuth(t, string(mustRead(t, filepath.Join(in, f))))) {
					t.Errorf("%s: %%preun changed the number of auth lines:\n%s", f, after)
				}
				for _, l := range lines {
					if l.module == "pam_sms.so" {
						t.Errorf("%s still has an auth line with pam_sms.so:\n%s", f, after)
					}
				}
				for _, lg := range logins[:7] { // password logins
					if f == "smartcard-auth" {
						break
					}
					result, _ := dispatch(t, lines, func(l pamLine) int { return lg.answer(l, pSuccess) })
					if (result == pSuccess) != lg.wantIn {
						t.Errorf("%s after %%preun, %s: result %d, want success=%v", f, lg.name, result, lg.wantIn)
					}
				}
			}
		})
	}
}
