package smsclient

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Body encodings of a POST request.
const (
	BodyForm = "form" // application/x-www-form-urlencoded (the default)
	BodyJSON = "json" // one JSON object, every value a string
)

// AuthBasic sends ID and Password as HTTP Basic credentials instead of fields.
const AuthBasic = "basic"

const (
	jsonType     = "application/json"
	maxMessageID = 64 // bytes of Result.MessageID
)

// proxyFunc returns the fixed proxy of the config for every request, or nil
// for none. Nothing comes from HTTP_PROXY and friends: the setgid helper's
// caller sets those (SPEC section 6), and a proxy sees the gateway password
// of an http:// gateway and, for every gateway, which hosts are texted when.
func proxyFunc(cfg Config) (func(*http.Request) (*url.URL, error), error) {
	if cfg.Proxy == "" {
		return nil, nil
	}
	u, err := CheckProxy(cfg.Proxy)
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		// The transport sends these as Proxy-Authorization: Basic, on the
		// CONNECT of an https gateway and on each request to an http one.
		u.User = url.UserPassword(u.User.Username(), cfg.ProxyPassword)
	}
	return http.ProxyURL(u), nil
}

// CheckProxy parses a proxy URL: http://[USER@]HOST:PORT, nothing else. The
// password never goes into the URL (proxy_password_file holds it), and the
// URL is never repeated in a message.
func CheckProxy(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, errors.New("smsclient: proxy: must be http://HOST:PORT, e.g. \"http://proxy.example:3128\"")
	case u.Scheme != "http":
		return nil, fmt.Errorf("smsclient: proxy: scheme must be http (the proxy is asked with CONNECT for an https gateway), not %q", u.Scheme)
	case u.Port() == "":
		return nil, errors.New("smsclient: proxy: needs a port, e.g. \"http://proxy.example:3128\"")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("smsclient: proxy: must hold no path, query or fragment")
	case u.User != nil && u.User.Username() == "":
		return nil, errors.New("smsclient: proxy: the user before @ is empty")
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		return nil, errors.New("smsclient: proxy: must not hold a password; put it into proxy_password_file")
	}
	return u, nil
}

// checkReach checks the keys of SPEC section 8 that this file implements.
func checkReach(cfg Config, endpoint *url.URL) error {
	if cfg.Proxy != "" {
		u, err := CheckProxy(cfg.Proxy)
		if err != nil {
			return err
		}
		switch {
		case u.User != nil && cfg.ProxyPassword == "":
			return errors.New("smsclient: proxy: a user is given but no proxy password (proxy_password_file)")
		case u.User == nil && cfg.ProxyPassword != "":
			return errors.New("smsclient: proxy: a proxy password is given but no user (write http://USER@HOST:PORT)")
		case endpoint != nil && endpoint.Scheme == "http" && !isLoopback(u.Hostname()):
			// An http:// gateway is allowed only on this host. Through a
			// proxy elsewhere, the credentials and the code would cross
			// the network in clear; https is tunnelled (CONNECT) instead.
			return errors.New("smsclient: proxy: an http:// gateway may only be reached through a proxy on a loopback address; " +
				"the credentials and the code would cross the proxy hop in clear (use https)")
		}
	} else if cfg.ProxyPassword != "" {
		return errors.New("smsclient: proxy: a proxy password is given but no proxy")
	}
	switch cfg.Auth {
	case "":
	case AuthBasic:
		if cfg.ID == "" {
			return errors.New("smsclient: auth: \"basic\" needs id (the user name of the credentials)")
		}
		if strings.Contains(cfg.ID, ":") {
			return errors.New("smsclient: auth: with \"basic\", id must not contain a colon")
		}
	default:
		return fmt.Errorf("smsclient: auth: must be \"basic\" or absent, not %q", cfg.Auth)
	}
	switch cfg.Body {
	case "", BodyForm:
	case BodyJSON:
		if cfg.Method != http.MethodPost {
			return errors.New("smsclient: body: \"json\" needs method \"POST\"")
		}
	default:
		return fmt.Errorf("smsclient: body: must be \"form\" or \"json\", not %q", cfg.Body)
	}
	if cfg.MessageID != nil && cfg.MessageID.NumSubexp() < 1 {
		return errors.New("smsclient: message_id: the pattern needs a capture group, e.g. \"\\\"sid\\\": *\\\"([^\\\"]+)\\\"\"")
	}
	for _, h := range []map[string]string{cfg.Headers, cfg.SecretHeaders} {
		for _, name := range sortedKeys(h) {
			if err := CheckHeader(name, h[name], cfg.Auth); err != nil {
				return err
			}
		}
	}
	for name := range cfg.SecretHeaders {
		if _, dup := cfg.Headers[name]; dup || hasFold(cfg.Headers, name) {
			return fmt.Errorf("smsclient: header %q is set twice (headers and header_files)", name)
		}
	}
	return nil
}

