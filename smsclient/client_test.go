package smsclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testPassword = "s3cr3t Pa55+&/"
	testText     = "Your login code for host1: 482913"
	testCode     = "482913"
)

// request is what the fake gateway received.
type request struct {
	Method      string
	ContentType string
	Query       url.Values
	Form        url.Values // parsed body
	Remote      string
}

// gateway is a fake SMS gateway on loopback that records every request.
type gateway struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newGateway(t *testing.T, useTLS bool, answer http.HandlerFunc) *gateway {
	t.Helper()
	g := &gateway{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.reqs = append(g.reqs, request{
			Method:      r.Method,
			ContentType: r.Header.Get("Content-Type"),
			Query:       r.URL.Query(),
			Form:        form,
			Remote:      r.RemoteAddr,
		})
		g.mu.Unlock()
		answer(w, r)
	})
	g.srv = httptest.NewUnstartedServer(handler)
	g.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS and hijack noise
	if useTLS {
		g.srv.StartTLS()
	} else {
		g.srv.Start()
	}
	t.Cleanup(g.srv.Close)
	return g
}

// slowGateway never answers; its handlers are released when the test ends,
// before the server is closed.
func slowGateway(t *testing.T) *gateway {
	t.Helper()
	release := make(chan struct{})
	g := newGateway(t, false, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(30 * time.Second):
		}
	})
	t.Cleanup(func() { close(release) }) // cleanups run last first: before g.srv.Close
	return g
}

func (g *gateway) requests() []request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]request(nil), g.reqs...)
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func testConfig(rawURL string) Config {
	return Config{
		URL:          rawURL,
		Method:       http.MethodPost,
		ID:           "gw-id",
		Password:     testPassword,
		Timeout:      5 * time.Second,
		Success:      regexp.MustCompile(`^(OK|100)\b`),
		NumberFormat: FormatDoubleZero,
		Fields:       Fields{ID: "id", Password: "pw", Number: "to", Text: "text", Sender: "origin"},
	}
}

func testNumber(t *testing.T) Number {
	t.Helper()
	n, err := ParseNumber("+49 172 34567890")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestSendClasses(t *testing.T) {
	tests := []struct {
		name        string
		answer      http.HandlerFunc
		rateLimited string
		want        Class
		status      int
		body        string
	}{
		{"200 OK", answer(200, "OK\n"), "", Sent, 200, "OK"},
		{"200 100 queued", answer(200, "100 queued\nid=77"), "", Sent, 200, "100 queued"},
		{"201 OK", answer(201, "OK"), "", Sent, 201, "OK"},
		{"200 ERROR 20", answer(200, "ERROR 20"), "", Failed, 200, "ERROR 20"},
		{"200 empty", answer(200, ""), "", Failed, 200, ""},
		{"200 OKAY is no OK", answer(200, "OKAY"), "", Failed, 200, "OKAY"},
		{"500 with OK body", answer(500, "OK"), "", Failed, 500, "OK"},
		{"500", answer(500, "internal error"), "", Failed, 500, "internal error"},
		{"503", answer(503, "maintenance"), "", Failed, 503, "maintenance"},
		{"429", answer(429, "slow down"), "", RateLimited, 429, "slow down"},
		{"429 with OK body", answer(429, "OK"), "", RateLimited, 429, "OK"},
		{"302 redirect", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
			io.WriteString(w, "OK moved")
		}, "", Failed, 302, "OK moved"},
		{"200 rate_limited body", answer(200, "ERROR 403 daily limit reached"), `limit`, RateLimited, 200, "ERROR 403 daily limit reached"},
		{"200 OK and rate_limited body", answer(200, "OK 100 but quota exceeded"), `quota`, RateLimited, 200, "OK 100 but quota exceeded"},
		{"403 rate_limited body", answer(403, "IP blocked"), `blocked`, RateLimited, 403, "IP blocked"},
		{"200 OK, rate_limited not matching", answer(200, "OK"), `limit`, Sent, 200, "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, false, tt.answer)
			cfg := testConfig(g.srv.URL + "/send")
			if tt.rateLimited != "" {
				cfg.RateLimited = regexp.MustCompile(tt.rateLimited)
			}
			res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText)
			if res.Class != tt.want || res.Status != tt.status || res.Body != tt.body || res.Err != nil {
				t.Errorf("Send = %+v, want class %v, status %d, body %q, no error", res, tt.want, tt.status, tt.body)
			}
			// Any answer ends the send: no retry, no redirect followed.
			if n := len(g.requests()); n != 1 {
				t.Errorf("gateway got %d requests, want 1", n)
			}
		})
	}
}

