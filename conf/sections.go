package conf

import (
	"errors"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/netmatch"
	"github.com/pam-sms/pam_sms/smsclient"
)

// Defaults of SPEC section 3 that are not obvious from their getter call.
const (
	DefaultMessage  = "Your login code for {host}: {code}"
	DefaultSuccess  = `^(OK|100)\b`
	DefaultStateDir = "/var/lib/pam-sms"
)

// sectionNames lists the tables of the file in the order they are checked.
func sectionNames() []string {
	return []string{"policy", "code", "gateway", "limits", "directory", "cost", "numbers"}
}

// knownKeys lists the keys a table may hold; nil means any (numbers, extra).
func knownKeys(table string) []string {
	switch table {
	case "policy":
		return []string{"groups", "exempt_users", "exempt_groups", "trusted_networks", "trust_local", "fail_mode", "missing_number",
			"numbers_files"}
	case "code":
		return []string{"digits", "validity", "attempts", "resends", "language", "message"}
	case "gateway":
		return append(gatewayKeys(), failoverKeys()...)
	case "gateway.failover":
		return gatewayKeys()
	case "gateway.fields":
		return []string{"id", "password", "number", "text", "sender"}
	case "limits":
		return []string{"window", "per_user", "per_number", "per_host", "daily", "state_dir"}
	case "directory":
		return directoryKeys()
	}
	return nil
}

// keyHint explains an unknown key of table: a near miss, or the table it
// belongs in.
func keyHint(table string) func(string) string {
	return func(name string) string {
		for _, other := range []string{"policy", "code", "gateway", "gateway.fields", "limits", "directory"} {
			if other != table && slices.Contains(knownKeys(other), name) {
				return "it belongs in [" + other + "]"
			}
		}
		if s := suggest(name, knownKeys(table)); s != "" {
			return "did you mean " + s + "?"
		}
		return ""
	}
}

func (p *parser) config(root section) *Config {
	cfg := &Config{
		Policy:  p.policy(p.sub(root, "policy")),
		Code:    p.code(p.sub(root, "code")),
		Gateway: p.gateway(p.sub(root, "gateway")),
		Limits:  p.limits(p.sub(root, "limits")),
		Numbers: p.numbers(p.sub(root, "numbers")),
	}
	cfg.Directory = p.directory(p.sub(root, "directory"))
	cfg.Cost = p.cost(p.sub(root, "cost"))
	for _, n := range root.sorted() {
		if slices.Contains(sectionNames(), n.name) {
			continue
		}
		what := "unknown key"
		if _, isTable := n.val.(map[string]any); isTable {
			what = "unknown section"
		}
		if h := keyHint("")(n.name); h != "" {
			what += " (" + h + ")"
		} else if s := suggest(n.name, sectionNames()); s != "" {
			what += " (did you mean [" + s + "]?)"
		}
		p.add(n, "%s", what)
	}
	return cfg
}

func (p *parser) policy(s section) Policy {
	pol := Policy{
		Groups:          p.groups(s),
		ExemptUsers:     p.exempt(s, "exempt_users", "user"),
		ExemptGroups:    p.exempt(s, "exempt_groups", "group"),
		TrustedNetworks: p.networks(s),
		TrustLocal:      p.boolean(s, "trust_local", false),
	}
	pol.AllUsers = slices.Contains(pol.Groups, "*")
	if p.enum(s, "fail_mode", "secure", "secure", "safe") == "safe" {
		pol.FailMode = FailSafe
	}
	if p.enum(s, "missing_number", "deny", "deny", "ignore") == "ignore" {
		pol.MissingNumber = MissingIgnore
	}
	pol.NumbersFiles = p.numbersFiles(s)
	p.unknown(s, knownKeys("policy"), keyHint("policy"))
	return pol
}

func (p *parser) groups(s section) []string {
	groups, ok := p.strings(s, "groups", []string{"*"})
	if !ok {
		return groups
	}
	if len(groups) == 0 {
		p.addKey(s, "groups", `must not be empty (use ["*"] for every user)`)
	}
	for _, g := range groups {
		if g != "*" && !validName(g) {
			p.addKey(s, "groups", "%s is not a valid group name", quote(g))
		}
	}
	return groups
}

// exempt reads exempt_users or exempt_groups: names only, since "*" would
// exempt everyone and is better said by taking pam_sms out of the stack.
func (p *parser) exempt(s section, key, what string) []string {
	names, ok := p.strings(s, key, nil)
	if !ok {
		return nil
	}
	for _, n := range names {
		switch {
		case n == "*":
			p.addKey(s, key, `"*" would exempt every %s; list the break-glass names`, what)
		case !validName(n):
			p.addKey(s, key, "%s is not a valid %s name", quote(n), what)
		}
	}
	return names
}

