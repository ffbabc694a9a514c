package main

import (
	"fmt"
	"log/syslog"
	"strconv"
	"strings"
	"unicode"
)

// logger writes one authpriv line per decision. Values come from the client
// (user, rhost) and are quoted when they hold anything but plain printable
// text, so a crafted name cannot forge log lines. Codes and full numbers are
// never passed here: numbers go through smsclient.Number, whose String masks.
type logger struct {
	w     *syslog.Writer // nil when no syslog socket is there: lines are dropped
	debug bool
}

func newLogger(debug bool) *logger {
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "pam_sms")
	if err != nil {
		w = nil
	}
	return &logger{w: w, debug: debug}
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
		_ = l.w.Info(line(msg, kv...))
	}
}

func (l *logger) warn(msg string, kv ...any) {
	if l.w != nil {
		_ = l.w.Warning(line(msg, kv...))
	}
}

func (l *logger) err(msg string, kv ...any) {
	if l.w != nil {
		_ = l.w.Err(line(msg, kv...))
	}
}

func (l *logger) dbg(msg string, kv ...any) {
	if l.debug && l.w != nil {
		_ = l.w.Debug(line(msg, kv...))
	}
}