// TestSendTimeout: a gateway that does not answer is Unreachable once the
// timeout is over, and a request that may have arrived is not repeated.
func TestSendTimeout(t *testing.T) {
	g := slowGateway(t)
	cfg := testConfig(g.srv.URL)
	cfg.Timeout = 300 * time.Millisecond
	res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText)
	if res.Class != Unreachable || res.Status != 0 || !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("Send = %+v, want Unreachable with context.DeadlineExceeded", res)
	}
	want := "smsclient: POST " + g.srv.URL + ": no answer within 300ms"
	if res.Err.Error() != want {
		t.Errorf("error = %q, want %q", res.Err, want)
	}
	if n := len(g.requests()); n != 1 {
		t.Errorf("gateway got %d requests, want 1", n)
	}
}

func TestSendContextCanceled(t *testing.T) {
	g := newGateway(t, false, answer(200, "OK"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := mustNew(t, testConfig(g.srv.URL)).Send(ctx, testNumber(t), testText)
	if res.Class != Unreachable || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("Send = %+v, want Unreachable with context.Canceled", res)
	}
}

// countingDialer counts connection attempts; route picks the address of each.
type countingDialer struct {
	mu    sync.Mutex
	n     int
	route func(attempt int, addr string) string
}

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.n++
	n := d.n
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.route(n, addr))
}

func (d *countingDialer) attempts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSendRefused(t *testing.T) {
	addr := closedAddr(t)
	d := &countingDialer{route: func(_ int, a string) string { return a }}
	c, err := newClient(testConfig("http://"+addr+"/send"), d.dial)
	if err != nil {
		t.Fatal(err)
	}
	res := c.Send(context.Background(), testNumber(t), testText)
	if res.Class != Unreachable || !errors.Is(res.Err, syscall.ECONNREFUSED) {
		t.Fatalf("Send = %+v, want Unreachable with ECONNREFUSED", res)
	}
	want := "smsclient: POST http://" + addr + "/send: dial tcp " + addr + ": connect: connection refused"
	if res.Err.Error() != want {
		t.Errorf("error = %q, want %q", res.Err, want)
	}
	if got := d.attempts(); got != 1+refusedRetries {
		t.Errorf("%d connection attempts, want %d", got, 1+refusedRetries)
	}
}

// TestSendRefusedThenUp: a refused connection is retried and the retry
// reaches the gateway once.
func TestSendRefusedThenUp(t *testing.T) {
	g := newGateway(t, false, answer(200, "OK"))
	down := closedAddr(t)
	d := &countingDialer{route: func(n int, a string) string {
		if n == 1 {
			return down
		}
		return a
	}}
	c, err := newClient(testConfig(g.srv.URL), d.dial)
	if err != nil {
		t.Fatal(err)
	}
	res := c.Send(context.Background(), testNumber(t), testText)
	if res.Class != Sent {
		t.Fatalf("Send = %+v, want Sent", res)
	}
	if got := d.attempts(); got != 2 {
		t.Errorf("%d connection attempts, want 2", got)
	}
	if n := len(g.requests()); n != 1 {
		t.Errorf("gateway got %d requests, want 1", n)
	}
}

