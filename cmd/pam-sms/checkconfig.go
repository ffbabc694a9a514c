package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
)

// Severities of a problem: a problem fails check (and enable), a warning
// does not.
const (
	sevProblem = "problem"
	sevWarning = "warning"
)

// problem is one finding of check, placed at the file, line and key to fix.
type problem struct {
	File     string `json:"file"`
	Line     int    `json:"line"` // 1-based; 0 when not tied to a line
	Key      string `json:"key"`  // dotted key such as "policy.groups"; "" for the file itself
	Message  string `json:"message"`
	Severity string `json:"severity"` // sevProblem or sevWarning
}

// String formats p as check prints it: "FILE:LINE: [warning: ]KEY: MESSAGE".
func (p problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Severity == sevWarning {
		b.WriteString("warning: ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// checkResult is what checkConfig found.
type checkResult struct {
	Path string
	// Config is the configuration as the helper reads it at login; nil when
	// it would refuse it (then every login that uses pam_sms is denied).
	Config   *conf.Config
	Problems []problem // in file order, warnings included
	// Users counts the accounts that can log in (getent passwd, without
	// nologin/false shells); Locked names those of them who are enforced,
	// not exempt and have no number while missing_number = "deny": they
	// cannot log in where pam_sms is enabled.
	Users  int
	Locked []string
	// FileNumbers counts the users with a valid number in the numbers files.
	FileNumbers int
}

// failed reports whether any finding is a problem rather than a warning.
func (r checkResult) failed() bool {
	for _, p := range r.Problems {
		if p.Severity == sevProblem {
			return true
		}
	}
	return false
}

// checkConfig reads the configuration at path exactly as pam-sms-helper does
// at login (conf.Load), then checks it against this machine: the state
// directory, the groups and users it names, the numbers, the gateway URL,
// and who would be locked out. It never fails: what it cannot check is a
// finding too. check prints the result; enable refuses on failed().
func checkConfig(ctx context.Context, h *host, path string) checkResult {
	res := checkResult{Path: path}
	cfg, err := conf.Load(path)
	var ce *conf.Error
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			res.Problems = append(res.Problems, problem{File: ce.Path, Line: p.Line, Key: p.Key, Message: p.Msg, Severity: sevProblem})
		}
	case err != nil:
		// The file is unsafe or unreadable; File says which, once.
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "conf: "), path+": ")
		res.Problems = append(res.Problems, problem{File: path, Message: msg, Severity: sevProblem})
		return res
	default:
		res.Config = cfg
	}
	// The file was read (Load got to its content), so read it again for
	// the key lines; when only a named file was wrong (password_file, ca_file),
	// the content parses and the machine checks still run.
	data, err := os.ReadFile(path)
	if err != nil {
		return res
	}
	if cfg == nil {
		if cfg, err = conf.Parse(path, data); err != nil {
			return res
		}
	}
	c := &checker{ctx: ctx, host: h, cfg: cfg, lines: conf.KeyLines(data), res: &res}
	c.gatewayURL()
	c.stateDir()
	c.groups("groups", cfg.Policy.Groups)
	c.groups("exempt_groups", cfg.Policy.ExemptGroups)
	c.exemptUsers()
	c.numbers()
	c.numbersFiles()
	c.directory()
	c.lockout()
	for _, w := range warnings(cfg) {
		c.add(sevWarning, w.Key, "%s", w.Message)
	}
	// The config's findings first, then each numbers file's, each in line order.
	rank := func(p problem) int { return slices.Index(append([]string{path}, cfg.Policy.NumbersFiles...), p.File) }
	sort.SliceStable(res.Problems, func(i, j int) bool {
		pi, pj := res.Problems[i], res.Problems[j]
		if ri, rj := rank(pi), rank(pj); ri != rj {
			return ri < rj
		}
		return pi.Line < pj.Line
	})
	return res
}

