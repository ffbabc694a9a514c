package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"golang.org/x/sys/unix"
)

// Row 5d: one helper of another user, stopped while it holds a limits lock,
// beside a burst. The attack (issue 9): a user runs the setgid helper by hand
// and sends it SIGSTOP, which the caller may (the real uid is theirs).
//
// Everything the hand-run helper needs lives under frozenRoot, in the copy of
// /etc that only the bench's mount namespace sees, so every parent directory
// is root-owned and not writable by others: the helper, setgid benchGroup, on a
// tmpfs of its own (a tmpfs is mounted without nosuid, whatever /var/tmp is),
// and the burst's state directory, on the same disk as the work directory. A
// caller without root gets only the default config, so the burst's config is
// /etc/security/pam_sms.conf, which the module is pointed at too. Every other
// burst is laid out the same way (writeBurstConfig), so that 5d differs from
// 5a in the frozen helper alone: where a state directory lies on the disk
// changes what creating its files costs.
const (
	frozenRoot   = "/etc/pam-sms-bench"
	frozenBin    = frozenRoot + "/bin"
	frozenHelper = frozenBin + "/pam-sms-helper"
	defaultConf  = "/etc/security/pam_sms.conf"
	// frozenAttempts bounds the runs until one is caught holding a lock;
	// frozenCatch bounds the wait for one run's lock.
	frozenAttempts = 50
	frozenCatch    = 5 * time.Second
	// frozenRecords are planted in the frozen user's own files (in the
	// window, so that its Take is refused without touching the day file or
	// the gateway): reading them under its locks makes it hold them long
	// enough to be caught by polling /proc/locks.
	frozenRecords = 9000
)

// moduleEnv is the environment pam_sms.so starts the helper with; with it the
// helper runs without restarting itself.
var moduleEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// frozen is a hand-run helper stopped while holding locks.
type frozen struct {
	cmd      *exec.Cmd
	conn     *os.File // the caller's end of its socketpair
	held     []string // the lock files it holds (names in the state directory)
	attempts int      // runs started until one was caught
}

// installFrozenHelper mounts the tmpfs for the hand-run helper and installs
// it there as the package does (root:benchGroup, mode 2755). Once per bench.
func (b *bench) installFrozenHelper() error {
	if b.frozenReady {
		return nil
	}
	for _, dir := range []string{frozenRoot, frozenBin} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	if err := unix.Mount("tmpfs", frozenBin, "tmpfs", 0, "mode=0755,size=64m"); err != nil {
		return fmt.Errorf("bench: mount a tmpfs on %s: %w", frozenBin, err)
	}
	b.mounts = append(b.mounts, frozenBin)
	bin, err := os.ReadFile(filepath.Join(b.build, "pam-sms-helper"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(frozenHelper, bin, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := setOwnerMode(frozenHelper, b.gid, 0o755|fs.ModeSetgid); err != nil {
		return err
	}
	b.frozenReady = true
	return nil
}

// writeBurstConfig writes the config of a burst at the default path and makes
// its state directory under frozenRoot (root:benchGroup 2770, as the package
// makes /var/lib/pam-sms). It returns both paths.
func (b *bench) writeBurstConfig(name string, o configOptions) (conf, state string, err error) {
	if err := b.installFrozenHelper(); err != nil {
		return "", "", err
	}
	state = filepath.Join(frozenRoot, name+"-state")
	if err := os.Mkdir(state, 0o700); err != nil {
		return "", "", fmt.Errorf("bench: %w", err)
	}
	if err := setOwnerMode(state, b.gid, 0o770|fs.ModeSetgid); err != nil {
		return "", "", err
	}
	o.stateDir, o.frozen = state, true
	if err := writeRootFile(defaultConf, renderConfig(o)); err != nil {
		return "", "", err
	}
	return defaultConf, state, setOwnerMode(defaultConf, b.gid, 0o640)
}

// setOwnerMode makes path root:gid with exactly mode (chown clears the setgid
// bit, so the mode comes last).
func setOwnerMode(path string, gid int, mode fs.FileMode) error {
	if err := os.Chown(path, 0, gid); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// freeze runs the installed helper as frozenUser until one run is caught
// holding a lock in state, and leaves that run stopped. The request names the
// burst's client address: the attacker's best try at the one lock the burst
// shares (a caller without root gets no per_host key, see helper/session.go).
func (b *bench) freeze(state string) (*frozen, error) {
	if err := b.plantFrozen(state); err != nil {
		return nil, err
	}
	last := ""
	for attempt := 1; attempt <= frozenAttempts; attempt++ {
		f, err := startFrozen()
		if err != nil {
			return nil, err
		}
		f.attempts = attempt
		held, err := stopHolder(f.cmd.Process.Pid, state, frozenCatch)
		if err != nil {
			f.kill()
			return nil, err
		}
		if len(held) > 0 {
			f.held = held
			if err := b.checkSetgid(f.cmd.Process.Pid); err != nil {
				f.kill()
				return nil, err
			}
			return f, nil
		}
		last = f.kill()
	}
	return nil, fmt.Errorf("bench: row 5d: the hand-run helper was never caught holding a lock in %d attempts (the last one: %s)",
		frozenAttempts, last)
}

// plantFrozen writes frozenRecords sends of the last minute into the frozen
// user's user and number files, as the helper would leave them.
func (b *bench) plantFrozen(state string) error {
	var buf bytes.Buffer
	buf.WriteString("pam-sms-limits 1\n")
	sec := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	for range frozenRecords {
		buf.WriteString(sec + "\n")
	}
	for _, name := range []string{limitFile(limits.KeyUser, frozenUser), limitFile(limits.KeyNumber, digitsOf(frozenNumber))} {
		path := filepath.Join(state, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o660); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := setOwnerMode(path, b.gid, 0o660); err != nil {
			return err
		}
	}
	return nil
}

// startFrozen starts the installed helper as frozenUser with the module's
// wiring: one end of a socketpair as fd 0 and 1, the module's environment, the
// default config, and no supplementary groups; then sends a request.
func startFrozen() (*frozen, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bench: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "caller end"), os.NewFile(uintptr(fds[1]), "helper end")
	defer theirs.Close()
	cmd := exec.Command(frozenHelper, "--config="+defaultConf)
	cmd.Stdin, cmd.Stdout = theirs, theirs
	cmd.Env = moduleEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: frozenUID, Gid: nogroupGID, Groups: []uint32{}}}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("bench: starting the helper as %s: %w", frozenUser, err)
	}
	f := &frozen{cmd: cmd, conn: ours}
	req := fmt.Sprintf("user %s\nrhost %s\nservice screenlock\ntty \nend \n", frozenUser, rhostOutside)
	if _, err := ours.WriteString(req); err != nil {
		f.kill()
		return nil, fmt.Errorf("bench: writing to the hand-run helper: %w", err)
	}
	return f, nil
}

