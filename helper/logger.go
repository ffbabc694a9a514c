package main

import (
	"fmt"
	"log/syslog"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// logger writes one authpriv line per decision. Values come from the client
// (user, rhost) and are quoted when they hold anything but plain printable
// text, so a crafted name cannot forge log lines. Codes and full numbers are
// never passed here: numbers go through smsclient.Number, whose String masks.
type logger struct {
	w      *syslog.Writer // nil when no syslog socket is there: lines are dropped
	debug  bool
	caller string // real uid of a caller without root, "" for root; ends every line
}

func newLogger() *logger {
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "pam_sms")
	if err != nil {
		w = nil
	}
	return &logger{w: w, caller: callerUID(os.Getuid(), os.Geteuid())}
}

// callerUID is the real uid to name on every line when the helper runs for
// someone other than root: such a caller chooses the user, service and rhost
// the lines show, so the lines must say who that was. A setuid-root program
// (su, sudo) has effective uid 0 but the user's real uid, and is named too.
func callerUID(uid, euid int) string {
	if uid == 0 && euid == 0 {
		return ""
	}
	return strconv.Itoa(uid)
}

// format is one log line: msg, the pairs, and the caller's uid if any.
func (l *logger) format(msg string, kv ...any) string {
	s := line(msg, kv...)
	if l.caller != "" {
		s += " caller_uid=" + l.caller
	}
	return s
}

func (l *logger) close() {
	if l.w != nil {
		l.w.Close()
	}
}

// line formats msg followed by key=value pairs.
func line(msg string, kv ...any) string {
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%s", kv[i], quote(fmt.Sprint(kv[i+1])))
	}
	return b.String()
}

func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func (l *logger) info(msg string, kv ...any) {
	if l.w != nil {
		_ = l.w.Info(l.format(msg, kv...))
	}
}

func (l *logger) warn(msg string, kv ...any) {
	if l.w != nil {
		_ = l.w.Warning(l.format(msg, kv...))
	}
}

func (l *logger) err(msg string, kv ...any) {
	if l.w != nil {
		_ = l.w.Err(l.format(msg, kv...))
	}
}

func (l *logger) dbg(msg string, kv ...any) {
	if l.debug && l.w != nil {
		_ = l.w.Debug(l.format(msg, kv...))
	}
}
