package fakegw_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
)

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(b)
}

func TestRecordsPostAndGet(t *testing.T) {
	g := fakegw.Start(t)
	if !strings.HasPrefix(g.URL, "http://127.0.0.1:") || !strings.HasSuffix(g.URL, "/send") {
		t.Fatalf("URL = %q, want http://127.0.0.1:PORT/send", g.URL)
	}
	status, body := post(t, http.DefaultClient, g.URL, url.Values{
		"to": {"00491721234567"}, "text": {"TESTCODE 123456 host1"}, "origin": {"pitcom"}, "id": {"gw"},
	})
	if status != 200 || body != "100 OK" {
		t.Errorf("default answer = %d %q, want 200 %q", status, body, "100 OK")
	}
	resp, err := http.Get(g.URL + "?to=%2B4917&text=TESTCODE+0042+h")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()

	msgs := g.Messages()
	if len(msgs) != 2 || g.Count() != 2 {
		t.Fatalf("got %d messages (Count %d), want 2", len(msgs), g.Count())
	}
	want := fakegw.Message{Method: "POST", To: "00491721234567", Text: "TESTCODE 123456 host1", Sender: "pitcom"}
	if got := msgs[0]; got.Method != want.Method || got.To != want.To || got.Text != want.Text ||
		got.Sender != want.Sender || got.Form.Get("id") != "gw" {
		t.Errorf("message 1 = %+v, want %+v with id=gw", got, want)
	}
	if got := msgs[1]; got.Method != "GET" || got.To != "+4917" || got.Sender != "" {
		t.Errorf("message 2 = %+v, want GET to +4917 without sender", got)
	}
	if c := fakegw.Code(t, g.Wait(t, 2)); c != "0042" {
		t.Errorf("Code = %q, want %q", c, "0042")
	}
}

func TestSetResponse(t *testing.T) {
	g := fakegw.Start(t)
	g.SetResponse(http.StatusTooManyRequests, "rate limited")
	status, body := post(t, http.DefaultClient, g.URL, url.Values{"to": {"1"}})
	if status != 429 || body != "rate limited" {
		t.Errorf("answer = %d %q, want 429 %q", status, body, "rate limited")
	}
	if g.Count() != 1 {
		t.Errorf("Count = %d, want 1 (refused requests are recorded too)", g.Count())
	}
}

func TestTLSCAFile(t *testing.T) {
	g := fakegw.StartTLS(t)
	pemBytes, err := os.ReadFile(g.CAFile)
	if err != nil {
		t.Fatalf("read CAFile: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("CAFile %s holds no PEM certificate", g.CAFile)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if status, _ := post(t, c, g.URL, url.Values{"to": {"1"}}); status != 200 {
		t.Errorf("status = %d, want 200", status)
	}
	// Without the CA the certificate must be refused: the TLS-failure tests rely on it.
	if _, err := http.PostForm(g.URL, url.Values{"to": {"2"}}); err == nil {
		t.Error("POST without the CA succeeded, want a certificate error")
	}
}

func TestDelayEndsOnClose(t *testing.T) {
	g := fakegw.Start(t)
	g.SetDelay(time.Hour)
	done := make(chan error, 1)
	go func() {
		resp, err := http.PostForm(g.URL, url.Values{"to": {"1"}})
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	g.Wait(t, 1)
	g.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("delayed request still pending 10 s after Close")
	}
}

func TestAwaitTimesOut(t *testing.T) {
	g := fakegw.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := g.Await(ctx, 1)
	want := "fakegw: wait for SMS #1 (gateway has 0 in all): context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Errorf("Await error = %v, want %q", err, want)
	}
	if _, err := g.Await(context.Background(), 0); err == nil ||
		err.Error() != "fakegw: wait for SMS #0: n must be at least 1" {
		t.Errorf("Await(0) error = %v", err)
	}
}

func TestParallel(t *testing.T) {
	g := fakegw.Start(t)
	const n = 25
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := fmt.Sprintf("0049170%04d", i)
			resp, err := http.PostForm(g.URL, url.Values{"to": {to}, "text": {fmt.Sprintf("TESTCODE %06d h", i)}})
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range n {
		m := g.WaitFor(t, fmt.Sprintf("0049170%04d", i), 0)
		if c := fakegw.Code(t, m); c != fmt.Sprintf("%06d", i) {
			t.Errorf("SMS to %s has code %s, want %06d", m.To, c, i)
		}
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		text, code string
		ok         bool
	}{
		{"TESTCODE 123456 host1", "123456", true},
		{"TESTCODE 0001 h4st 99", "0001", true},
		{"Your code is 123456", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		code, ok := fakegw.ParseCode(tc.text)
		if code != tc.code || ok != tc.ok {
			t.Errorf("ParseCode(%q) = %q, %v; want %q, %v", tc.text, code, ok, tc.code, tc.ok)
		}
	}
}