// kill ends the helper (SIGKILL also ends a stopped process), reaps it and
// says how it ended.
func (f *frozen) kill() string {
	f.cmd.Process.Kill()
	err := f.cmd.Wait()
	f.conn.Close()
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// checkSetgid makes sure the helper runs setgid: real gid the user's,
// effective benchGroup. Otherwise it could not open the state directory and
// the row would prove nothing.
func (b *bench) checkSetgid(pid int) error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "Gid:" {
			if f[1] != strconv.Itoa(nogroupGID) || f[2] != strconv.Itoa(b.gid) {
				return fmt.Errorf("bench: row 5d: the hand-run helper has gids %s/%s, want real %d, effective %d (setgid)",
					f[1], f[2], nogroupGID, b.gid)
			}
			return nil
		}
	}
	return fmt.Errorf("bench: /proc/%d/status has no Gid line", pid)
}

// stopHolder polls /proc/locks until pid holds a flock on a file of state,
// then stops it (SIGSTOP) and returns the names of the files it still holds
// once stopped. It returns none when the process ends or within passes first.
func stopHolder(pid int, state string, within time.Duration) ([]string, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		held, err := heldIn(pid, state)
		if err != nil {
			return nil, err
		}
		if len(held) == 0 {
			if s := processState(pid); s == "Z" || s == "" {
				return nil, nil // done already: refused, as its own budget is spent
			}
			continue
		}
		if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
			return nil, nil
		}
		if !waitStopped(pid) {
			return nil, nil
		}
		return heldIn(pid, state)
	}
	return nil, nil
}

// heldIn returns the names of the files of dir on which pid holds a flock.
func heldIn(pid int, dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	inodes := lockedInodes(data, pid)
	if len(inodes) == 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var held []string
	for _, e := range entries {
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && slices.Contains(inodes, st.Ino) {
			held = append(held, e.Name())
		}
	}
	return held, nil
}

// lockedInodes returns the inodes of the flocks that pid holds, from the
// text of /proc/locks.
func lockedInodes(data []byte, pid int) []uint64 {
	p := strconv.Itoa(pid)
	var out []uint64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->".
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" || f[4] != p {
			continue
		}
		dev := strings.Split(f[5], ":")
		if ino, err := strconv.ParseUint(dev[len(dev)-1], 10, 64); err == nil {
			out = append(out, ino)
		}
	}
	return out
}

// waitStopped waits up to 10 s for pid to be in state T (stopped).
func waitStopped(pid int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if processState(pid) == "T" {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// processState returns the state letter of pid from /proc/PID/stat, or "".
func processState(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// "PID (COMM) STATE ...": the state follows the last ")".
	if f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:])); len(f) > 0 {
		return f[0]
	}
	return ""
}

// stillFrozen says what is wrong if the helper is no longer stopped holding
// its locks (after the burst), or "".
func (f *frozen) stillFrozen(state string) string {
	pid := f.cmd.Process.Pid
	if s := processState(pid); s != "T" {
		return fmt.Sprintf("frozen helper: state %q after the burst, want T (stopped)", s)
	}
	held, err := heldIn(pid, state)
	if err != nil {
		return err.Error()
	}
	if !slices.Equal(held, f.held) {
		return fmt.Sprintf("frozen helper: holds %v after the burst, %v before", held, f.held)
	}
	return ""
}

// limitFile is the name package limits gives a key's file (see its doc).
func limitFile(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return kind + "-" + hex.EncodeToString(sum[:16])
}

// digitsOf keeps the digits of a number written with + and spaces.
func digitsOf(number string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
}