// checker runs the machine checks of one parsed configuration.
type checker struct {
	ctx   context.Context
	host  *host
	cfg   *conf.Config
	lines map[string]int
	res   *checkResult
}

// add records a finding at key, on the key's line, else on its table's line
// (a key left at its default has none).
func (c *checker) add(severity, key, format string, args ...any) {
	line, ok := c.lines[key]
	for k := key; !ok && strings.Contains(k, "."); {
		k = k[:strings.LastIndex(k, ".")]
		line, ok = c.lines[k]
	}
	c.res.Problems = append(c.res.Problems, problem{File: c.cfg.Path, Line: line, Key: key,
		Message: fmt.Sprintf(format, args...), Severity: severity})
}

// gatewayURL refuses the shipped placeholder and the other names reserved
// for examples (RFC 2606): they never reach a gateway, so every code would
// fail to send.
func (c *checker) gatewayURL() {
	for i, gw := range c.cfg.Gateways() {
		u, err := url.Parse(gw.URL)
		if err != nil {
			continue
		}
		key := conf.GatewayKey(i) + ".url"
		host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		switch {
		case host == "gateway.example":
			c.add(sevProblem, key, "gateway.example is the shipped placeholder: write the send URL of your gateway contract")
		case host == "example" || strings.HasSuffix(host, ".example") || host == "invalid" || strings.HasSuffix(host, ".invalid") ||
			isExampleDomain(host):
			c.add(sevProblem, key, "%s is a name reserved for examples (RFC 2606): no gateway answers there", host)
		}
	}
}

