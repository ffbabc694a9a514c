package integration_test

import (
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// syslogSink listens where log/syslog looks second (/var/run/syslog, after
// /dev/log) and keeps every datagram. Taking a fallback under /run rather than
// /dev/log keeps helpers of other test packages, which run in private mount
// namespaces with their own /run (test/e2e), unaffected.
const syslogPath = "/var/run/syslog"

type syslogSink struct {
	mu    sync.Mutex
	lines []string
}

func listenSyslog(t *testing.T) *syslogSink {
	t.Helper()
	for _, p := range []string{"/dev/log", syslogPath} {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists (a syslog daemon runs here); this test must own the socket the helper logs to", p)
		}
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: syslogPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogSink{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.lines = append(s.lines, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		c.Close()
		os.Remove(syslogPath)
		<-done
	})
	return s
}

// matching returns the lines that contain marker, waiting up to 5 s for at
// least n of them (syslog datagrams arrive after the PAM call returns).
func (s *syslogSink) matching(t *testing.T, marker string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		var got []string
		for _, l := range s.lines {
			if strings.Contains(l, marker) {
				got = append(got, l)
			}
		}
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// One authpriv line per decision, with user, rhost and reason; never the
// code, the full number or the gateway password.
func TestSyslog(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	gw := fakegw.Start(t)
	conf := testenv.WriteConfig(t, t.TempDir(), testenv.Config(t, gw, testenv.Options{
		Numbers: map[string]string{"root": number}}))
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf)+"\n")

	tests := []struct {
		rhost   string
		answers answers
		wantErr error
		want    string
	}{
		{"192.0.2.101", answers{"<code>"}, nil, "success: code accepted"},
		{"192.0.2.102", answers{"1", "2", "3"}, pam.ErrAuth, "denied: too many wrong codes"},
	}
	for _, tt := range tests {
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root", Rhost: tt.rhost,
			Answer: tt.answers.answerer(gw)})
		checkResult(t, res, tt.wantErr)
		lines := sink.matching(t, "rhost="+tt.rhost, 1)
		if len(lines) != 1 {
			t.Fatalf("rhost %s: %d log lines, want exactly one decision line:\n%s", tt.rhost, len(lines), strings.Join(lines, "\n"))
		}
		l := lines[0]
		// <85> = facility authpriv (10) * 8 + severity info (6) ... warning (4) = 84..86.
		if !strings.HasPrefix(l, "<8") || !strings.Contains(l, "pam_sms") || !strings.Contains(l, tt.want) ||
			!strings.Contains(l, "user=root") || !strings.Contains(l, "service=sms-test") {
			t.Errorf("log line %q: want authpriv, pam_sms, user, rhost, service and %q", l, tt.want)
		}
	}
	secrets := []string{"5550001", "test-secret"}
	for _, m := range gw.Messages() {
		code, _ := fakegw.ParseCode(m.Text)
		secrets = append(secrets, code)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, l := range sink.lines {
		for _, s := range secrets {
			if strings.Contains(l, s) {
				t.Errorf("log line %q contains a secret (%s)", l, s)
			}
		}
	}
}
