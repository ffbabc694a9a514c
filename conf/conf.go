// Package conf reads and validates /etc/security/pam_sms.conf (TOML).
//
// Every key of SPEC section 3 is decoded into typed, validated values: a Config
// that Load returns is ready to use, and an error names the file, line and key.
package conf

import (
	"strconv"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/netmatch"
	"github.com/pam-sms/pam_sms/smsclient"
)

// DefaultPath is where the module and the CLI look when no config= is given.
const DefaultPath = "/etc/security/pam_sms.conf"

// FailMode says what happens when the gateway cannot be used.
type FailMode int

const (
	FailSecure FailMode = iota // deny (PAM_AUTHINFO_UNAVAIL)
	FailSafe                   // let the login pass (PAM_IGNORE), logged as a warning
)

// MissingNumber says what happens to an enforced user without a number.
type MissingNumber int

const (
	MissingDeny   MissingNumber = iota // PAM_AUTH_ERR, user told to contact the administrator
	MissingIgnore                      // PAM_IGNORE
)

// Config is a validated configuration.
type Config struct {
	Path    string
	Policy  Policy
	Code    Code
	Gateway Gateway
	Limits  Limits
	Numbers map[string]smsclient.Number // user name -> number
	// Directory is the [directory] section, nil when absent.
	Directory *Directory
	// Cost is the [cost] section: prices per country for pam-sms stats.
	Cost Cost
}

// Policy is the [policy] section.
type Policy struct {
	Groups   []string // ["*"] = every user
	AllUsers bool     // Groups contains "*"
	// ExemptUsers and ExemptGroups never need a code (break-glass accounts):
	// policy.Decide checks them before everything else.
	ExemptUsers     []string
	ExemptGroups    []string
	TrustedNetworks netmatch.Set
	TrustLocal      bool
	FailMode        FailMode
	MissingNumber   MissingNumber
	// NumbersFiles are read, in order, for an enforced user not in
	// [numbers] (package numsource); never by Load.
	NumbersFiles []string
}

// Code is the [code] section.
type Code struct {
	Digits   int
	Validity time.Duration
	Attempts int
	Resends  int
	Language string // "en" or "de"
	Message  string // template with {code}, {host}, {user}, {minutes}
}

// Gateway is the [gateway] section; Password is filled from password_file when set.
type Gateway struct {
	smsclient.Config
	PasswordFile string
	// ProxyPasswordFile fills ProxyPassword; HeaderFiles maps a header
	// name to the file whose first line is its value (SecretHeaders).
	ProxyPasswordFile string
	HeaderFiles       map[string]string

	// Failover holds the [[gateway.failover]] tables in order, each a
	// complete gateway read like [gateway] (no key is inherited); nil in a
	// failover itself. Config.Gateways lists them after [gateway].
	Failover []Gateway
	// FailoverOnRateLimit: a 429 or a reply matching rate_limited moves
	// on to the next gateway too (failover_on_rate_limit, [gateway] only).
	FailoverOnRateLimit bool
}

// Limits is the [limits] section.
type Limits struct {
	limits.Limits
	StateDir string
}

// Problem is one thing wrong in a config file.
type Problem struct {
	Line int    // 1-based line of the key, 0 when unknown
	Key  string // dotted key such as "policy.groups"; empty for syntax errors
	Msg  string
}

// String formats p as "LINE: KEY: MSG", leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one config file, so that an administrator
// can fix them all in one go rather than one per login attempt.
type Error struct {
	Path     string
	Problems []Problem
}

// Error prints one problem per line as "PATH:LINE: KEY: MSG".
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		switch {
		case e.Path == "":
			lines[i] = p.String()
		case p.Line > 0:
			lines[i] = e.Path + ":" + p.String()
		default:
			lines[i] = e.Path + ": " + p.String()
		}
	}
	return strings.Join(lines, "\n")
}

// Parse decodes and validates the config in data; name is used in messages
// and as Config.Path. Absent keys get their defaults. Files named by the
// config (password_file, ca_file) are not opened: Load does that.
//
// The error, if any, is an *Error holding every problem found.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, false)
}

// Load checks the ownership and mode of the file at path (see CheckFile),
// reads and parses it, then reads the gateway password from password_file and
// checks ca_file. A problem in the content or in a named file is reported as
// an *Error; an unsafe or unreadable config file as a plain error.
func Load(path string) (*Config, error) {
	data, err := readChecked(path, maxConfigSize)
	if err != nil {
		return nil, err
	}
	return parse(path, data, true)
}

// Render fills the message template: {code}, {host}, {user}, and {minutes}
// (the validity in whole minutes, rounded up). Values are inserted in one pass,
// so a host or user name that looks like a placeholder stays as it is.
func (c Code) Render(code, host, user string) string {
	minutes := int64((c.Validity + time.Minute - 1) / time.Minute)
	r := strings.NewReplacer(
		"{code}", code,
		"{host}", host,
		"{user}", user,
		"{minutes}", strconv.FormatInt(minutes, 10),
	)
	return r.Replace(c.Message)
}