// TestSendRefusedWithinTimeout: no retry is started that the timeout
// would cut short (the first backoff is longer than the whole timeout).
func TestSendRefusedWithinTimeout(t *testing.T) {
	d := &countingDialer{route: func(_ int, a string) string { return a }}
	cfg := testConfig("http://" + closedAddr(t))
	cfg.Timeout = refusedBackoff / 2
	c, err := newClient(cfg, d.dial)
	if err != nil {
		t.Fatal(err)
	}
	if res := c.Send(context.Background(), testNumber(t), testText); res.Class != Unreachable {
		t.Fatalf("Send = %+v, want Unreachable", res)
	}
	if got := d.attempts(); got != 1 {
		t.Errorf("%d connection attempts, want 1", got)
	}
}

// TestSendNoRetryAfterWrite: when the gateway drops the connection after it
// read the request, the request is not sent again, by us or by net/http's
// own replay of idempotent requests on reused connections.
func TestSendNoRetryAfterWrite(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			var seen atomic.Int32
			g := newGateway(t, false, func(w http.ResponseWriter, r *http.Request) {
				if seen.Add(1) == 1 {
					io.WriteString(w, "OK")
					return
				}
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				conn.Close()
			})
			cfg := testConfig(g.srv.URL)
			cfg.Method = method
			c := mustNew(t, cfg)
			if res := c.Send(context.Background(), testNumber(t), testText); res.Class != Sent {
				t.Fatalf("first Send = %+v, want Sent", res)
			}
			if res := c.Send(context.Background(), testNumber(t), testText); res.Class != Unreachable || res.Err == nil {
				t.Fatalf("second Send = %+v, want Unreachable", res)
			}
			reqs := g.requests()
			if len(reqs) != 2 {
				t.Fatalf("gateway got %d requests, want 2", len(reqs))
			}
			// POST keeps the connection alive; GET never reuses one (see newRequest).
			if reused := reqs[0].Remote == reqs[1].Remote; reused != (method == http.MethodPost) {
				t.Errorf("connection reused = %v for %s", reused, method)
			}
		})
	}
}

func TestSendTLSUntrusted(t *testing.T) {
	g := newGateway(t, true, answer(200, "OK"))
	res := mustNew(t, testConfig(g.srv.URL)).Send(context.Background(), testNumber(t), testText)
	var unknown x509.UnknownAuthorityError
	if res.Class != Unreachable || !errors.As(res.Err, &unknown) {
		t.Fatalf("Send = %+v, want Unreachable with x509.UnknownAuthorityError", res)
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("gateway got %d requests, want 0", n)
	}
}

func writeCAFile(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSendTLSCAFile(t *testing.T) {
	g := newGateway(t, true, answer(200, "OK"))
	cfg := testConfig(g.srv.URL)
	cfg.CAFile = writeCAFile(t, g.srv.Certificate())
	res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText)
	if res.Class != Sent || res.Err != nil {
		t.Fatalf("Send = %+v, want Sent", res)
	}
	if n := len(g.requests()); n != 1 {
		t.Errorf("gateway got %d requests, want 1", n)
	}
}

// TestSendIgnoresProxyEnvironment: a proxy from the environment would see
// the request; the client never uses one.
func TestSendIgnoresProxyEnvironment(t *testing.T) {
	proxy := newGateway(t, false, answer(200, "OK from proxy"))
	g := newGateway(t, true, answer(200, "OK"))
	t.Setenv("HTTP_PROXY", proxy.srv.URL)
	t.Setenv("HTTPS_PROXY", proxy.srv.URL)
	t.Setenv("NO_PROXY", "")
	// Loopback is never proxied, so the URL names example.com (in the test
	// certificate) and the dialer takes it to the gateway, and any other
	// address (the proxy's) where it asks.
	proxyAddr := proxy.srv.Listener.Addr().String()
	d := &countingDialer{route: func(_ int, addr string) string {
		if addr == proxyAddr {
			return addr
		}
		return g.srv.Listener.Addr().String()
	}}
	cfg := testConfig("https://example.com/send")
	cfg.CAFile = writeCAFile(t, g.srv.Certificate())
	c, err := newClient(cfg, d.dial)
	if err != nil {
		t.Fatal(err)
	}
	if res := c.Send(context.Background(), testNumber(t), testText); res.Class != Sent || res.Body != "OK" {
		t.Errorf("Send = %+v, want Sent by the gateway", res)
	}
	if n := len(proxy.requests()); n != 0 {
		t.Errorf("proxy got %d requests", n)
	}
}

