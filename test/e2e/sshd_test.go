package e2e_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// sshdStartTimeout bounds the wait for a test sshd to accept connections.
const sshdStartTimeout = 15 * time.Second

// dropIn is the sshd drop-in the admin guide ships; every test daemon Includes it.
const dropIn = "packaging/sshd/10-pam-sms.conf"

// sshdOpts describe one test daemon.
type sshdOpts struct {
	stack string // file under docs/pam.d/ loaded as the PAM service
	conf  string // pam_sms.conf body
	// overrides are sshd_config lines placed before the Include of the drop-in:
	// sshd keeps the first value of a keyword, so they win over it.
	overrides string
}

// sshd is a running throwaway OpenSSH daemon on 127.0.0.1.
type sshd struct {
	addr     string
	hostKey  ssh.PublicKey
	service  string // PAM service name (basename of the symlink to sshd)
	cfgFile  string // sshd -f file
	confPath string // pam_sms.conf
	logFile  string // sshd -e output
	syslog   *syslogSink
}

// startSSHD starts sshd through a symlink named after a fresh PAM service
// /etc/pam.d/<name> (removed in cleanup), inside a private mount namespace
// whose /run is a tmpfs holding the privsep dir and, at /run/log, a syslog
// socket the test reads (log/syslog falls back to /var/run/log when /dev/log is
// missing, as in this container; with a /dev/log the helper's lines go there).
func startSSHD(t *testing.T, o sshdOpts) *sshd {
	t.Helper()
	build := testenv.BuildDir(t)
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	s := &sshd{logFile: filepath.Join(dir, "sshd.log")}

	s.confPath = testenv.WriteConfig(t, dir, o.conf)
	s.service = "sshd-pamsms-" + randHex(t, 5)
	stack := testenv.LoadStack(t, o.stack, testenv.ModuleLine(build, s.confPath, "timeout=60"))
	pamFile := filepath.Join("/etc/pam.d", s.service)
	if err := os.WriteFile(pamFile, []byte(stack), 0o644); err != nil {
		t.Fatalf("write PAM service: %v", err)
	}
	t.Cleanup(func() { os.Remove(pamFile) })

	keyFile := filepath.Join(dir, "hostkey")
	runQuiet(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile)
	s.hostKey = readPublicKey(t, keyFile+".pub")

	// sshd re-executes itself from argv[0]: the symlink must be absolute, and
	// its name is the PAM service (OpenSSH 9.2 uses __progname).
	bin := filepath.Join(dir, s.service)
	if err := os.Symlink("/usr/sbin/sshd", bin); err != nil {
		t.Fatalf("symlink sshd: %v", err)
	}
	s.addr = freeAddr(t)
	_, port, _ := net.SplitHostPort(s.addr)
	s.cfgFile = filepath.Join(dir, "sshd_config")
	cfg := fmt.Sprintf(`# pam_sms e2e test daemon (generated). sshd keeps the first value of a keyword.
%s
Include %s
ListenAddress 127.0.0.1
Port %s
HostKey %s
PidFile %s
PubkeyAuthentication no
PermitRootLogin no
MaxAuthTries 6
MaxStartups 100
LoginGraceTime 90
UseDNS no
ForceCommand echo SSH-LOGIN-OK $(id -un)
LogLevel VERBOSE
`, o.overrides, filepath.Join(root, dropIn), port, keyFile, filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(s.cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatalf("write sshd_config: %v", err)
	}
	if out, err := privateRun(bin, "-t", "-f", s.cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t rejects the test config: %v\n%s\n%s", err, out, cfg)
	}

	s.syslog = listenSyslog(t, filepath.Join(dir, "syslog.sock"))
	s.run(t, bin)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PAM_SMS_E2E_LOGS") != "" {
			t.Logf("%s\n--- helper syslog ---\n%s", s.log(), strings.Join(s.syslog.lines(), ""))
		}
	})
	return s
}

// run starts the daemon and waits until it accepts connections.
func (s *sshd) run(t *testing.T, bin string) {
	t.Helper()
	logf, err := os.Create(s.logFile)
	if err != nil {
		t.Fatalf("create sshd log: %v", err)
	}
	defer logf.Close()
	const script = `set -e
mount -t tmpfs -o mode=0755 pamsms-e2e-run /run
mkdir -m 0755 /run/sshd
: > /run/log
mount --bind "$1" /run/log
shift
exec "$@"`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script, "sh",
		s.syslog.path, bin, "-D", "-e", "-f", s.cfgFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { stopGroup(t, cmd.Process.Pid, exited) })

	deadline := time.After(sshdStartTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("sshd exited before accepting connections: %v\n%s", err, s.log())
		case <-deadline:
			t.Fatalf("sshd not accepting on %s after %v\n%s", s.addr, sshdStartTimeout, s.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopGroup ends the daemon and its per-connection children: they are in the
// process group the test created for it.
func stopGroup(t *testing.T, pgid int, exited <-chan error) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Errorf("sshd (pid %d) did not exit after SIGKILL", pgid)
		}
	}
	// Children of the killed daemon may outlive it for a moment.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// setConfig replaces pam_sms.conf; the helper reads it at every login.
func (s *sshd) setConfig(t *testing.T, body string) {
	t.Helper()
	testenv.WriteConfig(t, filepath.Dir(s.confPath), body)
}

// effective returns the value of keyword in `sshd -T` for the test config.
func (s *sshd) effective(t *testing.T, keyword string) string {
	t.Helper()
	out, err := privateRun("/usr/sbin/sshd", "-T", "-f", s.cfgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if k == strings.ToLower(keyword) {
			return v
		}
	}
	t.Fatalf("sshd -T prints no %s", keyword)
	return ""
}

// log returns the daemon's output for failure messages.
func (s *sshd) log() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return "(no sshd log: " + err.Error() + ")"
	}
	return "--- sshd log ---\n" + string(b)
}

// privateRun returns a command that runs argv in a private mount namespace
// whose /run is a fresh tmpfs holding sshd's privilege separation directory,
// so that the test never creates /run/sshd on the host.
func privateRun(argv ...string) *exec.Cmd {
	const script = `set -e
mount -t tmpfs -o mode=0755 pamsms-e2e-run /run
mkdir -m 0755 /run/sshd
exec "$@"`
	return exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh"}, argv...)...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}

func readPublicKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read host key: %v", err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatalf("parse host key: %v", err)
	}
	return k
}

func runQuiet(t *testing.T, name string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
}
