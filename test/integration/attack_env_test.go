package integration_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// What a local user controls when it runs the setgid helper by hand: its
// environment, its arguments, its resource limits. None of it may change what
// the helper trusts, which config it reads, or the state it keeps (SPEC §6).

// defaultConfig is conf.DefaultPath: the only config a caller without root gets.
const defaultConfig = "/etc/security/pam_sms.conf"

// moduleEnv is the environment pam_sms.so starts the helper with.
var moduleEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// callerRun is how the test plays the caller: what it puts in the helper's
// environment, command line and resource limits.
type callerRun struct {
	env     []string // the helper's whole environment; nil = moduleEnv
	args    []string // the helper's arguments; nil = what the module passes for the default config
	prlimit []string // prlimit(1) options, e.g. "--nofile=8:8"; set before the exec, hard and soft
	hosts   string   // /etc/hosts as the helper sees it; "" = the machine's
}

// startCaller runs the helper installed by installSetgid as u, with the
// module's wiring (a socketpair on fd 0 and 1). A caller without root may
// only use the default config, so the run gets a mount namespace of its own
// in which in.conf is /etc/security/pam_sms.conf (a tmpfs over
// /etc/security, nothing else of the machine changes). Every step is an exec
// in one process, so h.cmd.Process.Pid is the helper's pid.
func startCaller(t *testing.T, in setgidInstall, u *user.User, r callerRun) *helperSession {
	t.Helper()
	fi, err := os.Stat(in.conf)
	if err != nil {
		t.Fatal(err)
	}
	gid := fi.Sys().(*syscall.Stat_t).Gid
	hosts := ""
	if r.hosts != "" {
		hosts = filepath.Join(filepath.Dir(in.conf), "hosts")
		if err := os.WriteFile(hosts, []byte(r.hosts), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env, args := r.env, r.args
	if env == nil {
		env = moduleEnv
	}
	if args == nil {
		args = []string{"--config=" + defaultConfig}
	}
	const script = `set -e
conf=$1 gid=$2 hosts=$3
shift 3
mount -t tmpfs -o mode=0755 tmpfs /etc/security
install -o 0 -g "$gid" -m 0640 "$conf" /etc/security/pam_sms.conf
if [ -n "$hosts" ]; then mount --bind "$hosts" /etc/hosts; fi
exec "$@"`
	argv := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
		in.conf, strconv.Itoa(int(gid)), hosts,
		"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "--",
		"env", "-i"}
	argv = append(argv, env...)
	if len(r.prlimit) > 0 {
		argv = append(append(append(argv, "prlimit"), r.prlimit...), "--")
	}
	argv = append(append(argv, in.helper), args...)

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Non-blocking, so that os.File takes it into the poller and the read
	// deadline below works.
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "module end"), os.NewFile(uintptr(fds[1]), "helper end")
	t.Cleanup(func() { ours.Close() })
	cmd := exec.Command("unshare", argv...)
	cmd.Stdin, cmd.Stdout = theirs, theirs
	cmd.Stderr = &bytes.Buffer{} // the wrapper's complaints, for failure messages
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if err := ours.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &helperSession{cmd: cmd, w: ours, r: bufio.NewReader(ours)}
}

// request sends the PAM items of a local login of name. A helper that
// refuses to run may be gone already: write errors are left to the reads.
func (h *helperSession) request(t *testing.T, name string) {
	t.Helper()
	io.WriteString(h.w, "user "+name+"\nrhost \nservice screenlock\ntty \nend \n")
}

// untilResult reads lines up to the result line, or a prompt (the helper
// then waits for an answer), and returns them all.
func (h *helperSession) untilResult(t *testing.T) []string {
	t.Helper()
	var lines []string
	for {
		l := h.next(t)
		lines = append(lines, l)
		if strings.HasPrefix(l, "result ") || strings.HasPrefix(l, "prompt_") {
			return lines
		}
	}
}

// refused waits for the helper to end without a result (the module then
// denies) and returns its exit status.
func (h *helperSession) refused(t *testing.T) int {
	t.Helper()
	if l, err := h.r.ReadString('\n'); err == nil {
		t.Fatalf("helper said %q; want it to end without a word", l)
	}
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper: %v, want a non-zero exit status; wrapper said: %s", err, h.cmd.Stderr)
	}
	return ee.ExitCode()
}

