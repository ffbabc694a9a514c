package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"golang.org/x/sys/unix"
)

// Row 5d: one helper of another user, stopped beside a burst. The attack
// (issue 9): a user runs the setgid helper by hand and sends it SIGSTOP, which
// the caller may (the real uid is theirs). Package limits holds no lock, so the
// moment that matters is right after the helper appended its records to the
// state the burst shares (the day file, the directory): pambench polls the
// state directory until they are in and stops the helper there, before its SMS.
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
	// frozenAttempts bounds the runs until one is caught between its
	// append and its SMS; frozenCatch bounds the wait for one run's append.
	frozenAttempts = 50
	frozenCatch    = 5 * time.Second
)

// moduleEnv is the environment pam_sms.so starts the helper with; with it the
// helper runs without restarting itself.
var moduleEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// frozen is a hand-run helper stopped right after its records are in.
type frozen struct {
	cmd      *exec.Cmd
	conn     *os.File      // the caller's end of its socketpair
	held     []string      // the kinds of its records that are in ("user", "number", "day")
	counts   limits.Counts // its keys' counts once stopped
	attempts int           // runs started until one was caught
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
// right after its records are in the state directory and before its SMS, and
// leaves that run stopped. The request names the burst's client address: the
// attacker's best try at the one key the burst shares (a caller without root
// gets no per_host key, see helper/session.go).
func (b *bench) freeze(state string) (*frozen, error) {
	store, err := limits.Open(state)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer store.Close()
	keys := limits.Keys{User: frozenUser, Number: digitsOf(frozenNumber)}
	last := ""
	for attempt := 1; attempt <= frozenAttempts; attempt++ {
		// A run that got away with its SMS spent the user's budget
		// (per_user 1): each attempt starts afresh.
		if err := store.Reset(keys); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		day, err := frozenCounts(store, keys)
		if err != nil {
			return nil, err
		}
		sent, _ := b.gw.counts()
		f, err := startFrozen()
		if err != nil {
			return nil, err
		}
		f.attempts = attempt
		caught, err := f.stopAfterAppend(store, keys, frozenCatch)
		if err != nil {
			f.kill()
			return nil, err
		}
		if now, _ := b.gw.counts(); caught && now == sent {
			if err := b.checkSetgid(f.cmd.Process.Pid); err != nil {
				f.kill()
				return nil, err
			}
			f.held = []string{limits.KeyUser}
			if f.counts.Number > 0 {
				f.held = append(f.held, limits.KeyNumber)
			}
			if f.counts.Daily > day.Daily {
				f.held = append(f.held, "day")
			}
			return f, nil
		}
		last = f.kill()
	}
	return nil, fmt.Errorf("bench: row 5d: the hand-run helper was never caught between its append and its SMS in %d attempts (the last one: %s)",
		frozenAttempts, last)
}

// frozenCounts reads the counts of the frozen user's keys and the day.
func frozenCounts(store *limits.Store, keys limits.Keys) (limits.Counts, error) {
	c, err := store.Count(limits.Limits{Window: burstWindow}, keys, time.Now())
	if err != nil {
		return c, fmt.Errorf("bench: row 5d: %w", err)
	}
	return c, nil
}

// stopAfterAppend polls the frozen user's counts until its user record is in,
// then stops the helper (SIGSTOP) and records the counts. It reports false
// when the process ends or within passes first.
func (f *frozen) stopAfterAppend(store *limits.Store, keys limits.Keys, within time.Duration) (bool, error) {
	pid := f.cmd.Process.Pid
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		c, err := frozenCounts(store, keys)
		if err != nil {
			return false, err
		}
		if c.User == 0 {
			if s := processState(pid); s == "Z" || s == "" {
				return false, nil
			}
			continue
		}
		if unix.Kill(pid, unix.SIGSTOP) != nil || !waitStopped(pid) {
			return false, nil
		}
		f.counts, err = frozenCounts(store, keys)
		return err == nil, err
	}
	return false, nil
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

// stillFrozen says what is wrong if the helper is no longer stopped or its
// keys' counts moved (after the burst), or "".
func (f *frozen) stillFrozen(state string) string {
	pid := f.cmd.Process.Pid
	if s := processState(pid); s != "T" {
		return fmt.Sprintf("frozen helper: state %q after the burst, want T (stopped)", s)
	}
	store, err := limits.Open(state)
	if err != nil {
		return err.Error()
	}
	defer store.Close()
	c, err := frozenCounts(store, limits.Keys{User: frozenUser, Number: digitsOf(frozenNumber)})
	if err != nil {
		return err.Error()
	}
	if c.User != f.counts.User || c.Number != f.counts.Number {
		return fmt.Sprintf("frozen helper: its counts are %+v after the burst, %+v before", c, f.counts)
	}
	return ""
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
