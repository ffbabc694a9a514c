package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/smsclient"
)

func TestMaskSecrets(t *testing.T) {
	tests := []struct {
		name, in, pwField string
		want              string
		hidden            []string // must not appear in the result nor survive the replacer
	}{
		{"query credentials", "GET https://gw.example/send?user=acme&key=K3y-0001&api_token=T0k%2Bn-02&to=0049&text=hi", "pw",
			"GET https://gw.example/send?user=acme&key=********&api_token=********&to=0049&text=hi",
			[]string{"K3y-0001", "T0k%2Bn-02", "T0k+n-02"}},
		{"names by kind, any case", "GET https://gw.example/s?Password=p4ssw0rd&SECRET=s3cr3t99&Authorization=b34r3r00&sig=abcd1234&pwd=zzzz9999", "pw",
			"GET https://gw.example/s?Password=********&SECRET=********&Authorization=********&sig=********&pwd=********",
			[]string{"p4ssw0rd", "s3cr3t99", "b34r3r00", "abcd1234", "zzzz9999"}},
		{"configured password field", "GET https://gw.example/s?kennwort=geheim-77&to=1", "kennwort",
			"GET https://gw.example/s?kennwort=********&to=1", []string{"geheim-77"}},
		{"fragment kept", "GET https://gw.example/s?token=abcdefgh#frag", "pw",
			"GET https://gw.example/s?token=********#frag", []string{"abcdefgh"}},
		{"POST body and URL", "POST https://gw.example/send?apikey=AK-123456\nContent-Type: application/x-www-form-urlencoded\n\nid=acme&pw=********&to=0049&token=tok-7890",
			"pw", "POST https://gw.example/send?apikey=********\nContent-Type: application/x-www-form-urlencoded\n\nid=acme&pw=********&to=0049&token=********",
			[]string{"AK-123456", "tok-7890"}},
		{"nothing secret", "GET https://gw.example/send?id=acme&to=0049&text=a%3Db", "pw",
			"GET https://gw.example/send?id=acme&to=0049&text=a%3Db", nil},
		{"no query", "POST https://gw.example/send\nContent-Type: x\n\nid=a", "pw", "POST https://gw.example/send\nContent-Type: x\n\nid=a", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, r := maskSecrets(tt.in, tt.pwField)
			if got != tt.want {
				t.Errorf("maskSecrets =\n%s\nwant\n%s", got, tt.want)
			}
			for _, h := range tt.hidden {
				if echo := r.Replace("reply " + h + " end"); strings.Contains(got, h) || strings.Contains(echo, h) {
					t.Errorf("%q survives: %q / %q", h, got, echo)
				}
			}
		})
	}
	// A short value is masked in its field but not hunted elsewhere.
	if got, r := maskSecrets("GET https://gw.example/s?key=1", "pw"); got != "GET https://gw.example/s?key=********" || r.Replace("100 OK 1") != "100 OK 1" {
		t.Errorf("short key: %q, %q", got, r.Replace("100 OK 1"))
	}
}

