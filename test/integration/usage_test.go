package integration_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// usageLogin is one login of the known series.
type usageLogin struct {
	rhost   string
	reply   string // gateway answer "STATUS BODY"; "" = 200 "100 OK"
	answers answers
	wantErr error
}

// usageSeries with daily = 5: two codes sent (one typed right, one wrong
// three times), a gateway answering 500 (its send took the third daily slot),
// two more sent (the fourth reaches 80 %, the fifth 100 %), one refused.
// The rhosts are net+"51" to net+"56".
var usageSeries = []usageLogin{
	{"51", "", answers{"<code>"}, nil},
	{"52", "", answers{"1", "2", "3"}, pam.ErrAuth},
	{"53", "500 internal error", nil, pam.ErrAuthinfoUnavail},
	{"54", "", answers{"<code>"}, nil},
	{"55", "", answers{"<code>"}, nil},
	{"56", "", nil, pam.ErrAuth},
}

// runUsageSeries runs the series through the built module from client
// addresses in net and returns the config's path and the gateway.
func runUsageSeries(t *testing.T, net string) (string, *fakegw.Gateway) {
	t.Helper()
	build := testenv.BuildDir(t)
	gw := fakegw.Start(t)
	body := testenv.Config(t, gw, testenv.Options{Numbers: map[string]string{"root": number},
		Extra: map[string]string{"limits": "daily = 5"}})
	body = strings.Replace(body, "daily = 0\n", "", 1)
	body += "\n[cost]\ncurrency = \"EUR\"\ndefault = 0.08\n\"49\" = 0.075\n"
	conf := testenv.WriteConfig(t, t.TempDir(), body)
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
	for _, l := range usageSeries {
		if l.reply != "" {
			var status int
			var text string
			fmt.Sscanf(l.reply, "%d", &status)
			text = strings.SplitN(l.reply, " ", 2)[1]
			gw.SetResponse(status, text)
		} else {
			gw.SetResponse(200, "100 OK")
		}
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: net + l.rhost,
			Answer: l.answers.answerer(gw)})
		checkResult(t, res, l.wantErr)
	}
	if got := gw.Count(); got != 5 {
		t.Fatalf("gateway received %d requests, want 5", got)
	}
	return conf, gw
}

// cli runs the built pam-sms.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	dir := os.Getenv("PAM_SMS_BUILD")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), "build")
	}
	out, err := exec.Command(filepath.Join(dir, "pam-sms"), args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pam-sms %q: %v\n%s%s", args, err, out, ee.Stderr)
		}
		t.Fatalf("pam-sms %q: %v (run make build)", args, err)
	}
	return string(out)
}

// A known series of logins through the built module, then pam-sms stats:
// sent, failed and refused counted per gateway, the cost from [cost].
func TestUsageStats(t *testing.T) {
	testenv.RequireRoot(t)
	conf, gw := runUsageSeries(t, "192.0.2.")
	gwName := strings.TrimPrefix(strings.TrimSuffix(gw.URL, "/send"), "http://")

	var rep struct {
		Currency string
		Rows     []struct {
			Key          string
			Sent, Failed int
			RefusedLimit int `json:"refused_limit"`
			Cost         *float64
		}
		Total struct {
			Sent, Failed int
			RefusedLimit int `json:"refused_limit"`
			Cost         *float64
		}
		Corrupt int `json:"corrupt_lines"`
		Dropped int
	}
	out := cli(t, "stats", "--config", conf, "--by", "gateway", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if rep.Total.Sent != 4 || rep.Total.Failed != 1 || rep.Total.RefusedLimit != 1 || rep.Total.Cost == nil ||
		*rep.Total.Cost != 0.3 || rep.Currency != "EUR" || rep.Corrupt != 0 || rep.Dropped != 0 {
		t.Errorf("stats total: want 4 sent, 1 failed, 1 refused, 0.3 EUR:\n%s", out)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "-" || rep.Rows[0].RefusedLimit != 1 ||
		rep.Rows[1].Key != gwName || rep.Rows[1].Sent != 4 || rep.Rows[1].Failed != 1 {
		t.Errorf("stats --by gateway: want - (1 refused) and %s (4 sent, 1 failed):\n%s", gwName, out)
	}

	out = cli(t, "stats", "--config", conf, "--by", "country")
	if !regexp.MustCompile(`(?m)^\+49 +4 +1 +1 +0\.3$`).MatchString(out) {
		t.Errorf("stats --by country: want +49 with 4 1 1 0.3:\n%s", out)
	}
	if strings.Contains(out, "5550001") {
		t.Errorf("stats shows the number:\n%s", out)
	}

	prom := filepath.Join(t.TempDir(), "pam_sms.prom")
	cli(t, "stats", "--config", conf, "--prometheus", prom)
	data, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`pam_sms_sms_total{outcome="sent",gateway=%q} 4`, gwName),
		fmt.Sprintf(`pam_sms_sms_total{outcome="failed",gateway=%q} 1`, gwName),
		`pam_sms_sms_total{outcome="refused_limit",gateway=""} 1`,
		fmt.Sprintf(`pam_sms_cost_total{currency="EUR",gateway=%q} 0.3`, gwName),
	} {
		if !slices.Contains(strings.Split(string(data), "\n"), want) {
			t.Errorf("textfile lacks %s:\n%s", want, data)
		}
	}
}

