package e2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// startSudoPane runs argv on a fresh terminal inside a private mount
// namespace where the documented sudo stack (docs/pam.d/sudo-debian with the
// build's module) is bound over /etc/pam.d/sudo, a drop-in directory holding
// only sudoers is bound over /etc/sudoers.d, and /run is a tmpfs (sudo's
// timestamps stay there) whose /run/log is the syslog socket of the returned
// sink, where the helper logs (and, with a /dev/log, everything logged
// there). The shell around argv survives a Ctrl-C, as a login shell does;
// argv gets the default disposition. The host's files are never touched.
func startSudoPane(t *testing.T, stack, sudoers string, argv ...string) (*pane, *syslogSink) {
	t.Helper()
	dir := t.TempDir()
	drop := filepath.Join(dir, "sudoers.d")
	if err := os.Mkdir(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	// sudo reads only files owned by root that nobody else may write.
	if err := os.WriteFile(filepath.Join(drop, "pam-sms-e2e"), []byte(sudoers), 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(stack), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("visudo", "-c", "-q", "-f", filepath.Join(drop, "pam-sms-e2e")).CombinedOutput(); err != nil {
		t.Fatalf("visudo rejects the test drop-in: %v\n%s\n%s", err, out, sudoers)
	}
	sink := listenSyslog(t, filepath.Join(dir, "syslog.sock"))
	p := runPane(t, dir, `mount --bind "$1/sudo" /etc/pam.d/sudo
mount --bind "$1/sudoers.d" /etc/sudoers.d
mount -t tmpfs -o mode=0755 pamsms-e2e-run /run
: > /run/log
mount --bind "$1/syslog.sock" /run/log
if [ -S /dev/log ]; then mount --bind "$1/syslog.sock" /dev/log; fi
`, "trap : INT; ", argv...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("syslog:\n%s", strings.Join(sink.lines(), "\n"))
		}
	})
	return p, sink
}

// prioInfo is the priority of the helper's info lines (authpriv.info).
const prioInfo = "<86>"