// loginOK goes through a whole login: code sent, right code, result 0.
func (h *helperSession) loginOK(t *testing.T, gw *fakegw.Gateway, n int) {
	t.Helper()
	if got := h.next(t); !strings.HasPrefix(got, "info Code sent to ") {
		t.Fatalf("helper said %q, want the code-sent line; wrapper said: %s", got, h.cmd.Stderr)
	}
	if got := h.next(t); got != "prompt_echo_off SMS code: " {
		t.Fatalf("helper said %q, want the prompt", got)
	}
	h.send(t, "resp "+fakegw.Code(t, gw.Wait(t, n)))
	if got := h.next(t); got != "result 0" {
		t.Fatalf("helper answered %q, want result 0", got)
	}
}

// readableCA copies the gateway's certificate where the caller can read it
// (t.TempDir() is private to root), alone in a directory of its own.
func readableCA(t *testing.T, in setgidInstall, gw *fakegw.Gateway) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(in.conf), "ca")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(gw.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// editConfig rewrites the [gateway] keys of in.conf (owner and mode stay):
// each key's line is removed, and those with a value other than "" are
// written again right after the section header.
func editConfig(t *testing.T, in setgidInstall, set map[string]string) {
	t.Helper()
	body, err := os.ReadFile(in.conf)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		key, _, _ := strings.Cut(l, "=")
		if _, ok := set[strings.TrimSpace(key)]; ok {
			continue
		}
		out = append(out, l)
		if l == "[gateway]" {
			for k, v := range set {
				if v != "" {
					out = append(out, k+" = "+v)
				}
			}
		}
	}
	if err := os.WriteFile(in.conf, []byte(strings.Join(out, "\n")), 0o640); err != nil {
		t.Fatal(err)
	}
}

// SSL_CERT_FILE and SSL_CERT_DIR set by the caller must not make the helper
// trust the caller's CA: it would hand the gateway id and password to whoever
// holds that CA's key. Without ca_file the fake gateway's self-signed
// certificate is untrusted, with or without the variables; with ca_file it is
// trusted (so the test can fail).
func TestCallerCertEnvironmentIgnored(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smstenv1")
	caller := testenv.CreateUser(t, "smsintenv01", "S3cret-pass-e1")
	gw := fakegw.StartTLS(t)
	in := installSetgid(t, build, "smstenv1", gw, map[string]string{"smsintenv01": number})
	ca := readableCA(t, in, gw)
	editConfig(t, in, map[string]string{"ca_file": ""})

	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"SSL_CERT_FILE and SSL_CERT_DIR name the gateway's CA", append([]string{"SSL_CERT_FILE=" + ca, "SSL_CERT_DIR=" + filepath.Dir(ca)}, moduleEnv...)},
		{"SSL_CERT_FILE only", append([]string{"SSL_CERT_FILE=" + ca}, moduleEnv...)},
		{"control: no variables", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startCaller(t, in, caller, callerRun{env: tc.env})
			h.request(t, "smsintenv01")
			lines := h.untilResult(t)
			if got := lines[len(lines)-1]; got != "result 9" {
				t.Fatalf("helper said %q, want result 9 (PAM_AUTHINFO_UNAVAIL: certificate not trusted)", lines)
			}
			if n := gw.Count(); n != 0 {
				t.Fatalf("gateway received %d requests over a certificate only the caller vouches for", n)
			}
		})
	}
	t.Run("control: ca_file", func(t *testing.T) {
		editConfig(t, in, map[string]string{"ca_file": strconv.Quote(ca)})
		h := startCaller(t, in, caller, callerRun{})
		h.request(t, "smsintenv01")
		h.loginOK(t, gw, 1)
	})
}

// countingProxy accepts connections and counts them; it answers nothing.
type countingProxy struct {
	ln    net.Listener
	conns atomic.Int64
}

func startProxy(t *testing.T) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *countingProxy) url() string { return "http://" + p.ln.Addr().String() }

