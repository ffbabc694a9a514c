package moduletest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The module and a small C PAM application (testdata/sanclient.c), both
// built with AddressSanitizer and UndefinedBehaviorSanitizer. LeakSanitizer
// (part of ASan) checks for leaks when the application exits.
var sanitized struct {
	once           sync.Once
	module, client string
	err            error
}

// sanFlags are the Makefile's MOD_CFLAGS without -D_FORTIFY_SOURCE (its
// checked wrappers would bypass the sanitizers' interceptors) and with -O1,
// which the sanitizers' documentation advises.
var sanFlags = []string{"-std=c99", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
	"-fstack-protector-strong", "-fstack-clash-protection", "-Wformat", "-Werror=format-security",
	"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"}

// PAM codes the module returns in these tests.
const (
	pamSuccess   = 0
	pamSystemErr = 4
	pamAuthErr   = 7
)

func buildSanitized(t *testing.T) (module, client string) {
	t.Helper()
	s := &sanitized
	s.once.Do(func() {
		dir := filepath.Join(work, "sanitized")
		if s.err = os.Mkdir(dir, 0o755); s.err != nil {
			return
		}
		s.module = filepath.Join(dir, "pam_sms.so")
		s.client = filepath.Join(dir, "sanclient")
		builds := [][]string{
			append(append([]string{}, sanFlags...), "-fPIC", "-shared", "-Wl,-z,relro,-z,now",
				"-Wl,--version-script=../pam_sms.map", "-o", s.module, "../pam_sms.c", "-lpam"),
			// -rdynamic: libpam must call this program's syslog (see sanclient.c).
			append(append([]string{}, sanFlags...), "-rdynamic", "-o", s.client, "testdata/sanclient.c", "-lpam"),
		}
		for _, args := range builds {
			if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
				s.err = fmt.Errorf("cc %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if s.err != nil {
		t.Fatalf("building the sanitized module and client: %v", s.err)
	}
	return s.module, s.client
}

// sanTx is one sanitized authentication.
type sanTx struct {
	role   string   // the stand-in's role (see standIn)
	args   []string // more module arguments
	helper string   // helper= path; "" means the stand-in
	answer string   // to every prompt
	uid    int      // run the application as this uid (0: root)
	setuid bool     // as a set-user-id-root copy, like su
}

// sanRun is what the application and the stand-in reported.
type sanRun struct {
	rc         int
	took       time.Duration
	msgs       []string // "STYLE TEXT"
	uids       string   // the application's real, effective, saved uid
	fdsBefore  string   // the application's descriptors before pam_start
	fdsAfter   string   // and after pam_end
	log        string   // the module's syslog lines
	out        string   // the stand-in's observations
	stdout     string
	dir        string // where the case was built
	helperPath string
}

// runSanitized runs one authentication through the sanitized client and
// fails the test on any sanitizer report, an unexpected exit, or a
// descriptor the module left open in the application.
func runSanitized(t *testing.T, tx sanTx) sanRun {
	t.Helper()
	module, client := buildSanitized(t)
	dir := newSafeDir(t)
	r := sanRun{dir: dir, out: filepath.Join(dir, "out"), helperPath: tx.helper}
	if r.helperPath == "" {
		r.helperPath = standInExe
	}
	san := filepath.Join(dir, "san")
	logFile := filepath.Join(dir, "syslog")
	for _, d := range []string{r.out, san} {
		mkdirOwned(t, d, tx.uid)
	}
	role := filepath.Join(dir, "role")
	confDir := filepath.Join(dir, "pam.d")
	leak := filepath.Join(dir, "leak-marker")
	mkdirOwned(t, confDir, 0)
	writeFile(t, role, tx.role+"\n"+r.out)
	writeFile(t, leak, "")
	writeFile(t, logFile, "")
	chown(t, logFile, tx.uid)
	writeFile(t, filepath.Join(confDir, "sms-san"), fmt.Sprintf("auth required %s config=%s helper=%s %s\n",
		module, role, r.helperPath, strings.Join(tx.args, " ")))
	writeFile(t, filepath.Join(confDir, "other"), "auth required pam_deny.so\naccount required pam_deny.so\n")
	if tx.setuid {
		c := filepath.Join(dir, "sanclient")
		if err := copyFile(client, c, 0o755); err != nil {
			t.Fatal(err)
		}
		chmod(t, c, 0o755|os.ModeSetuid)
		client = c
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, client, confDir, "sms-san", "alice", tx.answer, logFile, leak)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:exitcode=66:log_path=" + san + "/asan",
		"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=66:log_path=" + san + "/ubsan",
	}
	if tx.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(tx.uid), Gid: uint32(tx.uid)}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.stdout = stdout.String()
	logs, _ := os.ReadFile(logFile)
	r.log = string(logs)
	reports, _ := filepath.Glob(filepath.Join(san, "*"))
	for _, p := range reports {
		b, _ := os.ReadFile(p)
		t.Errorf("sanitizer report %s:\n%s", filepath.Base(p), b)
	}
	if err != nil || len(reports) > 0 {
		t.Fatalf("sanclient: %v\nstdout:\n%s\nstderr:\n%s\nmodule log:\n%s", err, r.stdout, stderr.String(), r.log)
	}
	r.parse(t)
	if r.fdsBefore != r.fdsAfter {
		t.Errorf("the application's fds were %s before and %s after: the module leaked one", r.fdsBefore, r.fdsAfter)
	}
	return r
}

func (r *sanRun) parse(t *testing.T) {
	t.Helper()
	r.rc = -1
	for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "uids":
			r.uids = v
		case "msg":
			r.msgs = append(r.msgs, v)
		case "rc":
			r.rc, _ = strconv.Atoi(v)
		case "ms":
			ms, _ := strconv.Atoi(v)
			r.took = time.Duration(ms) * time.Millisecond
		case "fds":
			r.fdsBefore, r.fdsAfter, _ = strings.Cut(v, " ")
		}
	}
	if r.rc < 0 || r.fdsBefore == "" {
		t.Fatalf("sanclient printed no result:\n%s", r.stdout)
	}
}

