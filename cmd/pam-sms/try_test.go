package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var codeInSMS = regexp.MustCompile(`^Code ([0-9]+) for `)

// TestTry runs pam-sms try through the built pam_sms.so and helper, with
// answers on a pipe (not a terminal) and a fake gateway.
func TestTry(t *testing.T) {
	requireRoot(t)
	build := os.Getenv("PAM_SMS_BUILD")
	if build == "" {
		t.Skip("PAM_SMS_BUILD is not set: run make build, then PAM_SMS_BUILD=$PWD/build go test ./cmd/pam-sms")
	}
	module, helper := filepath.Join(build, "pam_sms.so"), filepath.Join(build, "pam-sms-helper")
	for _, f := range []string{module, helper} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("PAM_SMS_BUILD=%s: %v (run make build)", build, err)
		}
	}
	helper, unstage, err := stageHelper(helper) // a build under /tmp is refused by the module
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unstage)
	tests := []struct {
		name     string
		rhost    string
		answer   func(code string) []string // lines typed after the SMS arrived
		wantCode int
		want     []string
		wantSMS  bool
	}{
		{name: "right code", answer: func(code string) []string { return []string{code} },
			wantCode: exitOK, wantSMS: true,
			want: []string{"Code sent to +49 *** *****890", "SMS code: ", "PAM result: PAM_SUCCESS"}},
		{name: "wrong codes", answer: func(code string) []string { w := wrongCode(code); return []string{w, w, w} },
			wantCode: exitFailed, wantSMS: true,
			want: []string{"PAM result: PAM_AUTH_ERR"}},
		{name: "trusted network", rhost: "10.9.8.7", wantCode: exitOK,
			want: []string{"PAM result: PAM_SUCCESS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := startGateway(t, "100 OK", false)
			cfg, _ := writeConfig(t, configOpts{url: gw.url()})
			dir := pamDir(t, map[string]string{"pam-sms-try": fmt.Sprintf(
				"auth required %s config=%s helper=%s\nauth required pam_permit.so\n", module, cfg, helper)})
			pr, pw := io.Pipe()
			defer pr.Close() // unblocks a writer whose answers were not read
			go func() {
				if tt.answer == nil {
					pw.Close()
					return
				}
				select {
				case form := <-gw.got:
					m := codeInSMS.FindStringSubmatch(form.Get("text"))
					if m == nil {
						pw.CloseWithError(fmt.Errorf("no code in %q", form.Get("text")))
						return
					}
					for _, line := range tt.answer(m[1]) {
						if _, err := io.WriteString(pw, line+"\n"); err != nil {
							return
						}
					}
					pw.Close()
				case <-time.After(30 * time.Second):
					pw.CloseWithError(fmt.Errorf("the gateway got no SMS within 30s"))
				}
			}()
			args := []string{"try", "root", "--service", "pam-sms-try", "--pam-dir", dir}
			if tt.rhost != "" {
				args = append(args, "--rhost", tt.rhost)
			}
			r := runWith(t, testHost(t, goodSshd), pr, args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d", r.code, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if got := gw.count() > 0; got != tt.wantSMS {
				t.Errorf("SMS sent: %v, want %v", got, tt.wantSMS)
			}
			assertNoSecrets(t, r.stdout+r.stderr)
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
		})
	}
}

func wrongCode(code string) string {
	n, _ := strconv.Atoi(code)
	mod := 1
	for range code {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", len(code), (n+1)%mod)
}
