package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/policy"
)

// pipe returns the helper's conn and the module's end of a socketpair, the
// same kind of socket the module makes.
func pipe(t *testing.T) (*conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ends [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = c
		t.Cleanup(func() { c.Close() })
	}
	return newConn(ends[0]), ends[1]
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    policy.Request
		silent  bool
		wantErr string
	}{
		{"all items", "user alice\nrhost 192.0.2.1\nservice sshd\ntty ssh\nsilent 0\nend \n",
			policy.Request{User: "alice", Rhost: "192.0.2.1", Service: "sshd", Tty: "ssh"}, false, ""},
		{"silent", "user alice\nrhost \nservice sudo\ntty /dev/pts/1\nsilent 1\nend \n",
			policy.Request{User: "alice", Service: "sudo", Tty: "/dev/pts/1"}, true, ""},
		{"no silent line means not silent", "user alice\nend \n", policy.Request{User: "alice"}, false, ""},
		{"empty values", "user alice\nrhost \nservice \ntty \nsilent 0\nend \n", policy.Request{User: "alice"}, false, ""},
		{"value with spaces", "user alice\nservice my service\nend \n", policy.Request{User: "alice", Service: "my service"}, false, ""},
		{"silent empty", "user alice\nsilent \nend \n", policy.Request{}, false, `helper: protocol error: silent must be 0 or 1, not ""`},
		{"silent yes", "user alice\nsilent yes\nend \n", policy.Request{}, false, `helper: protocol error: silent must be 0 or 1, not "yes"`},
		{"silent 01", "user alice\nsilent 01\nend \n", policy.Request{}, false, `helper: protocol error: silent must be 0 or 1, not "01"`},
		{"silent with a space", "user alice\nsilent 1 \nend \n", policy.Request{}, false, `helper: protocol error: silent must be 0 or 1, not "1 "`},
		{"silent twice", "user alice\nsilent 0\nsilent 1\nend \n", policy.Request{}, false, `helper: protocol error: "silent" sent twice`},
		{"no user", "rhost x\nend \n", policy.Request{}, false, "helper: protocol error: no user"},
		{"unknown verb", "user alice\nresult 0\n", policy.Request{}, false, `helper: protocol error: unknown verb "result"`},
		{"item twice", "user alice\nuser root\nend \n", policy.Request{}, false, `helper: protocol error: "user" sent twice`},
		{"no space", "user alice\nend\n", policy.Request{}, false, `helper: protocol error: no space after verb "end"`},
		{"carriage return", "user alice\r\nend \n", policy.Request{}, false, "helper: protocol error: control character in line"},
		{"NUL", "user al\x00ice\nend \n", policy.Request{}, false, "helper: protocol error: control character in line"},
		{"overlong", "user " + strings.Repeat("a", 2000) + "\n", policy.Request{}, false, "helper: protocol error: line longer than 1024 bytes"},
		{"EOF", "user alice\n", policy.Request{}, false, "helper: reading from module: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, module := pipe(t)
			go func() {
				io.WriteString(module, tt.in)
				module.Close()
			}()
			got, err := c.readRequest()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("readRequest error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Request != tt.want || got.Silent != tt.silent {
				t.Fatalf("readRequest = %+v, %v; want %+v, silent %v", got, err, tt.want, tt.silent)
			}
		})
	}
}

func TestPromptDeadline(t *testing.T) {
	c, module := pipe(t)
	go io.Copy(io.Discard, module) // the module reads the prompt, the user never answers
	_, err := c.prompt("SMS code: ", time.Now().Add(50*time.Millisecond))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("prompt without an answer: %v, want a deadline error", err)
	}
}

func TestWriteLineRefusesLineBreaks(t *testing.T) {
	c, _ := pipe(t)
	for _, v := range []string{"a\nresult 0", "a\rb", "a\x00b"} {
		if err := c.writeLine("info", v); err == nil {
			t.Errorf("writeLine(%q) succeeded", v)
		}
	}
	if err := c.writeLine("info", strings.Repeat("a", maxLine)); err == nil {
		t.Error("writeLine of an overlong value succeeded")
	}
}

// Values from the client must not forge or split log lines.
func TestLogLine(t *testing.T) {
	tests := []struct {
		kv   []any
		want string
	}{
		{[]any{"user", "alice", "rhost", "192.0.2.1"}, "msg user=alice rhost=192.0.2.1"},
		{[]any{"user", ""}, `msg user=""`},
		{[]any{"user", "evil\nfake line"}, `msg user="evil\nfake line"`},
		{[]any{"user", "a b=c"}, `msg user="a b=c"`},
		{[]any{"reason", `say "hi"`}, `msg reason="say \"hi\""`},
	}
	for _, tt := range tests {
		if got := line("msg", tt.kv...); got != tt.want {
			t.Errorf("line(%q) = %q, want %q", tt.kv, got, tt.want)
		}
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for digits := 4; digits <= 10; digits++ {
		for range 50 {
			c := string(newCode(digits))
			if len(c) != digits || strings.Trim(c, "0123456789") != "" {
				t.Fatalf("newCode(%d) = %q", digits, c)
			}
			seen[c] = true
		}
	}
	// 350 codes from 10^4..10^10 values: repeats would mean a broken source.
	if len(seen) < 340 {
		t.Fatalf("only %d distinct codes of 350", len(seen))
	}
}
