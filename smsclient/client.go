// Package smsclient sends one text message through an HTTP(S) SMS gateway
// (pitcom WebToXMS or any gateway whose field names and success pattern are
// configured) and classifies the answer.
//
// Nothing secret leaves this package in an error or a Result: the gateway
// password, the message text (it holds the code) and the full number are
// removed from transport errors and from the gateway's answer.
package smsclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	maxBody       = 64 << 10 // bytes of the answer read and classified
	maxResultBody = 200      // bytes of Result.Body
	redacted      = "********"
	formType      = "application/x-www-form-urlencoded"

	// A refused connection is retried this many times, waiting
	// refusedBackoff, then twice as long each time, all inside the timeout.
	refusedRetries = 3
	refusedBackoff = 100 * time.Millisecond
)

// Fields holds the form or query field names of the gateway contract.
type Fields struct {
	ID, Password, Number, Text, Sender string
}

// Config is everything the client needs; conf.Load fills it from [gateway].
type Config struct {
	URL          string // https://..., or http:// to a loopback address only
	Method       string // "POST" (form body) or "GET" (query)
	ID           string
	Password     string // "" = IP-authenticated contract: no password field sent
	Sender       string // "" = no sender field sent
	Timeout      time.Duration
	Success      *regexp.Regexp
	RateLimited  *regexp.Regexp // nil = none configured
	CAFile       string         // extra CA bundle (PEM), trusted besides the system bundle
	NumberFormat NumberFormat
	Fields       Fields
	Extra        map[string]string

	// SPEC section 8.
	Proxy         string            // "" = direct; http://[USER@]HOST:PORT
	ProxyPassword string            // with a user in Proxy: Basic proxy credentials
	Headers       map[string]string // [gateway.headers]
	SecretHeaders map[string]string // [gateway.header_files]: values read from files, never shown
	Auth          string            // "" or AuthBasic
	Body          string            // "" or BodyForm, or BodyJSON (POST only)
	MessageID     *regexp.Regexp    // first capture group = the gateway's id of the SMS; nil = none
}

// Class is the outcome of one send.
type Class int

const (
	Sent        Class = iota // 2xx and the body matches Success
	RateLimited              // 429, or the body matches RateLimited
	Failed                   // any other answer
	Unreachable              // no answer: DNS, connect, TLS, timeout
)

