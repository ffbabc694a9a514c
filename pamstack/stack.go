package pamstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PAM return codes (security/_pam_types.h) used in the analysis.
const (
	pamSuccess         = 0
	pamSystemErr       = 4
	pamPermDenied      = 6 // libpam's PAM_MUST_FAIL_CODE: broken line, missing module or include
	pamAuthErr         = 7
	pamAuthinfoUnavail = 9
	pamUserUnknown     = 10
	pamNewAuthtokReqd  = 12
	pamIgnore          = 25
	pamReturnValues    = 32 // _PAM_RETURN_VALUES; index of "default"
)

// pamCodeNames are the names a bracketed control uses, by code (pam.conf(5)).
var pamCodeNames = []string{
	"success", "open_err", "symbol_err", "service_err", "system_err", "buf_err",
	"perm_denied", "auth_err", "cred_insufficient", "authinfo_unavail",
	"user_unknown", "maxtries", "new_authtok_reqd", "acct_expired",
	"session_err", "cred_unavail", "cred_expired", "cred_err", "no_module_data",
	"conv_err", "authtok_err", "authtok_recover_err", "authtok_lock_busy",
	"authtok_disable_aging", "try_again", "ignore", "abort", "authtok_expired",
	"module_unknown", "bad_item", "conv_again", "incomplete", "default",
}

// action is what a control does with a return code: a jump when positive.
type action int

const (
	actUndef action = iota - 7
	actReset
	actDie
	actBad
	actDone
	actOK
	actIgnore
)

var actionNames = map[string]action{
	"ignore": actIgnore, "ok": actOK, "done": actDone, "bad": actBad, "die": actDie, "reset": actReset,
}

func (a action) String() string {
	for name, v := range actionNames {
		if v == a {
			return name
		}
	}
	if a > 0 {
		return strconv.Itoa(int(a))
	}
	return "undefined"
}

// Line is one line of a PAM service file.
type Line struct {
	File    string // path as read
	Num     int    // first physical line, from 1
	End     int    // last physical line (continuation lines)
	Type    string // auth, account, password, session, or "@include"
	Control string // required, [success=ok ...], include, substack ...
	Module  string // module path or name; for include lines the file
	Args    []string
	Problem string // the line cannot be parsed; libpam makes it always fail
}

// Where is "FILE:LINE", for messages.
func (l Line) Where() string { return fmt.Sprintf("%s:%d", l.File, l.Num) }

// Text is the line with blanks and comments normalized away.
func (l Line) Text() string {
	if l.Type == "@include" {
		return "@include " + l.Module
	}
	return strings.TrimSpace(strings.Join(append([]string{l.Type, l.Control, l.Module}, l.Args...), " "))
}

// IsSMS reports whether the line loads pam_sms.
func (l Line) IsSMS() bool { return filepath.Base(l.Module) == "pam_sms.so" && !l.IsInclude() }

// IsInclude reports whether the line pulls in another file (@include,
// include, substack).
func (l Line) IsInclude() bool {
	return l.Type == "@include" || l.Control == "include" || l.Control == "substack"
}

// IsAuth reports whether the line belongs to the auth stack (an @include
// may hold auth lines).
func (l Line) IsAuth() bool {
	return l.Type == "@include" || strings.TrimPrefix(l.Type, "-") == "auth"
}

