package e2e_test

import (
	"net"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// TestSSHAutomationMatch proves the Match patterns of the drop-in that
// `pam-sms enable --ssh` writes: people need their key and the SMS code (a
// key alone is refused), while automation accounts, by group and by name,
// log in with the key alone and get no SMS.
func TestSSHAutomationMatch(t *testing.T) {
	gw := setup(t)
	person := newAccount(t, 40)
	robot := newAccount(t, 41)
	named := newAccount(t, 42)
	// The automation group is robot's own (useradd's user private group):
	// sshd's Match Group counts the primary group, and no other group has
	// to be created and removed on this machine.
	group := robot.name
	if g, err := osuser.LookupGroup(group); err != nil || g.Gid != strconv.Itoa(lookup(t, robot.name).gid) {
		t.Fatalf("no user private group %s for %s: %v", group, robot.name, err)
	}
	keys := map[string]ssh.Signer{}
	for _, a := range []account{person, robot, named} {
		keys[a.name] = authorizeKey(t, a)
	}

	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(testenv.BuildDir(t), "pam-sms"), "enable", "--ssh", "--with-key",
		"--automation-group", group, "--automation-users", named.name, "--install", "--sshd-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pam-sms enable --ssh --install: %v\n%s", err, out)
	}
	s := startSSHD(t, sshdOpts{
		stack: "sshd-key-sms",
		// Every account has a number: an SMS to any of them would show.
		conf: testenv.Config(t, gw, testenv.Options{Numbers: numbers(person, robot, named)}),
		// The generated drop-in comes first, so its values win over the
		// shipped one that every test daemon includes after it.
		overrides: "Include " + filepath.Join(dir, "10-pam-sms.conf"),
	})

	t.Run("person: key and right code", func(t *testing.T) {
		r := s.login(gw, person, loginOpts{signer: keys[person.name]}, reply{rightCode, 0})
		wantOK(t, s, r, person)
		wantSMS(t, gw, person, 1)
		if len(r.prompts) != 1 || !strings.HasSuffix(r.prompts[0], msgPrompt) {
			t.Errorf("prompts = %q, want only the SMS prompt", r.prompts)
		}
	})
	t.Run("person: key alone is refused", func(t *testing.T) {
		before := gw.Count()
		if out, err := keyOnlyLogin(s, person, keys[person.name]); err == nil {
			t.Fatalf("the key alone logged in: %q", out)
		}
		if gw.Count() != before {
			t.Errorf("%d SMS sent for a refused key-only login", gw.Count()-before)
		}
	})
	for _, a := range []account{robot, named} {
		t.Run(a.name+": automation key alone", func(t *testing.T) {
			before := gw.Count()
			out, err := keyOnlyLogin(s, a, keys[a.name])
			if err != nil || out != "SSH-LOGIN-OK "+a.name {
				t.Fatalf("key-only login of %s: %q, %v\n%s", a.name, out, err, s.log())
			}
			if gw.Count() != before {
				t.Errorf("an automation login sent %d SMS", gw.Count()-before)
			}
			wantSMS(t, gw, a, 0)
		})
	}
	t.Run("automation account without its key is refused", func(t *testing.T) {
		before := gw.Count()
		r := s.login(gw, robot, loginOpts{}, reply{rightCode, 0})
		wantRefused(t, s, r)
		if gw.Count() != before || len(r.prompts) != 0 {
			t.Errorf("without the key: %d SMS, prompts %q; want none", gw.Count()-before, r.prompts)
		}
	})
}

// keyOnlyLogin logs in offering the public key method alone, as a backup
// job or Ansible does, and returns the command's output.
func keyOnlyLogin(s *sshd, acct account, signer ssh.Signer) (string, error) {
	conn, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(loginTimeout)); err != nil {
		return "", err
	}
	return session(conn, s.addr, &ssh.ClientConfig{
		User:            acct.name,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey),
		Timeout:         10 * time.Second,
	})
}