// A proxy named in the caller's environment sees nothing: the helper goes to
// the gateway directly. Go never proxies loopback addresses, so the gateway
// is named example.com (in its certificate), which the helper's /etc/hosts,
// in its own mount namespace, maps to 127.0.0.1.
func TestCallerProxyEnvironmentIgnored(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smstenv2")
	caller := testenv.CreateUser(t, "smsintenv02", "S3cret-pass-e2")
	gw := fakegw.StartTLS(t)
	proxy := startProxy(t)
	in := installSetgid(t, build, "smstenv2", gw, map[string]string{"smsintenv02": number})
	ca := readableCA(t, in, gw)
	u, err := url.Parse(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = "example.com:" + u.Port()
	editConfig(t, in, map[string]string{"ca_file": strconv.Quote(ca), "url": strconv.Quote(u.String())})

	env := append([]string{"HTTPS_PROXY=" + proxy.url(), "HTTP_PROXY=" + proxy.url(), "ALL_PROXY=" + proxy.url(),
		"https_proxy=" + proxy.url(), "http_proxy=" + proxy.url(), "NO_PROXY="}, moduleEnv...)
	h := startCaller(t, in, caller, callerRun{env: env, hosts: "127.0.0.1 localhost example.com\n"})
	h.request(t, "smsintenv02")
	h.loginOK(t, gw, 1)
	if n := proxy.conns.Load(); n != 0 {
		t.Fatalf("the caller's proxy saw %d connections", n)
	}

	// Control: a client that does use the proxy is seen by it.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(mustURL(t, proxy.url()))}}
	if resp, err := c.Get(u.String()); err == nil {
		resp.Body.Close()
	}
	if n := proxy.conns.Load(); n < 1 {
		t.Fatalf("control: the proxy saw %d connections from a client that uses it, want some", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// procEnviron reads the environment a process was started with (its last
// exec), and the effective gid from its status.
func procEnviron(t *testing.T, pid int) (env []string, egid string) {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	env = strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "Gid:" {
			egid = f[2]
		}
	}
	return env, egid
}

// Variables the runtime reads before main (GODEBUG, GOMAXPROCS, ...) or
// packages read later (TZ, LOCALDOMAIN, ...): the helper restarts itself with
// only PATH, still setgid, and the login works as ever. The module's own
// environment causes no restart.
func TestCallerEnvironmentRestart(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smstenv3")
	caller := testenv.CreateUser(t, "smsintenv03", "S3cret-pass-e3")
	gw := fakegw.Start(t)
	in := installSetgid(t, build, "smstenv3", gw, map[string]string{"smsintenv03": number})
	grp, err := user.LookupGroup("smstenv3")
	if err != nil {
		t.Fatal(err)
	}
	dirty := append([]string{"GODEBUG=x509sha1=1,netdns=cgo+2", "GOMAXPROCS=1", "GOGC=off", "GOMEMLIMIT=1MiB",
		"GOTRACEBACK=crash", "TZ=Pacific/Kiritimati", "LOCALDOMAIN=evil.example", "RES_OPTIONS=ndots:15",
		"HOSTALIASES=/tmp/aliases", "SSL_CERT_FILE=/tmp/nothing.pem"}, moduleEnv...)
	// After the restart: PATH, and the mark that stops a second restart.
	restarted := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PAM_SMS_HELPER_RESTARTED=1"}
	tests := []struct {
		name string
		env  []string
		want []string // /proc/PID/environ at the prompt
	}{
		{"caller's variables", dirty, restarted},
		{"PATH of the caller's choosing", []string{"PATH=/home/smsintenv03/bin:/usr/bin"}, restarted},
		{"control: the module's environment, no restart", nil, moduleEnv},
		// A restarted helper that still finds variables refuses rather than
		// restart again; the mark gains a caller nothing.
		{"the mark, set by the caller, with variables", append([]string{"PAM_SMS_HELPER_RESTARTED=1"}, dirty...), nil},
	}
	sent := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startCaller(t, in, caller, callerRun{env: tt.env})
			h.request(t, "smsintenv03")
			if tt.want == nil {
				if status := h.refused(t); status != 5 {
					t.Errorf("exit status %d, want 5", status)
				}
				if n := gw.Count(); n != sent {
					t.Errorf("gateway has %d requests, want %d", n, sent)
				}
				return
			}
			if got := h.next(t); !strings.HasPrefix(got, "info Code sent to ") {
				t.Fatalf("helper said %q, want the code-sent line; wrapper said: %s", got, h.cmd.Stderr)
			}
			if got := h.next(t); got != "prompt_echo_off SMS code: " {
				t.Fatalf("helper said %q, want the prompt", got)
			}
			env, egid := procEnviron(t, h.cmd.Process.Pid)
			if strings.Join(env, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("helper's environment at the prompt: %q, want %q", env, tt.want)
			}
			if egid != grp.Gid {
				t.Errorf("helper's effective gid %s, want %s (still setgid after the restart)", egid, grp.Gid)
			}
			sent++
			h.send(t, "resp "+fakegw.Code(t, gw.Wait(t, sent)))
			if got := h.next(t); got != "result 0" {
				t.Fatalf("helper answered %q, want result 0", got)
			}
		})
	}
}

