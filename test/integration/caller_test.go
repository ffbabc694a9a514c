package integration_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// setgidInstall lays out the helper as the package installs it, with a
// group of its own: helper root:GROUP 2755, config root:GROUP 0640, state
// root:GROUP 2770, in a directory every user can reach.
type setgidInstall struct {
	helper string
	conf   string
}

func installSetgid(t *testing.T, build, group string, gw *fakegw.Gateway, numbers map[string]string) setgidInstall {
	t.Helper()
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	dir, err := os.MkdirTemp("", "pam-sms-setgid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mustChmod(t, dir, 0o755, 0)

	in := setgidInstall{helper: filepath.Join(dir, "pam-sms-helper"), conf: filepath.Join(dir, "pam_sms.conf")}
	bin, err := os.ReadFile(filepath.Join(build, "pam-sms-helper"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.helper, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, in.helper, 0o2755, gid)

	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, state, 0o2770, gid)

	body := testenv.Config(t, gw, testenv.Options{Numbers: numbers})
	body = strings.Replace(body, "state_dir = ", "state_dir = \""+state+"\"\n#", 1)
	if err := os.WriteFile(in.conf, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, in.conf, 0o640, gid)
	return in
}

// mustChmod sets owner root:gid and mode exactly (chown clears setgid bits).
func mustChmod(t *testing.T, path string, mode os.FileMode, gid int) {
	t.Helper()
	if err := os.Chown(path, 0, gid); err != nil {
		t.Fatal(err)
	}
	perm := mode.Perm()
	if mode&0o2000 != 0 {
		perm |= os.ModeSetgid
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

// helperSession runs the installed helper as uid over a socketpair, as the
// module would, and returns the two ends of the conversation.
type helperSession struct {
	cmd *exec.Cmd
	w   io.Writer
	r   *bufio.Reader
}

// A caller without root gets only the default config, so the run happens in
// a mount namespace where in.conf is that file (startCaller).
func startHelperAs(t *testing.T, in setgidInstall, u *user.User) *helperSession {
	t.Helper()
	return startCaller(t, in, u, callerRun{})
}

func (h *helperSession) send(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(h.w, l+"\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *helperSession) next(t *testing.T) string {
	t.Helper()
	l, err := h.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from helper: %v", err)
	}
	return strings.TrimSuffix(l, "\n")
}

// The setgid helper started without root serves only its caller: a user
// cannot make it text (or test codes of) somebody else.
func TestNonRootCallerServesOnlyItself(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smsintsg")
	caller := testenv.CreateUser(t, "smsint03", "S3cret-pass-03")
	testenv.CreateUser(t, "smsint04", "S3cret-pass-04")
	gw := fakegw.Start(t)
	in := installSetgid(t, build, "smsintsg", gw, map[string]string{"smsint03": number, "smsint04": "+49 170 5550004"})

	t.Run("someone else", func(t *testing.T) {
		h := startHelperAs(t, in, caller)
		h.send(t, "user smsint04", "rhost ", "service screenlock", "tty ", "end ")
		if got := h.next(t); got != "result 7" {
			t.Fatalf("helper answered %q, want result 7 (PAM_AUTH_ERR)", got)
		}
		if n := gw.Count(); n != 0 {
			t.Fatalf("gateway received %d requests, want none", n)
		}
	})
	t.Run("itself", func(t *testing.T) {
		h := startHelperAs(t, in, caller)
		h.send(t, "user smsint03", "rhost ", "service screenlock", "tty ", "end ")
		if got := h.next(t); got != "info Code sent to +49 *** ****001" {
			t.Fatalf("helper said %q, want the code-sent line (config and state must be usable through the setgid group)", got)
		}
		if got := h.next(t); got != "prompt_echo_off SMS code: " {
			t.Fatalf("helper said %q, want the prompt", got)
		}
		h.send(t, "resp "+fakegw.Code(t, gw.Wait(t, 1)))
		if got := h.next(t); got != "result 0" {
			t.Fatalf("helper answered %q, want result 0", got)
		}
	})
}

// Run by hand with a terminal or a file on stdin, the helper refuses to work.
func TestHelperRefusesNonSocketStdin(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	cmd := exec.Command(filepath.Join(build, "pam-sms-helper"), "--config=/nonexistent")
	cmd.Stdin = strings.NewReader("user root\nrhost \nservice x\ntty \nend \n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("helper with a pipe on stdin: %v, want exit status 2", err)
	}
	if strings.Contains(string(out), "result") {
		t.Fatalf("helper spoke the protocol on a pipe: %q", out)
	}
}
