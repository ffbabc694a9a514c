// Package fakegw is a fake SMS gateway on 127.0.0.1 for tests.
//
// It records every request it receives (form fields from a POST body or a GET
// query) and answers with a configurable status and body, by default 200 "100 OK",
// which matches the SPEC's default success pattern. It is safe for concurrent use
// by many parallel logins.
package fakegw

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds Gateway.Wait.
const WaitTimeout = 10 * time.Second

// Message is one request the gateway received.
type Message struct {
	Method string     // "POST" or "GET"
	Form   url.Values // all fields, body and query merged
	To     string     // field "to" (SPEC default number field)
	Text   string     // field "text"
	Sender string     // field "origin"; "" when not sent
}

// Gateway is a running fake gateway. Create it with Start or StartTLS.
type Gateway struct {
	// URL is the send endpoint, ending in "/send".
	URL string
	// CAFile is a PEM file holding the server certificate (StartTLS only), for
	// the config key ca_file.
	CAFile string

	srv    *httptest.Server
	closed chan struct{} // closed when the gateway shuts down; ends delays early
	once   sync.Once

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{} // closed and replaced on every new message
	status  int
	body    string
	delay   time.Duration
}

// Start runs a plain HTTP gateway on 127.0.0.1; t.Cleanup closes it.
func Start(t testing.TB) *Gateway {
	t.Helper()
	g := newGateway()
	g.srv = httptest.NewServer(g.handler())
	g.URL = g.srv.URL + "/send"
	t.Cleanup(g.Close)
	return g
}

// StartTLS runs an HTTPS gateway on 127.0.0.1 with httptest's self-signed
// certificate (valid for 127.0.0.1) and writes that certificate to g.CAFile.
func StartTLS(t testing.TB) *Gateway {
	t.Helper()
	g := newGateway()
	g.srv = httptest.NewTLSServer(g.handler())
	g.URL = g.srv.URL + "/send"
	t.Cleanup(g.Close)
	block := &pem.Block{Type: "CERTIFICATE", Bytes: g.srv.Certificate().Raw}
	g.CAFile = filepath.Join(t.TempDir(), "fakegw-ca.pem")
	// 0644: the helper may run without root (setgid pam-sms) and must read it.
	if err := os.WriteFile(g.CAFile, pem.EncodeToMemory(block), 0o644); err != nil {
		t.Fatalf("fakegw: write CA file: %v", err)
	}
	return g
}

// ClosedURL returns an http URL on 127.0.0.1 where nothing listens, for
// "gateway down" tests. The port was free a moment ago; a test that needs
// certainty must also assert that no gateway received anything.
func ClosedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakegw: find a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("fakegw: close probe listener: %v", err)
	}
	return "http://" + addr + "/send"
}

func newGateway() *Gateway {
	return &Gateway{
		closed:  make(chan struct{}),
		arrived: make(chan struct{}),
		status:  http.StatusOK,
		body:    "100 OK",
	}
}

// Close stops the gateway; pending delayed answers return at once. Further
// requests are refused. Close is idempotent.
func (g *Gateway) Close() {
	g.once.Do(func() {
		close(g.closed)
		g.srv.Close()
	})
}

// SetResponse sets the status and body of every following answer.
func (g *Gateway) SetResponse(status int, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status, g.body = status, body
}

// SetDelay makes every following answer wait d after the request was recorded
// (or until the gateway closes).
func (g *Gateway) SetDelay(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delay = d
}

// Messages returns a copy of all requests received so far, oldest first.
func (g *Gateway) Messages() []Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Message(nil), g.msgs...)
}

// Count returns the number of requests received so far.
func (g *Gateway) Count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.msgs)
}

// Wait blocks until at least n requests arrived and returns the n-th (1-based).
// It fails the test after WaitTimeout. Call it from the test goroutine only;
// elsewhere (an SSH callback) use Await.
func (g *Gateway) Wait(t testing.TB, n int) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	m, err := g.Await(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// WaitFor blocks until the (skip+1)-th request for the number field value to
// arrived and returns it. Parallel logins use it to find their own SMS. It
// fails the test after WaitTimeout; from other goroutines use AwaitTo.
func (g *Gateway) WaitFor(t testing.TB, to string, skip int) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	m, err := g.AwaitTo(ctx, to, skip)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Await is Wait for any goroutine: it returns an error when n < 1 or when ctx
// ends first.
func (g *Gateway) Await(ctx context.Context, n int) (Message, error) {
	if n < 1 {
		return Message{}, fmt.Errorf("fakegw: wait for SMS #%d: n must be at least 1", n)
	}
	return g.await(ctx, fmt.Sprintf("SMS #%d", n), func(msgs []Message) (Message, bool) {
		if len(msgs) >= n {
			return msgs[n-1], true
		}
		return Message{}, false
	})
}

// AwaitTo is WaitFor for any goroutine: it returns an error when ctx ends first.
func (g *Gateway) AwaitTo(ctx context.Context, to string, skip int) (Message, error) {
	return g.await(ctx, fmt.Sprintf("SMS #%d to %q", skip+1, to), func(msgs []Message) (Message, bool) {
		seen := 0
		for _, m := range msgs {
			if m.To != to {
				continue
			}
			if seen == skip {
				return m, true
			}
			seen++
		}
		return Message{}, false
	})
}

// await re-checks find each time a message arrives, until it succeeds or ctx ends.
func (g *Gateway) await(ctx context.Context, what string, find func([]Message) (Message, bool)) (Message, error) {
	for {
		g.mu.Lock()
		m, ok := find(g.msgs)
		arrived, have := g.arrived, len(g.msgs)
		g.mu.Unlock()
		if ok {
			return m, nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("fakegw: wait for %s (gateway has %d in all): %w", what, have, ctx.Err())
		}
	}
}

func (g *Gateway) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/send", g.serveSend)
	return mux
}

func (g *Gateway) serveSend(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "fakegw: bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	m := Message{
		Method: r.Method,
		Form:   r.Form,
		To:     r.Form.Get("to"),
		Text:   r.Form.Get("text"),
		Sender: r.Form.Get("origin"),
	}
	status, body, delay := g.record(m)
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-g.closed:
		case <-r.Context().Done():
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// record stores m, wakes waiters and returns the answer to give.
func (g *Gateway) record(m Message) (status int, body string, delay time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.msgs = append(g.msgs, m)
	close(g.arrived)
	g.arrived = make(chan struct{})
	return g.status, g.body, g.delay
}

var codeRE = regexp.MustCompile(`TESTCODE ([0-9]+)`)

// Code extracts the code from a text rendered from the test template
// "TESTCODE {code} {host}"; it fails the test when there is none.
func Code(t testing.TB, m Message) string {
	t.Helper()
	c, ok := ParseCode(m.Text)
	if !ok {
		t.Fatalf("fakegw: no TESTCODE in SMS text %q", m.Text)
	}
	return c
}

// ParseCode extracts the code from text; ok is false when there is none.
func ParseCode(text string) (code string, ok bool) {
	sub := codeRE.FindStringSubmatch(text)
	if sub == nil {
		return "", false
	}
	return sub[1], true
}
