package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/pamstack"
)

var enableCmd = &command{
	Name:       "enable",
	ShortUsage: "pam-sms enable [--service sshd|login|all] [--pam-dir DIR] [--config PATH] [--force] | --ssh [--with-key] [--automation-group G] [--automation-users A,B] [--install] [--sshd-dir DIR]",
	ShortHelp:  "Put pam_sms.so into the PAM stacks after the password step",
	LongHelp: `Adds the SMS step to the PAM stacks.

First it runs the checks of check and doctor and refuses, changing nothing,
when a login would fail: the configuration has problems, the state directory
or the helper is wrong (what doctor reports as FAIL), or enforced users who
can log in have no number under missing_number = "deny" (they are named,
root included). --force enables all the same and lists what it overrode.

On Debian and Ubuntu with --service all (the default) it runs
"pam-auth-update --enable sms": every service that includes common-auth
(login, su, sudo, sshd, display managers) then asks for a code after the
password.

For one service (--service sshd or login), on other systems, or with
--pam-dir, it writes the line
  auth required pam_sms.so # added by pam-sms enable
into DIR/<service> right after the password step (after "@include
common-auth" or "auth requisite pam_unix.so"). The file is replaced
atomically with the same mode and owner, the previous content is kept as
<file>.pam-sms.bak, and "pam-sms disable" removes exactly the marked lines.
A stack that already names pam_sms.so is left as it is. It refuses a stack
that gets pam_sms.so through an included file, and a stack whose password
step is "auth include" or "auth substack" (RHEL password-auth): there the
line would be skipped or cost an SMS for every wrong password; use the
authselect profile pam-sms or explicit lines instead (pam_sms(8)).

Then it prints the sshd drop-in that SSH logins need and warns when the
effective sshd settings (sshd -T) would keep the code prompt from appearing.

With --ssh it changes no PAM stack and only prints the sshd drop-in for the
choices given, or with --install writes it as DIR/10-pam-sms.conf (DIR
/etc/ssh/sshd_config.d unless --sshd-dir; atomic, root 0644; a file there
that pam-sms did not write is never replaced). People need their password
and an SMS code (AuthenticationMethods keyboard-interactive), or with
--with-key their SSH key and an SMS code (publickey,keyboard-interactive).
Automation accounts (Ansible, backups) keep logging in with a key alone and
get no SMS: members of --automation-group (default pam-sms-automation,
"Match Group") and the users of --automation-users ("Match User").
Keep a root session open and run "pam-sms try" from another one before you
log out.

Exit status 0 when done, 1 when the checks or a stack refused, 3 when it
could not run.

Examples:
  pam-sms enable --service sshd
  pam-sms enable --service sshd --config /etc/security/pam_sms.conf
  pam-sms enable                 # Debian: pam-auth-update --enable sms
  pam-sms enable --ssh --with-key --automation-users backup,ansible --install`,
	Run: runEnable,
}

var disableCmd = &command{
	Name:       "disable",
	ShortUsage: "pam-sms disable [--service sshd|login|all] [--pam-dir DIR]",
	ShortHelp:  "Take pam_sms.so out of the PAM stacks again",
	LongHelp: `Undoes "pam-sms enable": removes exactly the lines that end in
"# added by pam-sms enable" from DIR/<service> (with --service all, from every
file of DIR), atomically, so that enable followed by disable leaves each file
byte for byte as it was. On Debian with --service all and without --pam-dir it
also runs "pam-auth-update --remove sms". Lines you wrote yourself are never
touched: doctor lists them.

Exit status 0 when done, 3 when it could not run.

Examples:
  pam-sms disable --service sshd
  pam-sms disable`,
	Run: runDisable,
}

const (
	enableMarker = "# added by pam-sms enable"
	backupSuffix = pamstack.BackupSuffix
	smsLine      = "auth\trequired\tpam_sms.so\t" + enableMarker
)

// markedLine matches what the packaging's prerm/%preun delete.
var markedLine = regexp.MustCompile(`# added by pam-sms enable[[:space:]]*$`)

// stackEdit holds the flags of enable and disable.
type stackEdit struct {
	service string
	pamDir  string
	direct  bool // --pam-dir given: never pam-auth-update
	config  string
	force   bool
	// --ssh: the sshd drop-in only.
	ssh, install bool
	sshdDir      string
	dropIn       dropInOpts
}