// Arg returns the value of the module argument name=VALUE.
func (l Line) Arg(name string) (string, bool) {
	for _, a := range l.Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// ParseFile splits a service file into lines as libpam does: "#" starts
// a comment, a trailing backslash continues the line, a bracketed control
// may hold blanks.
func ParseFile(path string, data []byte) []Line {
	var lines []Line
	phys := strings.Split(string(data), "\n")
	for i := 0; i < len(phys); i++ {
		start := i
		text := phys[i]
		for strings.HasSuffix(strings.TrimRight(text, " \t\r"), "\\") && i+1 < len(phys) {
			text = strings.TrimSuffix(strings.TrimRight(text, " \t\r"), "\\") + " " + phys[i+1]
			i++
		}
		if j := strings.IndexByte(text, '#'); j >= 0 {
			text = text[:j]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		l := Line{File: path, Num: start + 1, End: i + 1}
		if fields[0] == "@include" {
			l.Type = "@include"
			if len(fields) < 2 {
				l.Problem = "@include without a file name"
			} else {
				l.Module = fields[1]
			}
			lines = append(lines, l)
			continue
		}
		l.Type = fields[0]
		fields = fields[1:]
		if len(fields) > 0 && strings.HasPrefix(fields[0], "[") {
			n := 0
			for n < len(fields) && !strings.HasSuffix(fields[n], "]") {
				n++
			}
			if n == len(fields) {
				l.Problem = "unterminated [ in the control"
				lines = append(lines, l)
				continue
			}
			fields = append([]string{strings.Join(fields[:n+1], " ")}, fields[n+1:]...)
		}
		switch len(fields) {
		case 0:
			l.Problem = "no control"
		case 1:
			l.Control = fields[0]
			l.Problem = "no module"
		default:
			l.Control, l.Module, l.Args = fields[0], fields[1], fields[2:]
		}
		lines = append(lines, l)
	}
	return lines
}

// controlActions turns a control into its actions, by code plus default.
func controlActions(control string) ([pamReturnValues + 1]action, error) {
	var a [pamReturnValues + 1]action
	for i := range a {
		a[i] = actUndef
	}
	set := func(def action) {
		for i := range pamReturnValues {
			if a[i] == actUndef {
				a[i] = def
			}
		}
	}
	switch control {
	case "required", "requisite":
		a[pamSuccess], a[pamNewAuthtokReqd], a[pamIgnore] = actOK, actOK, actIgnore
		if control == "required" {
			set(actBad)
		} else {
			set(actDie)
		}
	case "optional":
		a[pamSuccess], a[pamNewAuthtokReqd] = actOK, actOK
		set(actIgnore)
	case "sufficient":
		a[pamSuccess], a[pamNewAuthtokReqd] = actDone, actDone
		set(actIgnore)
	default:
		inner, open := strings.CutPrefix(control, "[")
		inner, closed := strings.CutSuffix(inner, "]")
		if !open || !closed {
			return a, fmt.Errorf("unknown control %q", control)
		}
		for _, kv := range strings.Fields(inner) {
			k, v, ok := strings.Cut(kv, "=")
			code := indexOf(pamCodeNames, k)
			if !ok || code < 0 {
				return a, fmt.Errorf("control %s: unknown return value %q", control, k)
			}
			act, known := actionNames[v]
			if !known {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					return a, fmt.Errorf("control %s: unknown action %q", control, v)
				}
				act = action(n)
			}
			a[code] = act
		}
		// Unlisted codes take default; with no default, libpam treats them as bad.
		def := a[pamReturnValues]
		if def == actUndef {
			def = actBad
		}
		set(def)
	}
	return a, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// modKind is how the simulation models a module's answer.
type modKind int

const (
	kindOther    modKind = iota // pam_env, pam_permit, ...: success
	kindPassword                // checks the password: the scenario decides
	kindSMS                     // pam_sms: the scenario decides
	kindDeny                    // pam_deny, pam_faillock authfail: auth_err
	kindNotRoot                 // pam_rootok: the caller is not root
)

// passwordModules check a password (or a token typed like one).
var passwordModules = []string{
	"pam_unix.so", "pam_unix2.so", "pam_sss.so", "pam_ldap.so", "pam_krb5.so",
	"pam_winbind.so", "pam_radius_auth.so", "pam_userdb.so", "pam_pwdfile.so",
	"pam_systemd_home.so", "pam_tacplus.so",
}

func kindOf(l Line) modKind {
	base := filepath.Base(l.Module)
	switch {
	case base == "pam_sms.so":
		return kindSMS
	case indexOf(passwordModules, base) >= 0:
		return kindPassword
	case base == "pam_deny.so":
		return kindDeny
	case base == "pam_faillock.so" && indexOf(l.Args, "authfail") >= 0:
		return kindDeny
	case base == "pam_rootok.so":
		return kindNotRoot
	}
	return kindOther
}

// Handler is one module of a flattened auth stack, as libpam lists them.
type Handler struct {
	Line    Line
	level   int // substack depth
	actions [pamReturnValues + 1]action
	kind    modKind
	broken  string // libpam makes this Handler fail: why
}

// Reader reads service files from one directory, as pam_start_confdir.
type Reader struct {
	dir   string
	cache map[string][]Line
}

func NewReader(dir string) *Reader {
	return &Reader{dir: dir, cache: map[string][]Line{}}
}

// Read returns the parsed lines of a service or included file.
func (r *Reader) Read(name string) ([]Line, error) {
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(r.dir, name)
	}
	if lines, ok := r.cache[path]; ok {
		return lines, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := ParseFile(path, data)
	r.cache[path] = lines
	return lines, nil
}

// maxIncludeDepth bounds include loops, like PAM_SUBSTACK_MAX_LEVEL.
const maxIncludeDepth = 16

// AuthStack flattens the auth lines of a service, with includes inlined and
// substacks one level deeper.
func (r *Reader) AuthStack(name string) ([]Handler, error) {
	lines, err := r.Read(name)
	if err != nil {
		return nil, err
	}
	var hs []Handler
	r.flatten(lines, 0, 0, &hs)
	return hs, nil
}

func (r *Reader) flatten(lines []Line, level, depth int, hs *[]Handler) {
	for _, l := range lines {
		if !l.IsAuth() {
			continue
		}
		if l.IsInclude() && l.Problem == "" {
			sub, err := r.Read(l.Module)
			switch {
			case depth+1 >= maxIncludeDepth:
				err = errors.New("too many nested includes")
			case errors.Is(err, fs.ErrNotExist):
				err = fmt.Errorf("the included file %s does not exist", l.Module)
			}
			if err == nil {
				next := level
				if l.Control == "substack" {
					next++
				}
				r.flatten(sub, next, depth+1, hs)
				continue
			}
			*hs = append(*hs, brokenHandler(l, level, err.Error()))
			continue
		}
		if l.Problem != "" {
			*hs = append(*hs, brokenHandler(l, level, l.Problem))
			continue
		}
		acts, err := controlActions(l.Control)
		if err != nil {
			*hs = append(*hs, brokenHandler(l, level, err.Error()))
			continue
		}
		*hs = append(*hs, Handler{Line: l, level: level, actions: acts, kind: kindOf(l)})
	}
}

// brokenHandler is a line libpam installs as "must fail": every call
// returns PAM_PERM_DENIED, counted as bad.
func brokenHandler(l Line, level int, why string) Handler {
	h := Handler{Line: l, level: level, broken: why}
	if !l.IsInclude() {
		h.kind = kindOf(l)
	}
	for i := range h.actions {
		h.actions[i] = actBad
	}
	return h
}

// scenario fixes what the modules answer in one simulated login.
type scenario struct {
	password int // code of the password modules
	sms      int // code of pam_sms
}

func (sc scenario) result(h Handler) int {
	if h.broken != "" {
		return pamPermDenied
	}
	switch h.kind {
	case kindPassword:
		return sc.password
	case kindSMS:
		return sc.sms
	case kindDeny, kindNotRoot:
		return pamAuthErr
	}
	return pamSuccess
}

// outcome is what one simulated pam_authenticate did.
type outcome struct {
	status  int
	reached map[int]bool // Handler indexes that ran
	ended   int          // index whose done/die ended the whole stack; -1 if none
}

// simulate replays _pam_dispatch_aux over hs.
func simulate(hs []Handler, sc scenario) outcome {
	const (
		undef    = 0
		positive = 1
		negative = -1
	)
	out := outcome{reached: map[int]bool{}, ended: -1}
	impression, status := undef, pamPermDenied
	type state struct{ impression, status int }
	saved := make([]state, maxIncludeDepth+1)
	prevLevel := 0
	for i := 0; i < len(hs); i++ {
		h := hs[i]
		if prevLevel < h.level {
			saved[h.level] = state{impression, status}
		}
		prevLevel = h.level
		idx := i
		out.reached[i] = true
		ret := sc.result(h)
		act := h.actions[ret]
		decided := false
		switch {
		case act == actReset:
			impression, status = saved[h.level].impression, saved[h.level].status
		case act == actOK || act == actDone:
			if impression == undef || (impression == positive && status == pamSuccess) {
				if ret != pamIgnore {
					impression, status = positive, ret
				}
			}
			decided = impression == positive && act == actDone
		case act == actBad || act == actDie:
			if impression != negative {
				impression = negative
				status = ret
				if ret == pamIgnore {
					status = pamPermDenied
				}
			}
			decided = act == actDie
		case act == actIgnore:
		case act > 0:
			n := int(act)
			for i+1 < len(hs) && hs[i+1].level >= h.level && n > 0 {
				i++
				for i+1 < len(hs) && hs[i+1].level > h.level {
					i++
				}
				n--
			}
			if n > 0 {
				impression, status = negative, pamPermDenied
			}
		default:
			impression, status = negative, pamPermDenied
		}
		if decided {
			for i+1 < len(hs) && hs[i+1].level >= h.level {
				i++
			}
			if h.level == 0 {
				out.ended = idx
			}
		}
	}
	if status == pamSuccess && impression != positive {
		status = pamPermDenied
	}
	out.status = status
	return out
}

// Dir is the directory r reads services from.
func (r *Reader) Dir() string { return r.dir }

// Replace makes r see data as the content of path, as if the file held it:
// enable checks a stack before it writes it.
func (r *Reader) Replace(path string, data []byte) {
	r.cache[path] = ParseFile(path, data)
}

// IsSMS reports whether the handler is pam_sms.so.
func (h Handler) IsSMS() bool { return h.kind == kindSMS }

// IsPasswordStep reports whether l checks the password: a password module,
// or an include whose auth lines name one.
func (r *Reader) IsPasswordStep(l Line) bool {
	if !l.IsInclude() {
		return kindOf(l) == kindPassword
	}
	sub, err := r.Read(l.Module)
	if err != nil {
		return false
	}
	var hs []Handler
	r.flatten(sub, 0, 1, &hs)
	for _, h := range hs {
		if h.kind == kindPassword {
			return true
		}
	}
	return false
}
