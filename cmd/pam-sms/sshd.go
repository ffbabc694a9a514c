package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// sshdDropIn is packaging/sshd/10-pam-sms.conf (a test keeps the copy equal).
//
//go:embed sshd_dropin.conf
var sshdDropIn string

const dropInPath = "/etc/ssh/sshd_config.d/10-pam-sms.conf"

// sshdConfig is the output of sshd -T: lower-case keyword -> value.
type sshdConfig map[string]string

// parseSshdT reads "keyword value" lines; sshd prints each keyword once,
// but like sshd we keep the first value.
func parseSshdT(out []byte) sshdConfig {
	c := sshdConfig{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		k = strings.ToLower(k)
		if _, seen := c[k]; k != "" && !seen {
			c[k] = strings.TrimSpace(v)
		}
	}
	return c
}

// methodLists returns AuthenticationMethods as lists of methods; nil for "any".
func (c sshdConfig) methodLists() [][]string {
	v := c["authenticationmethods"]
	if v == "" || v == "any" {
		return nil
	}
	var lists [][]string
	for _, l := range strings.Fields(v) {
		lists = append(lists, strings.Split(l, ","))
	}
	return lists
}

// keyStep describes the key sshd demands before the PAM auth stack runs:
// every method list has publickey before keyboard-interactive. "" otherwise.
func (c sshdConfig) keyStep() string {
	lists := c.methodLists()
	if len(lists) == 0 {
		return ""
	}
	for _, l := range lists {
		kbd := methodIndex(l, "keyboard-interactive")
		key := methodIndex(l, "publickey")
		if kbd >= 0 && (key < 0 || key > kbd) {
			return ""
		}
	}
	return "AuthenticationMethods " + c["authenticationmethods"]
}

// methodIndex finds a method, also as "keyboard-interactive:pam".
func methodIndex(list []string, method string) int {
	return slices.IndexFunc(list, func(m string) bool {
		name, _, _ := strings.Cut(m, ":")
		return name == method
	})
}

// fixDropIn installs the drop-in and reloads sshd; sshd keeps the first
// value, so it must sort before other drop-ins that set these keywords.
var fixDropIn = "pam-sms enable --ssh --install && sshd -t && systemctl reload " + sshdUnit() +
	" (" + dropInPath + " must sort before any drop-in that sets these keywords)"

// sshdUnit is the systemd unit of sshd: ssh on Debian, sshd elsewhere.
func sshdUnit() string {
	for _, p := range []string{"/lib/systemd/system/ssh.service", "/usr/lib/systemd/system/ssh.service"} {
		if fileExists(p) {
			return "ssh"
		}
	}
	return "sshd"
}