// A caller without root gets the default config and no debug logging; any
// other argument is refused before anything is read, and the log line says
// why and who. Root (the module in sshd, su, sudo) keeps --config and --debug.
func TestCallerArgumentsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenCallerSyslog(t)
	testenv.CreateGroup(t, "smstenv4")
	caller := testenv.CreateUser(t, "smsintenv04", "S3cret-pass-e4")
	gw := fakegw.Start(t)
	in := installSetgid(t, build, "smstenv4", gw, map[string]string{"smsintenv04": number})
	// Another root-owned file the group can read: a config whose limits and
	// fail_mode the caller would like better (here: every login exempt).
	other := filepath.Join(filepath.Dir(in.conf), "other.conf")
	body, err := os.ReadFile(in.conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, bytes.Replace(body, []byte("trust_local = false"), []byte("trust_local = true"), 1), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(in.conf)
	mustChmod(t, other, 0o640, int(fi.Sys().(*syscall.Stat_t).Gid))
	uidMark := "caller_uid=" + caller.Uid

	tests := []struct {
		name string
		args []string
		why  string
	}{
		{"another config", []string{"--config=" + other}, "refusing to run: only root may choose the configuration file"},
		{"debug", []string{"--config=" + defaultConfig, "--debug"}, "refusing to run: only root may turn on debug logging"},
		{"unknown argument", []string{"--frobnicate"}, "refusing to run: unknown argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startCaller(t, in, caller, callerRun{args: tt.args})
			h.request(t, "smsintenv04")
			if status := h.refused(t); status != 2 {
				t.Errorf("exit status %d, want 2", status)
			}
			pid := fmt.Sprintf("pam_sms[%d]", h.cmd.Process.Pid)
			lines := sink.matching(t, pid, 1)
			arg := tt.args[len(tt.args)-1]
			if strings.Contains(arg, "=") {
				arg = strconv.Quote(arg) // as the log quotes a value with "="
			}
			if len(lines) != 1 || !strings.Contains(lines[0], tt.why) || !strings.Contains(lines[0], uidMark) ||
				!strings.Contains(lines[0], "argument="+arg) {
				t.Fatalf("log lines of the run: %q; want one saying %q with %s and the argument", lines, tt.why, uidMark)
			}
		})
	}
	if n := gw.Count(); n != 0 {
		t.Fatalf("refused runs sent %d SMS", n)
	}
	t.Run("default config, as the module passes it", func(t *testing.T) {
		h := startCaller(t, in, caller, callerRun{})
		h.request(t, "smsintenv04")
		h.loginOK(t, gw, 1)
	})
	t.Run("no arguments", func(t *testing.T) {
		h := startCaller(t, in, caller, callerRun{args: []string{}})
		h.request(t, "smsintenv04")
		h.loginOK(t, gw, 2)
	})
}

// listenCallerSyslog is listenSyslog with the socket open to every user, as
// /dev/log is: a helper run without root logs too.
func listenCallerSyslog(t *testing.T) *syslogSink {
	t.Helper()
	sink := listenSyslog(t)
	if err := os.Chmod(syslogPath, 0o666); err != nil {
		t.Fatal(err)
	}
	return sink
}

