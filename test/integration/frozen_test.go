package integration_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// A user runs the real setgid helper by hand and freezes it (SIGSTOP): at
// random moments of its run, and right after it appended its records to the
// limit state (caught by polling the state files), before its SMS. Nothing in
// the state directory is locked, so another user's login must not notice any
// of them; the frozen user's own send counts against its own budget (its
// record is in), and its own next login does not wait either.
func TestFrozenHelperStallsNobodyElse(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	testenv.CreateGroup(t, "smsintfzg")
	frozen := testenv.CreateUser(t, "smsintfz1", "S3cret-pass-fz1")
	testenv.CreateUser(t, "smsintfz2", "S3cret-pass-fz2")
	gw := fakegw.Start(t)
	const frozenNumber, otherNumber = "+49 170 5550051", "+49 170 5550052"
	in := installSetgid(t, build, "smsintfzg", gw, map[string]string{"smsintfz1": frozenNumber, "smsintfz2": otherNumber})
	gid := fileGID(t, in.conf)
	state := filepath.Join(filepath.Dir(in.conf), "state")
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, in.conf, "timeout=30")+"\n")
	var stopped []int
	t.Cleanup(func() {
		for _, pid := range stopped {
			syscall.Kill(pid, syscall.SIGKILL) // wakes a stopped process too
		}
	})
	freeze := func(pid int) {
		t.Helper()
		if syscall.Kill(pid, syscall.SIGSTOP) != nil || !waitStopped(t, pid) {
			return // it had ended
		}
		stopped = append(stopped, pid)
		if real, eff := procGids(t, pid); real == gid || eff != gid {
			t.Fatalf("Setup: the frozen helper runs with gids %d/%d, want real the user's, effective %d (setgid)", real, eff, gid)
		}
	}
	// start starts a hand-run helper and returns once it runs setgid (the
	// process starts as the test's child and then execs the helper).
	start := func() *helperSession {
		h := startHelperAs(t, in, frozen)
		h.send(t, "user smsintfz1", "rhost ", "service screenlock", "tty ", "end ")
		pid := h.cmd.Process.Pid
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid)); err != nil {
				break
			}
			if _, eff := procGids(t, pid); eff == gid {
				return h
			}
		}
		t.Fatalf("Setup: helper %d never ran setgid", pid)
		return nil
	}
	login := func(t *testing.T, user, number string) {
		t.Helper()
		to := "00" + digits(number)
		sent := len(gw.Messages())
		begin := time.Now()
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: user, Rhost: "192.0.2.52",
			Limit: 20 * time.Second, Answer: func(n int, m pamrun.Msg) (string, error) {
				for _, sms := range gw.Messages()[sent:] {
					if sms.To == to {
						if code, ok := fakegw.ParseCode(sms.Text); ok {
							return code, nil
						}
					}
				}
				return "", fmt.Errorf("prompt %q before an SMS to %s", m.Text, to)
			}})
		took := time.Since(begin)
		checkResult(t, res, nil)
		if took > 5*time.Second {
			t.Errorf("%s's login took %s beside %d frozen helpers; want a few seconds at most", user, took, len(stopped))
		}
		t.Logf("%s's login beside %d frozen helpers: %s", user, len(stopped), took)
	}

	t.Run("frozen at random moments", func(t *testing.T) {
		// A run takes some milliseconds to its SMS; the delays spread over
		// its start, config, number lookup, limits, send. Each stays frozen.
		for _, delay := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 7 * time.Millisecond,
			15 * time.Millisecond, time.Duration(rand.Int64N(int64(40 * time.Millisecond)))} {
			h := start()
			time.Sleep(delay)
			freeze(h.cmd.Process.Pid)
			login(t, "smsintfz2", otherNumber)
		}
	})

	t.Run("frozen right after its records are in", func(t *testing.T) {
		store, err := limits.Open(state)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		l := limits.Limits{Window: 15 * time.Minute}
		keys := limits.Keys{User: "smsintfz1", Number: digits(frozenNumber)}
		count := func() limits.Counts {
			t.Helper()
			c, err := store.Count(l, keys, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		// Poll the frozen user's state until its record appears, then stop
		// the run at once; it counts only if its SMS had not gone out yet.
		const attempts = 30
		var before limits.Counts
		caught := false
		for i := 1; i <= attempts && !caught; i++ {
			before = count()
			sent := gw.Count()
			h := start()
			pid := h.cmd.Process.Pid
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && count().User == before.User {
			}
			freeze(pid)
			caught = count().User == before.User+1 && gw.Count() == sent && slices.Contains(stopped, pid)
			if !caught {
				t.Logf("attempt %d: helper %d not caught between its append and its SMS", i, pid)
			}
		}
		if !caught {
			t.Fatalf("the hand-run helper was never caught between its append and its SMS in %d attempts", attempts)
		}
		login(t, "smsintfz2", otherNumber)

		// The frozen send counts against its own user and number, and its
		// user's own login neither waits nor is refused (per_user 1000).
		if got := count(); got.User != before.User+1 || got.Number != before.Number+1 {
			t.Errorf("counts %+v beside the frozen run, want one more user and number record than %+v", got, before)
		}
		login(t, "smsintfz1", frozenNumber)
		if got := count(); got.User != before.User+2 {
			t.Errorf("user count %d after the frozen user's own login, want %d", got.User, before.User+2)
		}
	})
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

// digits keeps the digits of a number written with + and spaces.
func digits(number string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
}
