package pamstack

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// A fix names the command that makes the change, with the real file and
// line: sed for an edit that was tried on the stack and passes every
// check, the editor at the line otherwise.

// fixer proposes fixes for the pam_sms handler hs[i].
type fixer struct {
	hs      []Handler
	i       int
	keyStep string
	suggest bool // false while a fix is being tried: no fixes of fixes
}

// controlCandidates are the controls for pam_sms.so that pam_sms(8)
// documents, in order of preference.
var controlCandidates = []string{"required", "[success=ok ignore=ignore default=die]"}

// control fixes the control of the pam_sms line.
func (fx fixer) control() string {
	return fx.try(fx.i, fx.hs[fx.i].Line,
		"use the control `required` or `[success=ok ignore=ignore default=die]` for pam_sms.so", controlCandidates...)
}

// wrongPassword fixes a password step hs[pw] that does not stop the stack.
func (fx fixer) wrongPassword(pw int) string {
	l := fx.hs[pw].Line
	if fx.hs[pw].level > 0 || fx.hs[fx.i].level > 0 {
		return deleteLine(fx.hs[fx.i].Line) + " && " + FixInclude
	}
	return fx.try(pw, l, "make a wrong password stop the stack before pam_sms.so (requisite pam_unix.so, or @include common-auth)", "requisite")
}

// try returns a sed command that puts the first of controls that makes the
// pam_sms line pass every check in place of the control of hs[j] (line l);
// failing that, the editor at l with what to do.
func (fx fixer) try(j int, l Line, what string, controls ...string) string {
	if !fx.suggest || l.Num != l.End || l.IsInclude() {
		return editAt(l, what)
	}
	for _, c := range controls {
		acts, err := controlActions(c)
		if err != nil {
			continue
		}
		hs := append([]Handler(nil), fx.hs...)
		hs[j].actions, hs[j].Line.Control = acts, c
		if checkHandler(hs, fx.i, fx.keyStep, false).Status == StatusOK {
			return sedControl(l, c)
		}
	}
	return editAt(l, what)
}

// sedControl is the sed command that replaces the control of l by control.
func sedControl(l Line, control string) string {
	var words []string
	for _, w := range strings.Fields(l.Control) {
		words = append(words, bre(w))
	}
	pattern := `^\([[:space:]]*-\{0,1\}auth[[:space:]]\+\)` + strings.Join(words, `[[:space:]]\+`)
	return fmt.Sprintf("sed -i '%ds/%s/\\1%s/' %s", l.Num, pattern, strings.ReplaceAll(control, "&", `\&`), shellQuote(l.File))
}

// fixOrder moves a pam_sms line that runs before the password step: for
// the services pam-sms enable knows, delete it and let enable put it after
// the password step.
func fixOrder(l Line) string {
	if svc := filepath.Base(l.File); svc == "sshd" || svc == "login" {
		return fmt.Sprintf("%s && pam-sms enable --service %s --pam-dir %s", deleteLine(l), svc, shellQuote(filepath.Dir(l.File)))
	}
	return fmt.Sprintf("%s, then add `auth required pam_sms.so` right after the password step of %s (e.g. after `@include common-auth`)",
		deleteLine(l), l.File)
}

// deleteLine is the sed command that deletes l with its continuation lines.
func deleteLine(l Line) string {
	if l.End > l.Num {
		return fmt.Sprintf("sed -i '%d,%dd' %s", l.Num, l.End, shellQuote(l.File))
	}
	return fmt.Sprintf("sed -i '%dd' %s", l.Num, shellQuote(l.File))
}

// editAt is the editor at l, with what to change there.
func editAt(l Line, what string) string {
	return fmt.Sprintf("vi +%d %s: %s", l.Num, shellQuote(l.File), what)
}

// bre escapes s for a sed basic regular expression between slashes.
func bre(s string) string {
	return regexp.MustCompile(`[][\\/.*^$]`).ReplaceAllStringFunc(s, func(c string) string { return `\` + c })
}

// shellQuote quotes s for sh when it holds anything but plain path bytes.
func shellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_./+:@%=-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
