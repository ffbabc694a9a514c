package integration_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/fakeproxy"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// failoverTable is a [[gateway.failover]] table for a fake gateway, with
// the test config's credentials (checkMessage checks them).
func failoverTable(url, timeout string) string {
	return fmt.Sprintf("[[gateway.failover]]\nurl = %q\nmethod = \"POST\"\nid = \"test-id\"\npassword = \"test-secret\"\ntimeout = %q\n",
		url, timeout)
}

type failoverCase struct {
	name    string
	first   string // "refused", "blackhole", or the answer "STATUS BODY"
	second  string // "" = a healthy gateway, or "refused" / "blackhole"
	timeout string // the first gateway's timeout; default "5s"
	extra   string // more [gateway] lines
	safe    bool   // fail_mode "safe"
	wantErr error
	// Requests at the first and the second gateway; -1 = not a fake
	// (a closed port).
	wantFirst, wantSecond int
	wantSaw               []string
	// within bounds the time to the prompt (or the result when none):
	// the whole send is bounded by the timeouts added up.
	within time.Duration
}

// Full PAM transactions through the built module with [gateway] and one
// [[gateway.failover]]: the SMS goes to the second gateway exactly when the
// first did not send, the same code works, and fail_mode applies only when
// both failed.
func TestFailover(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	down := []string{"error: The SMS code could not be sent. Try again later."}
	tests := []failoverCase{
		{name: "first refuses", first: "refused", wantFirst: -1, wantSecond: 1},
		{name: "first answers 500", first: "500 internal error", wantFirst: 1, wantSecond: 1},
		{name: "first answers 503", first: "503 maintenance", wantFirst: 1, wantSecond: 1},
		{name: "first answers garbage", first: "200 <html>captive portal</html>", wantFirst: 1, wantSecond: 1},
		{name: "first sends: no failover", first: "200 100 OK", wantFirst: 1, wantSecond: 0},
		{name: "first answers 400: no failover, denied", first: "400 bad number", wantErr: pam.ErrAuthinfoUnavail,
			wantFirst: 1, wantSecond: 0,
			wantSaw: []string{"error: The SMS service did not accept the code. Try again later or contact your administrator."}},
		{name: "first answers 429 without opt-in: no failover", first: "429 slow down", wantErr: pam.ErrAuthinfoUnavail,
			wantFirst: 1, wantSecond: 0,
			wantSaw: []string{"error: The SMS service is not sending more codes right now. Try again later."}},
		{name: "first answers 429 with opt-in", first: "429 slow down", extra: "failover_on_rate_limit = true\n",
			wantFirst: 1, wantSecond: 1},
		{name: "first rate_limited pattern with opt-in", first: "200 ERR 403 quota", extra: "rate_limited = \"^ERR 403\"\nfailover_on_rate_limit = true\n",
			wantFirst: 1, wantSecond: 1},
		{name: "first black-holed", first: "blackhole", timeout: "2s", wantFirst: 1, wantSecond: 1,
			within: 2*time.Second + 5*time.Second},
		{name: "all down, secure", first: "refused", second: "refused", wantErr: pam.ErrAuthinfoUnavail,
			wantFirst: -1, wantSecond: -1, wantSaw: down},
		{name: "all down, safe", first: "refused", second: "refused", safe: true, wantErr: pam.ErrPermDenied,
			wantFirst: -1, wantSecond: -1},
		{name: "all black-holed: the login returns within the bound", first: "blackhole", second: "blackhole", timeout: "1s",
			wantErr: pam.ErrAuthinfoUnavail, wantFirst: 1, wantSecond: 1, wantSaw: down, within: 1*time.Second + 1*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runFailover(t, build, tt)
		})
	}
}

