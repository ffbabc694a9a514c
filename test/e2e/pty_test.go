package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// screenTimeout bounds each wait for text on the terminal.
const screenTimeout = 20 * time.Second

// pane is a tmux session whose server runs in a private mount namespace where
// the test stacks are bind-mounted over /etc/pam.d/su and /etc/pam.d/login;
// the host's files are never touched.
type pane struct {
	sock string
}

// startPane runs argv on a fresh terminal. The command is followed by an
// "EXIT-STATUS=n" line and a sleep, so that the screen stays readable.
func startPane(t *testing.T, suStack, loginStack string, argv ...string) *pane {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"su": suStack, "login": loginStack}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runPane(t, dir, `mount --bind "$1/su" /etc/pam.d/su
mount --bind "$1/login" /etc/pam.d/login
`, "", argv...)
}

// runPane starts a tmux server in a private mount namespace, after the shell
// lines of setup ($1 is dir) have run there, with argv on its terminal. The
// shell around argv runs inner first (e.g. a trap), then argv, then prints
// "EXIT-STATUS=n" and sleeps, so that the screen stays readable.
func runPane(t *testing.T, dir, setup, inner string, argv ...string) *pane {
	t.Helper()
	p := &pane{sock: filepath.Join(dir, "tmux.sock")}
	script := "set -e\n" + setup + `sock=$2
shift 2
exec tmux -S "$sock" new-session -d -x 150 -y 50 -s t sh -c '` + inner + `"$@"; echo EXIT-STATUS=$?; exec sleep 600' sh "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh", dir, p.sock}, argv...)...)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start tmux in a private mount namespace: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// The server and the processes on its terminal are the test's own.
		_ = exec.Command("tmux", "-S", p.sock, "kill-server").Run()
	})
	return p
}

// screen returns the terminal contents including scrollback.
func (p *pane) screen(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("tmux", "-S", p.sock, "capture-pane", "-p", "-J", "-S", "-", "-t", "t").CombinedOutput()
	if err != nil {
		t.Fatalf("tmux capture-pane: %v\n%s", err, out)
	}
	return string(out)
}

// waitFor polls the screen until text appears n times; it fails the test after
// screenTimeout and returns the screen.
func (p *pane) waitFor(t *testing.T, text string, n int) string {
	t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for {
		s := p.screen(t)
		if strings.Count(s, text) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %q (#%d) on the terminal; screen:\n%s", screenTimeout, text, n, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeLine types text and Enter.
func (p *pane) typeLine(t *testing.T, text string) {
	t.Helper()
	if out, err := exec.Command("tmux", "-S", p.sock, "send-keys", "-t", "t", "-l", "--", text).CombinedOutput(); err != nil {
		t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
	if out, err := exec.Command("tmux", "-S", p.sock, "send-keys", "-t", "t", "Enter").CombinedOutput(); err != nil {
		t.Fatalf("tmux send-keys Enter: %v\n%s", err, out)
	}
}

// consoleStacks returns the documented su and login stacks for the build tree.
func consoleStacks(t *testing.T, conf string) (su, login string) {
	t.Helper()
	mod := testenv.ModuleLine(testenv.BuildDir(t), conf, "timeout=60")
	return testenv.LoadStack(t, "su-debian", mod), testenv.LoadStack(t, "login-debian", mod)
}

// marker is printed by the shell after a successful login; the typed command
// ("$((40+2))") differs from its output, so the echo of the keys never matches.
const (
	markerCmd = "echo PAMSMS-OK-$((40+2))"
	marker    = "PAMSMS-OK-42"
)

// TestSu runs su on a real terminal as an unprivileged user: the target's
// password, then the SMS code sent to the target's number.
func TestSu(t *testing.T) {
	gw := setup(t)
	target := newAccount(t, 10)
	target.slot = 890 // "+49 172 34567890": the masked form the SPEC shows
	caller := newAccount(t, 11)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{Numbers: numbers(target)}))
	suStack, loginStack := consoleStacks(t, conf)

	tests := []struct {
		name   string
		wrong  bool
		status string
	}{
		{"right code", false, "EXIT-STATUS=0"},
		{"wrong code", true, "EXIT-STATUS=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := countTo(gw, target.to())
			p := startPane(t, suStack, loginStack,
				"runuser", "-u", caller.name, "--", "su", target.name, "-c", markerCmd)
			p.waitFor(t, "Password:", 1)
			p.typeLine(t, target.password)
			screen := p.waitFor(t, "SMS code:", 1)
			if !strings.Contains(screen, "Code sent to +49 *** *****890") {
				t.Errorf("terminal lacks the masked-number line; screen:\n%s", screen)
			}
			code := fakegw.Code(t, gw.WaitFor(t, target.to(), before))
			answers := []string{code}
			if tc.wrong {
				answers = []string{shiftDigits(code), shiftDigits(code), shiftDigits(code)}
			}
			for i, a := range answers {
				p.waitFor(t, "SMS code:", i+1)
				p.typeLine(t, a)
			}
			screen = p.waitFor(t, "EXIT-STATUS=", 1)
			if !strings.Contains(screen, tc.status) {
				t.Errorf("su ended without %s; screen:\n%s", tc.status, screen)
			}
			if got := strings.Contains(screen, marker); got == tc.wrong {
				t.Errorf("marker printed: %v, want %v; screen:\n%s", got, !tc.wrong, screen)
			}
			if tc.wrong {
				for _, s := range []string{msgWrong, msgTooMany, "su: Authentication failure"} {
					if !strings.Contains(screen, s) {
						t.Errorf("terminal lacks %q; screen:\n%s", s, screen)
					}
				}
			}
			if got := countTo(gw, target.to()) - before; got != 1 {
				t.Errorf("gateway got %d SMS, want 1", got)
			}
			if strings.Contains(screen, code) {
				t.Errorf("the code was echoed on the terminal; screen:\n%s", screen)
			}
			t.Logf("terminal:\n%s", strings.TrimSpace(screen))
		})
	}
}

// TestLogin runs login(1) as root on a real terminal, like a console getty.
func TestLogin(t *testing.T) {
	gw := setup(t)
	acct := newAccount(t, 12)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{Numbers: numbers(acct)}))
	suStack, loginStack := consoleStacks(t, conf)

	t.Run("right code", func(t *testing.T) {
		before := countTo(gw, acct.to())
		p := startPane(t, suStack, loginStack, "login", acct.name)
		p.waitFor(t, "Password:", 1)
		p.typeLine(t, acct.password)
		screen := p.waitFor(t, "SMS code:", 1)
		if !strings.Contains(screen, "Code sent to "+acct.masked()) {
			t.Errorf("terminal lacks the masked-number line; screen:\n%s", screen)
		}
		p.typeLine(t, fakegw.Code(t, gw.WaitFor(t, acct.to(), before)))
		// The shell prompt of /bin/sh is "$ ".
		p.waitFor(t, "$ ", 1)
		p.typeLine(t, markerCmd+"; exit")
		screen = p.waitFor(t, marker, 1)
		if got := countTo(gw, acct.to()) - before; got != 1 {
			t.Errorf("gateway got %d SMS, want 1", got)
		}
		t.Logf("terminal:\n%s", strings.TrimSpace(screen))
	})
	t.Run("wrong code", func(t *testing.T) {
		before := countTo(gw, acct.to())
		p := startPane(t, suStack, loginStack, "login", acct.name)
		p.waitFor(t, "Password:", 1)
		p.typeLine(t, acct.password)
		code := fakegw.Code(t, gw.WaitFor(t, acct.to(), before))
		for i := range 3 {
			p.waitFor(t, "SMS code:", i+1)
			p.typeLine(t, shiftDigits(code))
		}
		screen := p.waitFor(t, "Login incorrect", 1)
		for _, s := range []string{"Code sent to " + acct.masked(), msgWrong, msgTooMany} {
			if !strings.Contains(screen, s) {
				t.Errorf("terminal lacks %q; screen:\n%s", s, screen)
			}
		}
		if strings.Contains(screen, marker) {
			t.Errorf("logged in with a wrong code; screen:\n%s", screen)
		}
		if got := countTo(gw, acct.to()) - before; got != 1 {
			t.Errorf("gateway got %d SMS, want 1", got)
		}
		t.Logf("terminal:\n%s", strings.TrimSpace(screen))
	})
}