func TestSendFields(t *testing.T) {
	const text = "Code: 482913 & ä+€ = ok?"
	tests := []struct {
		name   string
		change func(*Config)
		query  url.Values // fields expected in the URL query
		form   url.Values // fields expected in the body
	}{
		{"POST 00 all fields", func(c *Config) {
			c.Sender = "pitcom"
			c.Extra = map[string]string{"type": "text", "charset": "utf-8"}
		}, url.Values{}, url.Values{
			"id": {"gw-id"}, "pw": {testPassword}, "to": {"004917234567890"}, "text": {text},
			"origin": {"pitcom"}, "type": {"text"}, "charset": {"utf-8"},
		}},
		{"GET + all fields", func(c *Config) {
			c.Method = http.MethodGet
			c.NumberFormat = FormatPlus
			c.Sender = "00491721234567"
			c.Extra = map[string]string{"type": "text"}
		}, url.Values{
			"id": {"gw-id"}, "pw": {testPassword}, "to": {"+4917234567890"}, "text": {text},
			"origin": {"00491721234567"}, "type": {"text"},
		}, url.Values{}},
		{"POST digits, no password, no sender", func(c *Config) {
			c.NumberFormat = FormatDigits
			c.Password = ""
		}, url.Values{}, url.Values{"id": {"gw-id"}, "to": {"4917234567890"}, "text": {text}}},
		{"GET 00, no id, no password", func(c *Config) {
			c.Method = http.MethodGet
			c.ID, c.Password = "", ""
			c.Fields.ID, c.Fields.Password = "", ""
		}, url.Values{"to": {"004917234567890"}, "text": {text}}, url.Values{}},
		{"other field names", func(c *Config) {
			c.Fields = Fields{ID: "user", Password: "key", Number: "receiver", Text: "msg", Sender: "from"}
			c.Sender = "Pit.com-X"
		}, url.Values{}, url.Values{
			"user": {"gw-id"}, "key": {testPassword}, "receiver": {"004917234567890"}, "msg": {text}, "from": {"Pit.com-X"},
		}},
		{"GET keeps the URL query", func(c *Config) {
			c.Method = http.MethodGet
			c.URL += "?action=send"
		}, url.Values{
			"action": {"send"}, "id": {"gw-id"}, "pw": {testPassword}, "to": {"004917234567890"}, "text": {text},
		}, url.Values{}},
		{"POST keeps the URL query", func(c *Config) {
			c.URL += "?action=send"
		}, url.Values{"action": {"send"}}, url.Values{
			"id": {"gw-id"}, "pw": {testPassword}, "to": {"004917234567890"}, "text": {text},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, false, answer(200, "OK"))
			cfg := testConfig(g.srv.URL + "/send")
			tt.change(&cfg)
			if res := mustNew(t, cfg).Send(context.Background(), testNumber(t), text); res.Class != Sent {
				t.Fatalf("Send = %+v, want Sent", res)
			}
			reqs := g.requests()
			if len(reqs) != 1 {
				t.Fatalf("gateway got %d requests, want 1", len(reqs))
			}
			want := request{Method: cfg.Method, Query: tt.query, Form: tt.form, Remote: reqs[0].Remote}
			if cfg.Method == http.MethodPost {
				want.ContentType = "application/x-www-form-urlencoded"
			}
			if diff := cmp.Diff(want, reqs[0]); diff != "" {
				t.Errorf("gateway received (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSendConcurrent: 50 sends at once all reach the gateway before any is
// answered, so nothing serializes them.
func TestSendConcurrent(t *testing.T) {
	const n = 50
	var (
		mu      sync.Mutex
		arrived int
		all     = make(chan struct{})
	)
	g := newGateway(t, false, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			io.WriteString(w, "OK")
		case <-time.After(20 * time.Second):
			http.Error(w, "not all sends arrived", http.StatusServiceUnavailable)
		}
	})
	cfg := testConfig(g.srv.URL)
	cfg.Timeout = 30 * time.Second
	c := mustNew(t, cfg)
	to := testNumber(t)
	results := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = c.Send(context.Background(), to, testText) })
	}
	wg.Wait()
	for i, res := range results {
		if res.Class != Sent {
			t.Errorf("send %d = %+v, want Sent", i, res)
		}
	}
}

