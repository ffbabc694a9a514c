package smsclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawRequest is what a raw gateway received: headers and body as sent.
type rawRequest struct {
	Header http.Header
	Query  string
	Body   string
}

// rawGateway records headers and bodies and answers status, body.
func rawGateway(t *testing.T, status int, body string) (string, func() []rawRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []rawRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, rawRequest{Header: r.Header.Clone(), Query: r.URL.RawQuery, Body: string(b)})
		mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/send", func() []rawRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]rawRequest(nil), reqs...)
	}
}

// Headers from the config and from files, Basic credentials instead of the
// id and password fields, and a JSON body reach the gateway as configured.
func TestSendReach(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Config)
		wantBody string
		wantType string
		wantHdr  map[string]string
	}{
		{"form, headers", func(c *Config) {
			c.Headers = map[string]string{"X-Tenant": "acme"}
			c.SecretHeaders = map[string]string{"X-Api-Key": "k-123456789"}
		}, "id=gw-id&pw=s3cr3t+Pa55%2B%26%2F&to=004917234567890&text=Your+login+code+for+host1%3A+482913",
			formType, map[string]string{"X-Tenant": "acme", "X-Api-Key": "k-123456789"}},
		{"basic auth: no id or password field", func(c *Config) { c.Auth = AuthBasic },
			"to=004917234567890&text=Your+login+code+for+host1%3A+482913", formType,
			map[string]string{"Authorization": "Basic " + basicToken("gw-id", testPassword)}},
		{"json, extra members stay strings", func(c *Config) {
			c.Body, c.Extra, c.Sender = BodyJSON, map[string]string{"route": "gold", "flash": "0"}, "pitcom"
		}, `{"id":"gw-id","pw":"s3cr3t Pa55+&/","to":"004917234567890","text":"Your login code for host1: 482913","origin":"pitcom","flash":"0","route":"gold"}`,
			jsonType, nil},
		{"json with basic auth", func(c *Config) { c.Body, c.Auth = BodyJSON, AuthBasic },
			`{"to":"004917234567890","text":"Your login code for host1: 482913"}`, jsonType,
			map[string]string{"Authorization": "Basic " + basicToken("gw-id", testPassword)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, reqs := rawGateway(t, 200, "OK")
			cfg := testConfig(u)
			tt.edit(&cfg)
			res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText)
			if res.Class != Sent {
				t.Fatalf("class %v, err %v", res.Class, res.Err)
			}
			r := reqs()[0]
			if diff := cmp.Diff(tt.wantBody, r.Body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := r.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			for k, v := range tt.wantHdr {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tt.wantType == jsonType && !json.Valid([]byte(r.Body)) {
				t.Errorf("body is not JSON: %s", r.Body)
			}
		})
	}
}

// The message id is the first capture group, only for a sent message, and
// cannot carry a secret, a control character or more than 64 bytes.
func TestSendMessageID(t *testing.T) {
	tests := []struct {
		reply, pattern, want string
	}{
		{`{"sid": "SM1234", "status": "queued"}`, `"sid": *"([^"]+)"`, "SM1234"},
		{"100\nid=777", `id=([0-9]+)`, "777"},
		{"100 no id here", `id=([0-9]+)`, ""},
		{"100 id=" + strings.Repeat("x", 100), `id=(x+)`, strings.Repeat("x", 64)},
		{"100 id=a\x01b", `id=(a.b)`, "a?b"},
		{"100 id=" + testCode, `id=([0-9]+)`, "********"},
	}
	for _, tt := range tests {
		u, _ := rawGateway(t, 200, tt.reply)
		cfg := testConfig(u)
		cfg.MessageID = regexp.MustCompile(tt.pattern)
		cfg.Success = regexp.MustCompile(`^(100|\{)`)
		res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText)
		if res.Class != Sent || res.MessageID != tt.want {
			t.Errorf("reply %q: class %v, id %q, want sent, %q", tt.reply, res.Class, res.MessageID, tt.want)
		}
	}
	u, _ := rawGateway(t, 500, `{"sid": "SM1"}`)
	cfg := testConfig(u)
	cfg.MessageID = regexp.MustCompile(`"sid": *"([^"]+)"`)
	if res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText); res.MessageID != "" {
		t.Errorf("failed send has message id %q", res.MessageID)
	}
}