// check returns the settings under which the SMS prompt cannot appear or
// can be bypassed (notes/packaging.md §8, notes/anchors.md §4).
func (c sshdConfig) check() item {
	var f findings
	if c["usepam"] != "yes" {
		f.Fail("UsePAM is "+orNone(c["usepam"])+": sshd never runs the PAM stack, so no code is asked", fixDropIn)
	}
	kbd := c["kbdinteractiveauthentication"]
	if kbd == "" {
		kbd = c["challengeresponseauthentication"] // OpenSSH before 8.7
	}
	if kbd != "yes" {
		f.Fail("KbdInteractiveAuthentication is "+orNone(kbd)+": the SMS code prompt cannot appear over SSH", fixDropIn)
	}
	lists := c.methodLists()
	passwordAllowed := lists == nil
	if lists == nil && c["pubkeyauthentication"] != "no" {
		f.Warn("AuthenticationMethods is any and PubkeyAuthentication is on: a key alone logs in and never runs the PAM auth stack (no SMS)",
			fixDropIn)
	}
	for _, l := range lists {
		if methodIndex(l, "password") >= 0 {
			passwordAllowed = true
		}
		if methodIndex(l, "keyboard-interactive") < 0 {
			f.Warn(fmt.Sprintf("AuthenticationMethods allows %q, which never runs the PAM auth stack through keyboard-interactive (no SMS)", strings.Join(l, ",")),
				fixDropIn)
		}
	}
	if passwordAllowed && c["passwordauthentication"] == "yes" {
		f.Warn("PasswordAuthentication is yes: the password method answers the SMS prompt with the password, "+
			"so those logins fail after an SMS was sent", fixDropIn)
	}
	return f.Item("sshd", fmt.Sprintf("UsePAM yes, KbdInteractiveAuthentication yes, AuthenticationMethods %s, PasswordAuthentication %s",
		c["authenticationmethods"], orNone(c["passwordauthentication"])))
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

// The shipped drop-in's lines that pam-sms enable --ssh varies.
const (
	dropInMarker           = "# sshd drop-in for pam_sms:" // first line: the file is ours
	defaultAutomationGroup = "pam-sms-automation"
	passwordMethods        = "AuthenticationMethods keyboard-interactive"
	keyMethods             = "AuthenticationMethods publickey,keyboard-interactive"
	automationBlock        = "\tPubkeyAuthentication yes\n\tAuthenticationMethods publickey\n"
)

// dropInOpts are the choices of pam-sms enable --ssh.
type dropInOpts struct {
	withKey bool     // people: SSH key + SMS code instead of password + SMS code
	group   string   // automation accounts by group: key alone
	users   []string // automation accounts by name: key alone
}

func (o dropInOpts) groupName() string {
	if o.group == "" {
		return defaultAutomationGroup
	}
	return o.group
}

// accountName is what the drop-in accepts as a user or group name: no
// blanks, commas, patterns or line breaks that would change the Match.
var accountName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

// renderDropIn is the shipped drop-in with the choices made: without any it
// is the shipped file byte for byte.
func renderDropIn(o dropInOpts) (string, error) {
	s := sshdDropIn
	if o.withKey {
		s = strings.Replace(s, "\n"+passwordMethods+"\n", "\nPubkeyAuthentication yes\n"+keyMethods+"\n", 1)
	}
	if o.group == "" {
		o.group = defaultAutomationGroup
	}
	if !accountName.MatchString(o.group) {
		return "", fmt.Errorf("--automation-group %q: not a group name", o.group)
	}
	s = strings.Replace(s, "\nMatch Group "+defaultAutomationGroup+"\n", "\nMatch Group "+o.group+"\n", 1)
	if len(o.users) > 0 {
		for _, u := range o.users {
			if !accountName.MatchString(u) {
				return "", fmt.Errorf("--automation-users: %q is not a user name", u)
			}
		}
		s += "Match User " + strings.Join(o.users, ",") + "\n" + automationBlock
	}
	return s, nil
}

// installDropIn writes content as dir/10-pam-sms.conf atomically, root
// 0644. It refuses a file there that it did not write (no marker line) and
// a symbolic link. It returns whether the file changed.
func installDropIn(dir, content string) (bool, error) {
	path := filepath.Join(dir, filepath.Base(dropInPath))
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s is not a regular file: refusing to replace it", path)
	case err == nil:
		old, err := os.ReadFile(path)
		if err != nil {
			return false, err
		}
		if string(old) == content {
			return false, nil
		}
		if !strings.HasPrefix(string(old), dropInMarker) {
			return false, fmt.Errorf("%s exists and was not written by pam-sms (its first line is not %q): refusing to overwrite it; merge by hand or move it away", path, dropInMarker)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	if di, err := os.Stat(dir); err != nil || !di.IsDir() {
		return false, fmt.Errorf("%s is not a directory: this sshd reads no drop-ins (sshd_config needs Include %s/*.conf)", dir, dir)
	}
	if err := writeAtomic(path, []byte(content), 0o644, &syscall.Stat_t{Uid: 0, Gid: 0}); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

// sshdMatches reads the User and Group names of the Match lines of an
// sshd_config and the files it Includes. Negated and wildcard patterns
// are kept as sshd writes them; matchName applies them.
func sshdMatches(path string, depth int) (users, groups []string, files map[string]string) {
	files = map[string]string{} // user pattern -> the file of its Match line
	data, err := os.ReadFile(path)
	if err != nil || depth > 8 {
		return nil, nil, files
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(strings.TrimSpace(sc.Text()))
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "include":
			for _, pat := range f[1:] {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(path), pat)
				}
				included, _ := filepath.Glob(pat)
				for _, inc := range included {
					u, g, where := sshdMatches(inc, depth+1)
					users, groups = append(users, u...), append(groups, g...)
					for k, v := range where {
						files[k] = v
					}
				}
			}
		case "match":
			for i := 1; i+1 < len(f); i += 2 {
				switch strings.ToLower(f[i]) {
				case "user":
					for _, u := range strings.Split(f[i+1], ",") {
						users = append(users, u)
						files[u] = path
					}
				case "group":
					groups = append(groups, strings.Split(f[i+1], ",")...)
				}
			}
		}
	}
	return users, groups, files
}

// matchName reports whether name fits one of sshd's patterns (a leading
// "!" negates in sshd; such a pattern selects nothing here).
func matchName(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok && !strings.HasPrefix(p, "!") {
			return true
		}
	}
	return false
}

// lacksKbd returns the first AuthenticationMethods list that does not
// include keyboard-interactive: with it a login never runs the PAM auth
// stack. "" when every list does.
func (c sshdConfig) lacksKbd() string {
	for _, l := range c.methodLists() {
		if methodIndex(l, "keyboard-interactive") < 0 {
			return strings.Join(l, ",")
		}
	}
	return ""
}
