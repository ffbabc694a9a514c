package pamstack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Statuses of a checklist Item.
const (
	StatusOK   = "OK"
	StatusWarn = "WARN"
	StatusFail = "FAIL"
)

// Item is one line of a checklist: what doctor prints, and why enable refuses.
type Item struct {
	Status  string   `json:"status"`
	Check   string   `json:"check"`
	Message string   `json:"message"`
	Fix     string   `json:"fix,omitempty"`
	Details []string `json:"details,omitempty"`
}

// Findings collects the problems of one checked thing (a stack line here, a
// file or a setting in pam-sms doctor) and turns them into one Item.
type Findings struct {
	fails, warns, fixes []string
}

// Fail records a problem that breaks or bypasses the SMS step, with the
// commands that fix it.
func (f *Findings) Fail(msg string, fixes ...string) { f.fails = append(f.fails, msg); f.fix(fixes...) }

// Warn records a problem worth a look, with the commands that fix it.
func (f *Findings) Warn(msg string, fixes ...string) { f.warns = append(f.warns, msg); f.fix(fixes...) }

// fix adds fixes, each once, in order.
func (f *Findings) fix(fixes ...string) {
	for _, fix := range fixes {
		if fix != "" && !slices.Contains(f.fixes, fix) {
			f.fixes = append(f.fixes, fix)
		}
	}
}

// Item turns the findings into one checklist line; okMsg when there are none.
func (f *Findings) Item(check, okMsg string) Item {
	it := Item{Status: StatusOK, Check: check, Message: okMsg}
	switch {
	case len(f.fails) > 0:
		it.Status, it.Message = StatusFail, strings.Join(append(f.fails, f.warns...), "; ")
	case len(f.warns) > 0:
		it.Status, it.Message = StatusWarn, strings.Join(f.warns, "; ")
	}
	if it.Status != StatusOK {
		it.Fix = strings.Join(f.fixes, "; ")
	}
	return it
}

// errorCodes are the failures pam_sms returns, plus libpam's code for a
// module it cannot load; none of them may let a login through.
var errorCodes = []int{pamAuthErr, pamAuthinfoUnavail, pamSystemErr, pamUserUnknown, pamPermDenied}

// BackupSuffix is what pam-sms enable keeps the previous content of a
// service file as; such files are not services.
const BackupSuffix = ".pam-sms.bak"

// FixInclude is the fix for a pam_sms line after "auth include" or "auth
// substack": the packaged authselect profile, or explicit lines.
const FixInclude = "authselect select pam-sms with-faillock (RHEL, Fedora: the profile puts pam_sms.so into password-auth and system-auth); " +
	"elsewhere replace that line by explicit lines (auth required pam_env.so; auth requisite pam_unix.so nullok; auth required pam_sms.so)"

// CheckHandler checks the pam_sms Handler hs[i] of a flattened auth
// stack. keyStep, when not empty, says that sshd already demanded a key
// before this stack runs (AuthenticationMethods publickey,keyboard-interactive).
//
// Every fix starts with the command that makes the change: a sed command
// when a changed control, tried on the stack first, passes every check;
// otherwise the editor at the line, with what to change.
func CheckHandler(hs []Handler, i int, keyStep string) Item {
	return checkHandler(hs, i, keyStep, true)
}

// checkHandler is CheckHandler; without suggest it tries no fix (it is
// what trying one runs).
func checkHandler(hs []Handler, i int, keyStep string, suggest bool) Item {
	h := hs[i]
	var f Findings
	if h.broken != "" {
		f.Fail(fmt.Sprintf("libpam cannot use this line (%s): every login through the stack fails", h.broken),
			editAt(h.Line, "correct the line; see pam.conf(5)"))
		return f.Item("stack "+h.Line.Where(), "")
	}
	fixes := fixer{hs: hs, i: i, keyStep: keyStep, suggest: suggest}
	controlFailed := checkControl(h, &f, fixes)

	pw := -1
	for j := range i {
		if hs[j].kind == kindPassword {
			pw = j
		}
	}
	switch {
	case pw < 0 && keyStep == "":
		f.Fail("pam_sms.so runs before any password step (no pam_unix or other password module before it): "+
			"the SMS goes out before anything was checked", fixOrder(h.Line))
	case pw < 0:
		// Key + SMS: the key was checked by sshd before the stack ran.
	}

	right := simulate(hs, scenario{password: pamSuccess, sms: pamSuccess})
	if !right.reached[i] {
		why := "an earlier line ends the whole stack first"
		if right.ended >= 0 {
			why = fmt.Sprintf("%s (%s) ends the whole stack on success first", hs[right.ended].Line.Where(), hs[right.ended].Line.Text())
		}
		f.Fail("after a right password pam_sms.so never runs, so no code is asked (2FA bypass): "+why, deleteLine(h.Line)+" && "+FixInclude)
		return f.Item("stack "+h.Line.Where(), "")
	}
	if right.status != pamSuccess {
		f.Warn("a right password and a right code still fail (stack result "+codeName(right.status)+")",
			editAt(h.Line, "find the line after pam_sms.so that fails; pam-sms try USER shows the login"))
	}
	if !controlFailed {
		for _, code := range errorCodes {
			if o := simulate(hs, scenario{password: pamSuccess, sms: code}); o.status == pamSuccess {
				f.Fail(fmt.Sprintf("when pam_sms.so fails (%s) the login still succeeds", codeName(code)), fixes.control())
				break
			}
		}
	}
	if o := simulate(hs, scenario{password: pamSuccess, sms: pamIgnore}); o.status != pamSuccess && h.actions[pamIgnore] == actIgnore {
		f.Warn("exempt users are denied: when pam_sms.so returns PAM_IGNORE (user not enforced, trusted network) "+
			"nothing after it makes the stack succeed (e.g. `sufficient` followed by pam_deny)",
			fixes.try(i, h.Line, "let PAM_IGNORE pass: `[success=ok ignore=ignore default=die]`, followed by a line that succeeds", "[success=ok ignore=ignore default=die]"))
	}
	if pw >= 0 {
		wrong := simulate(hs, scenario{password: pamAuthErr, sms: pamSuccess})
		switch {
		case wrong.status == pamSuccess:
			f.Fail("a wrong password with a right code logs in: the password step "+hs[pw].Line.Where()+" does not count", fixes.wrongPassword(pw))
		case wrong.reached[i]:
			f.Warn("an SMS is sent even after a wrong password (the password step "+hs[pw].Line.Where()+
				" does not stop the stack): anyone who knows a user name can trigger paid messages", fixes.wrongPassword(pw))
		}
	}
	ok := "pam_sms.so runs only after the password, and a failure of it denies the login"
	if pw < 0 {
		ok = "pam_sms.so runs after the SSH key (" + keyStep + "), and a failure of it denies the login"
	}
	return f.Item("stack "+h.Line.Where(), ok)
}

