package integration_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// Without a message in the config, the SMS text follows language; a message
// that is set wins. The SMS is what the gateway received, sent by the real
// helper.
func TestDefaultMessageFollowsLanguage(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, language string
		keepMessage    bool
		want           string // the SMS text, with <code> for the six digits
	}{
		{"de without message", "de", false, "Ihr Anmeldecode für " + host + ": <code>"},
		{"en without message", "en", false, "Your login code for " + host + ": <code>"},
		{"de with message", "de", true, "TESTCODE <code> " + host},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := fakegw.Start(t)
			body := testenv.Config(t, gw, testenv.Options{Language: tt.language, Attempts: 1,
				Numbers: map[string]string{"root": number}})
			if !tt.keepMessage {
				body = withoutMessage(t, body)
			}
			conf := testenv.WriteConfig(t, t.TempDir(), body)
			dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
			res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root",
				Answer: answers{"9"}.answerer(gw)})
			checkResult(t, res, pam.ErrAuth)
			msgs := gw.Messages()
			if len(msgs) != 1 {
				t.Fatalf("gateway got %d SMS, want 1", len(msgs))
			}
			re := regexp.MustCompile("^" + strings.Replace(regexp.QuoteMeta(tt.want), "<code>", "[0-9]{6}", 1) + "$")
			if !re.MatchString(msgs[0].Text) {
				t.Errorf("SMS text %q, want %q with a six-digit code", msgs[0].Text, tt.want)
			}
		})
	}
}

// withoutMessage drops the message line of a testenv config.
func withoutMessage(t *testing.T, body string) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, "message = ") {
			out = append(out, l)
		}
	}
	if len(out) != strings.Count(body, "\n") {
		t.Fatalf("Setup: no single message line in the test config:\n%s", body)
	}
	return strings.Join(out, "\n")
}
