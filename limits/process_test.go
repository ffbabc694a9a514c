package limits_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"golang.org/x/sys/unix"
)

// The tests in this file run the test binary again as a child process
// (TestLimitsChild) in one of these modes, selected by childEnv; the child
// reads its other settings from PAM_SMS_LIMITS_* variables.
const (
	childEnv  = "PAM_SMS_LIMITS_CHILD"
	modePause = "pause"  // Take as pausedKeys, pausing at STAGE: print PAUSED STAGE, wait for EOF on stdin
	modeDay   = "day"    // after EOF on stdin, N Takes with only a daily limit of DAILY
	modeStorm = "storm"  // print READY, then Take forever, printing OK after each
	modeLimit = "rlimit" // set RLIMIT (fsize or nofile) to leave LEFT, then Take once
)

// stormLimits are high enough that a storm never reaches them.
var stormLimits = limits.Limits{Window: time.Hour, PerUser: limits.MaxLimit, PerNumber: limits.MaxLimit,
	PerHost: limits.MaxLimit, Daily: limits.MaxLimit}

var stormKeys = limits.Keys{User: "alice", Number: "491721234567", Host: "192.0.2.1"}

// TestLimitsChild is the child of the tests in this file; it does nothing in a
// normal run.
func TestLimitsChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("child process of the tests in process_test.go")
	}
	dir := os.Getenv("PAM_SMS_LIMITS_DIR")
	sec, _ := strconv.ParseInt(os.Getenv("PAM_SMS_LIMITS_NOW"), 10, 64)
	now := time.Unix(sec, 0)
	s, err := limits.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	switch mode {
	case modePause:
		stage := os.Getenv("PAM_SMS_LIMITS_STAGE")
		limits.SetPause(func(at string) {
			if at == stage {
				fmt.Println("PAUSED " + at)
				io.Copy(io.Discard, os.Stdin)
			}
		})
		if err := s.Take(pausedLimits, pausedKeys, now); err != nil {
			t.Fatal(err)
		}
	case modeDay:
		n, _ := strconv.Atoi(os.Getenv("PAM_SMS_LIMITS_N"))
		daily, _ := strconv.Atoi(os.Getenv("PAM_SMS_LIMITS_DAILY"))
		io.Copy(io.Discard, os.Stdin)
		ok, exceeded := 0, 0
		for i := range n {
			err := s.Take(limits.Limits{Daily: daily}, limits.Keys{User: fmt.Sprint(os.Getpid(), i)}, now)
			var ee *limits.ExceededError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ee) && ee.Limit == limits.LimitDaily:
				exceeded++
			default:
				t.Fatal(err)
			}
		}
		fmt.Printf("RESULT ok=%d exceeded=%d\n", ok, exceeded)
	case modeStorm:
		fmt.Println("READY")
		for {
			if err := s.Take(stormLimits, stormKeys, now); err != nil {
				fmt.Println("ERR", err)
				os.Exit(1)
			}
			// One write(2) of a short line: a pipe takes it whole or not at all.
			os.Stdout.WriteString("OK\n")
		}
	case modeLimit:
		left, _ := strconv.Atoi(os.Getenv("PAM_SMS_LIMITS_LEFT"))
		resource, limit := unix.RLIMIT_FSIZE, uint64(left)
		if os.Getenv("PAM_SMS_LIMITS_RLIMIT") == "nofile" {
			resource, limit = unix.RLIMIT_NOFILE, uint64(freeFD(t, left))
		}
		// SIGXFSZ needs no handling: the Go runtime catches it and does
		// nothing, so a write past RLIMIT_FSIZE fails with EFBIG, as in the
		// helper.
		if err := unix.Setrlimit(resource, &unix.Rlimit{Cur: limit, Max: limit}); err != nil {
			t.Fatal(err)
		}
		if err := s.Take(stormLimits, stormKeys, now); err != nil {
			fmt.Println("ERR", err)
			return
		}
		fmt.Println("OK")
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}

// freeFD returns the descriptor number below which exactly n descriptors are
// free: the kernel hands out the lowest free one, and RLIMIT_NOFILE bounds the
// number, not the count.
func freeFD(t *testing.T, n int) int {
	for fd := 0; fd < 1<<16; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
			continue // open
		}
		if n == 0 {
			return fd
		}
		n--
	}
	t.Fatal("no free descriptor")
	return 0
}

// child is a running TestLimitsChild.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, line by line; closed at EOF
	stderr *lockedBuffer
	done   chan struct{} // closed when stdout is drained
	mu     sync.Mutex
	out    []string // every line read so far
}

func startChild(t *testing.T, mode, dir string, env ...string) *child {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLimitsChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "PAM_SMS_LIMITS_DIR="+dir,
		"PAM_SMS_LIMITS_NOW="+strconv.FormatInt(t0.Unix(), 10))
	// The race detector sleeps a second at exit unless told otherwise.
	cmd.Env = append(cmd.Env, strings.TrimSpace("GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE")))
	cmd.Env = append(cmd.Env, env...)
	c := &child{cmd: cmd, lines: make(chan string, 1024), stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("Setup: start child: %v", err)
	}
	go func() {
		defer close(c.done)
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.out = append(c.out, sc.Text())
			c.mu.Unlock()
			select {
			case c.lines <- sc.Text():
			default: // nobody waits for single lines of a storm
			}
		}
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