func parseStackEdit(env *cliEnv, c *command, args []string) (*stackEdit, error) {
	fs := newFlags(c, env)
	service := fs.String("service", "all", "sshd, login or all")
	var configPath, group, users, sshdDir *string
	var force, ssh, withKey, install *bool
	if c.Name == "enable" {
		configPath = fs.String("config", conf.DefaultPath, "configuration file the module reads")
		force = fs.Bool("force", false, "enable even when the checks find a login that would fail")
		ssh = fs.Bool("ssh", false, "only the sshd drop-in: print it, or install it with --install")
		withKey = fs.Bool("with-key", false, "with --ssh: people log in with SSH key + SMS code (default password + SMS code)")
		group = fs.String("automation-group", defaultAutomationGroup, "with --ssh: members log in with a key alone, no SMS")
		users = fs.String("automation-users", "", "with --ssh: comma-separated users who log in with a key alone, no SMS")
		install = fs.Bool("install", false, "with --ssh: write the drop-in into --sshd-dir instead of printing it")
		sshdDir = fs.String("sshd-dir", filepath.Dir(dropInPath), "with --ssh --install: sshd's drop-in directory")
	}
	pamDir := fs.String("pam-dir", "", "PAM service directory to change (default /etc/pam.d; never runs pam-auth-update)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if err := wantArgs(env, c, pos, 0, 0, ""); err != nil {
		return nil, err
	}
	switch *service {
	case "sshd", "login", "all":
	default:
		fmt.Fprintf(env.Stderr, "pam-sms %s: --service %q: want sshd, login or all\n", c.Name, *service)
		return nil, errUsage
	}
	e := &stackEdit{service: *service, pamDir: *pamDir, direct: *pamDir != ""}
	if configPath != nil {
		e.config, e.force = *configPath, *force
		e.ssh, e.install, e.sshdDir = *ssh, *install, *sshdDir
		e.dropIn = dropInOpts{withKey: *withKey, group: *group}
		if *users != "" {
			e.dropIn.users = strings.Split(*users, ",")
		}
		sshOnly := *withKey || *install || *users != "" || *group != defaultAutomationGroup || *sshdDir != filepath.Dir(dropInPath)
		if sshOnly && !e.ssh {
			fmt.Fprintf(env.Stderr, "pam-sms enable: --with-key, --automation-group, --automation-users, --install and --sshd-dir go with --ssh\nusage: %s\n", c.ShortUsage)
			return nil, errUsage
		}
		if _, err := renderDropIn(e.dropIn); err != nil {
			fmt.Fprintf(env.Stderr, "pam-sms enable: %v\n", err)
			return nil, errUsage
		}
	}
	if !e.direct {
		e.pamDir = defaultPamDir
	}
	return e, nil
}

// debian reports whether pam-auth-update manages the stacks.
func (e *stackEdit) debian(h *host) bool {
	return !e.direct && e.service == "all" && h.PamAuthUpdate != "" && fileExists(filepath.Join(e.pamDir, "common-auth"))
}

func (e *stackEdit) services() []string {
	if e.service == "all" {
		return []string{"sshd", "login"}
	}
	return []string{e.service}
}

func runEnable(ctx context.Context, env *cliEnv, c *command, args []string) error {
	e, err := parseStackEdit(env, c, args)
	if err != nil {
		return err
	}
	h := env.host()
	if e.ssh {
		return enableSSH(ctx, env, h, e)
	}
	if err := needRoot("enable changes " + e.pamDir); err != nil && !e.direct {
		return err
	}
	if err := gateEnable(ctx, env, h, e); err != nil {
		return err
	}
	var refused []string
	if e.debian(h) {
		if !fileExists(pamConfigsSMS) {
			return failf(exitProblem, "%s is missing: is the package libpam-sms installed?", pamConfigsSMS)
		}
		if err := h.RunPamAuthUpdate(ctx, "--enable", pamAuthUpdateArg); err != nil {
			return failf(exitProblem, "%v", err)
		}
		fmt.Fprintf(env.Stdout, "ran pam-auth-update --enable %s: common-auth now runs pam_sms.so after the password\n", pamAuthUpdateArg)
	} else {
		for _, svc := range e.services() {
			path := filepath.Join(e.pamDir, svc)
			if !fileExists(path) && e.service == "all" {
				fmt.Fprintf(env.Stdout, "%s: no such service here: skipped\n", path)
				continue
			}
			msg, err := enableService(path, e.pamDir)
			if err != nil {
				fmt.Fprintf(env.Stderr, "pam-sms enable: %v\n", err)
				refused = append(refused, svc)
				continue
			}
			fmt.Fprintln(env.Stdout, msg)
		}
	}
	printSshdAdvice(ctx, env, h)
	if len(refused) > 0 {
		return failf(exitFailed, "not enabled for %s", strings.Join(refused, ", "))
	}
	return nil
}