// ValidName reports whether name is a user or group name as the config
// accepts them (validName), for the numbers files read outside this package.
func ValidName(name string) bool { return validName(name) }

// validName accepts POSIX-ish user and group names as shadow-utils does with
// its relaxed rules: [a-zA-Z0-9_.][a-zA-Z0-9_.-]*$? and at most 32 bytes.
func validName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	name = strings.TrimSuffix(name, "$")
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' ||
			r == '-' && i > 0
		if !ok {
			return false
		}
	}
	return name != ""
}

// MaxNumbersFiles bounds policy.numbers_files: each one is a file to open at
// an enforced login whose user is in none of the files before it.
const MaxNumbersFiles = 16

// numbersFiles reads policy.numbers_files: absolute, clean, distinct paths.
// The files are not opened here: the config is read on every login, and a
// numbers file only for an enforced user (numsource), so that a missing or
// broken numbers file never touches an exempt login.
func (p *parser) numbersFiles(s section) []string {
	const key = "numbers_files"
	paths, ok := p.strings(s, key, nil)
	if !ok || len(paths) == 0 {
		return nil
	}
	if len(paths) > MaxNumbersFiles {
		p.addKey(s, key, "lists %d files; at most %d are allowed (merge some)", len(paths), MaxNumbersFiles)
	}
	for i, path := range paths {
		switch {
		case !filepath.IsAbs(path):
			p.addKey(s, key, "must hold absolute paths, not %s", quote(path))
		case filepath.Clean(path) != path:
			p.addKey(s, key, "must hold clean paths (write %s)", quote(filepath.Clean(path)))
		case slices.Contains(paths[:i], path):
			p.addKey(s, key, "%s is listed twice", quote(path))
		}
	}
	return paths
}

func (p *parser) networks(s section) netmatch.Set {
	list, ok := p.strings(s, "trusted_networks", nil)
	if !ok || len(list) == 0 {
		return netmatch.Set{}
	}
	set, err := netmatch.Parse(list)
	if err == nil {
		return set
	}
	// Parse stops at the first bad entry; report every one, so that a
	// list is fixed in one go.
	for i, e := range list {
		if _, err := netmatch.Parse([]string{e}); err != nil {
			var pe *netmatch.ParseError
			if errors.As(err, &pe) {
				pe.Index = i
			}
			p.addKey(s, "trusted_networks", "%s", trimPkg(err))
		}
	}
	return set
}

func (p *parser) code(s section) Code {
	c := Code{
		Digits:   p.integer(s, "digits", 6, 4, 10),
		Validity: p.duration(s, "validity", 5*time.Minute, 30*time.Second, time.Hour),
		Attempts: p.integer(s, "attempts", 3, 1, 10),
		Resends:  p.integer(s, "resends", 1, 0, 5),
		Language: p.enum(s, "language", "en", "en", "de"),
	}
	c.Message, _ = p.str(s, "message", DefaultMessageFor(c.Language))
	p.checkMessage(s, c.Message)
	p.unknown(s, knownKeys("code"), keyHint("code"))
	return c
}

// checkMessage checks the SMS template: not empty, {code} present, no
// placeholder Render would leave in the text.
func (p *parser) checkMessage(s section, msg string) {
	if msg == "" {
		p.addKey(s, "message", "must not be empty")
		return
	}
	seen := map[string]bool{}
	for _, ph := range regexp.MustCompile(`\{[^{}]*\}`).FindAllString(msg, -1) {
		switch ph {
		case "{code}", "{host}", "{user}", "{minutes}":
			continue
		}
		if !seen[ph] {
			seen[ph] = true
			p.addKey(s, "message", "unknown placeholder %s (use {code}, {host}, {user} or {minutes})", quote(ph))
		}
	}
	if !strings.Contains(msg, "{code}") {
		p.addKey(s, "message", "must contain {code}")
	}
}

