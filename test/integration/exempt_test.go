package integration_test

import (
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// Break-glass accounts log in through the real module with the shipped
// lockout policy (groups = ["*"], missing_number = "deny") and no number:
// PAM_IGNORE, no SMS, no prompt, and one "exempt" line naming the reason.
// A user who is not exempt is refused by the same config, so the rows can
// only pass because of the exemption.
func TestBreakGlass(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	gw := fakegw.Start(t)
	testenv.CreateGroup(t, "smsintbge")
	testenv.CreateUser(t, "smsintbg1", "S3cret-pass-bg1")
	testenv.CreateUser(t, "smsintbg2", "S3cret-pass-bg2", "smsintbge")
	testenv.CreateUser(t, "smsintbg3", "S3cret-pass-bg3")
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
		// A trusted network and trust_local would exempt too; they are off,
		// so only the break-glass keys can.
		Extra: map[string]string{"policy": "exempt_users = [\"smsintbg1\"]\nexempt_groups = [\"smsintbge\"]\n"},
	}))
	alone := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
	// The documented control: an exempt user passes, a failure is final.
	documented := testenv.ServiceDir(t, "auth [success=ok ignore=ignore default=die] "+
		testenv.ModuleLine(build, conf)+"\nauth required pam_permit.so\n")

	tests := []struct {
		user, rhost string
		// Alone in a stack libpam turns PAM_IGNORE into PAM_PERM_DENIED, and
		// the deny of a user without a number is PAM_AUTH_ERR.
		wantAlone, wantDocumented error
		wantLog                   string
	}{
		{"smsintbg1", "192.0.2.141", pam.ErrPermDenied, nil, `exempt user=smsintbg1 rhost=192.0.2.141`},
		{"smsintbg2", "192.0.2.142", pam.ErrPermDenied, nil, `exempt user=smsintbg2 rhost=192.0.2.142`},
		{"smsintbg3", "192.0.2.143", pam.ErrAuth, pam.ErrAuth, `denied user=smsintbg3 rhost=192.0.2.143`},
	}
	wantReason := map[string]string{
		"smsintbg1": `reason="user in exempt_users"`,
		"smsintbg2": `reason="member of exempt group smsintbge"`,
		"smsintbg3": `reason="no number configured for the user"`,
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			for _, run := range []struct {
				dir  string
				want error
			}{{alone, tt.wantAlone}, {documented, tt.wantDocumented}} {
				res := pamrun.Run(t, pamrun.Tx{ConfDir: run.dir, Service: testenv.ServiceName, User: tt.user,
					Rhost: tt.rhost, Answer: answers{}.answerer(gw)})
				checkResult(t, res, run.want)
				if run.want != pam.ErrAuth && len(res.Msgs) != 0 {
					t.Errorf("an exempt user saw:\n%s", res.Transcript())
				}
			}
			lines := sink.matching(t, "rhost="+tt.rhost, 2)
			if len(lines) != 2 {
				t.Fatalf("%d log lines for rhost %s, want one per login:\n%s", len(lines), tt.rhost, strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				if !strings.Contains(l, tt.wantLog) || !strings.Contains(l, wantReason[tt.user]) {
					t.Errorf("log line %q: want %q and %q", l, tt.wantLog, wantReason[tt.user])
				}
			}
		})
	}
	if n := gw.Count(); n != 0 {
		t.Errorf("the gateway received %d requests; nobody here may get an SMS", n)
	}
}
