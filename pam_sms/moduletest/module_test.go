// Tests of pam_sms.so itself, through real libpam transactions, with this
// test binary standing in for pam-sms-helper: the module execs it with
// --config=ROLEFILE, and the role file says how the stand-in misbehaves.
// The real helper is tested with the module in test/.
package moduletest_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
)

var (
	work       string // a safe directory (see safeDir) for this process: module, stand-in, fixtures
	modulePath string // built by TestMain
	standInExe string // this test binary, copied where the module accepts a helper
)

// evilDir names the directory of the attacker's program in the attack
// tests: a stand-in copy in a directory by that name leaves a trace instead
// of playing a role, so a test sees whether it ran.
const evilDir = "evil"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "--config=") {
		role := strings.TrimPrefix(os.Args[1], "--config=")
		// syscall.Exit, not os.Exit: built with -race, os.Exit sleeps a
		// second (GORACE atexit_sleep_ms) before the process closes the
		// socket, and every login would wait for it.
		if exe, err := os.Executable(); err == nil && filepath.Base(filepath.Dir(exe)) == evilDir {
			syscall.Exit(evil(role))
		}
		syscall.Exit(standIn(role))
	}
	if os.Geteuid() != 0 {
		fmt.Println("pam_sms module tests: skipped, they need root (the module only execs a root-owned helper)")
		os.Exit(0)
	}
	code := 1
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, "pam_sms module tests:", err)
	} else {
		code = m.Run()
	}
	if work != "" {
		os.RemoveAll(work)
	}
	os.Exit(code)
}