func mkdirOwned(t *testing.T, dir string, uid int) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chown(t, dir, uid)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The module survives a hostile helper: oversized and NUL-bearing lines,
// floods, early close, silence, output after the result. Built with ASan
// (LeakSanitizer included) and UBSan, it must deny (or, for what comes after
// a valid result, keep that result), report nothing to the sanitizers, leak
// no descriptor into the helper or the application, and return within its
// deadline plus the grace it gives a helper to exit after the result.
func TestHostileHelper(t *testing.T) {
	const (
		timeout = time.Second     // timeout=1
		grace   = time.Second     // SMS_REAP_GRACE_MS
		slack   = 2 * time.Second // sanitizers, a loaded machine
	)
	tests := []struct {
		name   string
		role   string
		wantRC []int
		log    string // in the module's log
	}{
		{"well-behaved (control)", "echo", []int{pamSuccess}, ""},
		{"oversized line", "longline", []int{pamSystemErr}, "malformed line from helper"},
		{"NUL in a line", `say:info a\0b\n`, []int{pamSystemErr}, "malformed line from helper"},
		{"CR in a line", `say:info a\rb\n`, []int{pamSystemErr}, "malformed line from helper"},
		{"a line that never ends", "endless", []int{pamSystemErr}, "malformed line from helper"},
		{"flood of messages", "flood", []int{pamSystemErr}, "helper sent too many messages"},
		{"flood of prompts", "promptflood", []int{pamSystemErr}, "helper sent too many messages"},
		// Whether the answers fill the socket (deadline) or the prompts
		// reach the module's limit first depends on the kernel's buffers.
		{"prompts, answers never read", "promptdeaf", []int{pamSystemErr, pamAuthErr}, ""},
		{"close before the result", `sayexit:result 0`, []int{pamSystemErr}, "helper ended without a result"},
		{"exit before the request", "exit", []int{pamSystemErr, pamAuthErr}, ""},
		{"crash", "crash", []int{pamSystemErr}, "helper ended without a result"},
		{"silence until the deadline", "hang", []int{pamAuthErr}, "helper did not finish in time"},
		{"unacceptable result", `sayexit:result 00\n`, []int{pamSystemErr}, "unacceptable result"},
		// After a valid result the module listens no more: what follows is
		// discarded and the result stands.
		{"output after the result", `sayexit:result 0\ninfo after the result\nprompt_echo_off after the result\n`,
			[]int{pamSuccess}, ""},
		{"result, then runs on", `say:result 7\n`, []int{pamAuthErr}, ""},
		{"result, then floods", "resultflood", []int{pamSuccess}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runSanitized(t, sanTx{role: tt.role, args: []string{"timeout=1"}, answer: "4242"})
			if !slices.Contains(tt.wantRC, r.rc) {
				t.Errorf("pam_authenticate = %d, want one of %v; module log:\n%s", r.rc, tt.wantRC, r.log)
			}
			if limit := timeout + grace + slack; r.took > limit {
				t.Errorf("pam_authenticate took %v, want at most %v", r.took, limit)
			}
			if !strings.Contains(r.log, tt.log) {
				t.Errorf("module log:\n%s\nwant a line with %q", r.log, tt.log)
			}
			for _, m := range r.msgs {
				if strings.Contains(m, "after the result") {
					t.Errorf("the user saw %q, sent after the result", m)
				}
			}
			if len(r.msgs) > 256 {
				t.Errorf("the user saw %d messages, more than the module's limit of 256", len(r.msgs))
			}
			assertStdFds(t, r.out)
		})
	}
}

