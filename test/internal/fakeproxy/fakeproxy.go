// Package fakeproxy is an HTTP proxy on 127.0.0.1 for tests: CONNECT tunnels
// (https gateways) and absolute-URI requests (http gateways), each logged.
//
// Go never sends a request for a loopback address through a proxy taken from
// the environment, so a gateway on 127.0.0.1 cannot show whether a proxy was
// used. The proxy therefore resolves names of its own (e.g. "gateway.test")
// to 127.0.0.1: a client that reaches such a name reached it through this
// proxy, since nothing else resolves it. Unknown names are refused (502);
// the proxy never asks DNS.
package fakeproxy

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the proxy received.
type Request struct {
	Method string // "CONNECT", "POST", "GET", ...
	Target string // "gateway.test:8443" for CONNECT, the absolute URI otherwise
	// User and Password are the Basic Proxy-Authorization credentials, ""
	// when none were sent.
	User, Password string
	Status         int // what the proxy answered: 200 tunnel, 407, 502, or the upstream status
}

// Proxy is a running proxy. Create it with Start.
type Proxy struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT

	srv   *httptest.Server
	hosts map[string]string // name -> IP

	mu       sync.Mutex
	reqs     []Request
	user, pw string // required credentials; "" = none required
}

// Start runs a proxy that maps each name of hosts to its IP ("gateway.test":
// "127.0.0.1"), or to an address with a port ("api.example.com":
// "127.0.0.1:PORT", so that a URL without a port reaches a test server);
// t.Cleanup closes it.
func Start(t testing.TB, hosts map[string]string) *Proxy {
	t.Helper()
	p := &Proxy{hosts: hosts}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Start()
	p.URL = p.srv.URL
	p.Addr = p.srv.Listener.Addr().String()
	t.Cleanup(p.Close)
	return p
}

// RequireAuth makes the proxy answer 407 to requests without these Basic
// credentials.
func (p *Proxy) RequireAuth(user, password string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user, p.pw = user, password
}

// Close stops the proxy and every tunnel through it.
func (p *Proxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// Requests returns every request received so far, oldest first.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

func (p *Proxy) record(r Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, r)
}

// authorized checks Proxy-Authorization and fills the credentials of rec.
func (p *Proxy) authorized(r *http.Request, rec *Request) bool {
	if raw, ok := strings.CutPrefix(r.Header.Get("Proxy-Authorization"), "Basic "); ok {
		if dec, err := base64.StdEncoding.DecodeString(raw); err == nil {
			rec.User, rec.Password, _ = strings.Cut(string(dec), ":")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.user == "" || rec.User == p.user && rec.Password == p.pw
}

// resolve maps host:port to IP:port for a known name.
func (p *Proxy) resolve(hostport string) (string, bool) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", false
	}
	ip, ok := p.hosts[host]
	if _, _, err := net.SplitHostPort(ip); ok && err == nil {
		return ip, true // "name": "127.0.0.1:PORT" maps the port too
	}
	if !ok {
		if parsed := net.ParseIP(host); parsed != nil && parsed.IsLoopback() {
			ip, ok = host, true // an http:// gateway on loopback, through a local proxy
		}
	}
	return net.JoinHostPort(ip, port), ok
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Target: r.RequestURI}
	if !p.authorized(r, &rec) {
		rec.Status = http.StatusProxyAuthRequired
		p.record(rec)
		w.Header().Set("Proxy-Authenticate", `Basic realm="fakeproxy"`)
		http.Error(w, "proxy authentication required", rec.Status)
		return
	}
	if r.Method == http.MethodConnect {
		rec.Target = r.Host
		// Logged when the tunnel is set up, not when it closes: the
		// client keeps it open for more requests.
		p.tunnel(w, r, func(status int) {
			rec.Status = status
			p.record(rec)
		})
		return
	}
	if !r.URL.IsAbs() {
		rec.Status = http.StatusBadRequest
		p.record(rec)
		http.Error(w, "fakeproxy: not an absolute URI", rec.Status)
		return
	}
	rec.Status = p.forward(w, r)
	p.record(rec)
}

// tunnel connects to the resolved target and copies bytes both ways; logged
// is called with the status once it is known.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, logged func(int)) {
	fail := func(status int, msg string) {
		logged(status)
		http.Error(w, "fakeproxy: "+msg, status)
	}
	addr, ok := p.resolve(r.Host)
	if !ok {
		fail(http.StatusBadGateway, "unknown host")
		return
	}
	up, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fail(http.StatusBadGateway, err.Error())
		return
	}
	defer up.Close()
	hj, ok := w.(http.Hijacker)
	if !ok {
		fail(http.StatusInternalServerError, "no hijacking")
		return
	}
	logged(http.StatusOK)
	w.WriteHeader(http.StatusOK)
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(up, buf)
		up.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(conn, up)
		done <- struct{}{}
	}()
	<-done
	<-done
}

// forward sends an absolute-URI request to the resolved host and copies the
// answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) int {
	addr, ok := p.resolve(r.URL.Host)
	if !ok && r.URL.Port() == "" {
		addr, ok = p.resolve(r.URL.Host + ":80")
	}
	if !ok {
		http.Error(w, "fakeproxy: unknown host", http.StatusBadGateway)
		return http.StatusBadGateway
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	out.Header.Del("Proxy-Connection")
	d := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}}
	defer transport.CloseIdleConnections()
	resp, err := transport.RoundTrip(out)
	if err != nil {
		http.Error(w, "fakeproxy: "+err.Error(), http.StatusBadGateway)
		return http.StatusBadGateway
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
	return resp.StatusCode
}
