package limits_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/limits"
)

// TestTakeConcurrentGoroutines proves that no increment is lost between
// goroutines and that exactly the limit passes, on a key file and on the day
// file.
func TestTakeConcurrentGoroutines(t *testing.T) {
	const (
		callers = 200
		limit   = 150
	)
	tests := []struct {
		name  string
		l     limits.Limits
		keys  func(i int) limits.Keys
		limit string
		count func(c limits.Counts) int
	}{
		{"per_user", limits.Limits{Window: 15 * time.Minute, PerUser: limit},
			func(i int) limits.Keys { return limits.Keys{User: "alice", Number: fmt.Sprint(i)} },
			limits.LimitPerUser, func(c limits.Counts) int { return c.User }},
		{"per_host beside per_user", limits.Limits{Window: 15 * time.Minute, PerUser: 1, PerHost: limit},
			func(i int) limits.Keys { return limits.Keys{User: fmt.Sprint("u", i), Host: "192.0.2.1"} },
			limits.LimitPerHost, func(c limits.Counts) int { return c.Host }},
		{"daily", limits.Limits{Daily: limit},
			func(i int) limits.Keys { return limits.Keys{User: fmt.Sprint("u", i)} },
			limits.LimitDaily, func(c limits.Counts) int { return c.Daily }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			start := make(chan struct{})
			errs := make(chan error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					<-start
					// Spread the clock a little so that records differ.
					errs <- s.Take(tt.l, tt.keys(i), t0.Add(time.Duration(i%7)*time.Second))
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			ok, exceeded := 0, 0
			for err := range errs {
				var ee *limits.ExceededError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &ee) && ee.Limit == tt.limit && ee.Max == limit:
					exceeded++
				default:
					t.Errorf("Take: %v", err)
				}
			}
			if ok != limit || exceeded != callers-limit {
				t.Errorf("%d passed and %d exceeded, want %d and %d", ok, exceeded, limit, callers-limit)
			}
			c, err := s.Count(limits.Limits{Window: 15 * time.Minute}, tt.keys(0), t0.Add(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			// Losers of a race leave their record: at most one per
			// goroutine that got past the size check at the same moment.
			if got := tt.count(c); got < limit || got > callers {
				t.Errorf("state holds %d records, want %d to %d", got, limit, callers)
			}
		})
	}
}

const helperEnv = "PAM_SMS_LIMITS_HELPER_DIR"

// TestTakeAcrossProcesses runs Take from several processes at once (the test
// binary re-executed as TestHelperProcess) and checks that the appends' positions
// make the count exact across them.
func TestTakeAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const (
		procs   = 5
		perProc = 40
		limit   = 120
	)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   strings.Builder
	}
	children := make([]*child, procs)
	for i := range children {
		c := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")}
		c.cmd.Env = append(os.Environ(),
			strings.TrimSpace("GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE")),
			helperEnv+"="+dir,
			"PAM_SMS_LIMITS_HELPER_N="+strconv.Itoa(perProc),
			"PAM_SMS_LIMITS_HELPER_MAX="+strconv.Itoa(limit),
			"PAM_SMS_LIMITS_HELPER_NOW="+strconv.FormatInt(t0.Unix(), 10))
		c.cmd.Stdout = &c.out
		c.cmd.Stderr = &c.out
		var err error
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatalf("Setup: start helper process: %v", err)
		}
		children[i] = c
	}
	// Release them together: each child waits for EOF on stdin.
	for _, c := range children {
		c.stdin.Close()
	}
	ok, exceeded := 0, 0
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, c.out.String())
		}
		var o, e int
		found := false
		sc := bufio.NewScanner(strings.NewReader(c.out.String()))
		for sc.Scan() {
			if _, err := fmt.Sscanf(sc.Text(), "RESULT ok=%d exceeded=%d", &o, &e); err == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("helper %d printed no result:\n%s", i, c.out.String())
		}
		ok += o
		exceeded += e
	}
	if ok != limit || exceeded != procs*perProc-limit {
		t.Errorf("%d passed and %d exceeded across processes, want %d and %d", ok, exceeded, limit, procs*perProc-limit)
	}
	// Losers of the race for the last slots leave their record: at most one
	// per process.
	path := filepath.Join(dir, limits.ShardFile(limits.KeyFile("user", "alice"), time.Hour, t0, 0))
	if got := readRecords(t, path); len(got) < limit || len(got) > limit+procs {
		t.Errorf("state file holds %d records, want %d to %d", len(got), limit, limit+procs)
	}
}

// TestHelperProcess is the child of TestTakeAcrossProcesses; it does nothing in
// a normal run.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestTakeAcrossProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("PAM_SMS_LIMITS_HELPER_N"))
	limit, _ := strconv.Atoi(os.Getenv("PAM_SMS_LIMITS_HELPER_MAX"))
	sec, _ := strconv.ParseInt(os.Getenv("PAM_SMS_LIMITS_HELPER_NOW"), 10, 64)
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Fatal(err)
	}
	s, err := limits.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := limits.Limits{Window: time.Hour, PerUser: limit}
	ok, exceeded := 0, 0
	for i := range n {
		err := s.Take(l, limits.Keys{User: "alice", Number: fmt.Sprint(os.Getpid(), i)}, time.Unix(sec, 0))
		var ee *limits.ExceededError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ee):
			exceeded++
		default:
			t.Fatal(err)
		}
	}
	fmt.Printf("RESULT ok=%d exceeded=%d\n", ok, exceeded)
}