func TestRecipient(t *testing.T) {
	cfg, err := conf.Parse("t.conf", []byte("[gateway]\nurl = \"https://gw.example/send\"\n[numbers]\nalice = \"+49 172 34567890\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg, want string // want: the number as +digits, or a part of the error
		ok        bool
	}{
		{"alice", "+4917234567890", true},
		{"+49 172 34567890", "+4917234567890", true},
		{"0049 172 34567890", "+4917234567890", true},
		{"4917234567890", "+4917234567890", true},
		{"49 172 34567890", "+4917234567890", true},
		{"0151 99887766", "national format", false},
		{"bob", "bob has no number in [numbers] (config t.conf", false},
		{"12", "", false}, // too short: ParseNumber's own message
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			n, err := recipient(cfg, tt.arg)
			if tt.ok {
				if err != nil || n.Format(smsclient.FormatPlus) != tt.want {
					t.Fatalf("recipient = %s, %v; want %s", n.Masked(), err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("recipient error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "99887766") {
				t.Errorf("error %q repeats the number", err)
			}
		})
	}
}

func TestUnmatched(t *testing.T) {
	cfg := &conf.Config{}
	cfg.Gateway.Success = regexp.MustCompile(`^(OK|100)\b`)
	tests := []struct {
		res  smsclient.Result
		want string
	}{
		{smsclient.Result{Class: smsclient.Sent, Status: 200}, ""},
		{smsclient.Result{Class: smsclient.Unreachable}, ""},
		{smsclient.Result{Class: smsclient.Failed, Status: 500}, "HTTP status 500 is not 2xx"},
		{smsclient.Result{Class: smsclient.RateLimited, Status: 429}, "HTTP status 429 is not 2xx"},
		{smsclient.Result{Class: smsclient.RateLimited, Status: 200}, ""},
		{smsclient.Result{Class: smsclient.Failed, Status: 200}, `the reply does not match gateway.success ^(OK|100)\b`},
	}
	for _, tt := range tests {
		if got := unmatched(cfg.Gateway, "gateway", tt.res); got != tt.want {
			t.Errorf("unmatched(%+v) = %q, want %q", tt.res, got, tt.want)
		}
	}
}

// send-test with credentials in the URL's query: they are sent, and shown
// nowhere, not even when the gateway echoes them; a reply that does not match
// success names the pattern.
func TestSendTestQuerySecrets(t *testing.T) {
	requireRoot(t)
	const apiKey, token = "AK-5ecret-9911", "T0ken/77+x"
	gw := startGateway(t, "ERROR 401 unknown key "+apiKey+" "+token, false)
	path, _ := writeConfig(t, configOpts{url: gw.url() + "?user=acme&key=" + apiKey + "&auth_token=" + strings.NewReplacer("/", "%2F", "+", "%2B").Replace(token)})
	for _, args := range [][]string{{"root"}, {"--json", "00" + testDigits}, {testDigits}} {
		r := run(t, append([]string{"send-test", "--config", path}, args...)...)
		form := gw.next(t)
		if form.Get("key") != apiKey || form.Get("auth_token") != token || form.Get("to") != "00"+testDigits {
			t.Errorf("%v: the gateway got key=%q auth_token=%q: the real values must be sent", args, form.Get("key"), form.Get("auth_token"))
		}
		if r.code != exitFailed {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, r.code, exitFailed, r.stdout, r.stderr)
		}
		out := r.stdout + r.stderr
		for _, s := range []string{apiKey, token, "T0ken%2F77%2Bx"} {
			if strings.Contains(out, s) {
				t.Errorf("%v: output shows the secret %q:\n%s", args, s, out)
			}
		}
		assertNoSecrets(t, out)
		if args[0] == "--json" {
			var rep sendReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rep.Request, "?user=acme&key=********&auth_token=********") ||
				rep.Unmatched != `the reply does not match gateway.success ^(OK|100)\b` || rep.Class != "failed" {
				t.Errorf("json report %+v", rep)
			}
			continue
		}
		for _, want := range []string{"user=acme&key=********&auth_token=********", "reply:    \"ERROR 401 unknown key ******** ********\"",
			"class:    failed", `why:      the reply does not match gateway.success ^(OK|100)\b`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
}

func TestSendTestNationalNumber(t *testing.T) {
	requireRoot(t)
	gw := startGateway(t, "100 OK", false)
	path, _ := writeConfig(t, configOpts{url: gw.url()})
	r := run(t, "send-test", "--config", path, "0151 99887766")
	if r.code != exitProblem || !strings.Contains(r.stderr, "national format") || strings.Contains(r.stderr, "99887766") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if gw.count() != 0 {
		t.Errorf("the gateway got %d requests", gw.count())
	}
}
