package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/directory"
	"github.com/pam-sms/pam_sms/internal/execpath"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/pamstack"
	"github.com/pam-sms/pam_sms/policy"
	"github.com/pam-sms/pam_sms/smsclient"
)

var doctorCmd = &command{
	Name:       "doctor",
	ShortUsage: "pam-sms doctor [--config PATH] [--pam-dir DIR] [--verbose] [--json]",
	ShortHelp:  "Check this machine for everything that stops or bypasses the SMS step",
	LongHelp: `Prints one checklist of this machine, each line OK, WARN or FAIL, with the
fix for every line that is not OK:

  config        owner, group and mode of the configuration; its content
  password_file owner, group and mode of the gateway secret
  state dir     exists, root:pam-sms, mode 2770
  module        pam_sms.so present where the stacks load it
  helper        owner root, group pam-sms, setgid, not writable by others
  stack         every file of the PAM directory that names pam_sms.so: it
                runs after a password step (or, for sshd, after a key), a
                wrong password stops the stack before an SMS is sent, and
                its control cannot skip it on error (sufficient, optional
                or default=ignore are FAIL; after "auth include
                password-auth" it never runs: FAIL; after "auth substack"
                an SMS goes out for wrong passwords: WARN)
  sshd          effective settings (sshd -T): UsePAM, keyboard-interactive,
                AuthenticationMethods, PasswordAuthentication
  gateway       TCP connect and TLS handshake only: no SMS is sent. Each
                [[gateway.failover]] table is one more line, "gateway
                failover N"; one down while another answers is WARN
                (logins fail over), all down FAIL
  users         users who can log in, are enforced and have no number
                (count; the names with --verbose). Users come from
                "getent passwd" (or /etc/passwd), without accounts whose
                shell is nologin or false; groups through NSS.

Exit status 0 when no line is FAIL, 1 otherwise, 3 when the checks could
not run.

Examples:
  pam-sms doctor
  pam-sms doctor --verbose
  pam-sms doctor --json | jq '.items[] | select(.status != "OK")'`,
	Run: runDoctor,
}

// doctorReport is the checklist; the text view prints the same items.
type doctorReport struct {
	Items []item `json:"items"`
	OK    int    `json:"ok"`
	Warn  int    `json:"warn"`
	Fail  int    `json:"fail"`
}

func (r *doctorReport) add(items ...item) {
	for _, it := range items {
		r.Items = append(r.Items, it)
		switch it.Status {
		case statusOK:
			r.OK++
		case statusWarn:
			r.Warn++
		default:
			r.Fail++
		}
	}
}

func runDoctor(ctx context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	pamDir := fs.String("pam-dir", defaultPamDir, "PAM service directory to check")
	verbose := fs.Bool("verbose", false, "list the names of users without a number")
	asJSON := fs.Bool("json", false, "print the checklist as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 0, 0, ""); err != nil {
		return err
	}
	if _, err := os.Stat(*pamDir); err != nil {
		return failf(exitProblem, "PAM directory: %v", err)
	}
	d := &doctor{ctx: ctx, host: env.host(), verbose: *verbose}
	rep := d.run(*configPath, *pamDir)
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printChecklist(env.Stdout, rep.Items)
		fmt.Fprintf(env.Stdout, "\n%d FAIL, %d WARN, %d OK\n", rep.Fail, rep.Warn, rep.OK)
	}
	if rep.Fail > 0 {
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}

// printChecklist prints items as "STATUS  check: message" with the fix and
// details indented below.
func printChecklist(w io.Writer, items []item) {
	for _, it := range items {
		fmt.Fprintf(w, "%-4s  %s: %s\n", it.Status, it.Check, it.Message)
		if it.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", it.Fix)
		}
		for _, d := range it.Details {
			fmt.Fprintf(w, "      - %s\n", d)
		}
	}
}

type doctor struct {
	ctx     context.Context
	host    *host
	verbose bool
}

