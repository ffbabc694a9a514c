// Package directory looks a user's mobile number up in an LDAP directory
// (OpenLDAP, Active Directory, any LDAPv3 server).
//
// One Lookup is one search: the servers of Config.URIs are tried in order
// until one accepts a session (TCP, TLS, bind), and that one is asked once.
// Lookup has no state between calls; an offline cache, if any, is the
// caller's, and Result and ErrUnavailable tell it when a cached number may
// stand in: only for ErrUnavailable, never after NoEntry or NoNumber and
// never after any other error.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// ErrUnavailable means no server gave an answer: every URI was down, slow,
// or broke off, or Timeout ran out. It is the only error after which a
// cached number may be used, and the one a fail_mode applies to.
//
// Every other error is definitive and is not retried on the next URI: the
// configuration is wrong or the directory refused it (bind rejected, TLS
// certificate not verified, base DN missing, more than one entry matched, a
// referral). Such a login must be denied, not let through, and no cached
// number may stand in.
var ErrUnavailable = errors.New("directory unavailable")

// Status is what the directory answered.
type Status int

// The answers.
const (
	// Found: an entry matched and had one of the attributes.
	Found Status = iota + 1
	// NoEntry: the search succeeded and matched no entry (an anonymous or
	// restricted bind may also see no entry where one exists).
	NoEntry
	// NoNumber: one entry matched and had none of the attributes.
	NoNumber
)

func (s Status) String() string {
	switch s {
	case Found:
		return "found"
	case NoEntry:
		return "no entry"
	case NoNumber:
		return "no number"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is a directory's answer.
type Result struct {
	Status Status
	// URI is the configured URI of the server that answered.
	URI string
	// DN is the matched entry (Found, NoNumber).
	DN string
	// Attribute is the configured attribute that held the number (Found).
	Attribute string
	// Value is its first value, raw: the caller validates it like any other
	// number. LDAP does not order the values of an attribute; the first is
	// the one the server sent first (OpenLDAP: the order they were stored).
	Value string
	// Values is how many values the attribute had; more than one is worth
	// a note in the log, since only Value is used.
	Values int
}

// Lookup searches for user's entry and returns its number, or why there is
// none. The user name must not be empty; it is escaped before it goes into
// the filter. ctx may end the lookup earlier than cfg.Timeout.
//
// Failover: a server that cannot be connected to, does not finish TLS or the
// bind within ConnectTimeout, or answers busy/unavailable, is skipped for the
// next URI. Once the search is sent, its answer (or the lack of one) is
// final: at most one search per Lookup, on one server.
func Lookup(ctx context.Context, cfg Config, user string) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if user == "" {
		return Result{}, errors.New("directory: empty user name")
	}
	cfg = cfg.withDefaults()
	tlsConf, err := cfg.tlsConfig()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	q := query{cfg: cfg, tls: tlsConf, filter: userFilter(cfg.Filter, user)}

	var failed []string
	for i, raw := range cfg.URIs {
		srv, _ := parseURI(raw, cfg.StartTLS) // Validate checked it
		res, err := q.run(ctx, srv)
		if err == nil {
			return res, nil
		}
		var t *transientError
		if !errors.As(err, &t) {
			return Result{}, fmt.Errorf("directory %s: %w", raw, err)
		}
		failed = append(failed, raw+": "+t.err.Error())
		rest := cfg.URIs[i+1:]
		if len(rest) == 0 {
			break
		}
		if t.searched {
			failed = append(failed, "not tried after a sent search: "+strings.Join(rest, ", "))
			break
		}
		if ctx.Err() != nil {
			failed = append(failed, fmt.Sprintf("not tried (%v): %s", ctx.Err(), strings.Join(rest, ", ")))
			break
		}
	}
	return Result{}, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(failed, "; "))
}

// transientError marks a failure of one server that another server (or a
// later login) may not have: the network, a timeout, busy/unavailable.
type transientError struct {
	err      error
	searched bool // the search was sent: no failover
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err: err} }

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("directory: CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory: CA file %s: no PEM certificate", c.CAFile)
		}
	}
	if c.ClientCert != nil {
		tc.Certificates = []tls.Certificate{*c.ClientCert}
	}
	return tc, nil
}

// query is one Lookup's search, run against one server after another.
type query struct {
	cfg    Config
	tls    *tls.Config
	filter string
}

// run looks the user up on one server. Errors that are worth the next server
// are *transientError.
func (q query) run(ctx context.Context, srv server) (Result, error) {
	conn, err := q.connect(ctx, srv)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	res, err := q.search(ctx, conn)
	if err != nil {
		var t *transientError
		if errors.As(err, &t) {
			t.searched = true
		}
		return Result{}, err
	}
	res.URI = srv.uri
	return res, nil
}

// conn is an LDAP session with the raw TCP connection under it, whose
// deadline bounds every read and write of the session.
type conn struct {
	*ldap.Conn
	raw  net.Conn
	stop func() bool // stops the context watcher
}

func (c *conn) Close() {
	c.stop()
	c.Conn.Close()
	c.raw.Close()
}

// setDeadline bounds the session's I/O by t, and go-ldap's own per-request
// timer too (it does not see the connection's deadline as a timeout).
func (c *conn) setDeadline(t time.Time) {
	_ = c.raw.SetDeadline(t)
	c.Conn.SetTimeout(time.Until(t))
}