// checkControl reports controls that let an error of pam_sms through or
// deny exempt users; it returns whether it found a failure.
func checkControl(h Handler, f *Findings, fixes fixer) bool {
	var skipped []string
	for _, code := range errorCodes {
		if a := h.actions[code]; a != actBad && a != actDie {
			skipped = append(skipped, pamCodeNames[code]+"="+a.String())
		}
	}
	control := h.Line.Control
	if len(skipped) > 0 {
		switch control {
		case "sufficient":
			f.Fail("control `sufficient`: a failed or unavailable SMS step is ignored, so the password alone logs in, "+
				"and a user exempt from SMS falls through to what follows", fixes.control())
		case "optional":
			f.Fail("control `optional`: a failed or unavailable SMS step is ignored, so the password alone logs in", fixes.control())
		default:
			f.Fail(fmt.Sprintf("control `%s` skips pam_sms.so on error (%s): the password alone logs in when the SMS step fails",
				control, strings.Join(skipped, ", ")), fixes.control())
		}
		return true
	}
	if a := h.actions[pamIgnore]; a == actBad || a == actDie {
		f.Warn(fmt.Sprintf("control `%s` denies users exempt from SMS (ignore=%s): not enforced users and trusted networks cannot log in", control, a),
			fixes.try(fixes.i, h.Line, "add ignore=ignore: `[success=ok ignore=ignore default=die]`", "[success=ok ignore=ignore default=die]"))
	}
	return false
}

func codeName(code int) string {
	names := map[int]string{
		pamSuccess: "PAM_SUCCESS", pamSystemErr: "PAM_SYSTEM_ERR", pamPermDenied: "PAM_PERM_DENIED",
		pamAuthErr: "PAM_AUTH_ERR", pamAuthinfoUnavail: "PAM_AUTHINFO_UNAVAIL",
		pamUserUnknown: "PAM_USER_UNKNOWN", pamIgnore: "PAM_IGNORE",
	}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("PAM code %d", code)
}

// SkipServiceFile reports names in a pam.d directory that are not services:
// backups and package manager leftovers.
func SkipServiceFile(name string) bool {
	for _, suffix := range []string{BackupSuffix, "~", ".bak", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".rpmnew", ".rpmsave", ".rpmorig"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return strings.HasPrefix(name, ".")
}

// Stack is a service file that names pam_sms.so.
type Stack struct {
	Name  string // file name in the PAM directory
	Lines []Line // its own lines that name pam_sms.so
}

// FindSMSStacks lists the files of dir that name pam_sms.so, in name order.
func FindSMSStacks(r *Reader) ([]Stack, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("reading the PAM directory: %w", err)
	}
	var stacks []Stack
	for _, e := range entries {
		if SkipServiceFile(e.Name()) {
			continue
		}
		info, err := os.Stat(filepath.Join(r.dir, e.Name()))
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		lines, err := r.Read(e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(r.dir, e.Name()), err)
		}
		s := Stack{Name: e.Name()}
		for _, l := range lines {
			if l.IsSMS() {
				s.Lines = append(s.Lines, l)
			}
		}
		if len(s.Lines) > 0 {
			stacks = append(stacks, s)
		}
	}
	return stacks, nil
}

// CheckStack checks every pam_sms line of one service file.
func CheckStack(r *Reader, s Stack, keyStep string) []Item {
	var items []Item
	for _, l := range s.Lines {
		if !l.IsAuth() {
			items = append(items, Item{Status: StatusFail, Check: "stack " + l.Where(),
				Message: fmt.Sprintf("pam_sms.so only authenticates; as a %s line libpam finds no function for it and the %s step fails", l.Type, l.Type),
				Fix:     deleteLine(l) + " (pam_sms.so belongs in the auth stack only)"})
		}
	}
	hs, err := r.AuthStack(s.Name)
	if err != nil {
		return append(items, Item{Status: StatusFail, Check: "stack " + s.Name, Message: err.Error()})
	}
	if s.Name != "sshd" {
		keyStep = ""
	}
	for i, h := range hs {
		if h.kind == kindSMS && h.Line.File == filepath.Join(r.dir, s.Name) {
			items = append(items, CheckHandler(hs, i, keyStep))
		}
	}
	return items
}