// gatewayFor starts what a case names: a fake answering reply, a closed
// port (the fake is nil) or a black hole: a fake that takes the request
// and never answers (until the client gives up or the test ends).
func gatewayFor(t *testing.T, what string) (string, *fakegw.Gateway) {
	if what == "refused" {
		return fakegw.ClosedURL(t), nil
	}
	gw := fakegw.Start(t)
	if what == "blackhole" {
		gw.SetDelay(time.Hour)
	} else if what != "" {
		status, body, _ := strings.Cut(what, " ")
		var code int
		fmt.Sscan(status, &code)
		gw.SetResponse(code, body)
	}
	return gw.URL, gw
}

func runFailover(t *testing.T, build string, tt failoverCase) {
	url1, gw1 := gatewayFor(t, tt.first)
	url2, gw2 := gatewayFor(t, tt.second)
	secondTimeout := "5s"
	if tt.second == "blackhole" {
		secondTimeout = "1s"
	}
	opts := testenv.Options{URL: url1, GatewayTimeout: cmp.Or(tt.timeout, "5s"),
		Numbers: map[string]string{"root": number},
		Extra:   map[string]string{"gateway": tt.extra + failoverTable(url2, secondTimeout)}}
	if tt.safe {
		opts.FailMode = "safe"
	}
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, nil, opts))
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf, "timeout=60")+"\n")

	// The code is read from whichever gateway got the newest SMS.
	delivered := gw1
	if tt.wantSecond == 1 {
		delivered = gw2
	}
	var prompted time.Duration
	start := time.Now()
	answer := answers{"<code>"}.answerer(delivered)
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: "192.0.2.61",
		Answer: func(n int, m pamrun.Msg) (string, error) {
			if n == 1 {
				prompted = time.Since(start)
			}
			return answer(n, m)
		}})
	took := time.Since(start)
	checkResult(t, res, tt.wantErr)
	for i, c := range []struct {
		gw   *fakegw.Gateway
		want int
	}{{gw1, tt.wantFirst}, {gw2, tt.wantSecond}} {
		if c.gw == nil {
			continue
		}
		if got := c.gw.Count(); got != c.want {
			t.Errorf("gateway %d received %d requests, want %d", i, got, c.want)
		}
		for _, m := range c.gw.Messages() {
			checkMessage(t, m)
		}
	}
	// The same code went to both gateways.
	if gw1 != nil && gw2 != nil && gw1.Count() == 1 && gw2.Count() == 1 {
		if a, b := gw1.Messages()[0].Text, gw2.Messages()[0].Text; a != b {
			t.Errorf("the gateways got different texts: %q and %q", a, b)
		}
	}
	checkSaw(t, res, tt.wantSaw)
	if tt.within > 0 {
		// The send is bounded by the timeouts; the helper's start and
		// the config are a few hundred ms more on a loaded machine.
		elapsed := took
		if tt.wantErr == nil {
			elapsed = prompted
		}
		const slack = 3 * time.Second
		if elapsed > tt.within+slack {
			t.Errorf("took %v, over the send's bound %v (+%v)", elapsed, tt.within, slack)
		}
		if first, _ := time.ParseDuration(tt.timeout); elapsed < first {
			t.Errorf("took %v, less than the black-holed gateway's timeout %v: it was not waited for", elapsed, first)
		}
	}
}

