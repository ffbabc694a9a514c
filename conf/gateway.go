package conf

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pam-sms/pam_sms/smsclient"
)

// maxHeaders bounds [gateway.headers] and [gateway.header_files] together.
const maxHeaders = 32

// gatewayKeys are the keys of one gateway: of [gateway] and of each
// [[gateway.failover]] table alike.
func gatewayKeys() []string {
	return append([]string{"url", "method", "id", "password", "password_file", "sender", "timeout",
		"success", "rate_limited", "ca_file", "number_format", "fields", "extra"}, reachKeys()...)
}

// reachKeys are the [gateway] keys of SPEC section 8 read by reach.
func reachKeys() []string {
	return []string{"proxy", "proxy_password_file", "auth", "body", "message_id", "headers", "header_files"}
}

// reach reads the [gateway] keys of SPEC section 8: proxy and its password
// file, auth, body, message_id, [gateway.headers] and [gateway.header_files].
// With p.files the password file and the header files are read; their
// contents never appear in a problem.
func (p *parser) reach(s section, g *Gateway) {
	g.Proxy = p.proxy(s, g.URL)
	var pwOK bool
	g.ProxyPasswordFile, pwOK = p.absPath(s, "proxy_password_file")
	_, set := s.items["proxy"]
	if set && g.Proxy != "" && pwOK {
		u, err := url.Parse(g.Proxy)
		hasUser := err == nil && u.User != nil
		switch {
		case hasUser && g.ProxyPasswordFile == "":
			p.addKey(s, "proxy", "names a user but proxy_password_file is not set")
		case !hasUser && g.ProxyPasswordFile != "":
			p.addKey(s, "proxy_password_file", "is set but proxy names no user (write \"http://USER@HOST:PORT\")")
			pwOK = false
		}
	} else if !set && g.ProxyPasswordFile != "" {
		p.addKey(s, "proxy_password_file", "is set but proxy is not")
		pwOK = false
	}
	if _, ok := s.items["auth"]; ok {
		g.Auth = p.enum(s, "auth", "", smsclient.AuthBasic)
	}
	if g.Auth == smsclient.AuthBasic && g.ID == "" {
		p.addKey(s, "auth", "\"basic\" needs id (the user name of the credentials)")
	}
	if _, ok := s.items["body"]; ok {
		g.Body = p.enum(s, "body", smsclient.BodyForm, smsclient.BodyForm, smsclient.BodyJSON)
	}
	if g.Body == smsclient.BodyJSON && g.Method != http.MethodPost {
		p.addKey(s, "body", "\"json\" needs method = \"POST\"")
	}
	g.MessageID = p.regex(s, "message_id", "", false)
	if g.MessageID != nil && g.MessageID.NumSubexp() < 1 {
		p.addKey(s, "message_id", "the pattern needs a capture group: its first group is the id (e.g. %s)",
			quote(`"sid": *"([^"]+)"`))
	}
	g.Headers = p.headers(p.sub(s, "headers"), g.Auth)
	g.HeaderFiles = p.headerFiles(p.sub(s, "header_files"), g.Headers)
	if n := len(g.Headers) + len(g.HeaderFiles); n > maxHeaders {
		p.addKey(s, "headers", "%d headers in headers and header_files; at most %d are allowed", n, maxHeaders)
	}

	if !p.files {
		return
	}
	if pwOK && g.ProxyPasswordFile != "" {
		pw, err := readSecretLine(g.ProxyPasswordFile, "the proxy password")
		if err != nil {
			p.addKey(s, "proxy_password_file", "%s", trimPkg(err))
		}
		g.ProxyPassword = string(pw)
	}
	hf := p.sub(s, "header_files")
	for _, name := range sortedNames(g.HeaderFiles) {
		b, err := readSecretLine(g.HeaderFiles[name], "the header value")
		v := string(b)
		if err == nil {
			err = smsclient.CheckHeader(name, v, g.Auth)
		}
		if err != nil {
			p.addKey(hf, name, "%s", headerMsg(err))
			continue
		}
		if g.SecretHeaders == nil {
			g.SecretHeaders = map[string]string{}
		}
		g.SecretHeaders[name] = v
	}
}

// proxy checks gateway.proxy; the URL is never repeated in a message.
func (p *parser) proxy(s section, gatewayURL string) string {
	raw, ok := p.str(s, "proxy", "")
	if !ok || raw == "" {
		return ""
	}
	u, err := smsclient.CheckProxy(raw)
	if err != nil {
		p.addKey(s, "proxy", "%s", strings.TrimPrefix(trimPkg(err), "proxy: "))
		return ""
	}
	// An http:// gateway is allowed only on this host (see url); through a
	// proxy elsewhere its credentials and the code would cross the network
	// in clear, where https is tunnelled with CONNECT.
	if gw, err := url.Parse(gatewayURL); err == nil && gw.Scheme == "http" && !isLoopback(u.Hostname()) {
		p.addKey(s, "proxy", "an http:// gateway may only be reached through a proxy on a loopback address: "+
			"the credentials and the code would cross the proxy hop in clear (use https)")
	}
	return raw
}

// headers reads [gateway.headers]: NAME = "value". Values are never repeated
// in messages: a contract may put a token there (header_files is the place).
func (p *parser) headers(s section, auth string) map[string]string {
	if len(s.items) == 0 {
		return nil
	}
	out := make(map[string]string, len(s.items))
	for _, n := range s.sorted() {
		v, ok := n.val.(string)
		if !ok {
			p.add(n, "must be a string, not %s", typeName(n.val))
			continue
		}
		if err := smsclient.CheckHeader(n.name, v, auth); err != nil {
			p.add(n, "%s", headerMsg(err))
			continue
		}
		if other := foldDup(out, n.name); other != "" {
			p.add(n, "is the header %s again (header names ignore case)", quote(other))
			continue
		}
		out[n.name] = v
	}
	return out
}

// headerFiles reads [gateway.header_files]: NAME = "/absolute/path", a file
// whose first line is the value (same rules as password_file).
func (p *parser) headerFiles(s section, plain map[string]string) map[string]string {
	if len(s.items) == 0 {
		return nil
	}
	out := make(map[string]string, len(s.items))
	for _, n := range s.sorted() {
		v, ok := n.val.(string)
		switch {
		case !ok:
			p.add(n, "must be a string (an absolute path), not %s", typeName(n.val))
			continue
		case !strings.HasPrefix(v, "/"):
			p.add(n, "must be an absolute path, not %s", quote(v))
			continue
		}
		if err := smsclient.CheckHeader(n.name, "x", ""); err != nil {
			p.add(n, "%s", headerMsg(err))
			continue
		}
		if other := foldDup(plain, n.name); other != "" {
			p.add(n, "the header is also set in gateway.headers (as %s); keep one", quote(other))
			continue
		}
		if other := foldDup(out, n.name); other != "" {
			p.add(n, "is the header %s again (header names ignore case)", quote(other))
			continue
		}
		out[n.name] = v
	}
	return out
}

// headerMsg drops the package and the header name from a CheckHeader error:
// the key already names the header.
func headerMsg(err error) string {
	msg := strings.TrimPrefix(trimPkg(err), "header ")
	if strings.HasPrefix(msg, `"`) {
		if i := strings.Index(msg[1:], `"`); i >= 0 {
			msg = strings.TrimPrefix(strings.TrimPrefix(msg[i+2:], ":"), " ")
		}
	}
	return msg
}

func foldDup(m map[string]string, name string) string {
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}

func sortedNames(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
