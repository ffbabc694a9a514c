package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/policy"
)

// problems is a config error with n problems, one per line, as conf reports a
// [numbers] table of bad entries.
func problems(n int) *conf.Error {
	e := &conf.Error{Path: "/etc/security/pam_sms.conf"}
	for i := range n {
		e.Problems = append(e.Problems, conf.Problem{Line: i + 2, Key: fmt.Sprintf("numbers.u%d", i), Msg: "not a phone number"})
	}
	return e
}

// A config with tens of thousands of problems must not make a log line of
// megabytes on every login: the line names the first ten and counts the rest.
func TestConfigProblemsCapped(t *testing.T) {
	const more = "... and %d more (pam-sms check lists them all)"
	tests := []struct {
		name  string
		err   error
		shown int    // problems named on the line
		left  int    // problems counted at its end
		first string // the first one named
	}{
		{"0 problems: a plain error", errors.New("open /etc/security/pam_sms.conf: no such file or directory"), 1, 0,
			"open /etc/security/pam_sms.conf: no such file or directory"},
		{"1 problem", problems(1), 1, 0, "/etc/security/pam_sms.conf:2: numbers.u0: not a phone number"},
		{"10 problems", problems(10), 10, 0, "/etc/security/pam_sms.conf:2: numbers.u0: not a phone number"},
		{"11 problems", problems(11), 10, 1, "/etc/security/pam_sms.conf:2: numbers.u0: not a phone number"},
		{"80000 problems", problems(80000), 10, 79990, "/etc/security/pam_sms.conf:2: numbers.u0: not a phone number"},
		{"11 lines of a plain error", errors.New(strings.Repeat("bad\n", 10) + "bad"), 10, 1, "bad"},
		{"a problem message with a line break", &conf.Error{Problems: []conf.Problem{{Msg: "a\nb"}}}, 2, 0, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := configProblems(tt.err)
			if strings.Contains(got, "\n") {
				t.Fatalf("%q holds a line break", got)
			}
			items := strings.Split(got, "; ")
			if tt.left > 0 {
				if last := items[len(items)-1]; last != fmt.Sprintf(more, tt.left) {
					t.Errorf("ends in %q, want %q", last, fmt.Sprintf(more, tt.left))
				}
				items = items[:len(items)-1]
			} else if strings.Contains(got, "more (pam-sms check") {
				t.Errorf("%q counts problems left out, but none were", got)
			}
			if len(items) != tt.shown || items[0] != tt.first {
				t.Errorf("names %d problems starting with %q, want %d starting with %q:\n%s",
					len(items), items[0], tt.shown, tt.first, got)
			}
			// The whole line as logged, quoted, with the pairs around it.
			s := &session{req: policy.Request{User: "alice", Rhost: "192.0.2.1", Service: "sshd"}}
			l := (&logger{caller: "1000"}).format("denied: configuration error", s.who("error", got)...)
			if len(l) > 1024 {
				t.Errorf("log line of %d bytes, want at most 1024", len(l))
			}
		})
	}
}

// The problems of a real parse read on the line as pam-sms check shows them.
func TestConfigProblemsOfParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("[numbers]\n")
	for i := range 12 {
		fmt.Fprintf(&b, "u%d = \"x\"\n", i)
	}
	_, err := conf.Parse("/etc/security/pam_sms.conf", []byte(b.String()))
	var ce *conf.Error
	if !errors.As(err, &ce) || len(ce.Problems) <= maxLoggedProblems {
		t.Fatalf("Setup: Parse = %v, want more than %d problems", err, maxLoggedProblems)
	}
	lines := strings.Split(err.Error(), "\n")
	want := strings.Join(lines[:maxLoggedProblems], "; ") +
		fmt.Sprintf("; ... and %d more (pam-sms check lists them all)", len(lines)-maxLoggedProblems)
	if got := configProblems(err); got != want {
		t.Errorf("configProblems =\n%s\nwant\n%s", got, want)
	}
}