// Secret header values, the Basic token and the proxy password never show in
// a described request, a reply or an error.
func TestReachNoSecrets(t *testing.T) {
	const key, proxyPW = "tok-SECRET-987", "proxy-PW-555"
	u, _ := rawGateway(t, 500, "echo "+key+" "+basicToken("gw-id", testPassword)+" "+testPassword)
	cfg := testConfig(u)
	cfg.Auth = AuthBasic
	cfg.SecretHeaders = map[string]string{"X-Token": key}
	cfg.Proxy, cfg.ProxyPassword = "http://squid@127.0.0.1:1", proxyPW
	c := mustNew(t, cfg)
	res := c.Send(context.Background(), testNumber(t), testText)
	desc := c.DescribeRequest(testNumber(t), testText)
	all := desc + res.Body + errString(res.Err)
	for _, s := range []string{key, proxyPW, testPassword, basicToken("gw-id", testPassword)} {
		if strings.Contains(all, s) {
			t.Errorf("secret %q shown:\n%s", s, all)
		}
	}
	if !strings.Contains(desc, "X-Token: ********") || !strings.Contains(desc, "Authorization: Basic ********") {
		t.Errorf("described request lacks the masked headers:\n%s", desc)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCheckReach(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = accepted
	}{
		{"proxy", func(c *Config) { c.Proxy = "http://proxy.example:3128" }, ""},
		{"proxy with user", func(c *Config) { c.Proxy, c.ProxyPassword = "http://u@proxy.example:3128", "p" }, ""},
		{"proxy user without password", func(c *Config) { c.Proxy = "http://u@proxy.example:3128" }, "no proxy password"},
		{"proxy password without user", func(c *Config) { c.Proxy, c.ProxyPassword = "http://proxy.example:3128", "p" }, "no user"},
		{"proxy password without proxy", func(c *Config) { c.ProxyPassword = "p" }, "no proxy"},
		{"proxy password in URL", func(c *Config) { c.Proxy = "http://u:p@proxy.example:3128" }, "must not hold a password"},
		{"proxy https scheme", func(c *Config) { c.Proxy = "https://proxy.example:3128" }, "scheme must be http"},
		{"proxy without port", func(c *Config) { c.Proxy = "http://proxy.example" }, "needs a port"},
		{"proxy with path", func(c *Config) { c.Proxy = "http://proxy.example:3128/x" }, "no path"},
		{"http gateway through a remote proxy", func(c *Config) {
			c.URL, c.Proxy = "http://127.0.0.1:8080/send", "http://proxy.example:3128"
		}, "in clear"},
		{"http gateway through a local proxy", func(c *Config) {
			c.URL, c.Proxy = "http://127.0.0.1:8080/send", "http://127.0.0.1:3128"
		}, ""},
		{"auth unknown", func(c *Config) { c.Auth = "digest" }, `must be "basic"`},
		{"basic without id", func(c *Config) { c.Auth, c.ID = AuthBasic, "" }, "needs id"},
		{"basic id with colon", func(c *Config) { c.Auth, c.ID = AuthBasic, "a:b" }, "colon"},
		{"json with GET", func(c *Config) { c.Body, c.Method = BodyJSON, http.MethodGet }, `needs method "POST"`},
		{"body unknown", func(c *Config) { c.Body = "xml" }, `"form" or "json"`},
		{"message_id without group", func(c *Config) { c.MessageID = regexp.MustCompile(`SM[0-9]+`) }, "capture group"},
		{"header bad name", func(c *Config) { c.Headers = map[string]string{"X Key": "v"} }, "not a valid header name"},
		{"header reserved", func(c *Config) { c.Headers = map[string]string{"content-length": "1"} }, "set by pam_sms"},
		{"header newline", func(c *Config) { c.SecretHeaders = map[string]string{"X-Key": "a\r\nX-Evil: 1"} }, "control character"},
		{"header empty", func(c *Config) { c.Headers = map[string]string{"X-Key": ""} }, "empty"},
		{"authorization with basic", func(c *Config) {
			c.Auth, c.Headers = AuthBasic, map[string]string{"Authorization": "Bearer x"}
		}, "sets it already"},
		{"authorization token header", func(c *Config) {
			c.SecretHeaders = map[string]string{"Authorization": "Bearer x"}
		}, ""},
		{"header twice", func(c *Config) {
			c.Headers, c.SecretHeaders = map[string]string{"x-key": "a"}, map[string]string{"X-Key": "b"}
		}, "set twice"},
	}
	for _, tt := range tests {
		cfg := testConfig("https://gateway.example/send")
		tt.edit(&cfg)
		err := Check(cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "a\r\nX-Evil"):
			t.Errorf("%s: error repeats the header value", tt.name)
		}
	}
}

// Probe connects and verifies as Send would, and sends no request.
func TestProbe(t *testing.T) {
	g := newGateway(t, true, answer(200, "OK"))
	cfg := testConfig(g.srv.URL + "/send")
	cfg.CAFile = writeCAFile(t, g.srv.Certificate())
	if err := mustNew(t, cfg).Probe(context.Background()); err != nil {
		t.Errorf("probe with ca_file: %v", err)
	}
	cfg.CAFile = ""
	if err := mustNew(t, cfg).Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("probe of an untrusted gateway: %v, want a certificate error", err)
	}
	plain := newGateway(t, false, answer(200, "OK"))
	if err := mustNew(t, testConfig(plain.srv.URL+"/send")).Probe(context.Background()); err != nil {
		t.Errorf("probe of an http gateway: %v", err)
	}
	if err := mustNew(t, testConfig("http://"+closedAddr(t)+"/send")).Probe(context.Background()); err == nil {
		t.Error("probe of a closed port succeeded")
	}
	if n := len(g.requests()) + len(plain.requests()); n != 0 {
		t.Errorf("probe sent %d requests", n)
	}
}