// connect sets up a session with srv: TCP, TLS (ldaps or StartTLS), bind;
// all of it within ConnectTimeout.
func (q query) connect(ctx context.Context, srv server) (*conn, error) {
	cctx, cancel := context.WithTimeout(ctx, q.cfg.ConnectTimeout)
	defer cancel()
	deadline, _ := cctx.Deadline()

	var d net.Dialer
	raw, err := d.DialContext(cctx, "tcp", srv.addr)
	if err != nil {
		return nil, transient(err)
	}
	// ctx ending (the caller gave up, or Timeout) ends any I/O at once.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*conn, error) {
		stop()
		raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(deadline)

	nc := raw
	if srv.tls {
		if srv.startTLS {
			if err := startTLS(raw); err != nil {
				return fail(err)
			}
		}
		tc := q.tls.Clone()
		tc.ServerName = srv.host
		t := tls.Client(raw, tc)
		if err := t.HandshakeContext(cctx); err != nil {
			return fail(tlsError(err))
		}
		nc = t
	}
	lc := ldap.NewConn(nc, srv.tls)
	lc.Start()
	c := &conn{Conn: lc, raw: raw, stop: stop}
	c.setDeadline(deadline)
	if err := q.bind(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (q query) bind(c *conn) error {
	var err error
	switch {
	case q.cfg.BindDN != "":
		err = c.Bind(q.cfg.BindDN, string(q.cfg.BindPassword))
	case q.cfg.ClientCert != nil:
		err = c.ExternalBind()
	default:
		return nil // anonymous: LDAPv3 needs no bind
	}
	if err != nil {
		return ldapError("bind", err)
	}
	return nil
}

// search sends the one search and reads its answer.
func (q query) search(ctx context.Context, c *conn) (Result, error) {
	deadline, _ := ctx.Deadline()
	c.setDeadline(deadline)
	if err := ctx.Err(); err != nil {
		return Result{}, transient(err) // setDeadline may have undone the context's stop
	}
	// The server's own time limit, in whole seconds, rounded up.
	limit := int((time.Until(deadline) + time.Second - 1) / time.Second)
	req := ldap.NewSearchRequest(q.cfg.Base, scopes[q.cfg.Scope], ldap.NeverDerefAliases,
		2, limit, false, q.filter, q.cfg.Attributes, nil)
	sr, err := c.Search(req)
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return Result{}, errors.New("search: more than one entry matched the filter")
		}
		return Result{}, ldapError("search", err)
	}
	switch len(sr.Entries) {
	case 0:
		// Continuation references (sr.Referrals) are not followed.
		return Result{Status: NoEntry}, nil
	case 1:
	default:
		return Result{}, errors.New("search: more than one entry matched the filter")
	}
	e := sr.Entries[0]
	for _, name := range q.cfg.Attributes {
		if v := e.GetEqualFoldAttributeValues(name); len(v) > 0 {
			return Result{Status: Found, DN: e.DN, Attribute: name, Value: v[0], Values: len(v)}, nil
		}
	}
	return Result{Status: NoNumber, DN: e.DN}, nil
}

// ldapError classifies an error of a bind or search: a result code the
// server sent is definitive (wrong password, no such base, referral, ...),
// except busy, unavailable and its own time limit; everything else (the
// connection broke, timed out, sent garbage) is transient.
func ldapError(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode >= ldap.ErrorNetwork {
		return transient(err)
	}
	switch le.ResultCode {
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded:
		return transient(err)
	}
	return err
}

// tlsError classifies a failed handshake: a certificate that does not
// verify, or the server refusing ours, or a server that does not speak TLS
// is definitive (the same on every server of the list, or an attack: never
// a reason to try elsewhere or to use a cached number); a handshake cut
// short by the network or the clock is transient.
func tlsError(err error) error {
	err = fmt.Errorf("TLS: %w", err)
	var (
		verify *tls.CertificateVerificationError
		alert  tls.AlertError
		record tls.RecordHeaderError
		unk    x509.UnknownAuthorityError
		host   x509.HostnameError
		inval  x509.CertificateInvalidError
	)
	if errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &record) ||
		errors.As(err, &unk) || errors.As(err, &host) || errors.As(err, &inval) {
		return err
	}
	return transient(err)
}

const startTLSOID = "1.3.6.1.4.1.1466.20037"

// startTLS asks for TLS on a fresh plain connection (RFC 4511 4.14.1). It is
// done here rather than by go-ldap's Conn.StartTLS so that the handshake
// after it keeps crypto/tls's error types (a certificate that does not verify
// is definitive, a timeout is not) and honours the context. Message ID 1 may
// be used again by the session afterwards: it is no longer outstanding.
func startTLS(raw net.Conn) error {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 1, "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedRequest, nil, "Start TLS")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, startTLSOID, "TLS Extended Command"))
	p.AppendChild(req)
	if _, err := raw.Write(p.Bytes()); err != nil {
		return transient(fmt.Errorf("StartTLS: %w", err))
	}
	// The answer is small; a server sending more is not one to talk to.
	resp, err := ber.ReadPacket(io.LimitReader(raw, 64<<10))
	if err != nil {
		return transient(fmt.Errorf("StartTLS: %w", err))
	}
	if len(resp.Children) < 2 || resp.Children[1].Tag != ldap.ApplicationExtendedResponse {
		return errors.New("StartTLS: the server's answer is not an extended response")
	}
	if id, ok := resp.Children[0].Value.(int64); !ok || id != 1 {
		return errors.New("StartTLS: the server answered another message")
	}
	if err := ldap.GetLDAPError(resp); err != nil {
		return ldapError("StartTLS", err)
	}
	return nil
}