// Every log line of a run without root names the caller's uid: such a caller
// chooses the user, service and rhost the lines show.
func TestCallerUIDOnEveryLine(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenCallerSyslog(t)
	testenv.CreateGroup(t, "smstenv5")
	caller := testenv.CreateUser(t, "smsintenv05", "S3cret-pass-e5")
	testenv.CreateUser(t, "smsintenv06", "S3cret-pass-e6")
	gw := fakegw.Start(t)
	in := installSetgid(t, build, "smstenv5", gw, map[string]string{"smsintenv05": number})

	var pids []int
	start := func(r callerRun, name string) *helperSession {
		h := startCaller(t, in, caller, r)
		pids = append(pids, h.cmd.Process.Pid)
		h.request(t, name)
		return h
	}
	h := start(callerRun{}, "smsintenv05") // three wrong codes
	for _, a := range []string{"1", "2", "3"} {
		for !strings.HasPrefix(h.next(t), "prompt_echo_off ") {
		}
		h.send(t, "resp "+a)
	}
	if lines := h.untilResult(t); lines[len(lines)-1] != "result 7" {
		t.Fatalf("wrong codes: helper said %q", lines)
	}
	if got := start(callerRun{}, "smsintenv06").untilResult(t); got[len(got)-1] != "result 7" { // somebody else
		t.Fatalf("somebody else: helper said %q", got)
	}
	if got := start(callerRun{}, "nosuchuser-env").untilResult(t); got[len(got)-1] != "result 10" {
		t.Fatalf("unknown user: helper said %q", got)
	}
	h = start(callerRun{env: append([]string{"TZ=UTC"}, moduleEnv...)}, "smsintenv05") // restarted; resend
	for !strings.HasPrefix(h.next(t), "prompt_echo_off ") {
	}
	h.send(t, "resp ")
	h.loginOK(t, gw, 3) // the wrong-codes run sent #1, this run #2 and, resent, #3
	start(callerRun{args: []string{"--debug"}}, "smsintenv05").refused(t)

	for _, pid := range pids {
		lines := sink.matching(t, fmt.Sprintf("pam_sms[%d]", pid), 1)
		if len(lines) == 0 {
			t.Errorf("run with pid %d logged nothing", pid)
		}
		for _, l := range lines {
			if !strings.HasSuffix(l, " caller_uid="+caller.Uid) && !strings.HasSuffix(l, " caller_uid="+caller.Uid+"\n") {
				t.Errorf("log line without the caller's uid: %q", l)
			}
		}
	}
}

// stateSnapshot is every file under dir with its mode, size, time and bytes.
func stateSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%q\n", data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// With the file size or descriptor limits the caller can set, a state write
// or the gateway connection would fail half way: the helper refuses first,
// sends nothing and leaves the state as it was.
func TestCallerRlimitsRefused(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smstenv7")
	caller := testenv.CreateUser(t, "smsintenv07", "S3cret-pass-e7")
	gw := fakegw.Start(t)
	in := installSetgid(t, build, "smstenv7", gw, map[string]string{"smsintenv07": number})
	state := filepath.Join(filepath.Dir(in.conf), "state")

	// One login first, so that there is state to keep.
	h := startCaller(t, in, caller, callerRun{})
	h.request(t, "smsintenv07")
	h.loginOK(t, gw, 1)
	h.cmd.Wait()
	before := stateSnapshot(t, state)
	if !strings.Contains(before, "\n\"") {
		t.Fatalf("no state file after a login:\n%s", before)
	}

	for _, lim := range [][]string{
		{"--fsize=0:0", "--nofile=8:8"},
		{"--fsize=0:0"},
		{"--fsize=1048575:1048575"},
		{"--nofile=8:8"},
		{"--nofile=63:63"},
	} {
		t.Run(strings.Join(lim, " "), func(t *testing.T) {
			h := startCaller(t, in, caller, callerRun{prlimit: lim})
			h.request(t, "smsintenv07")
			if status := h.refused(t); status != 5 {
				t.Errorf("exit status %d, want 5", status)
			}
			if n := gw.Count(); n != 1 {
				t.Errorf("gateway has %d requests, want still 1", n)
			}
			if after := stateSnapshot(t, state); after != before {
				t.Errorf("state changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	t.Run("control: limits that suffice", func(t *testing.T) {
		h := startCaller(t, in, caller, callerRun{prlimit: []string{"--fsize=1048576:1048576", "--nofile=64:64"}})
		h.request(t, "smsintenv07")
		h.loginOK(t, gw, 2)
	})
}