// TestNoSecrets: neither the password, nor the text (it holds the code),
// nor the full number reaches an error or a Result, whatever goes wrong,
// even when the gateway echoes the request.
func TestNoSecrets(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "ERROR 50 pw=%s text=%s to=00%s %s %s\n", testPassword, testText, "4917234567890", r.URL.RawQuery, body)
	}
	secrets := []string{
		testPassword, url.QueryEscape(testPassword), url.PathEscape(testPassword), "Pa55",
		testCode, "4917234567890", "34567890",
	}
	cases := []struct {
		name   string
		url    func(t *testing.T) string
		want   Class
		noBody bool
	}{
		{"echo", func(t *testing.T) string { return newGateway(t, false, echo).srv.URL }, Failed, false},
		{"timeout", func(t *testing.T) string { return slowGateway(t).srv.URL }, Unreachable, true},
		{"refused", func(t *testing.T) string { return "http://" + closedAddr(t) }, Unreachable, true},
		{"tls", func(t *testing.T) string { return newGateway(t, true, echo).srv.URL }, Unreachable, true},
	}
	for _, tc := range cases {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				cfg := testConfig(tc.url(t) + "/send?key=" + url.QueryEscape(testPassword))
				cfg.Method = method
				cfg.Timeout = 300 * time.Millisecond
				res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText)
				if res.Class != tc.want {
					t.Fatalf("Send = %+v, want %v", res, tc.want)
				}
				if tc.noBody == (res.Err == nil) {
					t.Fatalf("Send = %+v: want an error only when unreachable", res)
				}
				if !tc.noBody && !strings.Contains(res.Body, "pw=********") {
					t.Errorf("Body = %q does not show the redacted echo", res.Body)
				}
				shown := fmt.Sprintf("%v|%+v|%#v|%s", res, res, res, res.Body)
				if res.Err != nil {
					shown += "|" + res.Err.Error()
					for e := errors.Unwrap(res.Err); e != nil; e = errors.Unwrap(e) {
						shown += "|" + e.Error()
					}
					if _, ok := errors.AsType[*url.Error](res.Err); ok {
						t.Errorf("error chain holds a *url.Error (it embeds the URL)")
					}
				}
				for _, s := range secrets {
					if strings.Contains(shown, s) {
						t.Errorf("%q shown in %s", s, shown)
					}
				}
			})
		}
	}
}