// String returns the name used in logs and by pam-sms send-test.
func (c Class) String() string {
	switch c {
	case Sent:
		return "sent"
	case RateLimited:
		return "rate-limited"
	case Failed:
		return "failed"
	case Unreachable:
		return "unreachable"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Result describes one send for the caller's log line and for pam-sms send-test.
type Result struct {
	Class  Class
	Status int    // HTTP status, 0 when unreachable
	Body   string // first non-blank line of the body, printable, at most 200 bytes, for logs
	Err    error  // transport error when Unreachable; also a body read error or an invalid number
	// MessageID is the gateway's id of a sent SMS (Config.MessageID),
	// printable and at most 64 bytes; "" when none.
	MessageID string
	// Written: the whole request was written to the gateway (or its
	// tunnel). An Unreachable result with Written set got no answer after
	// the request left: the gateway may have sent the SMS.
	Written bool
}

// Client sends messages. It is safe for concurrent use; concurrent sends run
// in parallel (the seed asks that a burst go out as fast as spread-out messages).
type Client struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
	retries  int
	backoff  time.Duration
	// For Probe: the transport's dialer, TLS config and proxy.
	dial  dialFunc
	tls   *tls.Config
	proxy func(*http.Request) (*url.URL, error)
}

// dialFunc is the transport's dialer; tests replace it to count and steer attempts.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// New checks cfg and builds the HTTP client: TLS 1.2 or later with
// verification always on, the system CA bundle plus CAFile,
// only the configured proxy, no redirects (a 3xx answer is Failed), HTTP/1.1
// with keep-alive. Nothing comes from the environment: not SSL_CERT_FILE or
// SSL_CERT_DIR, not HTTP_PROXY or HTTPS_PROXY, since the setgid helper's
// caller sets those.
func New(cfg Config) (*Client, error) {
	d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	return newClient(cfg, d.DialContext)
}

// Check reports what New would refuse in cfg, without building the client:
// reading the CA file and the system roots is left to New, which only the
// logins that send a code pay for.
func Check(cfg Config) error {
	endpoint, err := checkURL(cfg.URL)
	if err != nil {
		return err
	}
	if err := checkConfig(cfg); err != nil {
		return err
	}
	return checkReach(cfg, endpoint)
}

func newClient(cfg Config, dial dialFunc) (*Client, error) {
	endpoint, err := checkURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if err := checkReach(cfg, endpoint); err != nil {
		return nil, err
	}
	proxy, err := proxyFunc(cfg)
	if err != nil {
		return nil, err
	}
	// The caller may change its maps while sends run.
	cfg.Extra = maps.Clone(cfg.Extra)
	cfg.Headers, cfg.SecretHeaders = maps.Clone(cfg.Headers), maps.Clone(cfg.SecretHeaders)
	var extra *x509.CertPool
	if cfg.CAFile != "" {
		if extra, err = loadCAFile(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	// crypto/tls would take its roots from x509.SystemCertPool, which reads
	// SSL_CERT_FILE and SSL_CERT_DIR. So Go verifies nothing itself;
	// verifyChain does all of it, against CAFile and the fixed system bundle.
	tlsConfig := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection:   verifyChain(endpoint.Hostname(), extra),
	}
	// HTTP/1.1 only: its transport retries a request by itself only when
	// nothing was written or the request is idempotent (see newRequest for GET),
	// rules that are simpler to hold to than HTTP/2's.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	transport := &http.Transport{
		Proxy:               proxy,
		DialContext:         dial,
		TLSClientConfig:     tlsConfig,
		Protocols:           &protocols,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{
		cfg:      cfg,
		endpoint: endpoint,
		http: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		retries: refusedRetries,
		backoff: refusedBackoff,
		dial:    dial,
		tls:     tlsConfig,
		proxy:   proxy,
	}, nil
}

// checkURL parses the gateway URL. Messages never repeat the URL: it might
// hold credentials.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("smsclient: url: %w", err)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("smsclient: url: must be absolute, e.g. https://gateway.example/send")
	case u.User != nil:
		return nil, errors.New("smsclient: url: must not contain user:password@; use id and password")
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return u, nil
	case u.Scheme == "http":
		return nil, errors.New("smsclient: url: http:// is allowed only for a loopback address (127.0.0.0/8, ::1, localhost); use https:// so that the credentials are not sent in clear")
	}
	return nil, fmt.Errorf("smsclient: url: scheme %q is not https", u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkConfig(cfg Config) error {
	switch {
	case cfg.Method != http.MethodPost && cfg.Method != http.MethodGet:
		return fmt.Errorf("smsclient: method %q must be \"POST\" or \"GET\"", cfg.Method)
	case cfg.Timeout <= 0:
		return errors.New("smsclient: timeout must be greater than 0")
	case cfg.Success == nil:
		return errors.New("smsclient: success pattern is missing")
	case !cfg.NumberFormat.valid():
		return fmt.Errorf("smsclient: number format %d is not one of \"00\", \"+\", \"digits\"", int(cfg.NumberFormat))
	}
	if err := ValidateSender(cfg.Sender); err != nil {
		return err
	}
	return checkFields(cfg)
}

// checkFields makes sure every value that is sent has a field name and that
// no two fields share one: the gateway would see only one of them.
func checkFields(cfg Config) error {
	id, password := cfg.ID, cfg.Password
	if cfg.Auth == AuthBasic { // sent as credentials, not as fields
		id, password = "", ""
	}
	named := []struct{ key, name, value string }{
		{"fields.id", cfg.Fields.ID, id},
		{"fields.password", cfg.Fields.Password, password},
		{"fields.number", cfg.Fields.Number, "always"},
		{"fields.text", cfg.Fields.Text, "always"},
		{"fields.sender", cfg.Fields.Sender, cfg.Sender},
	}
	used := map[string]string{}
	for _, f := range named {
		if f.value == "" {
			continue
		}
		if f.name == "" {
			return fmt.Errorf("smsclient: %s: field name is empty", f.key)
		}
		if other, dup := used[f.name]; dup {
			return fmt.Errorf("smsclient: %s: field name %q is also used by %s", f.key, f.name, other)
		}
		used[f.name] = f.key
	}
	for _, name := range sortedKeys(cfg.Extra) {
		if name == "" {
			return errors.New("smsclient: extra: field name is empty")
		}
		if other, dup := used[name]; dup {
			return fmt.Errorf("smsclient: extra: field name %q is also used by %s", name, other)
		}
	}
	return nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("smsclient: ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("smsclient: ca_file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// systemBundles are the CA bundles of the distributions, in crypto/x509's
// order for Linux; the first one that holds a certificate is the system's
// trust store. Unlike x509.SystemCertPool, no environment variable replaces
// them, and the hashed directories (/etc/ssl/certs) are not read: every
// supported distribution ships one of these bundles.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine
}

// systemRoots is read once per process, when a certificate first needs it.
var systemRoots = sync.OnceValues(func() (*x509.CertPool, error) {
	return loadBundle(systemBundles)
})

// loadBundle returns the certificates of the first of paths that holds any.
func loadBundle(paths []string) (*x509.CertPool, error) {
	for _, p := range paths {
		pem, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if pool := x509.NewCertPool(); pool.AppendCertsFromPEM(pem) {
			return pool, nil
		}
	}
	return nil, fmt.Errorf("smsclient: no system CA bundle (looked for %s); set ca_file", strings.Join(paths, ", "))
}

// verifyChain verifies the gateway's certificate for host against the CA file
// (extra, may be nil) and, only if that fails, against the system bundle: a
// gateway with a private CA then never pays for parsing the ~150 system roots
// (about 10 ms, in every helper process). It checks exactly what crypto/tls
// would (chain, expiry, server-auth usage, host name); host is the URL's,
// since the connection state holds no name for an IP address.
func verifyChain(host string, extra *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("smsclient: the gateway sent no certificate")
		}
		opts := x509.VerifyOptions{DNSName: host, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		leaf := cs.PeerCertificates[0]
		if extra != nil {
			opts.Roots = extra
			if _, err := leaf.Verify(opts); err == nil {
				return nil
			}
		}
		system, err := systemRoots()
		if err != nil {
			return fmt.Errorf("smsclient: gateway certificate: %w", err)
		}
		opts.Roots = system
		if _, err := leaf.Verify(opts); err != nil {
			return fmt.Errorf("smsclient: gateway certificate: %w", err)
		}
		return nil
	}
}

// Send sends text to the number within cfg.Timeout (and ctx).
//
// Any transport error (DNS, connect, TLS handshake, timeout, connection
// lost before the answer) is Unreachable. A refused connection is retried a
// few times: then nothing reached the gateway. Nothing else is retried, since once the request may have been
// sent a retry may send a second SMS (and trip the gateway's duplicate
// filter). An invalid number is Failed without a request.
func (c *Client) Send(ctx context.Context, to Number, text string) Result {
	return c.send(ctx, to, text, c.retries)
}

// send is Send with retries attempts more after a refused connection.
func (c *Client) send(ctx context.Context, to Number, text string, retries int) Result {
	if !to.IsValid() {
		return Result{Class: Failed, Err: errors.New("smsclient: invalid number")}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		var written atomic.Bool
		trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		}}
		req, err := c.newRequest(httptrace.WithClientTrace(ctx, trace), to, text)
		if err != nil {
			return Result{Class: Failed, Err: c.transportError(err, to, text)}
		}
		resp, err := c.http.Do(req)
		if err == nil {
			r := c.result(resp, to, text)
			r.Written = true
			return r
		}
		if attempt < retries && refusedAtDial(err) && sleep(ctx, c.backoff<<attempt) {
			continue
		}
		return Result{Class: Unreachable, Err: c.transportError(err, to, text), Written: written.Load()}
	}
}