func hasFold(m map[string]string, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// reservedHeaders are set by the client or the transport: a second value
// would change how the request is framed or routed.
var reservedHeaders = []string{"Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
	"Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Connection", "Expect", "Cookie"}

// CheckHeader checks a configured header. The value is never repeated in the
// error: it may be a token.
func CheckHeader(name, value, auth string) error {
	if !validToken(name) {
		return fmt.Errorf("smsclient: header %q: not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)", name)
	}
	canon := http.CanonicalHeaderKey(name)
	for _, r := range reservedHeaders {
		if canon == r {
			return fmt.Errorf("smsclient: header %q is set by pam_sms itself and cannot be configured", name)
		}
	}
	if canon == "Authorization" && auth == AuthBasic {
		return fmt.Errorf("smsclient: header %q: auth = \"basic\" sets it already", name)
	}
	if value == "" {
		return fmt.Errorf("smsclient: header %q: the value is empty", name)
	}
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fmt.Errorf("smsclient: header %q: the value holds a control character", name)
		}
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("!#$%&'*+-.^_`|~", r)
		if !ok {
			return false
		}
	}
	return s != ""
}

// setHeaders adds the configured headers and the Basic credentials.
func (c *Client) setHeaders(h http.Header) {
	for _, m := range []map[string]string{c.cfg.Headers, c.cfg.SecretHeaders} {
		for name, v := range m {
			h.Set(name, v)
		}
	}
	if c.cfg.Auth == AuthBasic {
		h.Set("Authorization", "Basic "+basicToken(c.cfg.ID, c.cfg.Password))
	}
}

func basicToken(id, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + password))
}

// describeHeaders lists the headers for DescribeRequest in a fixed order,
// with the values from files and the Basic credentials replaced.
func (c *Client) describeHeaders() string {
	var b strings.Builder
	for _, name := range sortedKeys(c.cfg.Headers) {
		b.WriteString("\n" + http.CanonicalHeaderKey(name) + ": " + c.cfg.Headers[name])
	}
	for _, name := range sortedKeys(c.cfg.SecretHeaders) {
		b.WriteString("\n" + http.CanonicalHeaderKey(name) + ": " + redacted)
	}
	if c.cfg.Auth == AuthBasic {
		b.WriteString("\nAuthorization: Basic " + redacted)
	}
	return b.String()
}

// field is one name and value of the request, in the order they are sent.
type field struct{ name, value string }

// fieldList is the request's fields: id, password (both only without
// auth = "basic"), number, text, sender, then the extra fields by name.
// With redact the password value is replaced, for DescribeRequest.
func (c *Client) fieldList(to Number, text string, redact bool) []field {
	f := c.cfg.Fields
	var out []field
	if c.cfg.Auth != AuthBasic {
		if c.cfg.ID != "" {
			out = append(out, field{f.ID, c.cfg.ID})
		}
		if c.cfg.Password != "" && redact {
			out = append(out, field{f.Password, redacted})
		} else if c.cfg.Password != "" {
			out = append(out, field{f.Password, c.cfg.Password})
		}
	}
	out = append(out, field{f.Number, to.Format(c.cfg.NumberFormat)}, field{f.Text, text})
	if c.cfg.Sender != "" {
		out = append(out, field{f.Sender, c.cfg.Sender})
	}
	for _, name := range sortedKeys(c.cfg.Extra) {
		out = append(out, field{name, c.cfg.Extra[name]})
	}
	return out
}

// encodeJSON writes the fields as one JSON object in the order of fieldList.
// Every value is a string, numbers too: the number format keeps its leading
// "00" or "+", and no value changes type with what it holds.
func encodeJSON(fields []field) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(f.name))
		b.WriteByte(':')
		b.WriteString(jsonString(f.value))
	}
	b.WriteByte('}')
	return b.String()
}

// jsonString encodes s as a JSON string without HTML escaping: the text
// reaches the gateway as written ("<" stays "<", not "\u003c").
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// messageID returns the first capture group of the MessageID pattern in the
// body of a sent message, made safe for a log line: printable, secrets
// scrubbed, at most maxMessageID bytes.
func (c *Client) messageID(body []byte, to Number, text string) string {
	if c.cfg.MessageID == nil {
		return ""
	}
	m := c.cfg.MessageID.FindSubmatch(body)
	if m == nil || len(m) < 2 {
		return ""
	}
	id := truncate(c.scrub(firstLine(m[1]), to, text), maxMessageID)
	// A pattern that captures part of the echoed text could capture the
	// code: a piece of the text is never logged as an id.
	if len(id) >= 4 && strings.Contains(text, id) {
		return redacted
	}
	return id
}

// secrets lists what must never appear in an error, a reply or a log line
// besides the text and the number: the password, header values from files,
// the proxy password and the Basic token.
func (c *Client) secrets() []string {
	s := []string{c.cfg.Password, c.cfg.ProxyPassword}
	for _, v := range c.cfg.SecretHeaders {
		s = append(s, v)
	}
	if c.cfg.Auth == AuthBasic {
		s = append(s, basicToken(c.cfg.ID, c.cfg.Password))
	}
	return s
}