func (d *doctor) run(configPath, pamDir string) *doctorReport {
	rep := &doctorReport{Items: []item{}}
	cfg, it := d.config(configPath)
	rep.add(it...)
	if cfg != nil {
		rep.add(d.stateDir(cfg.Limits.StateDir))
	}
	sshd, sshdItem := d.sshd()
	keyStep := ""
	if sshd != nil {
		keyStep = sshd.keyStep()
	}
	rep.add(d.stacks(pamDir, configPath, keyStep)...)
	rep.add(sshdItem)
	if cfg != nil {
		rep.add(d.gateways(cfg)...)
		if cfg.Directory != nil {
			rep.add(d.directory(cfg))
		}
		rep.add(d.users(cfg)...)
		if sshd != nil {
			rep.add(d.keyOnly(cfg)...)
		}
	}
	return rep
}

// config checks the configuration file and the password file.
func (d *doctor) config(path string) (*conf.Config, []item) {
	check := "config " + path
	if err := conf.CheckFile(path); err != nil {
		fix := reinstallCommand(true) + " (puts back the shipped " + conf.DefaultPath + "); then pam-sms check"
		if path != conf.DefaultPath {
			fix = fmt.Sprintf("install -m 0640 -o root -g %s %s %s", d.host.Group, conf.DefaultPath, path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			fix = fmt.Sprintf("chown root:%s %s; chmod 0640 %s", d.host.Group, path, path)
		}
		return nil, []item{{Status: statusFail, Check: check, Message: err.Error() + ": every login through pam_sms is denied", Fix: fix}}
	}
	var items []item
	if it, bad := d.groupOwned(check, path); bad {
		items = append(items, it)
	}
	cfg, err := conf.Load(path)
	if err != nil {
		it := item{Status: statusFail, Check: check, Message: "not usable: every login through pam_sms is denied",
			Fix: fmt.Sprintf("vi %s: correct the lines listed below; then pam-sms check --config %s", path, path)}
		var ce *conf.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				it.Details = append(it.Details, p.String())
			}
		} else {
			it.Message = err.Error() + ": every login through pam_sms is denied"
		}
		return nil, append(items, it)
	}
	if len(items) == 0 {
		items = append(items, item{Status: statusOK, Check: check, Message: "valid; owner root, group " + d.host.Group + ", not readable by others"})
	}
	seen := map[string]bool{}
	for _, gw := range cfg.Gateways() {
		pf := gw.PasswordFile
		if pf == "" || seen[pf] {
			continue
		}
		seen[pf] = true
		// Load checked owner and mode already; the group decides whether
		// the setgid helper can read it.
		it, bad := d.groupOwned("password_file "+pf, pf)
		if !bad {
			it = item{Status: statusOK, Check: "password_file " + pf, Message: "owner root, group " + d.host.Group + ", not readable by others"}
		}
		items = append(items, it)
	}
	return cfg, items
}

// groupOwned warns when a root-only file is not group pam-sms: the setgid
// helper, run by a non-root caller such as a screen locker, cannot read it.
func (d *doctor) groupOwned(check, path string) (item, bool) {
	st, err := statT(path)
	if err != nil {
		return item{Status: statusFail, Check: check, Message: err.Error(), Fix: "ls -l " + path + " shows why it cannot be read"}, true
	}
	gid, err := lookupGid(d.host.Group)
	if err != nil {
		return item{Status: statusWarn, Check: check, Message: err.Error(), Fix: "groupadd --system " + d.host.Group}, true
	}
	if st.Gid != gid {
		return item{Status: statusWarn, Check: check,
			Message: fmt.Sprintf("group is gid %d, not %s: logins by non-root callers (screen lockers) cannot read it and are denied", st.Gid, d.host.Group),
			Fix:     fmt.Sprintf("chgrp %s %s", d.host.Group, path)}, true
	}
	return item{}, false
}

func statT(path string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

func lookupGid(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("group %s does not exist", name)
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %s has gid %q", name, g.Gid)
	}
	return uint32(gid), nil
}

