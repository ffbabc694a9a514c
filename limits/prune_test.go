package limits_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pam-sms/pam_sms/limits"
)

// TestPrune plants every kind of state file, stale and live, and checks that
// Prune removes exactly the stale ones, never waits on a held lock and leaves
// what is not state alone.
func TestPrune(t *testing.T) {
	s, dir := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: 5, PerNumber: 5, PerHost: 5, Daily: 5}
	take := func(k limits.Keys, at time.Time) {
		t.Helper()
		if err := s.Take(l, k, at); err != nil {
			t.Fatalf("Setup: %v", err)
		}
	}
	take(limits.Keys{"old", "491700000001", "192.0.2.1"}, t0.Add(-25*time.Hour))    // all stale, day 03-13
	take(limits.Keys{"recent", "491700000002", "192.0.2.2"}, t0.Add(-23*time.Hour)) // live, day 03-13
	take(limits.Keys{"today", "491700000003", ""}, t0)                              // live, day 03-14
	user := func(name string) string { return limits.KeyFile("user", name) }
	old, young := t0.Add(-2*limits.TempMaxAge), t0.Add(-limits.TempMaxAge/2)
	plant := []struct {
		name    string
		content string
		mtime   time.Time // zero: now
	}{
		{name: user("empty")},                               // a refused first Take leaves an empty file
		{name: "." + user("recent") + ".tmp", mtime: young}, // its key is not locked: stale at any age
		{name: "." + user("gone") + ".tmp", mtime: old},     // its key is gone, old
		{name: "." + user("gone2") + ".tmp", mtime: young},  // its key is gone, young: may be in use
		{name: ".day-20250314.0123456789abcdef.tmp", mtime: old},
		{name: ".day-20250314.fedcba9876543210.tmp", mtime: young},
		{name: ".lock"},
		{name: "daily-20250313", content: "pam-sms-limits 1\n1741860000\n"},
		{name: "daily-20250314", content: "pam-sms-limits 1\n1741953600\n"},
		{name: "README"},
		{name: "user-notahash"},
		{name: "day-2025"},
		{name: user("corrupt"), content: "junk"},
		{name: user("locked")},
		{name: user("locked") + ".lock"},
		{name: "." + user("locked") + ".tmp", mtime: old},
	}
	for _, p := range plant {
		path := filepath.Join(dir, p.name)
		if err := os.WriteFile(path, []byte(p.content), 0o660); err != nil {
			t.Fatalf("Setup: %v", err)
		}
		if !p.mtime.IsZero() {
			if err := os.Chtimes(path, p.mtime, p.mtime); err != nil {
				t.Fatalf("Setup: %v", err)
			}
		}
	}
	// Another open file description holds the lock of a stale key, as a
	// stopped helper would.
	held, err := os.Open(filepath.Join(dir, user("locked")+".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	got, err := s.Prune(t0)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Prune took %s with a lock held; it must not wait", took)
	}
	wantErr := "limits: " + filepath.Join(dir, user("corrupt")) + `: line 1: not a pam-sms limits file (want header "pam-sms-limits 1")`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Prune error = %v, want %s", err, wantErr)
	}
	want := limits.Pruned{User: 2, Number: 1, Host: 1, Day: 1, Temp: 3, Legacy: 3, Busy: 1}
	if got != want {
		t.Errorf("Prune = %+v, want %+v", got, want)
	}
	wantNames := []string{
		".day-20250314.fedcba9876543210.tmp",
		"." + user("gone2") + ".tmp",
		"." + user("locked") + ".tmp",
		"README",
		"day-2025",
		"day-20250314",
		limits.HostFile("192.0.2.2"),
		limits.HostFile("192.0.2.2") + ".lock",
		limits.KeyFile("number", "491700000002"),
		limits.KeyFile("number", "491700000002") + ".lock",
		limits.KeyFile("number", "491700000003"),
		limits.KeyFile("number", "491700000003") + ".lock",
		user("corrupt"),
		user("corrupt") + ".lock",
		user("locked"),
		user("locked") + ".lock",
		"user-notahash",
		user("recent"),
		user("recent") + ".lock",
		user("today"),
		user("today") + ".lock",
	}
	if diff := cmp.Diff(sorted(wantNames), listDir(t, dir)); diff != "" {
		t.Errorf("files after Prune (-want +got):\n%s", diff)
	}

	// The live keys still count, and the next Prune finds nothing new.
	c, err := s.Count(l, limits.Keys{"recent", "491700000002", "192.0.2.2"}, t0)
	if err != nil || c != (limits.Counts{User: 0, Number: 0, Host: 0, Daily: 1}) {
		// Outside the one-hour window of l, but within MaxWindow: kept, not counted.
		t.Errorf("Count after Prune = %+v, %v", c, err)
	}
	c, err = s.Count(limits.Limits{Window: limits.MaxWindow}, limits.Keys{"recent", "491700000002", "192.0.2.2"}, t0)
	if err != nil || c.User != 1 || c.Number != 1 || c.Host != 1 {
		t.Errorf("Count over MaxWindow after Prune = %+v, %v", c, err)
	}
	held.Close()
	if err := os.Remove(filepath.Join(dir, user("corrupt"))); err != nil {
		t.Fatal(err)
	}
	got, err = s.Prune(t0)
	if want := (limits.Pruned{User: 1, Temp: 1}); err != nil || got != want {
		t.Errorf("second Prune = %+v, %v; want %+v (the released stale key and its temporary file)", got, err, want)
	}
}

// TestPruneEmptyDir checks the trivial case and that Prune reports a state
// directory it cannot list.
func TestPruneEmptyDir(t *testing.T) {
	s, _ := openStore(t)
	if got, err := s.Prune(t0); err != nil || got != (limits.Pruned{}) {
		t.Errorf("Prune of an empty directory = %+v, %v", got, err)
	}
}

// A Take that races with Prune over an empty key file (which Prune removes)
// still counts exactly: the file Take locked is checked to still be the named
// one.
func TestPruneDuringTakes(t *testing.T) {
	s, dir := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: limits.MaxLimit}
	done := make(chan struct{})
	pruneErr := make(chan error, 1)
	go func() {
		defer close(pruneErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Prune(t0); err != nil {
				pruneErr <- err
				return
			}
		}
	}()
	const n = 300
	for i := range n {
		if err := s.Take(l, limits.Keys{User: "alice"}, t0.Add(time.Duration(i%60)*time.Second)); err != nil {
			t.Fatalf("Take %d: %v", i, err)
		}
	}
	close(done)
	if err := <-pruneErr; err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if got := readRecords(t, filepath.Join(dir, limits.KeyFile("user", "alice"))); len(got) != n {
		t.Errorf("%d records after %d Takes beside Prune", len(got), n)
	}
	for _, name := range listDir(t, dir) {
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("temporary file %s left", name)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