func (c *Client) newRequest(ctx context.Context, to Number, text string) (*http.Request, error) {
	u := *c.endpoint
	payload, contentType := c.encodeBody(to, text, false)
	var body io.Reader
	if c.cfg.Method == http.MethodGet {
		u.RawQuery = joinQuery(u.RawQuery, payload)
	} else {
		body = strings.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, c.cfg.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "pam_sms")
	c.setHeaders(req.Header)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	// The transport replays an idempotent (GET) request by itself when a
	// reused connection breaks, even after the request was written. A GET
	// never reuses a connection, so it is never replayed.
	req.Close = c.cfg.Method == http.MethodGet
	return req, nil
}

func joinQuery(a, b string) string {
	if a == "" {
		return b
	}
	return a + "&" + b
}

// encodeBody returns the query or body and its content type: a JSON
// object for body = "json", else the form (see fieldList for the order).
func (c *Client) encodeBody(to Number, text string, redact bool) (string, string) {
	fields := c.fieldList(to, text, redact)
	if c.cfg.Body == BodyJSON {
		return encodeJSON(fields), jsonType
	}
	return encodeForm(fields, redact), formType
}

// encodeForm writes the fields as a form; a redacted value stays readable.
func encodeForm(fields []field, redact bool) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('&')
		}
		v := url.QueryEscape(f.value)
		if redact && f.value == redacted {
			v = redacted
		}
		b.WriteString(url.QueryEscape(f.name) + "=" + v)
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// refusedAtDial reports a connection refused while connecting to the
// gateway or to the proxy ("proxyconnect"): the request did not leave this host.
func refusedAtDial(err error) bool {
	op, ok := errors.AsType[*net.OpError](err)
	return ok && (op.Op == "dial" || op.Op == "proxyconnect") && errors.Is(err, syscall.ECONNREFUSED)
}