// setUp builds the module and copies this binary, the stand-in helper, into
// a safe directory: the module refuses a helper under /tmp (world-writable),
// where go test keeps its binaries.
func setUp() error {
	var err error
	if work, err = safeDir(safeBase, "moduletest-"); err != nil {
		return err
	}
	modulePath = filepath.Join(work, "pam_sms.so")
	// The Makefile's warning flags; -O0 -g so a failure can be debugged.
	cc := exec.Command("cc", "-std=c99", "-D_GNU_SOURCE", "-O0", "-g", "-Wall", "-Wextra", "-Werror",
		"-fPIC", "-shared", "-Wl,--version-script=../pam_sms.map", "-o", modulePath, "../pam_sms.c", "-lpam")
	if out, err := cc.CombinedOutput(); err != nil {
		return fmt.Errorf("building pam_sms.so: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	standInExe = filepath.Join(work, "helper")
	return copyFile(self, standInExe, 0o755)
}

// standIn plays the helper. The role file holds the role and a directory
// for its observations. Before anything else it notes which descriptors it
// was given and its uids, for the tests to check.
func standIn(roleFile string) int {
	fds := openFiles() // before the first os.Open creates the runtime's poller fds
	b, err := os.ReadFile(roleFile)
	if err != nil {
		return 100
	}
	role, out, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	os.WriteFile(filepath.Join(out, "fds"), []byte(fds), 0o600)
	os.WriteFile(filepath.Join(out, "uids"), []byte(uids()), 0o600)
	sid, _, _ := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	os.WriteFile(filepath.Join(out, "session"), []byte(fmt.Sprintf("pid %d sid %d", os.Getpid(), sid)), 0o600)
	r := bufio.NewReader(os.Stdin)
	w := os.Stdout
	readRequest := func() []string {
		var lines []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return lines
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			if l == "end \n" {
				return lines
			}
		}
	}
	// forever writes s until the module stops reading (a write error).
	forever := func(s string) {
		for {
			if _, err := fmt.Fprint(w, s); err != nil {
				return
			}
		}
	}
	switch {
	case role == "echo":
		req := readRequest()
		os.WriteFile(filepath.Join(out, "request"), []byte(strings.Join(req, "\n")), 0o600)
		os.WriteFile(filepath.Join(out, "env"), []byte(strings.Join(os.Environ(), "\n")), 0o600)
		os.WriteFile(filepath.Join(out, "args"), []byte(strings.Join(os.Args[1:], "\n")), 0o600)
		fmt.Fprint(w, "info hello\nprompt_echo_off Code: \n")
		resp, _ := r.ReadString('\n')
		if resp == "resp 4242\n" {
			fmt.Fprint(w, "result 0\n")
		} else {
			fmt.Fprint(w, "error wrong\nresult 7\n")
		}
	case role == "hangup": // asks once and notes how the module ended the exchange
		readRequest()
		fmt.Fprint(w, "prompt_echo_off Code: \n")
		l, err := r.ReadString('\n')
		os.WriteFile(filepath.Join(out, "after-prompt"), []byte(fmt.Sprintf("%q %v", l, err)), 0o600)
		fmt.Fprint(w, "result 7\n")
	case role == "mark": // leaves a trace that it ran
		readRequest()
		os.WriteFile(filepath.Join(out, "ran"), nil, 0o600)
		fmt.Fprint(w, "result 0\n")
	case role == "hang":
		readRequest()
		time.Sleep(time.Hour)
	case role == "noresult":
		readRequest()
	case role == "exit":
		// Gone before the module sends the request.
	case role == "crash":
		readRequest()
		panic("stand-in helper crashes")
	case strings.HasPrefix(role, "say:"):
		readRequest()
		fmt.Fprint(w, strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\0`, "\x00").Replace(strings.TrimPrefix(role, "say:")))
		time.Sleep(time.Hour) // the module must not wait for the exit
	case strings.HasPrefix(role, "sayexit:"):
		readRequest()
		fmt.Fprint(w, strings.NewReplacer(`\n`, "\n").Replace(strings.TrimPrefix(role, "sayexit:")))
	case role == "longline":
		readRequest()
		fmt.Fprint(w, "info "+strings.Repeat("a", 2000)+"\n")
		time.Sleep(time.Hour)
	case role == "endless": // one line that never ends
		readRequest()
		fmt.Fprint(w, "info ")
		forever(strings.Repeat("a", 4096))
	case role == "flood":
		readRequest()
		forever("info flood\n")
	case role == "promptflood": // asks forever
		readRequest()
		for {
			if _, err := fmt.Fprint(w, "prompt_echo_off Code: \n"); err != nil {
				break
			}
			if _, err := r.ReadString('\n'); err != nil {
				break
			}
		}
	case role == "promptdeaf": // asks forever, never reads the answers
		readRequest()
		forever("prompt_echo_off Code: \n")
	case role == "resultflood":
		readRequest()
		fmt.Fprint(w, "result 0\n")
		forever("info after the result\n")
	default:
		return 101
	}
	return 0
}

// evil is what an attacker's program would do: leave a trace and let the login in.
func evil(roleFile string) int {
	os.WriteFile(filepath.Join(filepath.Dir(roleFile), "evil-ran"), nil, 0o644)
	fmt.Print("result 0\n")
	return 0
}

// openFiles lists the process's descriptors as "N TARGET" lines, without
// the one it lists them through and without the cgroup CPU limit files the
// Go runtime opens for itself before main (to follow the limit with
// GOMAXPROCS). It runs first thing in the stand-in, with raw system calls,
// so that it shows what the module passed on.
func openFiles() string {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "error: " + err.Error()
	}
	defer syscall.Close(dir)
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err != nil {
			return "error: " + err.Error()
		}
		if n == 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	var s []string
	for _, name := range names {
		if name == strconv.Itoa(dir) {
			continue
		}
		t, _ := os.Readlink("/proc/self/fd/" + name)
		if strings.HasPrefix(t, "/sys/fs/cgroup/") {
			continue
		}
		s = append(s, name+" "+t)
	}
	return strings.Join(s, "\n")
}

// uids returns the "Uid:" line of /proc/self/status: real, effective, saved
// and filesystem uid.
func uids() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}

type fixture struct {
	dir     string // confdir with the service file
	out     string // stand-in observations
	role    string // role file path
	service string
}

func newFixture(t *testing.T, role string, moduleArgs ...string) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, out: filepath.Join(dir, "out"), role: filepath.Join(dir, "role"), service: "sms-module-test"}
	if err := os.Mkdir(f.out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.role, []byte(role+"\n"+f.out), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"config=" + f.role, "helper=" + standInExe}, moduleArgs...)
	stack := "auth required " + modulePath + " " + strings.Join(args, " ") + "\n"
	for name, body := range map[string]string{
		f.service: stack,
		// Typos in a service name must fail closed, never fall back.
		"other": "auth required pam_deny.so\naccount required pam_deny.so\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f fixture) run(t *testing.T, user, rhost string, answer pamrun.Answerer) pamrun.Result {
	t.Helper()
	return pamrun.Run(t, pamrun.Tx{ConfDir: f.dir, Service: f.service, User: user, Rhost: rhost, Answer: answer})
}

func answerWith(s string) pamrun.Answerer {
	return func(int, pamrun.Msg) (string, error) { return s, nil }
}

func TestRelay(t *testing.T) {
	// A descriptor without close-on-exec must not reach the helper.
	leak, err := os.Create(filepath.Join(t.TempDir(), "leak-marker"))
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	fd, err := syscall.Dup(int(leak.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	t.Setenv("GODEBUG", "pam_sms_must_not_see_this=1")

	tests := []struct {
		name    string
		answer  string
		wantErr error
		want    string // transcript
	}{
		{"right answer", "4242", nil, "info: hello\nprompt-off: Code: \n"},
		{"wrong answer", "1111", pam.ErrAuth, "info: hello\nprompt-off: Code: \nerror: wrong\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "echo", "debug")
			res := f.run(t, "alice", "192.0.2.7", answerWith(tt.answer))
			if !errors.Is(res.Err, tt.wantErr) && !(res.Err == nil && tt.wantErr == nil) {
				t.Fatalf("pam_authenticate = %v, want %v", res.Err, tt.wantErr)
			}
			if got := res.Transcript(); got != tt.want {
				t.Errorf("transcript:\n%s\nwant:\n%s", got, tt.want)
			}
			assertFile(t, filepath.Join(f.out, "request"),
				"user alice\nrhost 192.0.2.7\nservice sms-module-test\ntty \nsilent 0\nend ")
			assertFile(t, filepath.Join(f.out, "env"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C.UTF-8")
			assertFile(t, filepath.Join(f.out, "args"), "--config="+f.role+"\n--debug")
			assertStdFds(t, f.out)
			assertOwnSession(t, f.out)
		})
	}
}

// assertOwnSession checks that the stand-in led a session of its own: a
// terminal's Ctrl-C (SIGINT to its foreground process group) or hangup
// cannot reach it.
func assertOwnSession(t *testing.T, out string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "session"))
	if err != nil {
		t.Fatalf("the stand-in helper left no session: %v", err)
	}
	var pid, sid int
	if _, err := fmt.Sscanf(string(b), "pid %d sid %d", &pid, &sid); err != nil || pid != sid {
		t.Errorf("the helper ran with %q: want a session of its own (sid = pid)", b)
	}
}

// Every way a helper can fail must deny, never hang and never let through.
func TestBrokenHelper(t *testing.T) {
	tests := []struct {
		name    string
		role    string
		args    []string
		wantErr error
	}{
		{"hangs past the deadline", "hang", []string{"timeout=2"}, pam.ErrAuth},
		{"ends without a result", "noresult", nil, pam.ErrSystem},
		{"crashes", "crash", nil, pam.ErrSystem},
		{"result outside the allowed set", `say:result 1\n`, nil, pam.ErrSystem},
		{"result out of range", `say:result 999\n`, nil, pam.ErrSystem},
		{"result not a number", `say:result 0x0\n`, nil, pam.ErrSystem},
		{"result with sign", `say:result +0\n`, nil, pam.ErrSystem},
		{"empty result", `say:result \n`, nil, pam.ErrSystem},
		{"line without a space", `say:nonsense\n`, nil, pam.ErrSystem},
		{"unknown verb", `say:shout hello\n`, nil, pam.ErrSystem},
		{"carriage return in a line", `say:result 0\r\n`, nil, pam.ErrSystem},
		{"line longer than the limit", "longline", nil, pam.ErrSystem},
		{"no line end, then silence", `say:result 0`, []string{"timeout=2"}, pam.ErrAuth},
		// libpam turns a stack whose only module ignores into "permission denied".
		{"allowed result ignore", `say:result 25\n`, nil, pam.ErrPermDenied},
		{"allowed result authinfo unavailable", `say:result 9\n`, nil, pam.ErrAuthinfoUnavail},
		{"allowed result user unknown", `say:result 10\n`, nil, pam.ErrUserUnknown},
		{"unknown module argument", "echo", []string{"tiemout=5"}, pam.ErrSystem},
		{"timeout out of range", "echo", []string{"timeout=0"}, pam.ErrSystem},
		{"relative helper path", "echo", []string{"helper=pam-sms-helper"}, pam.ErrSystem},
		{"missing helper", "echo", []string{"helper=/nonexistent/pam-sms-helper"}, pam.ErrSystem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // several wait out a deadline
			f := newFixture(t, tt.role, tt.args...)
			res := f.run(t, "alice", "", answerWith("4242"))
			if !errors.Is(res.Err, tt.wantErr) {
				t.Fatalf("pam_authenticate = %v, want %v; user saw:\n%s", res.Err, tt.wantErr, res.Transcript())
			}
		})
	}
}

func TestAbortedConversation(t *testing.T) {
	f := newFixture(t, "echo")
	res := f.run(t, "alice", "", func(int, pamrun.Msg) (string, error) {
		return "", errors.New("user pressed Ctrl-C")
	})
	if !errors.Is(res.Err, pam.ErrAuth) {
		t.Fatalf("pam_authenticate = %v, want %v", res.Err, pam.ErrAuth)
	}
}

// An application that passes PAM_SILENT (sudo always does) gets no info or
// error line; the helper is told, in exactly one "silent" line before "end",
// so that it can put what the user must know into the prompt.
func TestSilentFlag(t *testing.T) {
	tests := []struct {
		name       string
		flags      pam.Flags
		silent     string
		transcript string
	}{
		{"no flags", 0, "0", "info: hello\nprompt-off: Code: \nerror: wrong\n"},
		{"PAM_SILENT", pam.Silent, "1", "prompt-off: Code: \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "echo")
			res := pamrun.Run(t, pamrun.Tx{ConfDir: f.dir, Service: f.service, User: "alice",
				Answer: answerWith("1111"), Flags: tt.flags})
			if !errors.Is(res.Err, pam.ErrAuth) {
				t.Fatalf("pam_authenticate = %v, want %v", res.Err, pam.ErrAuth)
			}
			if got := res.Transcript(); got != tt.transcript {
				t.Errorf("the user saw:\n%s\nwant:\n%s", got, tt.transcript)
			}
			assertFile(t, filepath.Join(f.out, "request"),
				"user alice\nrhost \nservice sms-module-test\ntty \nsilent "+tt.silent+"\nend ")
		})
	}
}

func TestValuesWithLineBreaksAreRefused(t *testing.T) {
	tests := []struct{ name, user, rhost, answer string }{
		{"user", "alice\nresult 0", "", "4242"},
		{"rhost", "alice", "192.0.2.1\nresult 0", "4242"},
		{"answer", "alice", "", "4242\nresult 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "echo")
			res := f.run(t, tt.user, tt.rhost, answerWith(tt.answer))
			if !errors.Is(res.Err, pam.ErrAuth) {
				t.Fatalf("pam_authenticate = %v, want %v", res.Err, pam.ErrAuth)
			}
		})
	}
}

func TestUnsafeHelperIsNotRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	helper := filepath.Join(dir, "helper.sh")
	if err := os.WriteFile(helper, []byte("#!/bin/sh\ntouch "+marker+"\necho 'result 0'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(helper, 0o777); err != nil { // world-writable
		t.Fatal(err)
	}
	f := newFixture(t, "echo", "helper="+helper)
	res := f.run(t, "alice", "", answerWith("4242"))
	if !errors.Is(res.Err, pam.ErrSystem) {
		t.Fatalf("pam_authenticate = %v, want %v", res.Err, pam.ErrSystem)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a world-writable helper was executed")
	}
}

// assertStdFds checks the descriptors the stand-in found at its start
// (openFiles): the socket on 0 and 1, /dev/null on 2 and nothing else, so
// neither a descriptor of the host nor the one the module executed the
// helper through reached it.
func assertStdFds(t *testing.T, out string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "fds"))
	if err != nil {
		t.Fatalf("the stand-in helper left no fd list: %v", err)
	}
	var got []string
	for _, l := range strings.Split(string(b), "\n") {
		n, target, _ := strings.Cut(l, " ")
		got = append(got, n)
		switch {
		case (n == "0" || n == "1") && !strings.HasPrefix(target, "socket:"):
			t.Errorf("fd %s is %s, want the socket", n, target)
		case n == "2" && target != "/dev/null":
			t.Errorf("fd 2 is %s, want /dev/null", target)
		}
	}
	if strings.Join(got, " ") != "0 1 2" {
		t.Errorf("the helper started with fds:\n%s\nwant only 0, 1 and 2", b)
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("stand-in helper left no %s: %v", filepath.Base(path), err)
	}
	if string(got) != want {
		t.Errorf("%s:\n%q\nwant:\n%q", filepath.Base(path), got, want)
	}
}

// A host that ignores SIGCHLD (the kernel then reaps children itself, and
// waitpid fails with ECHILD) must still get the helper's result.
func TestHostIgnoresSIGCHLD(t *testing.T) {
	if os.Getenv("PAM_SMS_TEST_SIGCHLD_IGN") == "1" {
		signal.Ignore(syscall.SIGCHLD)
		f := newFixture(t, "echo")
		res := f.run(t, "alice", "", answerWith("4242"))
		if res.Err != nil {
			t.Fatalf("pam_authenticate with SIGCHLD ignored = %v, want success", res.Err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostIgnoresSIGCHLD$", "-test.v")
	cmd.Env = append(os.Environ(), "PAM_SMS_TEST_SIGCHLD_IGN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHostIgnoresSIGCHLD") {
		t.Fatalf("child test: %v\n%s", err, out)
	}
}
