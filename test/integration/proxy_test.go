package integration_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/smsclient"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/fakeproxy"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// gatewayName resolves only inside fakeproxy: the client reaches a gateway
// of that name through the configured proxy or not at all.
const gatewayName = "gateway.test"

const proxyUser, proxyPassword = "squid", "pr0xy-Pa55"

func startFakeProxy(t *testing.T) *fakeproxy.Proxy {
	t.Helper()
	return fakeproxy.Start(t, map[string]string{gatewayName: "127.0.0.1"})
}

// envProxies sets every proxy variable Go or curl would read to a second
// proxy; it must see nothing.
func envProxies(t *testing.T) *fakeproxy.Proxy {
	t.Helper()
	p := startFakeProxy(t)
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"} {
		t.Setenv(v, p.URL)
	}
	t.Setenv("NO_PROXY", "")
	return p
}

func proxyClientConfig(gwURL, caFile, proxy string) smsclient.Config {
	return smsclient.Config{
		URL: gwURL, Method: http.MethodPost, ID: "test-id", Password: "test-secret",
		Timeout: 3 * time.Second, Success: regexp.MustCompile(`^100`), CAFile: caFile,
		NumberFormat: smsclient.FormatDoubleZero, Proxy: proxy,
		Fields: smsclient.Fields{ID: "id", Password: "pw", Number: "to", Text: "text", Sender: "origin"},
	}
}

func sendVia(t *testing.T, cfg smsclient.Config) smsclient.Result {
	t.Helper()
	c, err := smsclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := smsclient.ParseNumber(number)
	if err != nil {
		t.Fatal(err)
	}
	return c.Send(context.Background(), n, "TESTCODE 123456 host")
}

// An https gateway is reached through the configured proxy with CONNECT and
// Basic proxy credentials, verified against ca_file by its name; a proxy in
// the environment sees nothing; without the proxy the name does not resolve;
// a proxy that is down or refuses the credentials is "unreachable".
func TestProxyConnect(t *testing.T) {
	gw := fakegw.StartTLSNamed(t, gatewayName)
	proxy := startFakeProxy(t)
	proxy.RequireAuth(proxyUser, proxyPassword)
	env := envProxies(t)
	cfg := proxyClientConfig(gw.URL, gw.CAFile, "http://"+proxyUser+"@"+proxy.Addr)
	cfg.ProxyPassword = proxyPassword

	if res := sendVia(t, cfg); res.Class != smsclient.Sent {
		t.Fatalf("through the proxy: %v %v", res.Class, res.Err)
	}
	reqs := proxy.Requests()
	if len(reqs) != 1 || reqs[0].Method != "CONNECT" || reqs[0].Target != gw.URL[len("https://"):len(gw.URL)-len("/send")] ||
		reqs[0].User != proxyUser || reqs[0].Password != proxyPassword || reqs[0].Status != 200 {
		t.Errorf("proxy log %+v, want one CONNECT %s with the credentials", reqs, gw.URL)
	}
	if m := gw.Wait(t, 1); m.To != numberWire || m.Form.Get("pw") != "test-secret" {
		t.Errorf("gateway got %v", m.Form)
	}

	wrong := cfg
	wrong.ProxyPassword = "wrong"
	if res := sendVia(t, wrong); res.Class != smsclient.Unreachable {
		t.Errorf("wrong proxy password: %v, want unreachable", res.Class)
	}
	direct := cfg
	direct.Proxy, direct.ProxyPassword = "", ""
	if res := sendVia(t, direct); res.Class != smsclient.Unreachable {
		t.Errorf("without the proxy: %v, want unreachable (only the proxy resolves %s)", res.Class, gatewayName)
	}
	proxy.Close()
	if res := sendVia(t, cfg); res.Class != smsclient.Unreachable {
		t.Errorf("proxy down: %v, want unreachable", res.Class)
	}
	if n := gw.Count(); n != 1 {
		t.Errorf("gateway got %d requests, want 1", n)
	}
	if r := env.Requests(); len(r) != 0 {
		t.Errorf("the environment's proxy was used: %+v", r)
	}
}

// An http:// gateway (loopback only) goes through a loopback proxy as an
// absolute-URI request.
func TestProxyAbsoluteURI(t *testing.T) {
	gw := fakegw.Start(t)
	proxy := startFakeProxy(t)
	proxy.RequireAuth(proxyUser, proxyPassword)
	env := envProxies(t)
	cfg := proxyClientConfig(gw.URL, "", "http://"+proxyUser+"@"+proxy.Addr)
	cfg.ProxyPassword = proxyPassword
	if res := sendVia(t, cfg); res.Class != smsclient.Sent {
		t.Fatalf("through the proxy: %v %v", res.Class, res.Err)
	}
	reqs := proxy.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Target != gw.URL || reqs[0].User != proxyUser {
		t.Errorf("proxy log %+v, want one POST %s", reqs, gw.URL)
	}
	if gw.Count() != 1 || len(env.Requests()) != 0 {
		t.Errorf("gateway got %d, environment proxy %d requests; want 1, 0", gw.Count(), len(env.Requests()))
	}
}

