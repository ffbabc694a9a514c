package limits_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pam-sms/pam_sms/limits"
)

// t0 is a fixed clock: 2025-03-14 12:00:00 UTC.
var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func openStore(t testing.TB) (*limits.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := limits.Open(dir)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// readRecords returns the records of a key file, failing on a record that
// is not 32 hex digits, a space, ten digits and a newline.
func readRecords(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.SplitAfter(string(data), "\n")
	recs = recs[:len(recs)-1]
	for _, r := range recs {
		if len(r) != limits.KeyRecordLen || r[32] != ' ' || strings.Trim(r[33:43], "0123456789") != "" || strings.TrimSpace(r[43:]) != "" {
			t.Fatalf("%s: bad record %q in %q", path, r, data)
		}
	}
	return recs
}

// base is the key file base of a key, as package limits names it.
func base(kind, key string) string {
	if kind == limits.KeyHost {
		return limits.HostFile(key)
	}
	return limits.KeyFile(kind, key)
}

// bucket names the key file that counts a key's sends at now in windows of w.
func bucket(kind, key string, w time.Duration, now time.Time) string {
	return limits.ShardFile(base(kind, key), w, now, 0)
}

// record is a key file record of key at sec.
func record(kind, key string, sec int64) string {
	return padded(fmt.Sprintf("%s %010d", limits.Hash(base(kind, key)), sec))
}

// padded pads the start of a key file record (hash, space, time) to a record.
func padded(start string) string {
	return start + strings.Repeat(" ", limits.KeyRecordLen-1-len(start)) + "\n"
}

func TestTakeReachesEachLimitExactly(t *testing.T) {
	const w = 15 * time.Minute
	tests := []struct {
		name    string
		l       limits.Limits
		keys    func(i int) limits.Keys
		wantOK  int    // sends that pass
		wantErr string // error of the next one; "" = none within 50 tries
	}{
		{
			name: "per_user",
			l:    limits.Limits{Window: w, PerUser: 3},
			keys: func(i int) limits.Keys {
				return limits.Keys{"alice", fmt.Sprint(4917000 + i), fmt.Sprintf("192.0.2.%d", i)}
			},
			wantOK:  3,
			wantErr: "limits: per_user limit of 3 per 15m0s reached",
		},
		{
			name: "per_number",
			l:    limits.Limits{Window: w, PerNumber: 4},
			keys: func(i int) limits.Keys {
				return limits.Keys{fmt.Sprint("u", i), "491721234567", fmt.Sprintf("192.0.2.%d", i)}
			},
			wantOK:  4,
			wantErr: "limits: per_number limit of 4 per 15m0s reached",
		},
		{
			name: "per_host",
			l:    limits.Limits{Window: w, PerHost: 5},
			keys: func(i int) limits.Keys {
				return limits.Keys{fmt.Sprint("u", i), fmt.Sprint(4917000 + i), "2001:db8::1"}
			},
			wantOK:  5,
			wantErr: "limits: per_host limit of 5 per 15m0s reached",
		},
		{
			name: "per_host counts spellings of one address together",
			l:    limits.Limits{Window: w, PerHost: 2},
			keys: func(i int) limits.Keys {
				return limits.Keys{fmt.Sprint("u", i), fmt.Sprint(4917000 + i), []string{"192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1"}[i]}
			},
			wantOK:  2,
			wantErr: "limits: per_host limit of 2 per 15m0s reached",
		},
		{
			name:    "daily",
			l:       limits.Limits{Window: w, Daily: 6},
			keys:    func(i int) limits.Keys { return limits.Keys{fmt.Sprint("u", i), fmt.Sprint(4917000 + i), ""} },
			wantOK:  6,
			wantErr: "limits: daily limit of 6 reached",
		},
		{
			name:    "daily without window",
			l:       limits.Limits{Daily: 2},
			keys:    func(i int) limits.Keys { return limits.Keys{"alice", "491721234567", "192.0.2.1"} },
			wantOK:  2,
			wantErr: "limits: daily limit of 2 reached",
		},
		{
			name:    "first limit in order wins",
			l:       limits.Limits{Window: w, PerUser: 2, PerNumber: 2, PerHost: 2, Daily: 2},
			keys:    func(i int) limits.Keys { return limits.Keys{"alice", "491721234567", "192.0.2.1"} },
			wantOK:  2,
			wantErr: "limits: per_user limit of 2 per 15m0s reached",
		},
		{
			name:   "empty host is skipped",
			l:      limits.Limits{Window: w, PerHost: 1},
			keys:   func(i int) limits.Keys { return limits.Keys{"alice", "491721234567", ""} },
			wantOK: 50,
		},
		{
			name:   "zero means unlimited",
			l:      limits.Limits{Window: w},
			keys:   func(i int) limits.Keys { return limits.Keys{"alice", "491721234567", "192.0.2.1"} },
			wantOK: 50,
		},
		{
			name:   "zero means unlimited, even without a window",
			l:      limits.Limits{},
			keys:   func(i int) limits.Keys { return limits.Keys{"", "", ""} },
			wantOK: 50,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			for i := range tt.wantOK {
				if err := s.Take(tt.l, tt.keys(i), t0.Add(time.Duration(i)*time.Second)); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			err := s.Take(tt.l, tt.keys(tt.wantOK), t0.Add(time.Duration(tt.wantOK)*time.Second))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("send %d: %v", tt.wantOK+1, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("send %d: got error %v, want %q", tt.wantOK+1, err, tt.wantErr)
			}
			var ee *limits.ExceededError
			if !errors.As(err, &ee) || ee.Max == 0 {
				t.Fatalf("error %#v is not an *ExceededError", err)
			}
		})
	}
}

func TestRefusedTakeRecordsNothing(t *testing.T) {
	s, _ := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: 10, PerNumber: 1, PerHost: 10, Daily: 10}
	k := limits.Keys{"alice", "491721234567", "192.0.2.1"}
	if err := s.Take(l, k, t0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var ee *limits.ExceededError
		if err := s.Take(l, k, t0); !errors.As(err, &ee) || ee.Limit != "per_number" {
			t.Fatalf("Take = %v, want per_number exceeded", err)
		}
	}
	got, err := s.Count(l, k, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (limits.Counts{User: 1, Number: 1, Host: 1, Daily: 1}); got != want {
		t.Errorf("Count = %+v, want %+v", got, want)
	}
}

func TestWindowExpiry(t *testing.T) {
	s, _ := openStore(t)
	l := limits.Limits{Window: 15 * time.Minute, PerUser: 2}
	k := limits.Keys{User: "alice"}
	steps := []struct {
		at      time.Duration // after t0
		wantErr bool
	}{
		{0, false},
		{time.Minute, false},
		{14*time.Minute + 59*time.Second, true}, // both still in the window
		{15 * time.Minute, false},               // the first has just left it
		{15*time.Minute + 59*time.Second, true},
		{16 * time.Minute, false}, // the second has left
		{16 * time.Minute, true},
		{29*time.Minute + 59*time.Second, true},
		{30 * time.Minute, false},
		{3 * time.Hour, false},
	}
	for _, st := range steps {
		err := s.Take(l, k, t0.Add(st.at))
		if (err != nil) != st.wantErr {
			t.Fatalf("Take at +%s: err = %v, want error %v", st.at, err, st.wantErr)
		}
	}
}

func TestDailyRollover(t *testing.T) {
	s, _ := openStore(t)
	l := limits.Limits{Daily: 2}
	evening := time.Date(2025, 3, 14, 23, 59, 58, 0, time.UTC)
	// 01:00 on March 15 in UTC+5 is still March 14 in UTC.
	plus5 := time.Date(2025, 3, 15, 4, 59, 59, 0, time.FixedZone("UTC+5", 5*60*60))
	steps := []struct {
		at      time.Time
		wantErr string
	}{
		{evening, ""},
		{plus5, ""},
		{evening.Add(time.Second), "limits: daily limit of 2 reached"},
		{evening.Add(2 * time.Second), ""}, // 00:00:00 on March 15
		{evening.Add(3 * time.Second), ""},
		{evening.Add(4 * time.Second), "limits: daily limit of 2 reached"},
		{evening.Add(24 * time.Hour), "limits: daily limit of 2 reached"}, // 23:59:58 on March 15
		{evening.Add(24*time.Hour + 2*time.Second), ""},
	}
	for i, st := range steps {
		err := s.Take(l, limits.Keys{User: fmt.Sprint("u", i)}, st.at)
		if got := fmt.Sprint(err); (err == nil && st.wantErr != "") || (err != nil && got != st.wantErr) {
			t.Fatalf("step %d, Take at %s: err = %v, want %q", i, st.at, err, st.wantErr)
		}
	}
}

func TestReset(t *testing.T) {
	s, dir := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: 1, PerNumber: 1, Daily: 10}
	alice := limits.Keys{"alice", "491721234567", "192.0.2.1"}
	bob := limits.Keys{"bob", "491729999999", "192.0.2.1"}
	for _, k := range []limits.Keys{alice, bob} {
		if err := s.Take(l, k, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Take(l, alice, t0); err == nil {
		t.Fatal("second Take for alice passed before Reset")
	}
	if err := s.Reset(limits.Keys{User: "alice", Number: "491721234567"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(l, alice, t0); err != nil {
		t.Fatalf("Take after Reset: %v", err)
	}
	if err := s.Take(l, bob, t0); err == nil {
		t.Fatal("Reset of alice also cleared bob")
	}
	got, err := s.Count(l, alice, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (limits.Counts{User: 1, Number: 1, Daily: 3}); got != want {
		t.Errorf("Count after Reset = %+v, want %+v (daily kept)", got, want)
	}
	if err := s.Reset(limits.Keys{User: "nobody-ever-seen"}); err != nil {
		t.Errorf("Reset of an unknown user: %v", err)
	}
	if err := s.Reset(limits.Keys{}); err == nil || err.Error() != "limits: reset: no user, number or host given" {
		t.Errorf("Reset(empty) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, bucket("user", "bob", time.Hour, t0))); err != nil {
		t.Errorf("bob's file: %v", err)
	}
}

func TestCount(t *testing.T) {
	s, _ := openStore(t)
	l := limits.Limits{Window: 10 * time.Minute, PerUser: 5, PerNumber: 5, PerHost: 5, Daily: 100}
	sends := []struct {
		k  limits.Keys
		at time.Duration
	}{
		{limits.Keys{"alice", "491721234567", "192.0.2.1"}, 0},
		{limits.Keys{"alice", "491721234567", "192.0.2.2"}, 5 * time.Minute},
		{limits.Keys{"bob", "491721234567", "192.0.2.1"}, 6 * time.Minute},
		{limits.Keys{"alice", "491720000000", ""}, 7 * time.Minute},
	}
	for _, sd := range sends {
		if err := s.Take(l, sd.k, t0.Add(sd.at)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		k    limits.Keys
		at   time.Duration
		want limits.Counts
	}{
		{limits.Keys{"alice", "491721234567", "192.0.2.1"}, 8 * time.Minute, limits.Counts{3, 3, 2, 4}},
		{limits.Keys{"alice", "491721234567", "192.0.2.1"}, 10 * time.Minute, limits.Counts{2, 2, 1, 4}},
		{limits.Keys{"bob", "", ""}, 8 * time.Minute, limits.Counts{1, 0, 0, 4}},
		{limits.Keys{"carol", "491739999999", "192.0.2.9"}, 0, limits.Counts{0, 0, 0, 4}}, // the day, not the window
		{limits.Keys{"alice", "", ""}, 17 * time.Minute, limits.Counts{0, 0, 0, 4}},
	}
	for _, tt := range tests {
		got, err := s.Count(l, tt.k, t0.Add(tt.at))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Count(%+v) at +%s = %+v, want %+v", tt.k, tt.at, got, tt.want)
		}
	}
	// Count works when the config has no limits at all.
	got, err := s.Count(limits.Limits{Window: 10 * time.Minute}, limits.Keys{User: "alice"}, t0.Add(8*time.Minute))
	if err != nil || got.User != 3 {
		t.Errorf("Count without limits = %+v, %v; want User 3", got, err)
	}
}

func TestBadArguments(t *testing.T) {
	k := limits.Keys{"alice", "491721234567", "192.0.2.1"}
	tests := []struct {
		name    string
		l       limits.Limits
		k       limits.Keys
		wantErr string
	}{
		{"negative", limits.Limits{Window: time.Minute, PerUser: -1}, k, "limits: per_user = -1: want 0 to 10000"},
		{"too large", limits.Limits{Daily: 10001}, k, "limits: daily = 10001: want 0 to 10000"},
		{"no window", limits.Limits{PerHost: 3}, k, "limits: window 0s must be positive"},
		{"negative window", limits.Limits{Window: -time.Minute, PerNumber: 3}, k, "limits: window -1m0s must be positive"},
		{"window too long", limits.Limits{Window: 25 * time.Hour, PerUser: 3}, k, "limits: window 25h0m0s is longer than 24h0m0s"},
		{"empty user", limits.Limits{Window: time.Minute, PerUser: 3}, limits.Keys{Number: "49"}, "limits: per_user is set but the user name is empty"},
		{"empty number", limits.Limits{Window: time.Minute, PerNumber: 3}, limits.Keys{User: "a"}, "limits: per_number is set but the number is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t)
			if err := s.Take(tt.l, tt.k, t0); err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Take = %v, want %q", err, tt.wantErr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("refused Take left %d files", len(ents))
			}
		})
	}
	s, _ := openStore(t)
	if _, err := s.Count(limits.Limits{}, k, t0); err == nil || err.Error() != "limits: window 0s must be positive" {
		t.Errorf("Count without window = %v", err)
	}
}

func TestExceededErrorText(t *testing.T) {
	tests := []struct {
		e    limits.ExceededError
		want string
	}{
		{limits.ExceededError{"per_user", 5, 15 * time.Minute}, "limits: per_user limit of 5 per 15m0s reached"},
		{limits.ExceededError{"per_number", 1, time.Hour}, "limits: per_number limit of 1 per 1h0m0s reached"},
		{limits.ExceededError{"per_host", 20, 90 * time.Second}, "limits: per_host limit of 20 per 1m30s reached"},
		{limits.ExceededError{"daily", 100, 0}, "limits: daily limit of 100 reached"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestFileNamesHideKeys(t *testing.T) {
	s, dir := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: 5, PerNumber: 5, PerHost: 5, Daily: 5}
	if err := s.Take(l, limits.Keys{"alice", "491721234567", "192.0.2.1"}, t0); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{
		"day-20250314",
		// The first hex digit of printf %s 192.0.2.1 | sha256sum, and so
		// on; then the window in seconds and the bucket, 1741953600 / 3600.
		"host-3.3600.483876",
		"number-a.3600.483876",
		"user-2.3600.483876",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("state files (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(filepath.Join(dir, "user-2.3600.483876"))
	if want := padded("2bd806c97f0e00af1a1fc3328fa763a9 1741953600"); err != nil || string(data) != want {
		t.Errorf("user file holds %q (%v), want %q", data, err, want)
	}
}

// TestFileModes checks that files are 0660 whatever the umask, so that the next
// login under another uid can use them, and appear complete under their names,
// both when created as an O_TMPFILE and through a named temporary (no /proc,
// or a file system without O_TMPFILE), which is then gone.
func TestFileModes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		noTmpfile bool
	}{{"O_TMPFILE", false}, {"named temporary", true}} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noTmpfile {
				defer limits.WithoutTmpfile()()
			}
			old := syscall.Umask(0o077)
			defer syscall.Umask(old)
			s, dir := openStore(t)
			l := limits.Limits{Window: time.Hour, PerUser: 5, Daily: 5}
			if err := s.Take(l, limits.Keys{User: "alice"}, t0); err != nil {
				t.Fatal(err)
			}
			user := bucket("user", "alice", time.Hour, t0)
			want := map[string]string{
				limits.DayFile(t0): fmt.Sprintf("%d\n", t0.Unix()),
				user:               record("user", "alice", t0.Unix()),
			}
			for name, content := range want {
				path := filepath.Join(dir, name)
				fi, err := os.Lstat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != 0o660 {
					t.Errorf("%s: mode %s, want -rw-rw----", name, fi.Mode())
				}
				if data, err := os.ReadFile(path); err != nil || string(data) != content {
					t.Errorf("%s holds %q (%v), want %q", name, data, err, content)
				}
			}
			if names := listDir(t, dir); len(names) != len(want) {
				t.Errorf("state files %q, want only %s and %s", names, limits.DayFile(t0), user)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, f func(p string) error) string {
		p := filepath.Join(base, name)
		if err := f(p); err != nil {
			t.Fatalf("Setup: %v", err)
		}
		return p
	}
	file := mk("file", func(p string) error { return os.WriteFile(p, nil, 0o600) })
	realDir := mk("real", func(p string) error { return os.Mkdir(p, 0o770) })
	link := mk("link", func(p string) error { return os.Symlink(realDir, p) })
	open := mk("open", func(p string) error {
		if err := os.Mkdir(p, 0o777); err != nil {
			return err
		}
		return os.Chmod(p, 0o777)
	})
	tests := []struct {
		dir, wantErr string
	}{
		{filepath.Join(base, "missing"), "limits: state directory " + base + "/missing does not exist"},
		{file, "limits: state directory " + file + " is not a directory"},
		{link, "limits: state directory " + link + " is a symbolic link"},
		{open, "limits: state directory " + open + " is writable by others (mode 0777)"},
	}
	for _, tt := range tests {
		s, err := limits.Open(tt.dir)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded, want %q", tt.dir, tt.wantErr)
			continue
		}
		if err.Error() != tt.wantErr {
			t.Errorf("Open(%s):\n got %v\nwant %s", tt.dir, err, tt.wantErr)
		}
	}
	if s, err := limits.Open(realDir); err != nil {
		t.Errorf("Open(%s): %v", realDir, err)
	} else {
		s.Close()
	}
}

func TestCorruptFile(t *testing.T) {
	h := limits.Hash(limits.KeyFile("user", "alice"))
	rec := record("user", "alice", t0.Unix())
	tests := []struct {
		name    string
		content string
		back    int64  // 1: the file of the previous bucket
		wantErr string // after "limits: PATH: "
	}{
		{"garbage", "\x00\x01hello", 0, `record 1: bad record "\x00\x01hello"`},
		{"old format", "pam-sms-limits 1\n1741953600\n", 0, `record 1: bad record "pam-sms-limits 1\n1741953600\n"`},
		{"day record", "1741953600\n", 0, `record 1: bad record "1741953600\n"`},
		{"no space", rec + padded(h+"_1741953600"), 0, fmt.Sprintf("record 2: bad record %q", padded(h+"_1741953600"))},
		{"bad number", rec + padded(h+" 17419x3600"), 0, fmt.Sprintf("record 2: bad record %q", padded(h+" 17419x3600"))},
		{"not padded", padded(h + " 1741953600x"), 0, fmt.Sprintf("record 1: bad record %q", padded(h+" 1741953600x"))},
		{"cut short", rec + rec[:20], 0, fmt.Sprintf("record 2: bad record %q", rec[:20])},
		{"before its bucket", padded(h + " 1741953599"), 0,
			"record 1: time 1741953599 (2025-03-14T11:59:59Z) is outside the file's bucket"},
		{"after its bucket", rec + padded(h+" 1741957200"), 0,
			"record 2: time 1741957200 (2025-03-14T13:00:00Z) is outside the file's bucket"},
		{"previous bucket", rec, 1,
			"record 1: time 1741953600 (2025-03-14T12:00:00Z) is outside the file's bucket"},
		{"too large", strings.Repeat(rec, 1<<20/limits.KeyRecordLen+1), 0, "larger than 1048576 bytes"},
	}
	l := limits.Limits{Window: time.Hour, PerUser: 5}
	k := limits.Keys{User: "alice"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t)
			path := filepath.Join(dir, limits.ShardFile(limits.KeyFile("user", "alice"), time.Hour, t0, tt.back))
			if err := os.WriteFile(path, []byte(tt.content), 0o660); err != nil {
				t.Fatalf("Setup: %v", err)
			}
			want := "limits: " + path + ": " + tt.wantErr
			if err := s.Take(l, k, t0); err == nil || err.Error() != want {
				t.Errorf("Take:\n got %v\nwant %s", err, want)
			}
			if _, err := s.Count(l, k, t0); err == nil || err.Error() != want {
				t.Errorf("Count:\n got %v\nwant %s", err, want)
			}
			if data, _ := os.ReadFile(path); string(data) != tt.content {
				t.Errorf("corrupt file was changed to %q", data)
			}
			if got := listDir(t, dir); len(got) != 1 {
				t.Errorf("a refused Take left files: %q", got)
			}
		})
	}
}

// A key file of other keys' records counts nothing for alice; one that is
// full refuses every Take of its shard, with an error that names it, and
// leaves it as it is.
func TestSharedAndFullFile(t *testing.T) {
	s, dir := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: 5}
	path := filepath.Join(dir, bucket("user", "alice", time.Hour, t0))
	other := padded(strings.Repeat("2", 32) + fmt.Sprintf(" %010d", t0.Unix())) // shares alice's shard
	if err := os.WriteFile(path, []byte(strings.Repeat(other, 10)), 0o660); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Count(l, limits.Keys{User: "alice"}, t0); err != nil || c.User != 0 {
		t.Errorf("Count beside other keys' records = %+v, %v; want User 0", c, err)
	}
	full := strings.Repeat(other, (1<<20-64<<10)/limits.KeyRecordLen+1)
	if err := os.WriteFile(path, []byte(full), 0o660); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("limits: %s is full (%d bytes): no more sends of its keys in this window", path, len(full))
	if err := s.Take(l, limits.Keys{User: "alice"}, t0); err == nil || err.Error() != want {
		t.Errorf("Take on a full file:\n got %v\nwant %s", err, want)
	}
	if data, _ := os.ReadFile(path); string(data) != full {
		t.Errorf("the full file changed")
	}
}

// Reset appends a tombstone: alice's earlier records in her file stop
// counting, those of another key in the same file do not.
func TestResetTombstone(t *testing.T) {
	s, dir := openStore(t)
	l := limits.Limits{Window: time.Hour, PerUser: 2}
	path := filepath.Join(dir, bucket("user", "alice", time.Hour, t0))
	other := padded(strings.Repeat("2", 32) + fmt.Sprintf(" %010d", t0.Unix()))
	alice := record("user", "alice", t0.Unix())
	if err := os.WriteFile(path, []byte(alice+other+alice), 0o660); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(l, limits.Keys{User: "alice"}, t0); err == nil {
		t.Fatal("Take at the limit passed")
	}
	if err := s.Reset(limits.Keys{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(l, limits.Keys{User: "alice"}, t0); err != nil {
		t.Fatalf("Take after Reset: %v", err)
	}
	tomb := padded(limits.Hash(limits.KeyFile("user", "alice")) + " 0000000000")
	if data, _ := os.ReadFile(path); string(data) != alice+other+alice+tomb+alice {
		t.Errorf("file after Reset and Take = %q", data)
	}
	if c, err := s.Count(l, limits.Keys{User: "alice"}, t0); err != nil || c.User != 1 {
		t.Errorf("Count = %+v, %v; want User 1", c, err)
	}
}

// An empty file (a crash before its first write reached the disk) counts no
// records, and the next Take appends to it.
func TestEmptyFileCountsNothing(t *testing.T) {
	s, dir := openStore(t)
	path := filepath.Join(dir, bucket("user", "alice", time.Hour, t0))
	if err := os.WriteFile(path, nil, 0o660); err != nil {
		t.Fatal(err)
	}
	l := limits.Limits{Window: time.Hour, PerUser: 1}
	if err := s.Take(l, limits.Keys{User: "alice"}, t0); err != nil {
		t.Fatalf("Take after an empty file = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != record("user", "alice", t0.Unix()) {
		t.Fatalf("file after Take = %q", data)
	}
	var exceeded *limits.ExceededError
	if err := s.Take(l, limits.Keys{User: "alice"}, t0); !errors.As(err, &exceeded) {
		t.Fatalf("second Take = %v, want the limit", err)
	}
}

// Records in the next bucket, written by a process whose clock is ahead (or
// by ours before NTP stepped it back), count.
func TestNextBucketCounts(t *testing.T) {
	s, dir := openStore(t)
	const w = 15 * time.Minute
	soon := record("user", "alice", t0.Add(w+30*time.Second).Unix())
	path := filepath.Join(dir, limits.ShardFile(limits.KeyFile("user", "alice"), w, t0, -1))
	if err := os.WriteFile(path, []byte(soon+soon), 0o660); err != nil {
		t.Fatal(err)
	}
	err := s.Take(limits.Limits{Window: w, PerUser: 2}, limits.Keys{User: "alice"}, t0)
	if err == nil || err.Error() != "limits: per_user limit of 2 per 15m0s reached" {
		t.Errorf("Take = %v, want per_user exceeded", err)
	}
	if got := listDir(t, dir); len(got) != 1 {
		t.Errorf("a refused Take left files: %q", got)
	}
}

func TestNotARegularFile(t *testing.T) {
	l := limits.Limits{Window: time.Hour, PerUser: 5, PerNumber: 5, Daily: 5}
	k := limits.Keys{User: "alice", Number: "491721234567"}
	tests := []struct {
		name    string
		plant   func(path, outside string) error
		wantErr string // after "limits: PATH"
	}{
		{"symlink to a file", func(p, outside string) error { return os.Symlink(outside, p) },
			" is a symbolic link; refusing to follow it"},
		{"dangling symlink", func(p, outside string) error { return os.Symlink(outside+".missing", p) },
			" is a symbolic link; refusing to follow it"},
		{"directory", func(p, _ string) error { return os.Mkdir(p, 0o700) }, " is not a regular file"},
		{"fifo", func(p, _ string) error { return syscall.Mkfifo(p, 0o660) }, " is not a regular file"},
	}
	for _, tt := range tests {
		number := limits.KeyFile("number", "491721234567")
		for _, victim := range []string{limits.DayFile(t0), bucket("user", "alice", time.Hour, t0),
			limits.ShardFile(number, time.Hour, t0, 0), limits.ShardFile(number, time.Hour, t0, 1)} {
			t.Run(tt.name+"/"+victim, func(t *testing.T) {
				s, dir := openStore(t)
				outside := filepath.Join(t.TempDir(), "precious")
				const content = "do not touch\n"
				if err := os.WriteFile(outside, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, victim)
				if err := tt.plant(path, outside); err != nil {
					t.Fatalf("Setup: %v", err)
				}
				want := "limits: " + path + tt.wantErr
				if err := s.Take(l, k, t0); err == nil || err.Error() != want {
					t.Errorf("Take:\n got %v\nwant %s", err, want)
				}
				if _, err := s.Count(l, k, t0); err == nil || err.Error() != want {
					t.Errorf("Count:\n got %v\nwant %s", err, want)
				}
				if data, err := os.ReadFile(outside); err != nil || string(data) != content {
					t.Errorf("target changed: %q, %v", data, err)
				}
				if fi, err := os.Lstat(outside); err != nil || fi.Mode() != 0o600 {
					t.Errorf("target mode changed: %v, %v", fi.Mode(), err)
				}
				if _, err := os.Stat(outside + ".missing"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("dangling symlink target was created")
				}
			})
		}
	}
}

func TestUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	s, dir := openStore(t)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	err := s.Take(limits.Limits{Window: time.Hour, PerUser: 5}, limits.Keys{User: "alice"}, t0)
	want := "limits: create " + dir + "/" + bucket("user", "alice", time.Hour, t0) + ": permission denied"
	if err == nil || err.Error() != want {
		t.Errorf("Take = %v, want %q", err, want)
	}
}

func BenchmarkTake(b *testing.B) {
	s, _ := openStore(b)
	l := limits.Limits{Window: 15 * time.Minute, PerUser: 5, PerNumber: 5, PerHost: 20, Daily: limits.MaxLimit}
	var i int
	for b.Loop() {
		// Each user sends once; the daily file grows until a new day starts.
		k := limits.Keys{fmt.Sprint("user", i), fmt.Sprint(491700000000 + i), fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)}
		now := t0.Add(time.Duration(i) * time.Minute)
		if err := s.Take(l, k, now); err != nil {
			var ee *limits.ExceededError
			if !errors.As(err, &ee) {
				b.Fatal(err)
			}
		}
		i++
	}
}
