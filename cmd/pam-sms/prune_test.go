package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/numsource"
)

// keyFile and dayFile name state files as package limits does: the file of
// the key's shard (the first hex digit of its hash) for the bucket of now, in
// windows of 15 minutes (writeConfig's).
func keyFile(kind, key string, now time.Time) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("%s-%s.900.%d", kind, hex.EncodeToString(sum[:1])[:1], now.Unix()/900)
}

func dayFile(now time.Time) string { return "day-" + now.UTC().Format("20060102") }

// stateNames lists the state directory.
func stateNames(t *testing.T, state string) []string {
	t.Helper()
	ents, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestPrune runs pam-sms prune on a state directory with stale and live
// entries: the stale ones go, the live ones stay, and the output counts them
// without naming anyone.
func TestPrune(t *testing.T) {
	requireRoot(t)
	path, state := writeConfig(t, configOpts{limitsSection: "per_user = 5\nper_number = 5\nper_host = 5\ndaily = 50\n"})
	st, err := limits.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := limits.Limits{Window: 15 * time.Minute, PerUser: 5, PerNumber: 5, PerHost: 5, Daily: 50}
	now := time.Now()
	for _, s := range []struct {
		k  limits.Keys
		at time.Time
	}{
		{limits.Keys{User: "olduser", Number: "491700000001", Host: "192.0.2.1"}, now.Add(-25 * time.Hour)},
		{limits.Keys{User: "root", Number: testDigits, Host: "192.0.2.2"}, now},
	} {
		if err := st.Take(l, s.k, s.at); err != nil {
			t.Fatalf("Setup: %v", err)
		}
	}
	oldTemp := filepath.Join(state, "."+dayFile(now)+".0123456789abcdef.tmp")
	rootHash := sha256.Sum256([]byte("root"))
	for _, name := range []string{".lock", "daily-20250101", filepath.Base(oldTemp), "user-" + hex.EncodeToString(rootHash[:16]) + ".lock"} {
		p := filepath.Join(state, name)
		if err := os.WriteFile(p, nil, 0o660); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	live := []string{
		dayFile(now),
		keyFile("host", "192.0.2.2", now), keyFile("number", testDigits, now), keyFile("user", "root", now),
	}
	slices.Sort(live)

	r := run(t, "prune", "--json", "--config", path)
	if r.code != exitOK {
		t.Fatalf("prune: exit %d, stderr %s", r.code, r.stderr)
	}
	var rep pruneReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	want := pruneReport{StateDir: state, Removed: 8, User: 1, Number: 1, Host: 1, Day: 1, Temp: 1, Legacy: 3}
	if rep != want {
		t.Errorf("prune --json = %+v, want %+v", rep, want)
	}
	if got := stateNames(t, state); !slices.Equal(got, live) {
		t.Errorf("state after prune:\n%q\nwant\n%q", got, live)
	}

	r = run(t, "prune", "--config", path)
	wantText := state + ": removed 0 files: 0 user, 0 number and 0 client address counters, 0 day totals, " +
		"0 temporary files, 0 of an older version\n"
	if r.code != exitOK || r.stdout != wantText {
		t.Errorf("second prune: exit %d, stdout %q, want %q", r.code, r.stdout, wantText)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		assertNoSecrets(t, out)
		if strings.Contains(out, "olduser") || strings.Contains(out, "root") {
			t.Errorf("output names a user: %q", out)
		}
	}

	// root's counters still count.
	r = run(t, "limits", "show", "root", "--config", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "today (UTC): 1/50") || !strings.Contains(r.stdout, "1/5") {
		t.Errorf("limits show after prune: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A corrupt counter is kept and reported; prune fails so that the timer's
// unit shows it.
func TestPruneCorrupt(t *testing.T) {
	requireRoot(t)
	path, state := writeConfig(t, configOpts{})
	corrupt := filepath.Join(state, keyFile("user", "root", time.Now()))
	if err := os.WriteFile(corrupt, []byte("junk"), 0o660); err != nil {
		t.Fatal(err)
	}
	r := run(t, "prune", "--config", path)
	if r.code != exitFailed || !strings.Contains(r.stderr, corrupt+`: record 1: bad record "junk"`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(corrupt); err != nil {
		t.Errorf("corrupt file removed: %v", err)
	}
}

func TestPruneUsage(t *testing.T) {
	for _, args := range [][]string{{"prune", "extra"}, {"prune", "--bogus"}} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %s", args, r.code, exitUsage, r.stderr)
		}
	}
	r := run(t, "prune", "--config", "/nonexistent/pam_sms.conf")
	if r.code != exitProblem {
		t.Errorf("prune with a missing config: exit %d, want %d; stderr %s", r.code, exitProblem, r.stderr)
	}
}

// limits show reports today's total also when the daily limit is 0 (sends
// counted while it was set).
func TestLimitsShowDayWithoutDailyLimit(t *testing.T) {
	requireRoot(t)
	path, state := writeConfig(t, configOpts{limitsSection: "daily = 0\n"})
	st, err := limits.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 2 {
		if err := st.Take(limits.Limits{Daily: 10}, limits.Keys{User: "root"}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "limits", "show", "--config", path)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "window 15m0s; today (UTC): 2 (no limit)\n") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	j := run(t, "limits", "show", "--json", "--config", path)
	var rep limitsReport
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || rep.Daily != (counter{2, 0}) {
		t.Errorf("json daily %+v (%v), want 2 of no limit", rep.Daily, err)
	}
}

// TestPruneDirectoryCache: prune removes the directory cache's numbers older
// than [directory] cache and keeps the fresh ones; with no [directory], all.
func TestPruneDirectoryCache(t *testing.T) {
	requireRoot(t)
	path, state := writeConfig(t, configOpts{})
	now := time.Now()
	cache := func(user string, seen time.Time) string {
		p := filepath.Join(state, numsource.CacheFile(user))
		if err := os.WriteFile(p, fmt.Appendf(nil, "v1 %d +491705550001\n", seen.Unix()), 0o660); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old, fresh := cache("old", now.Add(-25*time.Hour)), cache("fresh", now.Add(-time.Hour))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\n[directory]\nuri = \"ldaps://127.0.0.1\"\nbase = \"dc=example\"\ncache = \"24h\"\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, "prune", "--config", path, "--json")
	var rep pruneReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || rep.DirCache != 1 {
		t.Fatalf("prune: exit %d, %v, %+v; stderr %s", r.code, err, rep, r.stderr)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("a cached number older than cache stayed")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh cached number went: %v", err)
	}
	noDir, state2 := writeConfig(t, configOpts{})
	state = state2
	cache("fresh", now)
	if r := run(t, "prune", "--config", noDir, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"directory_cache": 1`) {
		t.Errorf("prune without [directory]: exit %d\n%s", r.code, r.stdout)
	}
}