// gatewayTable reads one gateway: [gateway] itself (table "gateway") or one
// [[gateway.failover]] table (table "gateway.failover"). Both are read and
// checked by this one function, so a failover is held to every rule of
// [gateway], its secrets files included.
func (p *parser) gatewayTable(s section, table string) Gateway {
	var g Gateway
	g.URL = p.url(s)
	g.Method = p.method(s)
	g.ID, _ = p.str(s, "id", "")
	g.Password, _ = p.str(s, "password", "")
	var pwOK bool
	g.PasswordFile, pwOK = p.absPath(s, "password_file")
	if g.Password != "" && g.PasswordFile != "" {
		p.addKey(s, "password_file", "password and password_file are both set; keep only one")
		pwOK = false
	}
	g.Sender = p.sender(s)
	g.Timeout = p.duration(s, "timeout", 10*time.Second, time.Second, time.Minute)
	g.Success = p.regex(s, "success", DefaultSuccess, true)
	g.RateLimited = p.regex(s, "rate_limited", "", false)
	var caOK bool
	g.CAFile, caOK = p.absPath(s, "ca_file")
	g.NumberFormat = p.numberFormat(s)
	g.Fields = p.fields(p.sub(s, "fields"))
	g.Extra = p.extra(p.sub(s, "extra"), g.Fields)
	p.reach(s, &g)
	p.unknown(s, knownKeys(table), keyHint(table))

	if p.files && pwOK && g.PasswordFile != "" {
		pw, err := readPassword(g.PasswordFile)
		if err != nil {
			p.addKey(s, "password_file", "%s", trimPkg(err))
		}
		g.Password = pw
	}
	if p.files && caOK && g.CAFile != "" {
		if err := checkCAFile(g.CAFile); err != nil {
			p.addKey(s, "ca_file", "%s", trimPkg(err))
		}
	}
	return g
}

// url checks gateway.url. The URL is never repeated in a message: it may
// carry credentials.
func (p *parser) url(s section) string {
	if _, ok := s.items["url"]; !ok {
		p.addKey(s, "url", "required key is missing (the gateway's send URL)")
		return ""
	}
	raw, ok := p.str(s, "url", "")
	if !ok {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		p.addKey(s, "url", "must be an absolute https URL such as \"https://gateway.example/send\"")
	case u.User != nil:
		p.addKey(s, "url", "must not hold user:password@; use id and password_file")
	case u.Scheme == "https":
	case u.Scheme == "http":
		if !isLoopback(u.Hostname()) {
			p.addKey(s, "url", "http is allowed only to a loopback address: the gateway credentials "+
				"and the code would travel in clear (use https)")
		}
	default:
		p.addKey(s, "url", "scheme must be https (or http to a loopback address), not %s", quote(u.Scheme))
	}
	return raw
}

// isLoopback reports whether host names this machine without DNS: localhost,
// 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

func (p *parser) method(s section) string {
	m, ok := p.str(s, "method", "POST")
	if !ok {
		return "POST"
	}
	up := strings.ToUpper(m)
	if up != "POST" && up != "GET" {
		p.addKey(s, "method", `must be "POST" or "GET", not %s`, quote(m))
	}
	return up
}

// absPath returns an optional absolute path; ok is false after a problem.
func (p *parser) absPath(s section, name string) (string, bool) {
	v, ok := p.str(s, name, "")
	if ok && v != "" && !filepath.IsAbs(v) {
		p.addKey(s, name, "must be an absolute path, not %s", quote(v))
		return v, false
	}
	return v, ok
}

func (p *parser) sender(s section) string {
	v, ok := p.str(s, "sender", "")
	if ok && v != "" {
		if err := smsclient.ValidateSender(v); err != nil {
			p.addKey(s, "sender", "%s", trimPkg(err))
		}
	}
	return v
}

// regex compiles the pattern at name; an empty pattern is nil unless required.
func (p *parser) regex(s section, name, def string, required bool) *regexp.Regexp {
	v, ok := p.str(s, name, def)
	if !ok {
		return nil
	}
	if v == "" {
		if required {
			p.addKey(s, name, "must not be empty (a pattern matching the gateway's answer)")
		}
		return nil
	}
	re, err := regexp.Compile(v)
	if err != nil {
		msg := err.Error()
		if se, ok := err.(*syntax.Error); ok {
			msg = se.Code.String() + ": " + quote(se.Expr)
		}
		p.addKey(s, name, "invalid regular expression: %s", msg)
		return nil
	}
	return re
}

func (p *parser) numberFormat(s section) smsclient.NumberFormat {
	v, ok := p.str(s, "number_format", "00")
	if _, present := s.items["number_format"]; !ok || !present {
		return smsclient.FormatDoubleZero
	}
	f, err := smsclient.ParseNumberFormat(v)
	if err != nil {
		p.addKey(s, "number_format", `must be "00", "+" or "digits", not %s`, quote(v))
	}
	return f
}

// fieldSpec ties a [gateway.fields] key to its default and destination.
type fieldSpec struct {
	key, def string
	dst      *string
}