// Every refusal of a helper path is one log line naming the path and the
// component, with the owner and mode that made it unsafe; no path leaves a
// descriptor open in the application or trips a sanitizer.
func TestHelperPathRefusalIsLogged(t *testing.T) {
	for _, tc := range helperPaths {
		t.Run(tc.name, func(t *testing.T) {
			dir := newSafeDir(t)
			helper := tc.setup(t, dir)
			r := runSanitized(t, sanTx{role: "mark", helper: helper})
			_, err := os.Stat(filepath.Join(r.out, "ran"))
			if tc.refusal == "" {
				if r.rc != pamSuccess || err != nil {
					t.Fatalf("safe path: pam_authenticate = %d, helper ran: %v; want success", r.rc, err == nil)
				}
				return
			}
			if r.rc != pamSystemErr || err == nil {
				t.Errorf("pam_authenticate = %d, helper ran: %v; want %d and not run", r.rc, err == nil, pamSystemErr)
			}
			want := tc.wantLog(dir, helper)
			line := ""
			for _, l := range strings.Split(r.log, "\n") {
				if strings.Contains(l, want[0]) {
					line = l
				}
			}
			if i := strings.Index(line, want[0]); i < 0 || !strings.Contains(line[i:], want[1]) {
				t.Errorf("module log:\n%s\nwant a line with %q and then %q", r.log, want[0], want[1])
			}
		})
	}
}

// su and sudo authenticate as root with the invoking user's real uid. The
// helper must run with root in every uid, or that user could SIGSTOP or
// kill it (a process's real uid may signal it). An application that is not
// root at all (a screen locker) leaves the helper with the user's uids.
func TestHelperOfSetuidApplicationRunsAsRootOnly(t *testing.T) {
	tests := []struct {
		name     string
		uid      int
		setuid   bool
		wantApp  string // the application's real, effective, saved uid
		wantUids string // the helper's real, effective, saved, filesystem uid
	}{
		{"root application (sshd, login)", 0, false, "0 0 0", "0 0 0 0"},
		{"set-user-id root application run by a user (su, sudo)", nobody, true, "65534 0 0", "0 0 0 0"},
		{"unprivileged application (screen locker)", nobody, false, "65534 65534 65534", "65534 65534 65534 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runSanitized(t, sanTx{role: "echo", answer: "4242", uid: tt.uid, setuid: tt.setuid})
			if r.uids != tt.wantApp {
				t.Fatalf("setup: the application ran with uids %s, want %s", r.uids, tt.wantApp)
			}
			if r.rc != pamSuccess {
				t.Errorf("pam_authenticate = %d, want success; module log:\n%s", r.rc, r.log)
			}
			b, err := os.ReadFile(filepath.Join(r.out, "uids"))
			if err != nil {
				t.Fatalf("the stand-in helper left no uids: %v", err)
			}
			if got := string(b); got != tt.wantUids {
				t.Errorf("the helper ran with uids %s, want %s", got, tt.wantUids)
			}
			assertStdFds(t, r.out)
		})
	}
}

// A user's Ctrl-C at the prompt fails the conversation: an ordinary denial.
// The module logs it at info (authpriv.info, <86>), never as an error, and
// hangs up rather than killing the helper, so the helper sees the abort
// (end of stream where it waits for the answer) and logs it too; the module
// does not wait for its deadline.
func TestAbortedConversationIsInfo(t *testing.T) {
	const infoLine = "<86>pam_sms(sms-san:auth): denied: conversation aborted"
	r := runSanitized(t, sanTx{role: "hangup", args: []string{"timeout=10"}, answer: "<abort>"})
	if r.rc != pamAuthErr {
		t.Errorf("pam_authenticate = %d, want %d", r.rc, pamAuthErr)
	}
	if !strings.Contains(r.log, infoLine) {
		t.Errorf("module log:\n%s\nwant a line starting %q", r.log, infoLine)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.log), "\n") {
		if pri, _, ok := strings.Cut(strings.TrimPrefix(l, "<"), ">"); !ok || pri != "86" {
			t.Errorf("module log line %q: want only authpriv.info lines (<86>)", l)
		}
	}
	b, err := os.ReadFile(filepath.Join(r.out, "after-prompt"))
	if err != nil || string(b) != `"" EOF` {
		t.Errorf("after the prompt the helper read %q (%v), want the end of the stream", b, err)
	}
	if limit := 5 * time.Second; r.took > limit {
		t.Errorf("pam_authenticate took %v, want well under the 10 s deadline", r.took)
	}
}