// enableService adds the marked pam_sms line after the password step of
// one service file, unless the analysis doctor runs would find fault with
// the result.
func enableService(path, pamDir string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	r := pamstack.NewReader(pamDir)
	lines := pamstack.ParseFile(path, data)
	for _, l := range lines {
		if l.IsSMS() {
			return fmt.Sprintf("%s: already names pam_sms.so at line %d: nothing to do", path, l.Num), nil
		}
	}
	after := -1 // line number after which to insert
	var step pamstack.Line
	for _, l := range lines {
		if !l.IsAuth() || l.Problem != "" {
			continue
		}
		if r.IsPasswordStep(l) {
			after, step = l.End, l
		}
	}
	if after < 0 {
		return "", fmt.Errorf("%s: no password step found (no @include common-auth or pam_unix line); add pam_sms.so by hand after it (pam_sms(8))", path)
	}
	if step.Control == "include" || step.Control == "substack" {
		return "", fmt.Errorf("%s:%d: the password step is \"auth %s %s\": pam_sms.so after it would %s; %s",
			path, step.Num, step.Control, step.Module, map[string]string{
				"include":  "never run after a right password (2FA bypass)",
				"substack": "send an SMS even for a wrong password",
			}[step.Control], pamstack.FixInclude)
	}
	if hs, err := r.AuthStack(path); err == nil && containsSMS(hs) {
		return "", fmt.Errorf("%s: the stack already runs pam_sms.so through %s (pam-auth-update?): a second line would ask twice", path, step.Text())
	}
	edited := insertLine(string(data), after, smsLine)

	// Check the result exactly as doctor would, before writing it.
	check := pamstack.NewReader(pamDir)
	check.Replace(path, []byte(edited))
	hs, err := check.AuthStack(path)
	if err != nil {
		return "", err
	}
	for i, h := range hs {
		if h.IsSMS() && h.Line.File == path {
			if it := pamstack.CheckHandler(hs, i, ""); it.Status != statusOK {
				return "", fmt.Errorf("%s: refused, the stack would be wrong: %s (fix: %s)", path, it.Message, it.Fix)
			}
		}
	}
	if err := writeStack(path, data, []byte(edited), true); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: added after line %d (%s): %s\n  backup: %s", path, after, step.Text(),
		"auth required pam_sms.so", path+backupSuffix), nil
}

func containsSMS(hs []pamstack.Handler) bool {
	for _, h := range hs {
		if h.IsSMS() {
			return true
		}
	}
	return false
}

// insertLine inserts text as a new line after physical line n (from 1) of
// s. When line n is the last and has no newline, the new line goes without
// one too, so that removing it restores s byte for byte.
func insertLine(s string, n int, text string) string {
	parts := strings.SplitAfter(s, "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(p)
		if i+1 == n {
			if strings.HasSuffix(p, "\n") {
				b.WriteString(text + "\n")
			} else {
				b.WriteString("\n" + text)
			}
		}
	}
	return b.String()
}

// removeMarked removes every line ending in the enable marker; a marked
// last line without a newline takes the newline before it along.
func removeMarked(s string) (string, int) {
	parts := strings.SplitAfter(s, "\n")
	var kept []string
	n := 0
	for _, p := range parts {
		if !markedLine.MatchString(strings.TrimRight(p, "\n")) || p == "" {
			kept = append(kept, p)
			continue
		}
		n++
		if !strings.HasSuffix(p, "\n") && len(kept) > 0 {
			kept[len(kept)-1] = strings.TrimSuffix(kept[len(kept)-1], "\n")
		}
	}
	return strings.Join(kept, ""), n
}

// writeStack replaces path by data atomically: a temporary file in the same
// directory with the mode and owner of the old one, fsynced, renamed over
// it. With backup the old content is kept as path.pam-sms.bak first. A
// symbolic link is followed, so the link stays.
func writeStack(path string, old, data []byte, backup bool) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(target)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if backup {
		if err := writeAtomic(target+backupSuffix, old, fi.Mode(), st); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return writeAtomic(target, data, fi.Mode(), st)
}

