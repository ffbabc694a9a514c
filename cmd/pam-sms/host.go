package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/conf"
)

// Paths of the installed system, as packaged (notes/packaging.md §1).
const (
	defaultPamDir    = "/etc/pam.d"
	defaultHelper    = "/usr/libexec/pam-sms/pam-sms-helper"
	pamAuthUpdate    = "/usr/sbin/pam-auth-update"
	pamConfigsSMS    = "/usr/share/pam-configs/sms"
	helperGroup      = "pam-sms"
	commandTimeout   = 30 * time.Second
	pamAuthUpdateArg = "sms" // the profile name, as packaged (packaging/pam-configs/sms)
)

// installedDropIn is where the package put the sshd drop-in: the .deb and the
// .rpm follow their own documentation layouts.
func installedDropIn() string {
	paths := []string{
		"/usr/share/doc/libpam-sms/examples/10-pam-sms.conf", // deb
		"/usr/share/doc/pam_sms/10-pam-sms.conf",             // rpm
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return paths[0]
}

// host is the machine the commands inspect and change. realHost describes
// this machine; tests build their own so that they never run the host's
// sshd -T or pam-auth-update.
type host struct {
	// SshdT returns the output of "sshd -T" (the effective settings).
	SshdT func(ctx context.Context) ([]byte, error)
	// PamAuthUpdate is the path of pam-auth-update; "" when there is none.
	PamAuthUpdate string
	// RunPamAuthUpdate runs pam-auth-update with args.
	RunPamAuthUpdate func(ctx context.Context, args ...string) error
	// ModuleDirs are where libpam finds a module named without a path.
	ModuleDirs []string
	// Group is the group the helper runs as (setgid) and that owns the
	// config and the state directory.
	Group string
	// Users lists the accounts that can log in, by name.
	Users func(ctx context.Context) ([]string, error)
	// Helper is the helper a stack line without helper= runs; "" is
	// defaultHelper.
	Helper string
	// SshdConfig is sshd's main configuration file, read for the users and
	// groups its Match blocks name; "" reads none.
	SshdConfig string
	// SshdTUser returns the output of "sshd -T" for a connection of user.
	SshdTUser func(ctx context.Context, user string) ([]byte, error)
}

// helperPath is the helper the module runs when the line names none.
func (h *host) helperPath() string {
	if h.Helper != "" {
		return h.Helper
	}
	return defaultHelper
}

func realHost() *host {
	h := &host{
		SshdT: func(ctx context.Context) ([]byte, error) {
			return runCommand(ctx, "sshd", "-T")
		},
		RunPamAuthUpdate: func(ctx context.Context, args ...string) error {
			_, err := runCommand(ctx, pamAuthUpdate, args...)
			return err
		},
		// libpam's compiled-in directory on Debian (merged /usr) and RPM
		// systems, plus the non-merged spellings.
		ModuleDirs: []string{
			"/usr/lib/x86_64-linux-gnu/security", "/lib/x86_64-linux-gnu/security",
			"/usr/lib/aarch64-linux-gnu/security", "/lib/aarch64-linux-gnu/security",
			"/usr/lib64/security", "/lib64/security", "/usr/lib/security", "/lib/security",
		},
		Group: helperGroup,
		Users: loginUsers,
		// -C needs host and addr too: a login from outside, as doctor's
		// other checks assume.
		SshdConfig: "/etc/ssh/sshd_config",
		SshdTUser: func(ctx context.Context, user string) ([]byte, error) {
			return runCommand(ctx, "sshd", "-T", "-C", "user="+user+",host=pam-sms-doctor.invalid,addr=192.0.2.1")
		},
	}
	if _, err := os.Stat(pamAuthUpdate); err == nil {
		h.PamAuthUpdate = pamAuthUpdate
	}
	return h
}

// host returns the machine to work on.
func (env *cliEnv) host() *host {
	if env.Host != nil {
		return env.Host
	}
	return realHost()
}

// runCommand runs name with a bounded time and returns its standard output;
// the error holds the first line of its standard error.
func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if msg != "" {
			return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// noLoginShells are shells of accounts that cannot log in interactively.
var noLoginShells = []string{"nologin", "false", "sync", "shutdown", "halt"}

// loginUsers lists the accounts NSS knows (getent passwd: local files and,
// where the directory allows enumeration, LDAP/SSSD), leaving out those whose
// shell refuses logins. Without getent it reads /etc/passwd.
func loginUsers(ctx context.Context) ([]string, error) {
	out, err := runCommand(ctx, "getent", "passwd")
	if err != nil {
		if out, err = os.ReadFile("/etc/passwd"); err != nil {
			return nil, err
		}
	}
	return parsePasswd(out), nil
}

// parsePasswd returns the names of passwd(5) lines with a login shell.
func parsePasswd(data []byte) []string {
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || f[0] == "" || strings.HasPrefix(f[0], "+") || strings.HasPrefix(f[0], "-") {
			continue
		}
		shell := filepath.Base(strings.TrimSpace(f[6]))
		if f[6] != "" && isNoLogin(shell) || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		names = append(names, f[0])
	}
	return names
}

func isNoLogin(shell string) bool {
	for _, s := range noLoginShells {
		if shell == s {
			return true
		}
	}
	return false
}

// writeJSON encodes a report as the --json form of a command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(v)
}

// loadConfig loads the configuration for a command that cannot run
// without one; failing that is exit status 3.
func loadConfig(path string) (*conf.Config, error) {
	cfg, err := conf.Load(path)
	if err != nil {
		return nil, failf(exitProblem, "%v\n(pam-sms check --config %s lists every problem)", err, path)
	}
	return cfg, nil
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("explain alice --rhost 192.0.2.1"), and returns
// the positional ones. Everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks the number of positional arguments: a usage error names
// what is missing or extra.
func wantArgs(env *cliEnv, c *command, pos []string, min, max int, what string) error {
	switch {
	case len(pos) < min:
		fmt.Fprintf(env.Stderr, "pam-sms %s: missing %s\nusage: %s\n", c.Name, what, c.ShortUsage)
		return errUsage
	case len(pos) > max:
		fmt.Fprintf(env.Stderr, "pam-sms %s: too many arguments: %q\nusage: %s\n", c.Name, pos[max:], c.ShortUsage)
		return errUsage
	}
	return nil
}

// needRoot fails with exit status 3 unless running as root.
func needRoot(what string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	return failf(exitProblem, "run me as root: %s", what)
}