// expect waits for the child's next line, which must be want.
func (c *child) expect(t *testing.T, want string, within time.Duration) {
	t.Helper()
	select {
	case got, ok := <-c.lines:
		if !ok || got != want {
			t.Fatalf("child said %q (open %v), want %q; stderr:\n%s", got, ok, want, c.stderr)
		}
	case <-time.After(within):
		t.Fatalf("child did not say %q within %s; stderr:\n%s", want, within, c.stderr)
	}
}

// kill ends the child with SIGKILL (stopped or not) and reaps it.
func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.done
	c.cmd.Wait()
}

// wait waits for a normal exit and returns everything the child printed.
func (c *child) wait(t *testing.T) []string {
	t.Helper()
	<-c.done // Wait closes stdout: read it to the end first
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v; stderr:\n%s", err, c.stderr)
	}
	return c.output()
}

func (c *child) output() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.out...)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// stop sends SIGSTOP and waits until the kernel reports the process stopped.
func stop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// "PID (COMM) STATE ...": the state follows the last ")".
		if f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop within 10s", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// pausedLimits and pausedKeys are the Take of a child stopped half-way: a user
// file that exists (alice's), a number and host file that do not yet.
var (
	pausedLimits = limits.Limits{Window: time.Hour, PerUser: 2, PerNumber: 10, PerHost: 10, Daily: 100}
	pausedKeys   = limits.Keys{User: "alice", Number: "491720000000", Host: "192.0.2.9"}
)

// TestStoppedHolder stops (SIGSTOP) another process in the middle of its
// Take, at each of its stages, as a user who runs the setgid helper by hand
// can: Takes of other keys and of the very same keys, Count, Reset and Prune
// all go on at once, since nothing is held. What the stopped Take appended
// counts (alice's per_user is then reached); what it had not appended does not.
func TestStoppedHolder(t *testing.T) {
	// fast is a generous ceiling for what must not wait at all (a Take takes
	// well under a millisecond).
	const fast = 300 * time.Millisecond
	alice := limits.Keys{User: "alice", Number: "491721234567", Host: "192.0.2.1"}
	bob := limits.Keys{User: "bob", Number: "491729999999", Host: "192.0.2.2"}
	tests := []struct {
		stage   string
		counted bool // the stopped Take's records are in
	}{
		{"loaded", false},
		{"prepared", false},
		{"appended", true},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			t.Parallel()
			s, dir := openStore(t)
			if err := s.Take(pausedLimits, alice, t0); err != nil {
				t.Fatalf("Setup: %v", err)
			}
			c := startChild(t, modePause, dir, "PAM_SMS_LIMITS_STAGE="+tt.stage)
			c.expect(t, "PAUSED "+tt.stage, 30*time.Second)
			stop(t, c.cmd.Process.Pid)

			start := time.Now()
			want := limits.Counts{User: 1, Number: 0, Host: 0, Daily: 1}
			if tt.counted {
				want = limits.Counts{User: 2, Number: 1, Host: 1, Daily: 1}
			}
			if got, err := s.Count(pausedLimits, pausedKeys, t0); err != nil || got != want {
				t.Errorf("Count beside the stopped Take = %+v, %v; want %+v", got, err, want)
			}
			if err := s.Take(pausedLimits, bob, t0); err != nil {
				t.Errorf("Take of other keys: %v", err)
			}
			err := s.Take(pausedLimits, pausedKeys, t0)
			var ee *limits.ExceededError
			if tt.counted && (!errors.As(err, &ee) || ee.Limit != limits.LimitPerUser) {
				t.Errorf("Take of the same keys = %v, want per_user reached (the stopped Take's record counts)", err)
			}
			if !tt.counted && err != nil {
				t.Errorf("Take of the same keys = %v, want success", err)
			}
			if err := s.Reset(pausedKeys); err != nil {
				t.Errorf("Reset: %v", err)
			}
			if _, err := s.Prune(t0); err != nil {
				t.Errorf("Prune: %v", err)
			}
			if took := time.Since(start); took > fast {
				t.Errorf("Count, two Takes, Reset and Prune took %s beside a stopped Take; nothing may wait for it", took)
			}
			c.kill()
			for _, name := range listDir(t, dir) {
				if strings.HasSuffix(name, ".tmp") {
					t.Errorf("the killed Take left %s", name)
				}
			}
		})
	}
}

