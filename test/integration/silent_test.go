package integration_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// An application that passes PAM_SILENT (sudo) shows only prompts, so the
// prompts carry where the code went and that an answer was wrong; a failure
// that no prompt follows shows nothing (the application says its own
// "Sorry"). The real module and helper, through libpam.
func TestSilentApplication(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	numbers := map[string]string{"root": number}
	tests := []struct {
		name    string
		opts    testenv.Options
		down    bool
		answers answers
		wantErr error
		want    string // the whole transcript
	}{
		{name: "wrong then right code", opts: testenv.Options{Numbers: numbers}, answers: answers{"111111", "<code>"},
			want: "prompt-off: SMS code (sent to +49 *** ****001): \nprompt-off: Wrong code. SMS code: \n"},
		{name: "too many wrong codes", opts: testenv.Options{Numbers: numbers}, answers: answers{"1", "2", "3"},
			wantErr: pam.ErrAuth,
			want: "prompt-off: SMS code (sent to +49 *** ****001): \nprompt-off: Wrong code. SMS code: \n" +
				"prompt-off: Wrong code. SMS code: \n"},
		{name: "German", opts: testenv.Options{Language: "de", Numbers: numbers}, answers: answers{"1", "<code>"},
			want: "prompt-off: SMS-Code (gesendet an +49 *** ****001): \nprompt-off: Falscher Code. SMS-Code: \n"},
		{name: "gateway down", opts: testenv.Options{Numbers: numbers}, down: true, wantErr: pam.ErrAuthinfoUnavail},
		{name: "no number", opts: testenv.Options{}, wantErr: pam.ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := fakegw.Start(t)
			if tt.down {
				tt.opts.URL = fakegw.ClosedURL(t)
			}
			conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, tt.opts))
			dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
			res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root",
				Answer: tt.answers.answerer(gw), Flags: pam.Silent})
			checkResult(t, res, tt.wantErr)
			if got := res.Transcript(); got != tt.want {
				t.Errorf("the user saw:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// A Ctrl-C at the prompt is an ordinary abort: the helper logs "denied:
// conversation aborted" at info (authpriv.info, <86>) and nothing at error,
// both when the module hangs up (the conversation failed) and when the
// application is gone altogether (sudo re-raises the SIGINT, sshd kills its
// PAM process), where the result can no longer be sent.
func TestAbortIsLoggedAtInfo(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	gw := fakegw.Start(t)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
		Numbers: map[string]string{"root": number}}))

	t.Run("conversation fails", func(t *testing.T) {
		const rhost = "192.0.2.201"
		dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: rhost,
			Answer: answers{"<abort>"}.answerer(gw), Flags: pam.Silent})
		checkResult(t, res, pam.ErrAuth)
		checkAbortLogged(t, sink, rhost)
	})
	t.Run("application gone", func(t *testing.T) {
		const rhost = "192.0.2.202"
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		mod, helperEnd := os.NewFile(uintptr(fds[0]), "module end"), os.NewFile(uintptr(fds[1]), "helper end")
		cmd := exec.Command(filepath.Join(build, "pam-sms-helper"), "--config="+conf)
		cmd.Stdin, cmd.Stdout, cmd.Env = helperEnd, helperEnd, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		helperEnd.Close()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() { cmd.Process.Kill() })
		if _, err := mod.WriteString("user root\nrhost " + rhost + "\nservice sudo\ntty \nsilent 1\nend \n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(mod)
		mod.SetReadDeadline(time.Now().Add(30 * time.Second))
		if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "prompt_echo_off SMS code (sent to ") {
			t.Fatalf("helper said %q, %v; want the silent prompt", l, err)
		}
		mod.Close() // the application died at the prompt
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("helper exited with %v, want status 0 (an abort is no failure)", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the helper did not exit within 30 s of the module going away")
		}
		checkAbortLogged(t, sink, rhost)
	})
}

// checkAbortLogged waits for the helper's abort line for rhost, then for a
// marker datagram sent after it (so every line the helper sent before it
// exited has arrived), and fails on any other priority than info.
func checkAbortLogged(t *testing.T, sink *syslogSink, rhost string) {
	t.Helper()
	lines := sink.matching(t, "rhost="+rhost, 1)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "<86>") || !strings.Contains(lines[0], "denied: conversation aborted") {
		t.Fatalf("log lines for rhost %s:\n%s\nwant one authpriv.info (<86>) line \"denied: conversation aborted\"",
			rhost, strings.Join(lines, "\n"))
	}
	marker := "abort-check-done-" + strings.ReplaceAll(rhost, ".", "-")
	c, err := net.Dial("unixgram", syslogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(marker)); err != nil {
		t.Fatal(err)
	}
	if len(sink.matching(t, marker, 1)) != 1 {
		t.Fatal("the marker datagram did not arrive")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, l := range sink.lines {
		if strings.Contains(l, rhost) && !strings.HasPrefix(l, "<86>") || strings.Contains(l, "sending the result") {
			t.Errorf("log line %q: an aborted conversation is logged at info only", l)
		}
	}
}