// waitHelpersGone polls /proc until no helper started with --config=conf
// runs; it fails the test after screenTimeout.
func waitHelpersGone(t *testing.T, conf string) {
	t.Helper()
	want := "--config=" + conf + "\x00"
	deadline := time.Now().Add(screenTimeout)
	for {
		running := false
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range procs {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), want) {
				running = true
				break
			}
		}
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a helper for %s still runs after %v", conf, screenTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flushLog sends a datagram to the sink and waits for it: every line sent
// before has then arrived.
func flushLog(t *testing.T, sink *syslogSink) {
	t.Helper()
	c, err := net.Dial("unixgram", sink.path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	marker := fmt.Sprintf("flush-%d", time.Now().UnixNano())
	if _, err := c.Write([]byte(marker)); err != nil {
		t.Fatal(err)
	}
	waitLog(t, sink, marker)
}

// waitLog polls the sink until a line holds every one of words; it fails the
// test after screenTimeout.
func waitLog(t *testing.T, sink *syslogSink, words ...string) string {
	t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for {
		if l := sink.lines(words...); len(l) > 0 {
			return l[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for a log line with %q; log:\n%s", screenTimeout, words, strings.Join(sink.lines(), "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSudo runs the real sudo (Debian 12: 1.9.13, which always passes
// PAM_SILENT, so no info or error text reaches the user) on a terminal as an
// unprivileged user: the user's password, then the SMS code. The prompts
// themselves must say where the code went and that a code was wrong.
func TestSudo(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("sudo is not installed (make deps installs it)")
	}
	gw := setup(t)
	acct := newAccount(t, 20)
	build := testenv.BuildDir(t)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{Numbers: numbers(acct)}))
	stack := testenv.LoadStack(t, "sudo-debian", testenv.ModuleLine(build, conf, "timeout=60"))
	// Only this user, only for the test; no lecture or mail from sudo.
	sudoers := fmt.Sprintf("Defaults:%[1]s lecture=never, !mail_badpass, timestamp_timeout=0\n%[1]s ALL=(root) ALL\n", acct.name)
	sudo := []string{"runuser", "-u", acct.name, "--", "sudo", "sh", "-c", markerCmd}
	const (
		passwordPrompt = "[sudo] password for "
		silentPrompt   = "SMS code (sent to "
		wrongPrompt    = "Wrong code. SMS code: "
	)

	t.Run("right code", func(t *testing.T) {
		before := countTo(gw, acct.to())
		p, _ := startSudoPane(t, stack, sudoers, sudo...)
		p.waitFor(t, passwordPrompt, 1)
		p.typeLine(t, acct.password)
		screen := p.waitFor(t, silentPrompt, 1)
		if want := "SMS code (sent to " + acct.masked() + "): "; !strings.Contains(screen, want) {
			t.Errorf("the prompt is not %q; screen:\n%s", want, screen)
		}
		code := fakegw.Code(t, gw.WaitFor(t, acct.to(), before))
		p.typeLine(t, code)
		screen = p.waitFor(t, "EXIT-STATUS=", 1)
		if !strings.Contains(screen, marker) || !strings.Contains(screen, "EXIT-STATUS=0") {
			t.Errorf("the command did not run; screen:\n%s", screen)
		}
		if strings.Contains(screen, code) {
			t.Errorf("the code was echoed on the terminal; screen:\n%s", screen)
		}
		if got := countTo(gw, acct.to()) - before; got != 1 {
			t.Errorf("gateway got %d SMS, want 1", got)
		}
		t.Logf("terminal:\n%s", strings.TrimSpace(screen))
	})

	t.Run("wrong then right code", func(t *testing.T) {
		before := countTo(gw, acct.to())
		p, _ := startSudoPane(t, stack, sudoers, sudo...)
		p.waitFor(t, passwordPrompt, 1)
		p.typeLine(t, acct.password)
		p.waitFor(t, silentPrompt, 1)
		code := fakegw.Code(t, gw.WaitFor(t, acct.to(), before))
		p.typeLine(t, shiftDigits(code))
		p.waitFor(t, wrongPrompt, 1)
		p.typeLine(t, code)
		screen := p.waitFor(t, "EXIT-STATUS=", 1)
		if !strings.Contains(screen, marker) || !strings.Contains(screen, "EXIT-STATUS=0") {
			t.Errorf("the command did not run; screen:\n%s", screen)
		}
		if got := countTo(gw, acct.to()) - before; got != 1 {
			t.Errorf("gateway got %d SMS, want 1", got)
		}
		t.Logf("terminal:\n%s", strings.TrimSpace(screen))
	})

	t.Run("gateway down", func(t *testing.T) {
		down := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, nil, testenv.Options{
			URL: fakegw.ClosedURL(t), Numbers: numbers(acct)}))
		stack := testenv.LoadStack(t, "sudo-debian", testenv.ModuleLine(build, down, "timeout=60"))
		p, sink := startSudoPane(t, stack, sudoers, sudo...)
		// sudo asks for the password up to three times; each time the
		// gateway is down, the denial is at once, and sudo says "Sorry".
		for i := 1; i <= 3; i++ {
			p.waitFor(t, passwordPrompt, i)
			p.typeLine(t, acct.password)
		}
		screen := p.waitFor(t, "EXIT-STATUS=", 1)
		if !strings.Contains(screen, "EXIT-STATUS=1") || strings.Contains(screen, marker) {
			t.Errorf("sudo did not fail; screen:\n%s", screen)
		}
		if strings.Contains(screen, "SMS code") {
			t.Errorf("asked for a code that was never sent; screen:\n%s", screen)
		}
		if l := waitLog(t, sink, "denied: gateway unusable", "user="+acct.name, "service=sudo"); !strings.HasPrefix(l, prioErr) {
			t.Errorf("log line %q: want authpriv.err", l)
		}
		t.Logf("terminal:\n%s", strings.TrimSpace(screen))
	})

	t.Run("Ctrl-C at the prompt", func(t *testing.T) {
		before := countTo(gw, acct.to())
		p, sink := startSudoPane(t, stack, sudoers, sudo...)
		p.waitFor(t, passwordPrompt, 1)
		p.typeLine(t, acct.password)
		p.waitFor(t, silentPrompt, 1)
		gw.WaitFor(t, acct.to(), before)
		if out, err := exec.Command("tmux", "-S", p.sock, "send-keys", "-t", "t", "C-c").CombinedOutput(); err != nil {
			t.Fatalf("tmux send-keys C-c: %v\n%s", err, out)
		}
		screen := p.waitFor(t, "EXIT-STATUS=", 1)
		if strings.Contains(screen, marker) || strings.Contains(screen, "EXIT-STATUS=0") {
			t.Errorf("the command ran after Ctrl-C; screen:\n%s", screen)
		}
		l := waitLog(t, sink, "denied: conversation aborted", "user="+acct.name)
		if !strings.HasPrefix(l, prioInfo) {
			t.Errorf("log line %q: want authpriv.info", l)
		}
		waitHelpersGone(t, conf)
		flushLog(t, sink)
		for _, l := range sink.lines("user=" + acct.name) {
			if strings.HasPrefix(l, prioErr) {
				t.Errorf("log line %q: a Ctrl-C is no error", l)
			}
		}
		t.Logf("terminal:\n%s", strings.TrimSpace(screen))
	})
}
