package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestEnvClean(t *testing.T) {
	const path, lang = "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"
	tests := []struct {
		name string
		env  []string
		want bool
	}{
		{"what the module passes", []string{path, lang}, true},
		{"reversed", []string{lang, path}, true},
		{"what the helper restarts with", cleanEnv, true},
		{"empty", nil, true},
		{"the marker alone", []string{restartedEnv}, true},
		{"what the runtime adds in secure mode", []string{path, "GOTRACEBACK=none"}, true},
		{"GOTRACEBACK of the caller's choosing", []string{path, "GOTRACEBACK=crash"}, false},
		{"the marker twice", []string{restartedEnv, restartedEnv}, false},
		{"another PATH", []string{"PATH=/home/u/bin:/usr/bin", lang}, false},
		{"another LANG", []string{path, "LANG=de_DE.UTF-8"}, false},
		{"PATH twice", []string{path, path}, false},
		{"SSL_CERT_FILE", []string{path, lang, "SSL_CERT_FILE=/home/u/ca.pem"}, false},
		{"SSL_CERT_DIR", []string{path, "SSL_CERT_DIR=/home/u"}, false},
		{"HTTPS_PROXY", []string{"HTTPS_PROXY=http://127.0.0.1:3128"}, false},
		{"GODEBUG", []string{path, "GODEBUG=x509sha1=1"}, false},
		{"GOMAXPROCS", []string{"GOMAXPROCS=1", path}, false},
		{"TZ", []string{path, "TZ=Pacific/Kiritimati"}, false},
		{"LOCALDOMAIN", []string{path, "LOCALDOMAIN=evil.example"}, false},
		{"empty value", []string{"TZ="}, false},
		{"no equals sign", []string{"PATH"}, false},
		{"empty entry", []string{""}, false},
		{"prefix of an allowed entry", []string{"PATH=/usr/sbin"}, false},
	}
	for _, tt := range tests {
		if got := envClean(tt.env); got != tt.want {
			t.Errorf("%s: envClean(%q) = %v, want %v", tt.name, tt.env, got, tt.want)
		}
	}
}

// On the module's path there is no restart: restartClean returns without
// exec (if it exec'd, this test binary would start over).
func TestRestartCleanKeepsModuleEnv(t *testing.T) {
	if err := restartClean(moduleEnv, []string{"pam-sms-helper", moduleArg}); err != nil {
		t.Fatal(err)
	}
}

// A helper that restarted itself and still finds variables it does not
// allow refuses rather than restart again (the Go runtime adds GOTRACEBACK in
// secure mode: a forgotten case like that would loop for ever).
func TestRestartCleanRefusesAfterRestart(t *testing.T) {
	err := restartClean([]string{cleanEnv[0], restartedEnv, "TZ=UTC", "GODEBUG=x=1"}, []string{"pam-sms-helper"})
	if err == nil || err.Error() != "helper: environment not clean after a restart: TZ, GODEBUG" {
		t.Fatalf("restartClean after a restart: %v", err)
	}
}

func TestVarNames(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = "V" + string(rune('A'+i)) + "=secret"
	}
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"TZ=UTC", "SSL_CERT_FILE=/home/u/ca.pem"}, "TZ, SSL_CERT_FILE"},
		{[]string{"NOEQUALS"}, "NOEQUALS"},
		{[]string{strings.Repeat("N", 70) + "=v"}, strings.Repeat("N", 64) + "..."},
		{many, "VA, VB, VC, VD, VE, VF, VG, VH, VI, VJ, and 2 more"},
	}
	for _, tt := range tests {
		if got := varNames(tt.env); got != tt.want {
			t.Errorf("varNames(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// restartChildEnv marks the child process of TestRestartClean.
const restartChildEnv = "PAM_SMS_TEST_RESTART_CHILD=1"

// With any other variable the helper executes itself again with only PATH:
// the test binary plays the helper, restarted with the same arguments.
func TestRestartClean(t *testing.T) {
	switch env := os.Environ(); {
	case slices.Equal(env, cleanEnv):
		// The restarted child: say what it got, and stop.
		os.Stdout.WriteString("RESTARTED " + strings.Join(env, "|") + " ARGS " + strings.Join(os.Args[1:], "|") + "\n")
		syscall.Exit(0) // not os.Exit: -race would wait a second at exit
	case slices.Contains(env, restartChildEnv):
		err := restartClean(env, os.Args)
		t.Fatalf("restartClean returned: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartClean$", "-test.count=1")
	cmd.Env = []string{restartChildEnv, "SSL_CERT_FILE=/tmp/evil.pem", "GODEBUG=x509sha1=1", moduleEnv[0]}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := "RESTARTED " + strings.Join(cleanEnv, "|") + " ARGS -test.run=^TestRestartClean$|-test.count=1\n"
	if string(out) != want {
		t.Fatalf("child printed %q, want %q", out, want)
	}
}