// stateDir checks the limits directory: the helper writes it as the
// caller with group pam-sms, so it must be 2770 root:pam-sms.
func (d *doctor) stateDir(dir string) item {
	check := "state dir " + dir
	fix := fmt.Sprintf("install -d -o root -g %s -m 2770 %s", d.host.Group, dir)
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return item{Status: statusFail, Check: check, Message: "missing: every SMS login is denied (limits cannot be counted)", Fix: fix}
	case !fi.IsDir():
		return item{Status: statusFail, Check: check, Message: "not a directory: every SMS login is denied", Fix: fmt.Sprintf("mv %s %s.old && %s", dir, dir, fix)}
	}
	st := fi.Sys().(*syscall.Stat_t)
	var f findings
	if st.Uid != 0 {
		f.Fail(fmt.Sprintf("owned by uid %d, not root", st.Uid), fix)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		f.Fail("writable by others: anyone can reset the limits (and the helper refuses it)", fix)
	}
	if gid, err := lookupGid(d.host.Group); err != nil || st.Gid != gid {
		f.Warn(fmt.Sprintf("group is gid %d, not %s: non-root callers (screen lockers) cannot count their sends and are denied", st.Gid, d.host.Group), fix)
	}
	if fi.Mode().Perm() != 0o770 || fi.Mode()&fs.ModeSetgid == 0 {
		f.Warn(fmt.Sprintf("mode is %s, not 2770", modeString(fi.Mode())), fix)
	}
	return f.Item(check, "owner root, group "+d.host.Group+", mode 2770")
}

func modeString(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

// sshd reads sshd's effective settings.
func (d *doctor) sshd() (sshdConfig, item) {
	out, err := d.host.SshdT(d.ctx)
	if errors.Is(err, exec.ErrNotFound) {
		return nil, item{Status: statusOK, Check: "sshd", Message: "sshd is not installed: nothing to check"}
	}
	if err != nil {
		return nil, item{Status: statusWarn, Check: "sshd", Message: "cannot read the effective settings: " + err.Error(),
			Fix: "sshd -t (as root) shows what sshd cannot read; then pam-sms doctor again"}
	}
	c := parseSshdT(out)
	return c, c.check()
}

// stacks checks the module, the helper and every stack naming pam_sms.so.
func (d *doctor) stacks(pamDir, configPath, keyStep string) []item {
	r := pamstack.NewReader(pamDir)
	stacks, err := pamstack.FindSMSStacks(r)
	if err != nil {
		return []item{{Status: statusFail, Check: "stacks " + pamDir, Message: err.Error(), Fix: "ls -l " + pamDir + " shows which file cannot be read"}}
	}
	var items []item
	if len(stacks) == 0 {
		items = append(items, item{Status: statusWarn, Check: "stacks " + pamDir,
			Message: "no PAM stack names pam_sms.so: no login asks for an SMS code",
			Fix:     "pam-sms enable"})
		return append(items, d.module("pam_sms.so", "the packaged stacks"), d.helper(defaultHelper, "the module's default"))
	}
	modules, helpers := map[string]bool{}, map[string]bool{}
	for _, s := range stacks {
		for _, l := range s.Lines {
			if !modules[l.Module] {
				modules[l.Module] = true
				items = append(items, d.module(l.Module, l.Where()))
			}
			helper, ok := l.Arg("helper")
			if !ok {
				helper = defaultHelper
			}
			if !helpers[helper] {
				helpers[helper] = true
				items = append(items, d.helper(helper, l.Where()))
			}
			if cp, ok := l.Arg("config"); ok && cp != configPath {
				items = append(items, item{Status: statusWarn, Check: "stack " + l.Where(),
					Message: fmt.Sprintf("uses the configuration %s, but this check read %s", cp, configPath),
					Fix:     "pam-sms doctor --config " + cp})
			}
		}
		items = append(items, pamstack.CheckStack(r, s, keyStep)...)
	}
	return items
}

// module checks that libpam finds the module a stack names.
func (d *doctor) module(name, where string) item {
	check := "module " + name
	var path string
	if filepath.IsAbs(name) {
		path = name
	} else {
		for _, dir := range d.host.ModuleDirs {
			if p := filepath.Join(dir, name); fileExists(p) {
				path = p
				break
			}
		}
		if path == "" {
			return item{Status: statusFail, Check: check,
				Message: fmt.Sprintf("named by %s but in none of libpam's module directories: every login through that stack fails", where),
				Fix:     reinstallCommand(false)}
		}
	}
	st, err := statT(path)
	if err != nil {
		msg := fmt.Sprintf("cannot be read (%v); named by %s: every login through that stack fails", err, where)
		if errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("does not exist; named by %s: every login through that stack fails", where)
		}
		return item{Status: statusFail, Check: check, Message: msg, Fix: fixMissing(reinstallCommand(false), where, "pam_sms.so")}
	}
	if st.Uid != 0 || st.Mode&0o022 != 0 {
		return item{Status: statusFail, Check: check, Message: fmt.Sprintf("%s is uid %d mode %04o: whoever can write it controls every login", path, st.Uid, st.Mode&0o7777),
			Fix: fmt.Sprintf("chown root:root %s; chmod 0644 %s", path, path)}
	}
	msg := "present, owner root, not writable by others"
	if path != name {
		msg = path + " " + msg
	}
	return item{Status: statusOK, Check: check, Message: msg}
}

