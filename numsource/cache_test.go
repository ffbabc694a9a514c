package numsource

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/smsclient"
)

// TestCacheFile: written 0660 whatever the umask, read back, removed; a
// planted symbolic link is neither followed on read nor on removal.
func TestCacheFile(t *testing.T) {
	dir := t.TempDir()
	n, err := smsclient.ParseNumber("+49 170 5550001")
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Unix(1_700_000_000, 0)
	if err := writeCache(dir, "alice", n, seen); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, CacheFile("alice")))
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("cache file: %v, %v; want mode 0660", fi, err)
	}
	got, gotSeen, err := readCache(dir, "alice")
	if err != nil || got.Format(smsclient.FormatPlus) != n.Format(smsclient.FormatPlus) || !gotSeen.Equal(seen) {
		t.Errorf("readCache = %v, %v, %v", got.Masked(), gotSeen, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("state directory holds %d files, want 1 (no temporary file left)", len(entries))
	}
	if err := removeCache(dir, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readCache(dir, "alice"); err == nil {
		t.Error("readCache after removeCache found a number")
	}

	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("v1 1700000000 +491705550002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, CacheFile("bob"))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readCache(dir, "bob"); err == nil {
		t.Error("readCache followed a symbolic link")
	}
}

func TestParseCache(t *testing.T) {
	for _, bad := range []string{"", "v1 1 +491705550001", "v2 1 +491705550001\n", "v1 x +491705550001\n",
		"v1 1 12\n", "v1 1 +491705550001 extra\n"} {
		if _, _, err := parseCache([]byte(bad)); err == nil {
			t.Errorf("parseCache(%q) accepted", bad)
		}
	}
}

// TestPruneCache: older than the cache duration, or the cache off, goes;
// other files of the state directory stay.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	n, _ := smsclient.ParseNumber("+49 170 5550001")
	now := time.Now()
	_ = writeCache(dir, "old", n, now.Add(-25*time.Hour))
	_ = writeCache(dir, "new", n, now.Add(-time.Hour))
	other := filepath.Join(dir, "user-0123456789abcdef0123456789abcdef")
	_ = os.WriteFile(other, nil, 0o660)
	removed, err := PruneCache(dir, 24*time.Hour, now)
	if err != nil || removed != 1 {
		t.Fatalf("PruneCache = %d, %v; want 1", removed, err)
	}
	if _, _, err := readCache(dir, "new"); err != nil {
		t.Errorf("fresh cache file pruned: %v", err)
	}
	if removed, _ := PruneCache(dir, 0, now); removed != 1 {
		t.Errorf("PruneCache with the cache off removed %d, want 1", removed)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("PruneCache removed a limits file: %v", err)
	}
}
