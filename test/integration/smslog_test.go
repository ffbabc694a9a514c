package integration_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// Every SMS sent is one info-level authpriv line with user, masked number,
// gateway, message id and duration, so that a log pipeline can count them:
// a login with one resend makes two; a refused send makes none.
func TestSMSSentLine(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	gw := fakegw.Start(t)
	gw.SetResponse(200, "100 OK id=4711")
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
		Numbers: map[string]string{"root": number},
		Extra:   map[string]string{"gateway": `message_id = 'id=([0-9]+)'`}}))
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")

	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: "192.0.2.201",
		Answer: answers{"", "<code>"}.answerer(gw)})
	checkResult(t, res, nil)
	// Helpers of other test processes may log to the same socket: this
	// gateway's port tells its lines apart.
	host := mustHost(t, gw.URL)
	marker := "sms sent user=root number=\"+49 *** ****001\" gateway=" + host + " "
	lines := sink.matching(t, marker, 2)
	if len(lines) != 2 {
		t.Fatalf("%d \"sms sent\" lines for 2 SMS:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	want := regexp.MustCompile(`^<86>.*pam_sms.*: sms sent user=root number="\+49 \*\*\* \*\*\*\*001" gateway=` +
		regexp.QuoteMeta(host) + ` gateway_index=0 message_id=4711 status=200 ms=[0-9]+$`)
	for _, l := range lines {
		if !want.MatchString(strings.TrimSpace(l)) {
			t.Errorf("line %q does not match %s", l, want)
		}
		for _, m := range gw.Messages() {
			if code, _ := fakegw.ParseCode(m.Text); strings.Contains(l, code) || strings.Contains(l, "5550001") {
				t.Errorf("line %q holds the code or the full number", l)
			}
		}
	}

	gw.SetResponse(500, "busy")
	res = pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: "192.0.2.202",
		Answer: answers{}.answerer(gw)})
	if res.Err == nil {
		t.Fatal("login passed with the gateway answering 500")
	}
	sink.matching(t, "rhost=192.0.2.202", 1) // the decision line is there: the helper is done
	if got := sink.matching(t, marker, 2); len(got) != 2 {
		t.Errorf("a refused send was logged as sent: %d lines", len(got))
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
