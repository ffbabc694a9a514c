package limits_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pam-sms/pam_sms/limits"
)

// TestPrune plants every kind of state file, stale and live, and checks that
// Prune removes exactly the stale ones and leaves what is not state alone.
func TestPrune(t *testing.T) {
	s, dir := openStore(t)
	const w = time.Hour
	l := limits.Limits{Window: w, PerUser: 5, PerNumber: 5, PerHost: 5, Daily: 5}
	take := func(k limits.Keys, at time.Time) {
		t.Helper()
		if err := s.Take(l, k, at); err != nil {
			t.Fatalf("Setup: %v", err)
		}
	}
	take(limits.Keys{"old", "491700000001", "192.0.2.1"}, t0.Add(-25*time.Hour))      // all stale, day 03-13
	take(limits.Keys{"recent", "491700000002", "192.0.2.2"}, t0.Add(-30*time.Minute)) // the bucket before: live
	take(limits.Keys{"today", "491700000003", ""}, t0)                                // live
	user := func(name string) string { return limits.KeyFile("user", name) }
	old, young := t0.Add(-2*limits.TempMaxAge), t0.Add(-limits.TempMaxAge/2)
	plant := []struct {
		name    string
		content string
		mtime   time.Time // zero: now
	}{
		{name: "." + bucket("user", "gone", w, t0) + ".0123456789abcdef.tmp", mtime: old},
		{name: "." + bucket("user", "gone2", w, t0) + ".0123456789abcdef.tmp", mtime: young}, // may be in use
		{name: ".day-20250314.0123456789abcdef.tmp", mtime: old},
		{name: ".day-20250314.fedcba9876543210.tmp", mtime: young},
		// Earlier layouts.
		{name: ".lock"},
		{name: "daily-20250313", content: "pam-sms-limits 1\n1741860000\n"},
		{name: "daily-20250314", content: "pam-sms-limits 1\n1741953600\n"},
		{name: user("legacy"), content: "pam-sms-limits 1\n1741953600\n"},
		{name: user("legacy") + ".lock"},
		{name: user("legacy") + ".3600.483876", content: record("user", "legacy", t0.Unix())},
		{name: "." + user("legacy") + ".tmp", mtime: old},
		// Not state.
		{name: "README"},
		{name: "user-notahash"},
		{name: "user-z.3600.1"},
		{name: "user-a.0.483876"},
		{name: "user-a.3600.0483876"},
		{name: "day-2025"},
		// Corrupt: stale ones go unread, live ones are reported and kept.
		{name: bucket("user", "corrupt", w, t0), content: "junk"},
		{name: limits.ShardFile(user("corrupt"), w, t0, 2), content: "junk"},
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

	got, err := s.Prune(t0)
	wantErr := "limits: " + filepath.Join(dir, bucket("user", "corrupt", w, t0)) + `: record 1: bad record "junk"`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Prune error = %v, want %s", err, wantErr)
	}
	want := limits.Pruned{User: 2, Number: 1, Host: 1, Day: 1, Temp: 3, Legacy: 6}
	if got != want {
		t.Errorf("Prune = %+v, want %+v", got, want)
	}
	back := func(kind, key string, n int64) string {
		base := limits.KeyFile(kind, key)
		if kind == limits.KeyHost {
			base = limits.HostFile(key)
		}
		return limits.ShardFile(base, w, t0, n)
	}
	wantNames := []string{
		".day-20250314.fedcba9876543210.tmp",
		"." + bucket("user", "gone2", w, t0) + ".0123456789abcdef.tmp",
		"README",
		"day-2025",
		"day-20250314",
		back("host", "192.0.2.2", 1),
		back("number", "491700000002", 1),
		back("number", "491700000003", 0),
		back("user", "corrupt", 0),
		"user-a.0.483876",
		"user-a.3600.0483876",
		"user-notahash",
		"user-z.3600.1",
		back("user", "recent", 1),
		back("user", "today", 0),
	}
	if diff := cmp.Diff(sorted(wantNames), listDir(t, dir)); diff != "" {
		t.Errorf("files after Prune (-want +got):\n%s", diff)
	}

	// The live keys still count, and the next Prune finds nothing new.
	c, err := s.Count(l, limits.Keys{"recent", "491700000002", "192.0.2.2"}, t0)
	if want := (limits.Counts{User: 1, Number: 1, Host: 1, Daily: 2}); err != nil || c != want {
		t.Errorf("Count after Prune = %+v, %v; want %+v", c, err, want)
	}
	if err := os.Remove(filepath.Join(dir, back("user", "corrupt", 0))); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Prune(t0); err != nil || got != (limits.Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing", got, err)
	}
	// An hour later the bucket before is stale too, and so are the young
	// temporary files.
	got, err = s.Prune(t0.Add(time.Hour))
	if want := (limits.Pruned{User: 1, Number: 1, Host: 1, Temp: 2}); err != nil || got != want {
		t.Errorf("Prune an hour later = %+v, %v; want %+v", got, err, want)
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

// Takes that run beside Prune lose nothing: Prune removes only buckets that
// no Take reads.
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
	if got := readRecords(t, filepath.Join(dir, bucket("user", "alice", time.Hour, t0))); len(got) != n {
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