func isExampleDomain(host string) bool {
	for _, d := range []string{"example.com", "example.net", "example.org"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// stateDir checks what limits.Open and doctor check: the helper denies
// every login whose limits it cannot count.
func (c *checker) stateDir() {
	const key = "limits.state_dir"
	dir := c.cfg.Limits.StateDir
	fix := fmt.Sprintf("install -d -o root -g %s -m 2770 %s", c.host.Group, dir)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.add(sevProblem, key, "%s does not exist: every SMS login is denied (limits cannot be counted); create it: %s", dir, fix)
		return
	case err != nil:
		c.add(sevProblem, key, "%v: every SMS login is denied", err)
		return
	case fi.Mode()&fs.ModeSymlink != 0:
		c.add(sevProblem, key, "%s is a symbolic link, which the helper refuses: every SMS login is denied; replace it: %s", dir, fix)
		return
	case !fi.IsDir():
		c.add(sevProblem, key, "%s is not a directory: every SMS login is denied; replace it: %s", dir, fix)
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	if st.Uid != 0 {
		c.add(sevProblem, key, "%s is owned by uid %d, not root: its owner can reset the limits (%s)", dir, st.Uid, fix)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		c.add(sevProblem, key, "%s is writable by others: the helper refuses it, every SMS login is denied (%s)", dir, fix)
	}
	if g, err := user.LookupGroup(c.host.Group); err != nil || g.Gid != strconv.FormatUint(uint64(st.Gid), 10) {
		c.add(sevWarning, key, "%s has group gid %d, not %s: logins checked by a caller without root (screen lockers) "+
			"cannot count their sends and are denied (%s)", dir, st.Gid, c.host.Group, fix)
	}
	if fi.Mode().Perm() != 0o770 || fi.Mode()&fs.ModeSetgid == 0 {
		c.add(sevWarning, key, "%s has mode %s, not 2770 (%s)", dir, modeString(fi.Mode()), fix)
	}
}

// groups checks that the groups of policy.<name> exist. One missing group
// among existing ones is a warning (a typo); when none exists the key does
// nothing at all: for groups nobody is asked for a code, for exempt_groups
// the break-glass account is not exempt. That is a problem.
func (c *checker) groups(name string, groups []string) {
	key := "policy." + name
	var missing []string
	exists := false
	for _, g := range groups {
		if g == "*" {
			exists = true
			continue
		}
		_, err := user.LookupGroup(g)
		var unknown user.UnknownGroupError
		switch {
		case errors.As(err, &unknown):
			missing = append(missing, g)
		case err != nil:
			exists = true // unknown: do not call it missing
			c.add(sevWarning, key, "cannot look up group %q: %v", g, err)
		default:
			exists = true
		}
	}
	effect := "nobody is enforced through it"
	if name == "exempt_groups" {
		effect = "nobody is exempt through it"
	}
	for _, g := range missing {
		if exists {
			c.add(sevWarning, key, "group %q does not exist: %s", g, effect)
			continue
		}
		if name == "exempt_groups" {
			c.add(sevProblem, key, "group %q does not exist, nor does any other group listed: the break-glass exemption exempts nobody", g)
		} else {
			c.add(sevProblem, key, "group %q does not exist, nor does any other group listed: nobody is asked for a code", g)
		}
	}
}

// exemptUsers warns about a break-glass user the system does not know.
func (c *checker) exemptUsers() {
	for _, name := range c.cfg.Policy.ExemptUsers {
		if known, err := userExists(name); err != nil {
			c.add(sevWarning, "policy.exempt_users", "cannot look up user %q: %v", name, err)
		} else if !known {
			c.add(sevWarning, "policy.exempt_users", "user %q does not exist: the exemption exempts nobody", name)
		}
	}
}

// numbers warns about [numbers] entries for users the system does not know
// and numbers that cannot receive an SMS.
func (c *checker) numbers() {
	names := make([]string, 0, len(c.cfg.Numbers))
	for name := range c.cfg.Numbers {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		ki, kj := conf.Key("numbers", names[i]), conf.Key("numbers", names[j])
		if c.lines[ki] != c.lines[kj] {
			return c.lines[ki] < c.lines[kj]
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		key := conf.Key("numbers", name)
		if known, err := userExists(name); err != nil {
			c.add(sevWarning, key, "cannot look up user: %v", err)
		} else if !known {
			c.add(sevWarning, key, "no such user on this system: the number is never used (a typo, or a directory user this machine does not see)")
		}
		if w := conf.NumberWarning(c.cfg.Numbers[name]); w != "" {
			c.add(sevWarning, key, "%s", w)
		}
	}
}

// numbersFiles checks every numbers file as the helper reads it (owner,
// mode, size) and every line of it, each problem at its file, line and key.
// A file that cannot be used, or a bad line, is a problem: the helper denies
// the enforced users it would need that file for, and misses a user whose
// line is bad. Users unknown here are not warned about: a fleet's file lists
// the users of every host.
func (c *checker) numbersFiles() {
	for _, path := range c.cfg.Policy.NumbersFiles {
		l, err := numsource.List(path)
		if err != nil {
			// conf's error names the file, which File says already.
			msg := err.Error()
			if fe, ok := errors.AsType[*numsource.FileError](err); ok {
				msg = strings.TrimPrefix(fe.Err.Error(), "conf: ")
			}
			msg = strings.TrimLeft(strings.TrimPrefix(msg, path), ": ")
			c.res.Problems = append(c.res.Problems, problem{File: path, Message: msg +
				": the enforced users it is read for are denied", Severity: sevProblem})
			continue
		}
		for _, p := range l.Problems {
			c.res.Problems = append(c.res.Problems, problem{File: path, Line: p.Line, Key: p.Key, Message: p.Msg, Severity: sevProblem})
		}
		c.numbersFileGroup(path)
		for _, e := range l.Entries {
			if e.Problem != "" {
				continue
			}
			c.res.FileNumbers++
			if w := conf.NumberWarning(e.Number); w != "" {
				c.res.Problems = append(c.res.Problems, problem{File: path, Line: e.Line, Key: conf.Key(e.User), Message: w, Severity: sevWarning})
			}
		}
	}
}

// numbersFileGroup warns when the setgid helper, run by a caller without
// root (a screen locker), cannot read a numbers file: it must be readable by
// group pam-sms, as the config is.
func (c *checker) numbersFileGroup(path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	g, err := user.LookupGroup(c.host.Group)
	if err == nil && g.Gid == strconv.FormatUint(uint64(st.Gid), 10) && fi.Mode().Perm()&0o040 != 0 {
		return
	}
	c.res.Problems = append(c.res.Problems, problem{File: path, Severity: sevWarning, Message: fmt.Sprintf(
		"not readable by group %s: logins checked by a caller without root (screen lockers) are denied "+
			"(chown root:%s %s; chmod 0640 %s)", c.host.Group, c.host.Group, path, path)})
}

func userExists(name string) (bool, error) {
	_, err := user.Lookup(name)
	var unknown user.UnknownUserError
	switch {
	case errors.As(err, &unknown):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// maxNamed bounds the user names one finding lists.
const maxNamed = 10

// lockout counts the enforced users who can log in and have no number, as
// doctor does: policy.Decide for a login from outside trusted_networks, so
// only the exemptions, the groups and the number count. Under
// missing_number = "deny" they are locked out; with groups = ["*"] that is
// said even when nobody is affected yet, since every new account will be.
func (c *checker) lockout() {
	if c.cfg.Policy.MissingNumber != conf.MissingDeny {
		return
	}
	names, err := c.host.Users(c.ctx)
	if err != nil {
		c.add(sevWarning, "policy.missing_number", "cannot list users to count those without a number: %v", err)
		return
	}
	strict := *c.cfg
	strict.Policy.TrustLocal = false
	lookup := numsource.Chain(&strict)
	var locked []string
	for _, name := range names {
		acct, err := policy.LookupAccount(name)
		if err != nil {
			continue
		}
		// As the helper decides, numbers files included; a file it
		// cannot use denies too.
		d, err := policy.DecideLookup(c.ctx, &strict, policy.Request{User: name}, acct, lookup)
		if errors.Is(err, numsource.ErrDirectoryUnavailable) {
			// One timeout, not one per user.
			c.add(sevWarning, "directory.uri", "cannot count the users without a number: %v", err)
			return
		}
		if err != nil || d.Outcome == policy.DenyNoNumber {
			locked = append(locked, name)
		}
	}
	c.res.Users, c.res.Locked = len(names), locked
	who := fmt.Sprintf("%d of %d users who can log in have no number", len(locked), len(names))
	if len(locked) > 0 {
		who += " and are locked out: " + nameList(locked)
	}
	fix := `add their numbers to [numbers] or a numbers file, exempt a break-glass account (exempt_users), ` +
		`enforce a group only (groups = ["sms-2fa"]) or set missing_number = "ignore" while rolling out`
	switch {
	case c.cfg.Policy.AllUsers:
		c.add(sevWarning, "policy.missing_number", `with groups = ["*"], every user without a number (in [numbers] or a numbers file) `+
			"is locked out of the services that use pam_sms; %s. Before enabling: %s", who, fix)
	case len(locked) > 0:
		c.add(sevWarning, "policy.missing_number", "%s. Before enabling: %s", who, fix)
	}
}

// directory checks the files [directory] names as a lookup reads them
// (conf.Directory.Resolve): the bind password file, the client certificate
// and key, ca_file. Its keys were checked with the rest of the file.
func (c *checker) directory() {
	if c.cfg.Directory == nil {
		return
	}
	_, err := c.cfg.Directory.Resolve(c.cfg.Path)
	var ce *conf.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			c.add(sevProblem, p.Key, "%s: every login that needs the directory is denied", p.Msg)
		}
	} else if err != nil {
		c.add(sevProblem, "directory", "%v", err)
	}
}

// nameList joins names, at most maxNamed of them.
func nameList(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamed)
}