// The daily quota warnings are logged once each, at the send that reaches
// 80 % and the one that takes the last slot; Debian's fail2ban-regex with the
// shipped filter finds the wrong-code and limit lines the helper wrote, per
// client address.
func TestQuotaWarningsAndFail2ban(t *testing.T) {
	testenv.RequireRoot(t)
	f2b, err := exec.LookPath("fail2ban-regex")
	if err != nil {
		t.Skip("fail2ban-regex is not installed (make deps installs fail2ban)")
	}
	sink := listenSyslog(t)
	// Addresses of this run only: a helper of another test process (the same
	// tests run by someone else) may log to the sink too.
	net := fmt.Sprintf("198.18.%d.", rand.IntN(256))
	runUsageSeries(t, net)

	for _, w := range []struct{ marker, want string }{
		{"daily SMS quota 80% used", "rhost=" + net + "54 "},
		{"daily SMS quota used up", "rhost=" + net + "55 "},
	} {
		var lines []string // the login's lines: the warning and its success
		for _, l := range sink.matching(t, w.want, 2) {
			if strings.Contains(l, w.marker) {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "daily=5") || !strings.HasPrefix(lines[0], "<84>") {
			t.Errorf("%q: lines %q, want one warning (<84>) with daily=5 and %s", w.marker, lines, w.want)
		}
	}

	// Once each over the whole series: no other login repeats them.
	for _, marker := range []string{"daily SMS quota 80% used", "daily SMS quota used up"} {
		n := 0
		for _, l := range sink.matching(t, "rhost="+net, 0) {
			if strings.Contains(l, marker) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%q logged %d times in the series, want once", marker, n)
		}
	}

	// The lines as rsyslog writes them to /var/log/auth.log: the datagram
	// without its priority, the host name after the time stamp.
	deny := sink.matching(t, "rhost="+net+"56 ", 1)
	if len(deny) != 1 {
		t.Fatalf("limit denial: %d lines", len(deny))
	}
	var log strings.Builder
	sink.mu.Lock()
	for _, l := range sink.lines {
		l = regexp.MustCompile(`^<\d+>`).ReplaceAllString(l, "")
		if len(l) < 16 || !strings.Contains(l, "rhost="+net) {
			continue
		}
		fmt.Fprintf(&log, "%s testhost %s\n", l[:15], strings.TrimRight(l[16:], "\n"))
	}
	sink.mu.Unlock()
	logFile := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(logFile, []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// fail2ban-regex resolves the filter's "before = common.conf" in its
	// config directory: the shipped filter beside Debian's common.conf.
	cfg := filepath.Join(t.TempDir(), "fail2ban")
	if err := os.MkdirAll(filepath.Join(cfg, "filter.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{
		"/etc/fail2ban/filter.d/common.conf":                                  "filter.d/common.conf",
		filepath.Join(testenv.RepoRoot(t), "packaging/fail2ban/pam-sms.conf"): "filter.d/pam-sms.conf",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(f2b, "--out", "ip", "--config", cfg, logFile, "pam-sms").CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	// One wrong-code denial (.52) and one limit denial (.56); the success,
	// gateway and quota lines do not count.
	got := strings.Fields(string(out))
	if want := []string{net + "52", net + "56"}; !slices.Equal(got, want) {
		t.Errorf("fail2ban-regex found %q, want %q; log:\n%s", got, want, log.String())
	}
}

// A usage record that cannot be written (here a directory where the day's
// file belongs) is bookkeeping lost, not a reason to deny: the login passes
// and the helper logs a warning.
func TestUsageRecordFailureDoesNotDeny(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw := fakegw.Start(t)
	body := testenv.Config(t, gw, testenv.Options{Numbers: map[string]string{"root": number}})
	m := regexp.MustCompile(`(?m)^state_dir = "(.*)"$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no state_dir in the test config")
	}
	day := "usage-" + time.Now().UTC().Format("20060102")
	if err := os.Mkdir(filepath.Join(m[1], day), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := testenv.WriteConfig(t, t.TempDir(), body)
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: "192.0.2.61",
		Answer: answers{"<code>"}.answerer(gw)})
	checkResult(t, res, nil)
	if gw.Count() != 1 {
		t.Errorf("gateway received %d requests, want 1", gw.Count())
	}
}