// A whole login through the module, the helper reaching the gateway only
// through the proxy of the config (proxy_password_file), with a proxy in
// the environment of the PAM application; with the proxy down, fail_mode
// decides.
func TestProxyLogin(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	gw := fakegw.StartTLSNamed(t, gatewayName)
	proxy := startFakeProxy(t)
	proxy.RequireAuth(proxyUser, proxyPassword)
	env := envProxies(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "proxy.secret")
	if err := os.WriteFile(pwFile, []byte(proxyPassword+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	login := func(t *testing.T, failMode string, answer answers) pamrun.Result {
		extra := "proxy = \"http://" + proxyUser + "@" + proxy.Addr + "\"\nproxy_password_file = \"" + pwFile + "\"\n"
		conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
			FailMode: failMode, Numbers: map[string]string{"root": number}, Extra: map[string]string{"gateway": extra}}))
		svc := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
		return pamrun.Run(t, pamrun.Tx{ConfDir: svc, Service: testenv.ServiceName, User: "root", Answer: answer.answerer(gw)})
	}

	res := login(t, "secure", answers{"<code>"})
	checkResult(t, res, nil)
	if reqs := proxy.Requests(); len(reqs) != 1 || reqs[0].Method != "CONNECT" || reqs[0].User != proxyUser {
		t.Errorf("proxy log %+v, want one CONNECT with the proxy user", reqs)
	}
	checkMessage(t, gw.Wait(t, 1))

	proxy.Close()
	t.Run("proxy down, secure", func(t *testing.T) {
		checkResult(t, login(t, "secure", nil), pam.ErrAuthinfoUnavail)
	})
	t.Run("proxy down, safe", func(t *testing.T) {
		// PAM_IGNORE alone in the stack: libpam answers PERM_DENIED.
		checkResult(t, login(t, "safe", nil), pam.ErrPermDenied)
	})
	if n := gw.Count(); n != 1 {
		t.Errorf("gateway got %d requests, want 1", n)
	}
	if r := env.Requests(); len(r) != 0 {
		t.Errorf("the environment's proxy was used: %+v", r)
	}
}

// Probe (for pam-sms doctor) reaches the gateway as Send does: through the
// configured proxy with its credentials, verifying the certificate by name,
// and sends no request; a refused proxy or a wrong password is an error
// that repeats no credential.
func TestProxyProbe(t *testing.T) {
	gw := fakegw.StartTLSNamed(t, gatewayName)
	proxy := startFakeProxy(t)
	proxy.RequireAuth(proxyUser, proxyPassword)
	env := envProxies(t)
	cfg := proxyClientConfig(gw.URL, gw.CAFile, "http://"+proxyUser+"@"+proxy.Addr)
	cfg.ProxyPassword = proxyPassword
	probe := func(cfg smsclient.Config) error {
		c, err := smsclient.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c.Probe(context.Background())
	}
	if err := probe(cfg); err != nil {
		t.Fatalf("probe through the proxy: %v", err)
	}
	if reqs := proxy.Requests(); len(reqs) != 1 || reqs[0].Method != "CONNECT" || reqs[0].Password != proxyPassword {
		t.Errorf("proxy log %+v, want one CONNECT with the credentials", reqs)
	}
	wrong := cfg
	wrong.ProxyPassword = "wrong-pw-123"
	if err := probe(wrong); err == nil || strings.Contains(err.Error(), "wrong-pw-123") {
		t.Errorf("wrong proxy password: %v, want an error without the password", err)
	}
	untrusted := cfg
	untrusted.CAFile = ""
	if err := probe(untrusted); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, want a certificate error", err)
	}
	direct := cfg
	direct.Proxy, direct.ProxyPassword = "", ""
	if err := probe(direct); err == nil {
		t.Errorf("without the proxy %s was reached", gatewayName)
	}
	proxy.Close()
	if err := probe(cfg); err == nil {
		t.Error("probe through a closed proxy succeeded")
	}
	if gw.Count() != 0 || len(env.Requests()) != 0 {
		t.Errorf("gateway got %d requests, environment proxy %d; want none", gw.Count(), len(env.Requests()))
	}
}