// writeAtomic replaces path with data through a temporary file in its
// directory renamed over it, so that a reader never sees half a file; owner
// nil keeps ours.
func writeAtomic(path string, data []byte, mode fs.FileMode, owner *syscall.Stat_t) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".pam-sms-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// chown first: it clears the setuid and setgid bits.
	if owner != nil {
		if err = f.Chown(int(owner.Uid), int(owner.Gid)); err != nil {
			return err
		}
	}
	if err = f.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func runDisable(ctx context.Context, env *cliEnv, c *command, args []string) error {
	e, err := parseStackEdit(env, c, args)
	if err != nil {
		return err
	}
	h := env.host()
	if err := needRoot("disable changes " + e.pamDir); err != nil && !e.direct {
		return err
	}
	if e.debian(h) {
		if err := h.RunPamAuthUpdate(ctx, "--remove", pamAuthUpdateArg); err != nil {
			return failf(exitProblem, "%v", err)
		}
		fmt.Fprintf(env.Stdout, "ran pam-auth-update --remove %s\n", pamAuthUpdateArg)
	}
	files := e.services()
	if e.service == "all" {
		entries, err := os.ReadDir(e.pamDir)
		if err != nil {
			return failf(exitProblem, "%v", err)
		}
		files = files[:0]
		for _, ent := range entries {
			if !ent.IsDir() && !pamstack.SkipServiceFile(ent.Name()) {
				files = append(files, ent.Name())
			}
		}
	}
	removed := 0
	for _, name := range files {
		path := filepath.Join(e.pamDir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && e.service == "all" {
			continue
		}
		if err != nil {
			return failf(exitProblem, "%v", err)
		}
		out, n := removeMarked(string(data))
		if n == 0 {
			continue
		}
		if err := writeStack(path, data, []byte(out), false); err != nil {
			return failf(exitProblem, "%s: %v", path, err)
		}
		removed += n
		fmt.Fprintf(env.Stdout, "%s: removed %d line(s) added by pam-sms enable\n", path, n)
	}
	if removed == 0 {
		fmt.Fprintf(env.Stdout, "no line added by pam-sms enable in %s\n", e.pamDir)
	}
	return nil
}

// printSshdAdvice prints the drop-in and what sshd -T says against it.
func printSshdAdvice(ctx context.Context, env *cliEnv, h *host) {
	fmt.Fprintf(env.Stdout, "\nSSH logins need this drop-in as %s (also in %s), then reload sshd:\n\n%s\n",
		dropInPath, installedDropIn(), strings.TrimRight(sshdDropIn, "\n"))
	fmt.Fprintf(env.Stdout, "\nFor key + SMS code or named automation accounts: pam-sms enable --ssh --help; it installs the drop-in with --install.\n")
	out, err := h.SshdT(ctx)
	if err != nil {
		fmt.Fprintf(env.Stdout, "\nCould not read sshd's effective settings (%v); check with: sshd -T | grep -Ei 'usepam|kbdinteractive|passwordauth|authenticationmethods'\n", err)
		return
	}
	it := parseSshdT(out).check()
	if it.Status == statusOK {
		fmt.Fprintf(env.Stdout, "\nsshd -T: %s\n", it.Message)
		return
	}
	fmt.Fprintf(env.Stdout, "\nwarning: sshd -T shows settings under which SSH logins get no SMS prompt or skip it:\n")
	printChecklist(env.Stdout, []item{it})
}

// gateEnable runs the checks of check and doctor that tell a login would
// fail once pam_sms.so is in the stack: a configuration with problems, a
// wrong state directory or helper, enforced users without a number under
// missing_number = "deny". Any of them refuses (exit 1, each reason
// listed) unless --force, which says what it overrode.
func gateEnable(ctx context.Context, env *cliEnv, h *host, e *stackEdit) error {
	reasons := enableBlockers(ctx, h, e.config)
	if len(reasons) == 0 {
		return nil
	}
	if e.force {
		fmt.Fprintf(env.Stderr, "pam-sms enable: --force: enabling although logins will fail:\n")
		printReasons(env, reasons)
		return nil
	}
	fmt.Fprintf(env.Stderr, "pam-sms enable: refused, logins through pam_sms would fail; nothing was changed:\n")
	printReasons(env, reasons)
	return failf(exitFailed, "fix the above and run pam-sms enable again, or override with --force (pam-sms doctor shows the same)")
}

func printReasons(env *cliEnv, reasons []item) {
	for _, r := range reasons {
		fmt.Fprintf(env.Stderr, "  - %s: %s\n", r.Check, r.Message)
		for _, d := range r.Details {
			fmt.Fprintf(env.Stderr, "      %s\n", d)
		}
		if r.Fix != "" {
			fmt.Fprintf(env.Stderr, "    fix: %s\n", r.Fix)
		}
	}
}

// enableBlockers are the reasons a login through pam_sms would fail: the
// problems pam-sms check reports (checkConfig; the state directory's
// apart), doctor's FAIL for the helper, and the enforced users who can log
// in but have no number while missing_number = "deny" (root included).
func enableBlockers(ctx context.Context, h *host, configPath string) []item {
	res := checkConfig(ctx, h, configPath)
	config := item{Status: statusFail, Check: "config " + res.Path,
		Message: "pam-sms check finds problems: every login through pam_sms is denied or misbehaves",
		Fix:     fmt.Sprintf("vi %s: correct what is listed; then pam-sms check --config %s", res.Path, res.Path)}
	var state item
	for _, p := range res.Problems {
		if p.Severity != sevProblem {
			continue
		}
		if p.Key == "limits.state_dir" && res.Config != nil {
			state = item{Status: statusFail, Check: "state dir " + res.Config.Limits.StateDir, Message: p.Message,
				Fix: fmt.Sprintf("install -d -o root -g %s -m 2770 %s", h.Group, res.Config.Limits.StateDir)}
			continue
		}
		config.Details = append(config.Details, p.String())
	}
	var reasons []item
	if len(config.Details) > 0 {
		reasons = append(reasons, config)
	}
	if state.Status != "" {
		reasons = append(reasons, state)
	}
	d := &doctor{ctx: ctx, host: h}
	if it := d.helper(h.helperPath(), "the line pam-sms enable adds"); it.Status == statusFail {
		reasons = append(reasons, it)
	}
	if res.Config != nil && res.Config.Policy.MissingNumber == conf.MissingDeny && len(res.Locked) > 0 {
		reasons = append(reasons, item{Status: statusFail, Check: "users",
			Message: fmt.Sprintf("%d of %d users who can log in are enforced and have no number; with missing_number = \"deny\" they could no longer log in: %s",
				len(res.Locked), res.Users, strings.Join(res.Locked, ", ")),
			Fix: "vi " + res.Path + `: add a line NAME = "+..." under [numbers] for each, exempt them (exempt_users), or take them out of the enforced groups`})
	}
	return reasons
}

// enableSSH prints the sshd drop-in for the choices made, or installs it
// (--install), then says what sshd -T and the named accounts mean for it.
// It changes no PAM stack, so it runs no login checks.
func enableSSH(ctx context.Context, env *cliEnv, h *host, e *stackEdit) error {
	text, err := renderDropIn(e.dropIn)
	if err != nil {
		return failf(exitUsage, "%v", err)
	}
	path := filepath.Join(e.sshdDir, filepath.Base(dropInPath))
	if !e.install {
		fmt.Fprintf(env.Stdout, "# %s (install it with the same options and --install), then reload sshd:\n\n%s", path, text)
	} else {
		if err := needRoot("enable --ssh --install writes " + path); err != nil && e.sshdDir == filepath.Dir(dropInPath) {
			return err
		}
		changed, err := installDropIn(e.sshdDir, text)
		if err != nil {
			return failf(exitFailed, "%v", err)
		}
		if !changed {
			fmt.Fprintf(env.Stdout, "%s: already as asked: nothing to do\n", path)
		} else {
			fmt.Fprintf(env.Stdout, "%s: written; check it with sshd -t, then reload sshd (systemctl reload ssh, or sshd on RPM systems)\n", path)
		}
	}
	var f findings
	if _, err := user.LookupGroup(e.dropIn.groupName()); err != nil {
		f.Warn(fmt.Sprintf("the automation group %s does not exist: nobody logs in with a key alone through it", e.dropIn.groupName()),
			"groupadd --system "+e.dropIn.groupName())
	}
	for _, u := range e.dropIn.users {
		if _, err := user.Lookup(u); err != nil {
			f.Warn(fmt.Sprintf("the automation user %s does not exist", u), "")
		}
	}
	if it := f.Item("automation accounts", ""); it.Status != statusOK {
		fmt.Fprintln(env.Stdout)
		printChecklist(env.Stdout, []item{it})
	}
	fmt.Fprintf(env.Stdout, "\nAutomation accounts log in with their key alone and get no SMS; everyone else needs %s.\n",
		map[bool]string{true: "their key and an SMS code", false: "their password and an SMS code"}[e.dropIn.withKey])
	return nil
}