func TestNew(t *testing.T) {
	for _, rawURL := range []string{
		"https://gateway.example/send", "https://192.0.2.1:8443/x?a=b",
		"http://127.0.0.1:8080/send", "http://127.1.2.3/", "http://[::1]:80/", "http://localhost/send", "http://LOCALHOST:1/",
	} {
		if _, err := New(testConfig(rawURL)); err != nil {
			t.Errorf("New(url %s): %v", rawURL, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	noCert := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(noCert, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"http to a network host", func(c *Config) { c.URL = "http://gateway.example/send" },
			"smsclient: url: http:// is allowed only for a loopback address (127.0.0.0/8, ::1, localhost); use https:// so that the credentials are not sent in clear"},
		{"http to a private address", func(c *Config) { c.URL = "http://10.0.0.1/send" },
			"smsclient: url: http:// is allowed only for a loopback address (127.0.0.0/8, ::1, localhost); use https:// so that the credentials are not sent in clear"},
		{"http to localhost.example", func(c *Config) { c.URL = "http://localhost.example/send" },
			"smsclient: url: http:// is allowed only for a loopback address (127.0.0.0/8, ::1, localhost); use https:// so that the credentials are not sent in clear"},
		{"ftp", func(c *Config) { c.URL = "ftp://gateway.example/send" }, `smsclient: url: scheme "ftp" is not https`},
		{"relative", func(c *Config) { c.URL = "/send" }, "smsclient: url: must be absolute, e.g. https://gateway.example/send"},
		{"empty", func(c *Config) { c.URL = "" }, "smsclient: url: must be absolute, e.g. https://gateway.example/send"},
		{"unparsable", func(c *Config) { c.URL = "https://gw.example/%zz?pw=" + testPassword }, `smsclient: url: invalid URL escape "%zz"`},
		{"credentials in url", func(c *Config) { c.URL = "https://user:" + url.PathEscape(testPassword) + "@gw.example/" },
			"smsclient: url: must not contain user:password@; use id and password"},
		{"method", func(c *Config) { c.Method = "post" }, `smsclient: method "post" must be "POST" or "GET"`},
		{"method PUT", func(c *Config) { c.Method = "PUT" }, `smsclient: method "PUT" must be "POST" or "GET"`},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "smsclient: timeout must be greater than 0"},
		{"success", func(c *Config) { c.Success = nil }, "smsclient: success pattern is missing"},
		{"number format", func(c *Config) { c.NumberFormat = 3 }, `smsclient: number format 3 is not one of "00", "+", "digits"`},
		{"sender", func(c *Config) { c.Sender = "+491721234567" }, "smsclient: numeric sender must start with 00, not +"},
		{"id field", func(c *Config) { c.Fields.ID = "" }, "smsclient: fields.id: field name is empty"},
		{"password field", func(c *Config) { c.Fields.Password = "" }, "smsclient: fields.password: field name is empty"},
		{"number field", func(c *Config) { c.Fields.Number = "" }, "smsclient: fields.number: field name is empty"},
		{"text field", func(c *Config) { c.Fields.Text = "" }, "smsclient: fields.text: field name is empty"},
		{"sender field", func(c *Config) { c.Sender, c.Fields.Sender = "pitcom", "" }, "smsclient: fields.sender: field name is empty"},
		{"duplicate field", func(c *Config) { c.Fields.Text = "to" }, `smsclient: fields.text: field name "to" is also used by fields.number`},
		{"extra duplicates a field", func(c *Config) { c.Extra = map[string]string{"pw": "x"} }, `smsclient: extra: field name "pw" is also used by fields.password`},
		{"extra empty name", func(c *Config) { c.Extra = map[string]string{"": "x"} }, "smsclient: extra: field name is empty"},
		{"ca_file missing", func(c *Config) { c.CAFile = missing }, "smsclient: ca_file: open " + missing + ": no such file or directory"},
		{"ca_file without certificate", func(c *Config) { c.CAFile = noCert }, "smsclient: ca_file " + noCert + ": no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("https://gateway.example/send")
			tt.change(&cfg)
			c, err := New(cfg)
			if err == nil {
				t.Fatalf("New = %v, want error %q", c, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("New error\n got %q\nwant %q", err, tt.want)
			}
		})
	}
	// Empty field names are fine for values that are not sent.
	cfg := testConfig("https://gateway.example/send")
	cfg.ID, cfg.Password, cfg.Fields = "", "", Fields{Number: "to", Text: "text"}
	if _, err := New(cfg); err != nil {
		t.Errorf("New without id, password, sender: %v", err)
	}
}

func TestDescribeRequest(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"POST", func(c *Config) {
			c.Sender = "pitcom"
			c.Extra = map[string]string{"type": "text"}
		}, "POST https://gateway.example/send\nContent-Type: application/x-www-form-urlencoded\n\n" +
			"id=gw-id&pw=********&to=004917234567890&text=Your+login+code+for+host1%3A+482913&origin=pitcom&type=text"},
		{"GET", func(c *Config) {
			c.Method = http.MethodGet
			c.NumberFormat = FormatPlus
			c.URL += "?action=send"
		}, "GET https://gateway.example/send?action=send&id=gw-id&pw=********&to=%2B4917234567890&text=Your+login+code+for+host1%3A+482913"},
		{"no password", func(c *Config) { c.Password = "" },
			"POST https://gateway.example/send\nContent-Type: application/x-www-form-urlencoded\n\n" +
				"id=gw-id&to=004917234567890&text=Your+login+code+for+host1%3A+482913"},
		{"password also in the URL", func(c *Config) {
			c.Method = http.MethodGet
			c.URL += "?key=" + url.QueryEscape(testPassword)
			c.Extra = map[string]string{"x": testPassword}
		}, "GET https://gateway.example/send?key=********&id=gw-id&pw=********&to=004917234567890&text=Your+login+code+for+host1%3A+482913&x=********"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("https://gateway.example/send")
			tt.change(&cfg)
			if got := mustNew(t, cfg).DescribeRequest(testNumber(t), testText); got != tt.want {
				t.Errorf("DescribeRequest\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSendInvalidNumber(t *testing.T) {
	g := newGateway(t, false, answer(200, "OK"))
	res := mustNew(t, testConfig(g.srv.URL)).Send(context.Background(), Number{}, testText)
	if res.Class != Failed || res.Err == nil || res.Err.Error() != "smsclient: invalid number" {
		t.Errorf("Send(zero Number) = %+v, want Failed with an error", res)
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("gateway got %d requests, want 0", n)
	}
}

func TestSendBodyLine(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name, body, want string
	}{
		{"first line", "ERROR 20\nsecond line", "ERROR 20"},
		{"CRLF", "ERROR 20\r\nsecond", "ERROR 20"},
		{"blank lines first", "\n  \r\n ERROR 20 \nx", "ERROR 20"},
		{"controls", "ERR\x1b[31mOR\x00\t20\u2028x\u202e", "ERR?[31mOR??20?x?"},
		{"invalid UTF-8", "ERR\xff\xfeOR", "ERR?OR"},
		{"long", long, long[:200]},
		{"long, cut inside a character", "x" + long, "x" + long[:198]},
		{"over 64 KiB", strings.Repeat("a", 70<<10), strings.Repeat("a", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, false, answer(200, tt.body))
			res := mustNew(t, testConfig(g.srv.URL)).Send(context.Background(), testNumber(t), testText)
			if res.Body != tt.want || res.Class != Failed || res.Err != nil {
				t.Errorf("Send = %+v, want Failed with Body %q", res, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	success := regexp.MustCompile(`^(OK|100)\b`)
	limited := regexp.MustCompile(`(?i)limit|quota`)
	tests := []struct {
		status  int
		body    string
		limited *regexp.Regexp
		want    Class
	}{
		{200, "OK", nil, Sent},
		{204, "100", nil, Sent},
		{299, "OK", nil, Sent},
		{199, "OK", nil, Failed},
		{300, "OK", nil, Failed},
		{302, "OK", nil, Failed},
		{400, "OK", nil, Failed},
		{500, "OK", nil, Failed},
		{200, "NOK", nil, Failed},
		{200, "", nil, Failed},
		{429, "", nil, RateLimited},
		{429, "OK", limited, RateLimited},
		{200, "OK quota reached", limited, RateLimited},
		{500, "Limit", limited, RateLimited},
		{200, "OK", limited, Sent},
		{0, "OK", nil, Failed},
		{-1, "OK", nil, Failed},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, []byte(tt.body), success, tt.limited); got != tt.want {
			t.Errorf("Classify(%d, %q, limited %v) = %v, want %v", tt.status, tt.body, tt.limited, got, tt.want)
		}
	}
	if got := Classify(200, []byte("OK"), nil, nil); got != Failed {
		t.Errorf("Classify with nil success = %v, want Failed", got)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(200, []byte("OK"), `^(OK|100)\b`, "")
	f.Add(429, []byte("OK"), `^OK`, "limit")
	f.Add(302, []byte("100 queued"), `^(OK|100)\b`, `quota`)
	f.Add(500, []byte("\x00\xff"), `.*`, `[`)
	f.Fuzz(func(t *testing.T, status int, body []byte, successPattern, limitedPattern string) {
		success, err := regexp.Compile(successPattern)
		if err != nil {
			success = nil
		}
		limited, err := regexp.Compile(limitedPattern)
		if err != nil || limitedPattern == "" {
			limited = nil
		}
		got := Classify(status, body, success, limited)
		switch got {
		case Sent:
			if status < 200 || status > 299 || !success.Match(body) {
				t.Fatalf("Sent for status %d", status)
			}
			if limited != nil && limited.Match(body) {
				t.Fatalf("Sent for a rate-limited body")
			}
		case RateLimited:
			if status != 429 && (limited == nil || !limited.Match(body)) {
				t.Fatalf("RateLimited without 429 or a rate_limited match")
			}
		case Failed:
		default:
			t.Fatalf("Classify = %v", got)
		}
	})
}

func TestClassString(t *testing.T) {
	for c, want := range map[Class]string{
		Sent: "sent", RateLimited: "rate-limited", Failed: "failed", Unreachable: "unreachable", Class(9): "Class(9)",
	} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}

// TestSendAnswerCutOff: an answer that stops in the middle is classified on
// what arrived, and Err says it was cut off.
func TestSendAnswerCutOff(t *testing.T) {
	g := newGateway(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "ERROR 20\n")
		http.NewResponseController(w).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	})
	res := mustNew(t, testConfig(g.srv.URL)).Send(context.Background(), testNumber(t), testText)
	want := "smsclient: POST " + g.srv.URL + ": answer cut off: unexpected EOF"
	if res.Class != Failed || res.Status != 200 || res.Body != "ERROR 20" || res.Err == nil || res.Err.Error() != want {
		t.Errorf("Send = %+v, want Failed, 200, ERROR 20, error %q", res, want)
	}
}

// Check and New agree: conf relies on Check to accept only configs New takes.
func TestCheckAgreesWithNew(t *testing.T) {
	good := Config{URL: "https://gw.example/send", Method: "POST", Timeout: time.Second,
		Success: regexp.MustCompile("^OK"), Fields: Fields{ID: "id", Password: "pw", Number: "to", Text: "text", Sender: "origin"}}
	for _, mut := range []func(*Config){
		func(*Config) {},
		func(c *Config) { c.URL = "http://gw.example/send" },
		func(c *Config) { c.URL = "https://u:p@gw.example/send" },
		func(c *Config) { c.Method = "post" },
		func(c *Config) { c.Timeout = 0 },
		func(c *Config) { c.Success = nil },
		func(c *Config) { c.Sender = "1bad" },
		func(c *Config) { c.Extra = map[string]string{"to": "x"} },
	} {
		cfg := good
		mut(&cfg)
		_, errNew := New(cfg)
		errCheck := Check(cfg)
		if (errNew == nil) != (errCheck == nil) || (errNew != nil && errNew.Error() != errCheck.Error()) {
			t.Errorf("Check = %v, New = %v for %+v", errCheck, errNew, cfg)
		}
	}
}

// With ca_file the client verifies the chain itself: it must still check
// the host name and refuse certificates the CA did not sign.
func TestSendCAFileStillChecksName(t *testing.T) {
	g := newGateway(t, true, answer(200, "OK"))
	tests := []struct {
		name, url string
		ca        *x509.Certificate
	}{
		{"name not in the certificate", "https://wrong.example/send", g.srv.Certificate()},
		{"certificate of another CA", "https://example.com/send", otherCA(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &countingDialer{route: func(int, string) string { return g.srv.Listener.Addr().String() }}
			cfg := testConfig(tt.url)
			cfg.CAFile = writeCAFile(t, tt.ca)
			c, err := newClient(cfg, d.dial)
			if err != nil {
				t.Fatal(err)
			}
			res := c.Send(context.Background(), testNumber(t), testText)
			if res.Class != Unreachable || res.Err == nil {
				t.Fatalf("Send = %+v, want Unreachable with a certificate error", res)
			}
			if n := len(g.requests()); n != 0 {
				t.Fatalf("gateway got %d requests over an unverified connection", n)
			}
		})
	}
}

// otherCA makes a self-signed CA certificate for example.com that signed
// nothing the test gateways present (httptest servers share one certificate).
func otherCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		DNSNames: []string{"example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