// TestDailyExactAcrossProcesses races processes for the last daily slots: the
// day file is never locked, yet never more sends than the limit pass.
func TestDailyExactAcrossProcesses(t *testing.T) {
	const (
		daily   = 60
		free    = 12 // slots left when the race starts
		procs   = 6
		perProc = 6
	)
	_, dir := openStore(t)
	prefill := bytes.Repeat(fmt.Appendf(nil, "%010d\n", t0.Unix()), daily-free)
	if err := os.WriteFile(filepath.Join(dir, limits.DayFile(t0)), prefill, 0o660); err != nil {
		t.Fatal(err)
	}
	var children []*child
	for range procs {
		children = append(children, startChild(t, modeDay, dir,
			"PAM_SMS_LIMITS_N="+strconv.Itoa(perProc), "PAM_SMS_LIMITS_DAILY="+strconv.Itoa(daily)))
	}
	for _, c := range children {
		c.stdin.Close() // go
	}
	ok, exceeded := 0, 0
	for i, c := range children {
		var o, e int
		found := false
		for _, line := range c.wait(t) {
			if _, err := fmt.Sscanf(line, "RESULT ok=%d exceeded=%d", &o, &e); err == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("child %d printed no result; stderr:\n%s", i, c.stderr)
		}
		ok += o
		exceeded += e
	}
	if ok != free || exceeded != procs*perProc-free {
		t.Errorf("%d sends passed and %d were refused, want %d and %d", ok, exceeded, free, procs*perProc-free)
	}
	s, _ := limits.Open(dir)
	defer s.Close()
	c, err := s.Count(limits.Limits{Window: time.Hour}, limits.Keys{}, t0)
	// Losers of a race leave their record (at most one per process in flight).
	if err != nil || c.Daily < daily || c.Daily > daily+procs {
		t.Errorf("day count %d (%v), want %d to %d", c.Daily, err, daily, daily+procs)
	}
}

// TestKillStorm SIGKILLs processes at random moments while they Take: every
// file stays readable, no send that Take confirmed is lost, and at most one
// send per killed process is counted beyond them.
func TestKillStorm(t *testing.T) {
	const (
		rounds = 5
		procs  = 3
	)
	_, dir := openStore(t)
	ok, killed := 0, 0
	for round := range rounds {
		var children []*child
		for range procs {
			children = append(children, startChild(t, modeStorm, dir))
		}
		for _, c := range children {
			c.expect(t, "READY", 30*time.Second)
		}
		time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond)
		for _, i := range rand.Perm(procs) {
			children[i].cmd.Process.Kill()
			time.Sleep(time.Duration(rand.IntN(2_000)) * time.Microsecond)
		}
		for _, c := range children {
			<-c.done
			c.cmd.Wait()
			for _, line := range c.output() {
				switch line {
				case "READY":
				case "OK":
					ok++
				default:
					t.Errorf("round %d: child said %q; stderr:\n%s", round, line, c.stderr)
				}
			}
			killed++
		}
	}
	t.Logf("%d confirmed sends, %d processes killed", ok, killed)
	s, err := limits.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Count(stormLimits, stormKeys, t0)
	if err != nil {
		t.Fatalf("Count after the storm: %v", err)
	}
	for _, n := range []struct {
		key string
		n   int
	}{{"user", c.User}, {"number", c.Number}, {"host", c.Host}, {"day", c.Daily}} {
		if n.n < ok || n.n > ok+killed {
			t.Errorf("%s count %d, want %d to %d (confirmed sends, plus at most one per killed process)", n.key, n.n, ok, ok+killed)
		}
	}
	if err := s.Take(stormLimits, stormKeys, t0); err != nil {
		t.Errorf("Take after the storm: %v", err)
	}
	if _, err := s.Prune(t0); err != nil {
		t.Errorf("Prune after the storm: %v", err)
	}
}

// TestExhaustedRlimits runs one Take in a process whose caller exhausted a
// resource first, as the caller of the setgid helper may: the Take fails and
// the state is unchanged.
func TestExhaustedRlimits(t *testing.T) {
	tests := []struct {
		name, resource string
		left           int // for nofile: descriptors left beyond those open
	}{
		{"RLIMIT_FSIZE=0", "fsize", 0},
		{"no descriptor left", "nofile", 0},
		{"one descriptor left", "nofile", 1},
		{"two descriptors left", "nofile", 2},
		{"three descriptors left", "nofile", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t)
			if err := s.Take(stormLimits, stormKeys, t0); err != nil {
				t.Fatalf("Setup: %v", err)
			}
			before := snapshot(t, dir)
			c := startChild(t, modeLimit, dir, "PAM_SMS_LIMITS_RLIMIT="+tt.resource,
				"PAM_SMS_LIMITS_LEFT="+strconv.Itoa(tt.left))
			out := slices.DeleteFunc(c.wait(t), func(l string) bool { return l == "PASS" })
			if len(out) != 1 || !strings.HasPrefix(out[0], "ERR limits: ") {
				t.Errorf("child said %q, want a limits error", out)
			}
			if after := snapshot(t, dir); !maps.Equal(before, after) {
				t.Errorf("state changed:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// snapshot maps each file of dir to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range listDir(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = string(data)
	}
	return m
}