// The log names each failed attempt with its reason and the gateway that
// delivered; the usage record counts the failed attempt at the first
// gateway and the SMS at the second, and pam-sms stats and its textfile show
// them per gateway. send-test --gateway 1 asks only the second.
func TestFailoverLogAndUsage(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	gw1, gw2 := fakegw.Start(t), fakegw.Start(t)
	gw1.SetResponse(502, "bad gateway")
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw1, testenv.Options{
		Numbers: map[string]string{"root": number},
		Extra:   map[string]string{"gateway": failoverTable(gw2.URL, "5s")}}))
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")

	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: "192.0.2.62",
		Answer: answers{"<code>"}.answerer(gw2)})
	checkResult(t, res, nil)
	if gw1.Count() != 1 || gw2.Count() != 1 {
		t.Fatalf("requests: %d at the first, %d at the second; want 1 and 1", gw1.Count(), gw2.Count())
	}
	host1, host2 := mustHost(t, gw1.URL), mustHost(t, gw2.URL)

	failed := sink.matching(t, "gateway="+host1+" gateway_index=0 ", 1)
	if len(failed) != 1 || !strings.Contains(failed[0], "gateway failed; trying the next") ||
		!strings.Contains(failed[0], "rhost=192.0.2.62") || !strings.Contains(failed[0], `reason="HTTP 502"`) ||
		!strings.Contains(failed[0], "status=502") || !strings.HasPrefix(failed[0], "<84>") {
		t.Errorf("failed attempt: lines %q, want one warning with the reason", failed)
	}
	sent := sink.matching(t, "sms sent user=root ", 1)
	var mine []string
	for _, l := range sent {
		if strings.Contains(l, "gateway="+host2+" gateway_index=1 ") {
			mine = append(mine, l)
		}
	}
	if len(mine) != 1 || !strings.HasPrefix(mine[0], "<86>") {
		t.Errorf("sms sent lines %q, want one info line naming %s as gateway 1", sent, host2)
	}
	code, _ := fakegw.ParseCode(gw2.Messages()[0].Text)
	for _, l := range append(failed, mine...) {
		if strings.Contains(l, code) || strings.Contains(l, "5550001") || strings.Contains(l, "test-secret") {
			t.Errorf("line %q holds the code, the full number or the password", l)
		}
	}

	var rep struct {
		Rows []struct {
			Key          string
			Sent, Failed int
		}
	}
	out := cli(t, "stats", "--config", conf, "--by", "gateway", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	got := map[string][2]int{}
	for _, r := range rep.Rows {
		got[r.Key] = [2]int{r.Sent, r.Failed}
	}
	if len(got) != 2 || got[host1] != [2]int{0, 1} || got[host2] != [2]int{1, 0} {
		t.Errorf("stats --by gateway: want %s 0 sent 1 failed, %s 1 sent 0 failed:\n%s", host1, host2, out)
	}
	prom := filepath.Join(t.TempDir(), "pam_sms.prom")
	cli(t, "stats", "--config", conf, "--prometheus", prom)
	data, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`pam_sms_sms_total{outcome="failed",gateway=%q} 1`, host1),
		fmt.Sprintf(`pam_sms_sms_total{outcome="sent",gateway=%q} 1`, host2),
	} {
		if !slices.Contains(strings.Split(string(data), "\n"), want) {
			t.Errorf("textfile lacks %s:\n%s", want, data)
		}
	}

	// send-test --gateway 1: exactly the second gateway.
	out = cli(t, "send-test", "--config", conf, "--gateway", "1", "root")
	if !strings.Contains(out, "class:    sent") || gw1.Count() != 1 || gw2.Count() != 2 {
		t.Errorf("send-test --gateway 1: requests %d and %d, want 1 and 2:\n%s", gw1.Count(), gw2.Count(), out)
	}
}

