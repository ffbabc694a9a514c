package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
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

const fixDropIn = "install the drop-in " + dropInPath + " (pam-sms enable prints it) and reload sshd; it must sort before any drop-in that sets these keywords"

// check returns the settings under which the SMS prompt cannot appear or
// can be bypassed (notes/packaging.md §8, notes/anchors.md §4).
func (c sshdConfig) check() item {
	var f findings
	if c["usepam"] != "yes" {
		f.fail("UsePAM is "+orNone(c["usepam"])+": sshd never runs the PAM stack, so no code is asked", "set UsePAM yes", fixDropIn)
	}
	kbd := c["kbdinteractiveauthentication"]
	if kbd == "" {
		kbd = c["challengeresponseauthentication"] // OpenSSH before 8.7
	}
	if kbd != "yes" {
		f.fail("KbdInteractiveAuthentication is "+orNone(kbd)+": the SMS code prompt cannot appear over SSH", "set KbdInteractiveAuthentication yes", fixDropIn)
	}
	lists := c.methodLists()
	passwordAllowed := lists == nil
	if lists == nil && c["pubkeyauthentication"] != "no" {
		f.warn("AuthenticationMethods is any and PubkeyAuthentication is on: a key alone logs in and never runs the PAM auth stack (no SMS)",
			"set AuthenticationMethods keyboard-interactive (or publickey,keyboard-interactive)", fixDropIn)
	}
	for _, l := range lists {
		if methodIndex(l, "password") >= 0 {
			passwordAllowed = true
		}
		if methodIndex(l, "keyboard-interactive") < 0 {
			f.warn(fmt.Sprintf("AuthenticationMethods allows %q, which never runs the PAM auth stack through keyboard-interactive (no SMS)", strings.Join(l, ",")),
				"list keyboard-interactive in every AuthenticationMethods entry", fixDropIn)
		}
	}
	if passwordAllowed && c["passwordauthentication"] == "yes" {
		f.warn("PasswordAuthentication is yes: the password method answers the SMS prompt with the password, "+
			"so those logins fail after an SMS was sent", "set PasswordAuthentication no", fixDropIn)
	}
	return f.item("sshd", fmt.Sprintf("UsePAM yes, KbdInteractiveAuthentication yes, AuthenticationMethods %s, PasswordAuthentication %s",
		c["authenticationmethods"], orNone(c["passwordauthentication"])))
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}