// helper checks the helper binary a stack runs.
func (d *doctor) helper(path, where string) item {
	check := "helper " + path
	fix := fmt.Sprintf("chown root:%s %s; chmod 2755 %s", d.host.Group, path, path)
	fi, err := os.Stat(path)
	if err != nil {
		msg := fmt.Sprintf("cannot be read (%v); named by %s: every SMS login is denied", err, where)
		if errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("does not exist; named by %s: every SMS login is denied", where)
		}
		return item{Status: statusFail, Check: check, Message: msg,
			Fix: fixMissing(reinstallCommand(false), where, "helper=")}
	}
	st := fi.Sys().(*syscall.Stat_t)
	var f findings
	// The module walks the path without following links and checks every
	// directory above the helper; say so here before a login finds out.
	if lfi, err := os.Lstat(path); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		f.Fail("is a symbolic link: pam_sms.so refuses to run it", fixHelperPath(path, where))
	} else if err := execpath.CheckDir(filepath.Dir(path)); err != nil {
		f.Fail(fmt.Sprintf("pam_sms.so refuses to run it: %v", err), fixHelperDirs(path, where, d.host.Group))
	}
	if st.Uid != 0 {
		f.Fail(fmt.Sprintf("owned by uid %d: pam_sms.so runs only a root-owned helper", st.Uid), fix)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		f.Fail("writable by group or others: whoever can write it controls every login", fix)
	}
	if gid, err := lookupGid(d.host.Group); err != nil {
		f.Warn(err.Error()+": the helper cannot run with its rights", "groupadd --system "+d.host.Group+"; "+fix)
	} else if st.Gid != gid {
		f.Warn(fmt.Sprintf("group is gid %d, not %s: non-root callers (screen lockers) cannot read the configuration and are denied", st.Gid, d.host.Group), fix)
	}
	if fi.Mode()&fs.ModeSetgid == 0 {
		f.Warn("not setgid: non-root callers (screen lockers) cannot read the configuration and are denied", fix)
	}
	return f.Item(check, fmt.Sprintf("owner root, group %s, mode %s", d.host.Group, modeString(fi.Mode())))
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// gatewayTimeout bounds the reachability check.
const gatewayTimeout = 10 * time.Second

