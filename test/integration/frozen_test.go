package integration_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// A user runs the real setgid helper by hand and freezes it (SIGSTOP) while it
// holds the lock of one of its own limit keys. Another user's login must not
// notice; a login on the frozen user's own key is denied within the lock
// bound, not after the module's timeout.
func TestFrozenHelperStallsNobodyElse(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	sink := listenSyslog(t)
	testenv.CreateGroup(t, "smsintfzg")
	frozen := testenv.CreateUser(t, "smsintfz1", "S3cret-pass-fz1")
	testenv.CreateUser(t, "smsintfz2", "S3cret-pass-fz2")
	gw := fakegw.Start(t)
	const frozenNumber, otherNumber = "+49 170 5550051", "+49 170 5550052"
	in := installSetgid(t, build, "smsintfzg", gw, map[string]string{"smsintfz1": frozenNumber, "smsintfz2": otherNumber})
	gid := fileGID(t, in.conf)

	// Limits high enough for the records planted below, which make the
	// helper's read-modify-write (and so its hold of the lock) longer.
	body, err := os.ReadFile(in.conf)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(body), "per_user = 1000\n", "per_user = 10000\n", 1)
	conf = strings.Replace(conf, "per_number = 1000\n", "per_number = 10000\n", 1)
	if conf == string(body) {
		t.Fatal("Setup: the test config has no per_user/per_number to raise")
	}
	writeConf(t, in.conf, conf, 0o640)
	mustChmod(t, in.conf, 0o640, int(gid))

	state := filepath.Join(filepath.Dir(in.conf), "state")
	keys := []string{limitFile("user", "smsintfz1"), limitFile("number", digits(frozenNumber))}
	plant := func() {
		var b bytes.Buffer
		b.WriteString("pam-sms-limits 1\n")
		sec := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
		for range 9000 {
			b.WriteString(sec + "\n")
		}
		for _, k := range keys {
			plantFile(t, filepath.Join(state, k), b.Bytes(), gid)
		}
	}

	// Catch the helper holding a lock: poll /proc/locks for its pid, stop it,
	// and check that it still holds the lock once stopped.
	var held *helperSession
	const attempts = 30
	for i := 1; i <= attempts && held == nil; i++ {
		plant()
		h := startHelperAs(t, in, frozen)
		h.send(t, "user smsintfz1", "rhost ", "service screenlock", "tty ", "end ")
		pid := h.cmd.Process.Pid
		sent := gw.Count() // once its SMS is out, the helper takes no lock again
		if stopHolder(t, pid, 5*time.Second, func() bool { return gw.Count() > sent }) {
			held = h
			break
		}
		h.cmd.Process.Kill()
		h.cmd.Wait()
		t.Logf("attempt %d: helper %d not caught holding a lock", i, pid)
	}
	if held == nil {
		t.Fatalf("the hand-run helper was never caught holding a lock in %d attempts", attempts)
	}
	pid := held.cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL) // wakes a stopped process too
		syscall.Kill(pid, syscall.SIGCONT)
	})
	if real, eff := procGids(t, pid); real == gid || eff != gid {
		t.Fatalf("Setup: the frozen helper runs with gids %d/%d, want real the user's, effective %d (setgid)", real, eff, gid)
	}

	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, in.conf, "timeout=30")+"\n")
	t.Run("another user logs in at once", func(t *testing.T) {
		to := "00" + digits(otherNumber)
		start := time.Now()
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "smsintfz2", Rhost: "192.0.2.52",
			Limit: 20 * time.Second, Answer: func(n int, m pamrun.Msg) (string, error) {
				for _, sms := range gw.Messages() {
					if sms.To == to {
						if code, ok := fakegw.ParseCode(sms.Text); ok {
							return code, nil
						}
					}
				}
				return "", fmt.Errorf("prompt %q before an SMS to %s", m.Text, to)
			}})
		took := time.Since(start)
		checkResult(t, res, nil)
		if took > 5*time.Second {
			t.Errorf("the login took %s beside a frozen helper; want a few seconds at most", took)
		}
		t.Logf("login beside the frozen helper: %s", took)
	})
	t.Run("the frozen user's own key is busy", func(t *testing.T) {
		sent := gw.Count()
		start := time.Now()
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "smsintfz1", Limit: 20 * time.Second,
			Answer: func(n int, m pamrun.Msg) (string, error) { return "", fmt.Errorf("unexpected prompt %q", m.Text) }})
		took := time.Since(start)
		checkResult(t, res, pam.ErrSystem)
		checkSaw(t, res, []string{"error: Login by SMS code is not available. Contact your administrator."})
		bound := limits.DefaultLockTimeout
		if took < bound-bound/10 || took > bound+3*time.Second {
			t.Errorf("denied after %s; want the lock bound %s (the module's timeout is 30s)", took, bound)
		}
		if n := gw.Count(); n != sent {
			t.Errorf("%d SMS sent for a login whose key is busy", n-sent)
		}
		lines := sink.matching(t, "is locked by another process", 1)
		if len(lines) == 0 {
			t.Errorf("no log line says the state was busy")
		}
		for _, l := range lines {
			if !strings.Contains(l, "denied: limit state") || strings.Contains(l, digits(frozenNumber)) {
				t.Errorf("log line %q", l)
			}
		}
	})
}

// stopHolder polls /proc/locks until pid holds a flock (the helper takes them
// only on its state files, whatever their layout), then stops it with SIGSTOP
// and reports whether it still holds the lock stopped. It gives up after
// within, when the process is gone, or when past() says it is past its locks.
func stopHolder(t *testing.T, pid int, within time.Duration, past func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		if !holdsLock(data, pid) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil || past() {
				return false
			}
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return false
		}
		if !waitStopped(t, pid) {
			return false
		}
		data, err = os.ReadFile("/proc/locks")
		return err == nil && holdsLock(data, pid)
	}
	return false
}

// holdsLock reports whether /proc/locks (data) lists a granted flock of pid.
func holdsLock(data []byte, pid int) bool {
	p := strconv.Itoa(pid)
	for line := range strings.Lines(string(data)) {
		// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->".
		if f := strings.Fields(line); len(f) >= 6 && f[1] == "FLOCK" && f[4] == p {
			return true
		}
	}
	return false
}

// waitStopped waits up to 10 s for pid to be in state T (stopped).
func waitStopped(t *testing.T, pid int) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// "PID (COMM) STATE ...": the state follows the last ")".
		if f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d did not stop within 10s", pid)
	return false
}

// procGids returns the real and effective gid of pid.
func procGids(t *testing.T, pid int) (real, eff uint32) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "Gid:" {
			r, _ := strconv.ParseUint(f[1], 10, 32)
			e, _ := strconv.ParseUint(f[2], 10, 32)
			return uint32(r), uint32(e)
		}
	}
	t.Fatalf("/proc/%d/status has no Gid line", pid)
	return 0, 0
}

func fileGID(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Gid
}

// plantFile writes a state file as the helper would leave it (root:gid 0660).
func plantFile(t *testing.T, path string, data []byte, gid uint32) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o660); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 0, int(gid)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		t.Fatal(err)
	}
}

// limitFile is the name limits gives a key's file (see package limits).
func limitFile(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return kind + "-" + hex.EncodeToString(sum[:16])
}

// digits keeps the digits of a number written with + and spaces.
func digits(number string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
}
