package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/policy"
)

// converse runs one session as the module would and answers the prompts in
// order: "<code>" is the code the gateway got, "<abort>" hangs up as the
// module does when the user aborts the conversation, anything else is typed.
// It returns the PAM code, every line the helper sent, and the session.
func converse(t *testing.T, cfg string, g *testGateway, silent bool, answers ...string) (int, []string, *session) {
	t.Helper()
	hc, mod := pipe(t)
	told := make(chan []string)
	go func() {
		var lines []string
		defer func() { told <- lines }()
		r := bufio.NewReader(mod)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			if !strings.HasPrefix(l, "prompt_echo_off ") {
				continue
			}
			if len(answers) == 0 {
				t.Errorf("unexpected prompt %q", l)
				return
			}
			a := answers[0]
			answers = answers[1:]
			switch a {
			case "<abort>":
				mod.(*net.UnixConn).CloseWrite()
				continue // the result still comes
			case "<code>":
				sent := g.sent()
				if m := codeRE.FindStringSubmatch(sent[len(sent)-1]); m != nil {
					a = m[1]
				}
			}
			io.WriteString(mod, "resp "+a+"\n")
		}
	}()
	nss := fakeNSS(strconv.Itoa(os.Getuid()), "alice")
	s := &session{conn: hc, req: policy.Request{User: "alice", Service: "sudo"}, silent: silent,
		log: &logger{}, configPath: cfg, root: true, lookup: nss}
	rc := s.serve()
	if err := hc.result(rc); err != nil {
		t.Errorf("sending the result: %v", err)
	}
	hc.c.Close()
	return rc, <-told, s
}

// An application that passes PAM_SILENT (sudo) shows only prompts: the
// helper sends no info or error line, and the prompts say where the code
// went and that an answer was wrong. Without the flag nothing changes.
func TestSilentCallerPrompts(t *testing.T) {
	g := newTestGateway(t)
	cfg := writeSessionConfig(t, g, "per_user = 100\nper_number = 100\nper_host = 100",
		map[string]string{"alice": "+49 170 5550001"})
	tests := []struct {
		name    string
		silent  bool
		answers []string
		wantRC  int
		want    []string
	}{
		{"silent, wrong then right", true, []string{"1", "<code>"}, pamSuccess, []string{
			"prompt_echo_off SMS code (sent to +49 *** ****001): ",
			"prompt_echo_off Wrong code. SMS code: ",
			"result 0"}},
		{"silent, too many wrong", true, []string{"1", "2", "3"}, pamAuthErr, []string{
			"prompt_echo_off SMS code (sent to +49 *** ****001): ",
			"prompt_echo_off Wrong code. SMS code: ",
			"prompt_echo_off Wrong code. SMS code: ",
			"result 7"}},
		{"not silent, wrong then right", false, []string{"1", "<code>"}, pamSuccess, []string{
			"info Code sent to +49 *** ****001",
			"prompt_echo_off SMS code: ",
			"error Wrong code, try again.",
			"prompt_echo_off SMS code: ",
			"result 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, lines, _ := converse(t, cfg, g, tt.silent, tt.answers...)
			if rc != tt.wantRC || !slices.Equal(lines, tt.want) {
				t.Errorf("rc %d, the module got:\n%s\nwant rc %d and:\n%s", rc,
					strings.Join(lines, "\n"), tt.wantRC, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// The German texts carry the same into the prompt.
func TestSilentPromptsGerman(t *testing.T) {
	de := texts["de"]
	for _, p := range []string{de.SilentPrompt, de.SilentWrong} {
		if !strings.HasPrefix(strings.TrimPrefix(p, "Falscher Code. "), "SMS-Code") || !strings.HasSuffix(p, ": ") {
			t.Errorf("German silent prompt %q", p)
		}
	}
	for lang, m := range texts {
		if strings.Count(m.SilentPrompt, "%s") != 1 || strings.Contains(m.SilentWrong, "%") {
			t.Errorf("%s: silent prompts %q, %q: want one %%s in the first, none in the second", lang, m.SilentPrompt, m.SilentWrong)
		}
	}
}

// A user's Ctrl-C at the prompt makes the module hang up: the session ends
// as an abort (logged at info, see test/integration), not as an error, and
// the result can still be sent.
func TestAbortedConversation(t *testing.T) {
	g := newTestGateway(t)
	cfg := writeSessionConfig(t, g, "per_user = 100\nper_number = 100\nper_host = 100",
		map[string]string{"alice": "+49 170 5550001"})
	for _, silent := range []bool{false, true} {
		rc, lines, s := converse(t, cfg, g, silent, "<abort>")
		if rc != pamAuthErr || !s.aborted || lines[len(lines)-1] != "result 7" {
			t.Errorf("silent=%v: rc %d, aborted %v, lines %q; want PAM_AUTH_ERR, aborted, result 7", silent, rc, s.aborted, lines)
		}
	}
}