// gateways checks [gateway] and each [[gateway.failover]] table, in the
// order a login tries them, and names the ones that cannot be reached. One
// down while another answers is a warning (logins fail over to it, later);
// all down is a failure (fail_mode decides every login).
func (d *doctor) gateways(cfg *conf.Config) []item {
	gws := cfg.Gateways()
	items := make([]item, len(gws))
	reach := make([]reachState, len(gws))
	up := []int{}
	for i, gw := range gws {
		items[i], reach[i] = d.gateway(cfg, i, gw)
		if reach[i] == reached {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return items
	}
	for i := range items {
		if reach[i] == unreachable {
			items[i].Status = statusWarn
			items[i].Message += fmt.Sprintf(": logins fail over to gateway %d (%s)", up[0], cfg.GatewayName(up[0]))
		}
	}
	return items
}

// reachState is what gateway found: a gateway it could not check (its
// config), one it could not reach, one it reached.
type reachState int

const (
	notChecked reachState = iota
	unreachable
	reached
)

// gateway connects to gateway i and completes a TLS handshake, as Send
// would, but sends no request.
func (d *doctor) gateway(cfg *conf.Config, i int, gw conf.Gateway) (item, reachState) {
	key := conf.GatewayKey(i)
	where := "[gateway]"
	if i > 0 {
		where = fmt.Sprintf("[[gateway.failover]] %d", i)
	}
	u, err := url.Parse(gw.URL)
	if err != nil {
		return item{Status: statusFail, Check: "gateway", Message: "bad url: " + err.Error(), Fix: "vi " + cfg.Path + ": correct url in " + where}, notChecked
	}
	check := "gateway " + u.Scheme + "://" + u.Host
	if i > 0 {
		check = fmt.Sprintf("gateway failover %d %s://%s", i, u.Scheme, u.Host)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	timeout := min(gw.Timeout, gatewayTimeout)
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	effect := "logins through pam_sms are denied (fail_mode \"secure\")"
	if cfg.Policy.FailMode == conf.FailSafe {
		effect = "logins pass without a code (fail_mode \"safe\")"
	}
	if len(cfg.Gateway.Failover) > 0 {
		effect = "when every gateway is down, " + effect
	}
	down := func(err error) item {
		return item{Status: statusFail, Check: check, Message: fmt.Sprintf("unreachable: %v: %s", err, effect),
			Fix: fmt.Sprintf("curl -sS --max-time 10 -o /dev/null %s://%s/ names what blocks it (DNS, route, firewall; SELinux for sshd); vi %s if %s.url is wrong",
				u.Scheme, addr, cfg.Path, key)}
	}
	// The same client a login uses, so that a proxy, ca_file and the
	// certificate check are exactly the helper's; Probe sends nothing.
	client, err := smsclient.New(gw.Config)
	if err != nil {
		return item{Status: statusFail, Check: check, Message: err.Error(), Fix: "vi " + cfg.Path + ": correct " + where}, notChecked
	}
	if err := client.Probe(ctx); err != nil {
		return down(err), unreachable
	}
	via := ""
	if gw.Proxy != "" {
		via = " through the proxy"
	}
	if u.Scheme != "https" {
		return item{Status: statusOK, Check: check, Message: "TCP connect to " + addr + via + " succeeded (plain http to loopback: no TLS); no SMS sent"}, reached
	}
	return item{Status: statusOK, Check: check, Message: "TCP connect and TLS handshake with " + addr + via + " succeeded; no SMS sent"}, reached
}

// users finds enforced users without a number.
func (d *doctor) users(cfg *conf.Config) []item {
	var items []item
	for _, g := range cfg.Policy.Groups {
		if g == "*" {
			continue
		}
		if _, err := user.LookupGroup(g); err != nil {
			items = append(items, item{Status: statusWarn, Check: "policy.groups",
				Message: fmt.Sprintf("group %q does not exist: nobody is enforced through it", g),
				Fix:     fmt.Sprintf("groupadd %s, or vi %s: correct the group name in groups", g, cfg.Path)})
		}
	}
	names, missing, err := d.missingNumbers(cfg)
	if err != nil {
		return append(items, item{Status: statusWarn, Check: "users", Message: "cannot count the users without a number: " + err.Error(),
			Fix: "getent passwd, pam-sms check and pam-sms explain USER show why"})
	}
	if len(missing) == 0 {
		return append(items, item{Status: statusOK, Check: "users",
			Message: fmt.Sprintf("every enforced user of %d who can log in has a number", len(names))})
	}
	effect := "they cannot log in (missing_number = \"deny\")"
	if cfg.Policy.MissingNumber == conf.MissingIgnore {
		effect = "they log in without a code (missing_number = \"ignore\")"
	}
	it := item{Status: statusWarn, Check: "users",
		Message: fmt.Sprintf("%d of %d users who can log in are enforced and have no number: %s", len(missing), len(names), effect),
		Fix:     "vi " + cfg.Path + `: add a line NAME = "+..." under [numbers] for each, or take them out of the enforced groups`}
	if d.verbose {
		it.Details = missing
	} else {
		it.Fix += " (pam-sms doctor --verbose lists them)"
	}
	return append(items, it)
}

// missingNumbers lists the users who can log in and those of them who are
// enforced and have no number. It decides as the helper does
// (policy.DecideLookup with the number sources: [numbers], the numbers files,
// [directory]) for a remote login from outside trusted_networks, so that
// only group membership, exemptions and the number count. A source that
// cannot be used stops the count (a directory down costs one timeout, not
// one per user).
func (d *doctor) missingNumbers(cfg *conf.Config) (names, missing []string, err error) {
	names, err = d.host.Users(d.ctx)
	if err != nil {
		return nil, nil, err
	}
	strict := *cfg
	strict.Policy.TrustLocal = false
	lookup := numsource.Chain(&strict)
	for _, name := range names {
		acct, err := policy.LookupAccount(name)
		if err != nil {
			continue
		}
		dec, err := policy.DecideLookup(d.ctx, &strict, policy.Request{User: name}, acct, lookup)
		if err != nil {
			return names, nil, fmt.Errorf("number of %s: %w", name, err)
		}
		switch dec.Outcome {
		case policy.DenyNoNumber, policy.IgnoreNoNumber:
			missing = append(missing, name)
		}
	}
	return names, missing, nil
}

// directory binds to [directory] and looks up one enforced user without a
// number in [numbers] or the numbers files (or, when there is none, a name
// no entry has), as a login does: one search. The number is masked.
func (d *doctor) directory(cfg *conf.Config) item {
	const check = "directory"
	dc, err := cfg.Directory.Resolve(cfg.Path)
	if err != nil {
		return item{Status: statusFail, Check: check, Message: strings.ReplaceAll(err.Error(), "\n", "; ") +
			": every login that needs the directory is denied", Fix: "pam-sms check lists the problems at their lines"}
	}
	name := d.directoryUser(cfg)
	probe := name
	if probe == "" {
		probe = "pam-sms-doctor-probe"
	}
	res, err := directory.Lookup(d.ctx, dc, probe)
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		effect := "logins that need it are denied (fail_mode \"secure\")"
		if cfg.Policy.FailMode == conf.FailSafe {
			effect = "logins that need it pass without a code (fail_mode \"safe\")"
		}
		return item{Status: statusFail, Check: check, Message: "unavailable: " + err.Error() + "; " + effect,
			Fix: "check directory.uri, the network and the server; directory.timeout bounds the wait"}
	case err != nil:
		return item{Status: statusFail, Check: check, Message: err.Error() + ": every login that needs the directory is denied",
			Fix: "check directory.bind_dn, bind_password_file, client_cert, ca_file and base"}
	case name == "":
		return item{Status: statusOK, Check: check, Message: "bind and search on " + res.URI + " work (no enforced user needs the directory)"}
	case res.Status == directory.Found:
		n, perr := smsclient.ParseNumber(res.Value)
		if perr != nil {
			return item{Status: statusWarn, Check: check, Message: fmt.Sprintf("%s: %s in %s of %q is not a valid number: %s",
				res.URI, name, res.Attribute, res.DN, conf.NumberMessage(perr, res.Value)), Fix: "correct the entry in the directory"}
		}
		return item{Status: statusOK, Check: check, Message: fmt.Sprintf("%s: %s has %s in %s", res.URI, name, n.Masked(), res.Attribute)}
	}
	return item{Status: statusWarn, Check: check, Message: fmt.Sprintf("bind and search on %s work, but %s has %s", res.URI, name, res.Status),
		Fix: "check directory.base, filter and attribute, or add the number to the entry"}
}

// directoryUser is the first enforced user who can log in and has no number
// in [numbers] or the numbers files, or "".
func (d *doctor) directoryUser(cfg *conf.Config) string {
	names, err := d.host.Users(d.ctx)
	if err != nil {
		return ""
	}
	strict := *cfg
	strict.Policy.TrustLocal = false
	strict.Directory = nil
	lookup := numsource.Chain(&strict)
	for _, name := range names {
		acct, err := policy.LookupAccount(name)
		if err != nil {
			continue
		}
		if _, exempt := policy.Exemption(&strict, policy.Request{User: name}, acct); exempt {
			continue
		}
		if r, err := lookup(d.ctx, name); err == nil && !r.Found {
			return name
		}
	}
	return ""
}

// keyOnly warns about enforced accounts that sshd lets in with a key alone
// (an AuthenticationMethods list without keyboard-interactive, such as the
// drop-in's automation Match block): they never get an SMS. Asking sshd -T
// for every user is heavy, so it asks only for the users whom a Match User
// or Match Group line of the sshd configuration names.
func (d *doctor) keyOnly(cfg *conf.Config) []item {
	if d.host.SshdConfig == "" || d.host.SshdTUser == nil {
		return nil
	}
	matchUsers, matchGroups, files := sshdMatches(d.host.SshdConfig, 0)
	if len(matchUsers)+len(matchGroups) == 0 {
		return nil
	}
	names, err := d.host.Users(d.ctx)
	if err != nil {
		return []item{{Status: statusWarn, Check: "sshd key alone", Message: "cannot list users: " + err.Error(), Fix: "getent passwd shows why"}}
	}
	strict := *cfg
	strict.Policy.TrustLocal = false
	var f findings
	checked := 0
	for _, name := range names {
		acct, err := policy.LookupAccount(name)
		if err != nil || !matchName(name, matchUsers) && !slices.ContainsFunc(acct.Groups, func(g string) bool { return matchName(g, matchGroups) }) {
			continue
		}
		if policy.Decide(&strict, policy.Request{User: name}, acct).Outcome == policy.Exempt {
			continue
		}
		checked++
		out, err := d.host.SshdTUser(d.ctx, name)
		if err != nil {
			f.Warn(fmt.Sprintf("%s: cannot read sshd's settings for this user: %v", name, err), "sshd -T -C user="+name+",host=x,addr=192.0.2.1")
			continue
		}
		if l := parseSshdT(out).lacksKbd(); l != "" {
			var fix string
			for _, p := range matchUsers {
				if matchName(name, []string{p}) {
					fix = fmt.Sprintf("vi %s: take %s out of its Match User line; then sshd -t && systemctl reload %s", files[p], name, sshdUnit())
				}
			}
			for _, g := range acct.Groups {
				if fix == "" && matchName(g, matchGroups) {
					fix = fmt.Sprintf("gpasswd -d %s %s", name, g)
				}
			}
			f.Warn(fmt.Sprintf("%s is enforced (policy.groups) but sshd lets it log in with AuthenticationMethods %q, a key alone: no SMS is asked", name, l),
				fix+"; or, if it is an automation account, exempt it in "+cfg.Path)
		}
	}
	if checked == 0 {
		return nil
	}
	return []item{f.Item("sshd key alone", fmt.Sprintf("none of the %d enforced users named in sshd's Match blocks logs in by key alone", checked))}
}

// reinstallCommand is the package manager's command that puts the
// package's files back; withConf also restores a deleted configuration.
func reinstallCommand(withConf bool) string {
	if isDebian() {
		if withConf {
			return "apt-get install --reinstall -o Dpkg::Options::=--force-confmiss libpam-sms"
		}
		return "apt-get install --reinstall libpam-sms"
	}
	return "dnf reinstall pam_sms"
}

// isDebian reports whether this is a Debian-family host (apt and dpkg), by
// the file every such system has; not by dpkg's database, which only dpkg
// itself should read.
func isDebian() bool { return fileExists("/etc/debian_version") }

// whereFile is the file of a "FILE:LINE" position; "" when where is not one.
func whereFile(where string) (string, int) {
	i := strings.LastIndexByte(where, ':')
	if i < 0 || !filepath.IsAbs(where) {
		return "", 0
	}
	n, err := strconv.Atoi(where[i+1:])
	if err != nil {
		return "", 0
	}
	return where[:i], n
}

// fixMissing is the fix for a missing module or helper: reinstall, or
// correct the path at the stack line that names it.
func fixMissing(reinstall, where, what string) string {
	if file, n := whereFile(where); file != "" {
		return fmt.Sprintf("%s, or vi +%d %s: correct the %s path", reinstall, n, file, what)
	}
	return reinstall
}

// fixHelperPath points helper= at the file a symbolic link leads to.
func fixHelperPath(path, where string) string {
	target, err := filepath.EvalSymlinks(path)
	file, _ := whereFile(where)
	if err != nil || file == "" {
		return fixMissing(reinstallCommand(false), where, "helper=")
	}
	return fmt.Sprintf("sed -i 's|helper=%s|helper=%s|' %s", path, target, file)
}

// fixHelperDirs is the fix for a helper in a directory the module refuses:
// the directories made root's, or the helper installed where the package
// puts it.
func fixHelperDirs(path, where, group string) string {
	if path == defaultHelper {
		if bad := strings.Join(execpath.Refused(filepath.Dir(path)), " "); bad != "" {
			return fmt.Sprintf("chown root:root %s; chmod go-w %s", bad, bad)
		}
	}
	fix := fmt.Sprintf("install -D -o root -g %s -m 2755 %s %s", group, path, defaultHelper)
	if file, _ := whereFile(where); file != "" {
		fix += fmt.Sprintf(" && sed -i 's|helper=%s|helper=%s|' %s", path, defaultHelper, file)
	}
	return fix
}