// sleep waits d unless ctx ends first or would end before d is over; it
// reports whether there is time for another attempt.
func sleep(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) result(resp *http.Response, to Number, text string) Result {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	r := Result{
		Class:  Classify(resp.StatusCode, body, c.cfg.Success, c.cfg.RateLimited),
		Status: resp.StatusCode,
		Body:   truncate(c.scrub(firstLine(body), to, text), maxResultBody),
	}
	if r.Class == Sent {
		r.MessageID = c.messageID(body, to, text)
	}
	if err != nil {
		// What was read is classified; a cut-off answer is noted in Err.
		msg := "smsclient: " + c.cfg.Method + " " + c.safeURL() + ": answer cut off: " + c.scrub(err.Error(), to, text)
		r.Err = &sendError{msg: msg, err: err}
	}
	return r
}

// sendError is a transport error without the request URL: url.Error embeds
// the URL, whose GET query holds the password, the number and the code.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

func (c *Client) transportError(err error, to Number, text string) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	where := c.cfg.Method + " " + c.safeURL()
	msg := "smsclient: " + where + ": " + c.scrub(err.Error(), to, text)
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("smsclient: %s: no answer within %v", where, c.cfg.Timeout)
	}
	return &sendError{msg: msg, err: err}
}

// safeURL is the endpoint without query and fragment, for messages.
func (c *Client) safeURL() string {
	u := *c.endpoint
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}

// scrub removes the password, the message text and the number (in every
// form the request carried them) from s, in case the gateway echoes them.
func (c *Client) scrub(s string, to Number, text string) string {
	var pairs []string
	for _, secret := range append(c.secrets(), text) {
		if secret == "" {
			continue
		}
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			pairs = append(pairs, form, redacted)
		}
	}
	if to.IsValid() {
		pairs = append(pairs, to.Digits(), to.maskedDigits())
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// firstLine returns the first non-blank line of body with every
// non-printable character (controls, invalid UTF-8, line and format
// separators) replaced by '?', so that it is one safe log line.
func firstLine(body []byte) string {
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		return strings.Map(func(r rune) rune {
			if r == utf8.RuneError || !unicode.IsPrint(r) {
				return '?'
			}
			return r
		}, strings.ToValidUTF8(line, "\uFFFD"))
	}
	return ""
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Classify maps an HTTP answer to a Class. A body matching rateLimited is
// RateLimited whatever the status, and is checked before success: a quota
// message may also match a loose success pattern, and a refusal must not
// count as sent. Sent needs a 2xx status and a body matching success; a nil
// success never matches.
func Classify(status int, body []byte, success, rateLimited *regexp.Regexp) Class {
	switch {
	case status == http.StatusTooManyRequests:
		return RateLimited
	case rateLimited != nil && rateLimited.Match(body):
		return RateLimited
	case status >= 200 && status <= 299 && success != nil && success.Match(body):
		return Sent
	}
	return Failed
}

// DescribeRequest returns the request Send would make, for pam-sms
// send-test: method, URL and fields exactly as encoded, with the password
// value replaced by ********.
func (c *Client) DescribeRequest(to Number, text string) string {
	payload, contentType := c.encodeBody(to, text, true)
	u := *c.endpoint
	headers := c.describeHeaders()
	if c.cfg.Method == http.MethodGet {
		u.RawQuery = joinQuery(u.RawQuery, payload)
		return c.redactPassword(http.MethodGet + " " + u.String() + headers)
	}
	return c.redactPassword(http.MethodPost + " " + u.String() + "\nContent-Type: " + contentType + headers + "\n\n" + payload)
}

// redactPassword hides the password where the administrator also wrote it
// elsewhere, e.g. into the URL.
func (c *Client) redactPassword(s string) string {
	var pairs []string
	for _, p := range c.secrets() {
		if p != "" {
			pairs = append(pairs, p, redacted, url.QueryEscape(p), redacted, url.PathEscape(p), redacted)
		}
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