func (p *parser) fields(s section) smsclient.Fields {
	var f smsclient.Fields
	specs := []fieldSpec{
		{"id", "id", &f.ID},
		{"password", "pw", &f.Password},
		{"number", "to", &f.Number},
		{"text", "text", &f.Text},
		{"sender", "origin", &f.Sender},
	}
	for _, sp := range specs {
		v, ok := p.str(s, sp.key, sp.def)
		*sp.dst = v
		switch {
		case !ok:
		case v == "":
			p.addKey(s, sp.key, "must not be empty")
		case !validField(v):
			p.addKey(s, sp.key, "%s is not a valid field name (use letters, digits and _ . - [ ])", quote(v))
		}
	}
	p.distinctFields(s, specs)
	p.unknown(s, knownKeys("gateway.fields"), keyHint("gateway.fields"))
	return f
}

// distinctFields reports two fields with one name, at the key the
// administrator wrote (a default can only collide with an explicit key).
func (p *parser) distinctFields(s section, specs []fieldSpec) {
	for j := range specs {
		for i := range j {
			v := *specs[j].dst
			if v == "" || v != *specs[i].dst {
				continue
			}
			at, other := specs[j].key, specs[i].key
			if _, explicit := s.items[at]; !explicit {
				at, other = other, at
			}
			p.addKey(s, at, "%s is also the name of gateway.fields.%s", quote(v), other)
			break
		}
	}
}

// validField accepts form field names: letters, digits and _ . - [ ].
func validField(name string) bool {
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("_.-[]", r)
		if !ok {
			return false
		}
	}
	return name != ""
}

// extra reads [gateway.extra]. Values are never repeated in messages: a
// contract may put a token there.
func (p *parser) extra(s section, f smsclient.Fields) map[string]string {
	names := map[string]string{f.ID: "id", f.Password: "password", f.Number: "number", f.Text: "text", f.Sender: "sender"}
	out := make(map[string]string, len(s.items))
	for _, n := range s.sorted() {
		v, ok := n.val.(string)
		switch {
		case !ok:
			p.add(n, "must be a string, not %s", typeName(n.val))
		case !validField(n.name):
			p.add(n, "is not a valid field name (use letters, digits and _ . - [ ])")
		case names[n.name] != "":
			p.add(n, "collides with gateway.fields.%s; the field would be sent twice", names[n.name])
		}
		out[n.name] = v
	}
	return out
}

func (p *parser) limits(s section) Limits {
	l := Limits{Limits: limits.Limits{
		Window:    p.duration(s, "window", 15*time.Minute, time.Minute, time.Hour),
		PerUser:   p.integer(s, "per_user", 5, 0, limits.MaxLimit),
		PerNumber: p.integer(s, "per_number", 5, 0, limits.MaxLimit),
		PerHost:   p.integer(s, "per_host", 20, 0, limits.MaxLimit),
		Daily:     p.integer(s, "daily", 0, 0, limits.MaxLimit),
	}}
	dir, ok := p.str(s, "state_dir", DefaultStateDir)
	switch {
	case !ok:
	case !filepath.IsAbs(dir):
		p.addKey(s, "state_dir", "must be an absolute path, not %s", quote(dir))
	case filepath.Clean(dir) != dir:
		p.addKey(s, "state_dir", "must be a clean path (write %s)", quote(filepath.Clean(dir)))
	}
	l.StateDir = dir
	p.unknown(s, knownKeys("limits"), keyHint("limits"))
	return l
}

func (p *parser) numbers(s section) map[string]smsclient.Number {
	out := make(map[string]smsclient.Number, len(s.items))
	for _, n := range s.sorted() {
		if !validName(n.name) {
			p.add(n, "not a valid user name")
		}
		v, ok := n.val.(string)
		if !ok {
			p.add(n, "must be a string, not %s", typeName(n.val))
			continue
		}
		num, err := smsclient.ParseNumber(v)
		if err != nil {
			p.add(n, "%s", numberMsg(err, v))
			continue
		}
		out[n.name] = num
	}
	return out
}

// fourDigits finds a run of digits that may be part of a number.
var fourDigits = regexp.MustCompile(`[0-9]{4}`)

// NumberMessage is numberMsg for the other places numbers are read from
// (numbers files, later the directory): the reason a value is not a number,
// without the value.
func NumberMessage(err error, number string) string { return numberMsg(err, number) }

// numberMsg turns a ParseNumber error into a message that cannot carry the
// number into a log: numbers are personal data (SPEC section 4).
func numberMsg(err error, number string) string {
	msg := trimPkg(err)
	t := strings.TrimSpace(number)
	if len(t) >= 3 && strings.Contains(msg, t) || fourDigits.MatchString(msg) {
		return `not a valid mobile number (use the international format, e.g. "+49 172 34567890")`
	}
	return msg
}

// trimPkg drops a package prefix from a dependency's error, since the key
// already says where the message comes from.
func trimPkg(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"conf: ", "smsclient: ", "netmatch: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}
