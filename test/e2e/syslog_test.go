package e2e_test

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
)

// Syslog priorities of the helper's lines (facility authpriv = 10).
const (
	prioWarning = "<84>" // authpriv.warning
	prioErr     = "<83>" // authpriv.err
)

// syslogSink collects datagrams sent to a unix socket, as a syslog daemon would.
type syslogSink struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenSyslog(t *testing.T, path string) *syslogSink {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("syslog socket: %v", err)
	}
	s := &syslogSink{path: path}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64*1024)
		for {
			n, err := c.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return s
}

// lines returns the messages received so far that contain every one of words.
func (s *syslogSink) lines(words ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
next:
	for _, m := range s.msgs {
		for _, w := range words {
			if !strings.Contains(m, w) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}