// The shipped docs/gateways/twilio-vonage-failover.conf, used as shipped
// (secret files, proxy and CAs added as for the other vendor examples):
// with Twilio answering 503 the login's code comes from Vonage; with Twilio
// healthy Vonage gets nothing.
func TestFailoverVendorExample(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	twilio, vonage := &vendorFake{}, &vendorFake{}
	var twilioDown atomic.Bool
	twilioH := twilioFake(twilio)
	baseT, caT := fakegw.NamedHandler(t, "api.twilio.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if twilioDown.Load() {
			writeJSON(w, 503, map[string]any{"code": 20503, "message": "Service Unavailable", "status": 503})
			return
		}
		twilioH.ServeHTTP(w, r)
	}))
	baseV, caV := fakegw.NamedHandler(t, "rest.nexmo.com", vonageFake(vonage))
	hosts := map[string]string{}
	for name, base := range map[string]string{"api.twilio.com": baseT, "rest.nexmo.com": baseV} {
		u, err := neturl.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		hosts[name] = net.JoinHostPort("127.0.0.1", u.Port())
	}
	proxy := fakeproxy.Start(t, hosts)

	shipped, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "gateways", "twilio-vonage-failover.conf"))
	if err != nil {
		t.Fatal(err)
	}
	text, dir := string(shipped), t.TempDir()
	for path, content := range map[string]string{"/etc/security/pam_sms.twilio-token": twilioToken,
		"/etc/security/pam_sms.vonage-secret": vonageSecret} {
		file := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(file, []byte(content+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if strings.Count(text, `"`+path+`"`) != 1 {
			t.Fatalf("the example does not name %s once", path)
		}
		text = strings.ReplaceAll(text, `"`+path+`"`, `"`+file+`"`)
	}
	for header, ca := range map[string]string{"\n[gateway]\n": caT, "\n[[gateway.failover]]\n": caV} {
		if strings.Count(text, header) != 1 {
			t.Fatalf("the example has not one %q", strings.TrimSpace(header))
		}
		text = strings.Replace(text, header, fmt.Sprintf("%sproxy = %q\nca_file = %q\n", header, proxy.URL, ca), 1)
	}
	text += fmt.Sprintf("\n[code]\nmessage = %q\n\n[limits]\nstate_dir = %q\n\n[numbers]\nroot = %q\n",
		testenv.TestMessage, t.TempDir(), number)
	conf := testenv.WriteConfig(t, dir, text)
	svc := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")

	login := func(from *vendorFake) {
		t.Helper()
		res := pamrun.Run(t, pamrun.Tx{ConfDir: svc, Service: testenv.ServiceName, User: "root",
			Answer: func(n int, m pamrun.Msg) (string, error) {
				sent := from.all()
				if n != 1 || len(sent) == 0 {
					return "", fmt.Errorf("prompt %d with %d SMS", n, len(sent))
				}
				code, ok := fakegw.ParseCode(sent[len(sent)-1].Text)
				if !ok {
					return "", fmt.Errorf("no code in %q", sent[len(sent)-1].Text)
				}
				return code, nil
			}})
		checkResult(t, res, nil)
	}
	twilioDown.Store(true)
	login(vonage)
	if len(twilio.all()) != 0 || len(vonage.all()) != 1 || vonage.all()[0].To != "491705550001" {
		t.Errorf("Twilio down: Twilio sent %d, Vonage %+v; want 0 and 1", len(twilio.all()), vonage.all())
	}
	twilioDown.Store(false)
	login(twilio)
	if len(twilio.all()) != 1 || len(vonage.all()) != 1 {
		t.Errorf("Twilio up: Twilio sent %d, Vonage %d; want 1 and still 1", len(twilio.all()), len(vonage.all()))
	}
}

// One login is one send for the limits, whichever gateway delivered and
// however many were tried: with per_user = 2 and [gateway] refusing, two
// logins get their code through the failover and the third is refused.
func TestFailoverCountsOneSend(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw2 := fakegw.Start(t)
	body := testenv.Config(t, nil, testenv.Options{URL: fakegw.ClosedURL(t), Numbers: map[string]string{"root": number},
		Extra: map[string]string{"gateway": failoverTable(gw2.URL, "5s")}})
	if !strings.Contains(body, "per_user = 1000\n") {
		t.Fatal("the test config has no per_user = 1000")
	}
	body = strings.Replace(body, "per_user = 1000\n", "per_user = 2\n", 1)
	conf := testenv.WriteConfig(t, t.TempDir(), body)
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
	for i, want := range []error{nil, nil, pam.ErrAuth} {
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: "192.0.2.63",
			Answer: answers{"<code>"}.answerer(gw2)})
		checkResult(t, res, want)
		if got := gw2.Count(); got != min(i+1, 2) {
			t.Errorf("login %d: the failover has %d SMS, want %d", i+1, got, min(i+1, 2))
		}
	}
}
