package limits_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/limits"
)

// TestDayFile plants day files of several sizes: the count is the size in
// records, a partial record counting as one, and a Take at the limit appends
// nothing.
func TestDayFile(t *testing.T) {
	rec := "1741953600\n"
	tests := []struct {
		name      string
		content   string
		wantCount int
		wantTake  bool // a Take with daily = 3 passes
	}{
		{"missing", "", 0, true},
		{"empty", "\x00", 0, true}, // "\x00" marks an empty file, as a crash leaves it
		{"one record", rec, 1, true},
		{"two records", rec + rec, 2, true},
		{"a partial record counts as one", rec + rec[:4], 2, true},
		{"two and a partial one reach the limit", rec + rec + rec[:1], 3, false},
		{"content is not read", strings.Repeat("x", 3*limits.DayRecordLen), 3, false},
		{"over the limit", strings.Repeat(rec, 5), 5, false},
	}
	l := limits.Limits{Daily: 3}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t)
			path := filepath.Join(dir, limits.DayFile(t0))
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(strings.TrimPrefix(tt.content, "\x00")), 0o660); err != nil {
					t.Fatal(err)
				}
			}
			c, err := s.Count(limits.Limits{Window: time.Hour}, limits.Keys{}, t0)
			if err != nil || c.Daily != tt.wantCount {
				t.Fatalf("Count = %d, %v; want %d", c.Daily, err, tt.wantCount)
			}
			before, _ := os.ReadFile(path)
			err = s.Take(l, limits.Keys{User: "alice"}, t0)
			var ee *limits.ExceededError
			switch {
			case tt.wantTake && err != nil:
				t.Fatalf("Take = %v, want success", err)
			case !tt.wantTake && (!errors.As(err, &ee) || ee.Limit != limits.LimitDaily):
				t.Fatalf("Take = %v, want the daily limit", err)
			}
			after, _ := os.ReadFile(path)
			if tt.wantTake && string(after) != string(before)+rec {
				t.Errorf("day file after Take = %q, want %q", after, string(before)+rec)
			}
			if !tt.wantTake && string(after) != string(before) {
				t.Errorf("a refused Take changed the day file to %q", after)
			}
		})
	}
}

// A daily file of the previous format (rewritten under one lock) is neither
// read nor written: its records do not count against the new day file.
func TestLegacyDailyFileIgnored(t *testing.T) {
	s, dir := openStore(t)
	old := filepath.Join(dir, "daily-"+t0.Format("20060102"))
	content := "pam-sms-limits 1\n" + strings.Repeat("1741953600\n", 5)
	if err := os.WriteFile(old, []byte(content), 0o660); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(limits.Limits{Daily: 1}, limits.Keys{User: "alice"}, t0); err != nil {
		t.Fatalf("Take = %v", err)
	}
	if data, _ := os.ReadFile(old); string(data) != content {
		t.Errorf("old daily file changed to %q", data)
	}
	if c, err := s.Count(limits.Limits{Window: time.Hour}, limits.Keys{}, t0); err != nil || c.Daily != 1 {
		t.Errorf("Count = %+v, %v; want Daily 1", c, err)
	}
}

// Without a daily limit (or any limit) every send is still recorded in the day
// file, so that pam-sms limits show counts today's SMS; nothing is refused.
func TestDayCountedWithoutDailyLimit(t *testing.T) {
	for _, l := range []limits.Limits{{}, {Window: time.Minute, PerUser: 100}} {
		s, _ := openStore(t)
		k := limits.Keys{User: "alice", Number: "491721234567", Host: "192.0.2.1"}
		for i := 0; i < 3; i++ {
			if err := s.Take(l, k, t0); err != nil {
				t.Fatalf("%+v: Take %d: %v", l, i, err)
			}
		}
		c, err := s.Count(limits.Limits{Window: time.Minute}, k, t0)
		if err != nil {
			t.Fatal(err)
		}
		if c.Daily != 3 {
			t.Errorf("%+v: day count %d after 3 sends, want 3", l, c.Daily)
		}
	}
}

// TakeDay returns each send's own position in the day, 1, 2, 3, ..., so the
// caller that reaches a count is the only one that sees it; a refused Take
// returns 0.
func TestTakeDayPositions(t *testing.T) {
	s, _ := openStore(t)
	l := limits.Limits{Daily: 3}
	for want := 1; want <= 3; want++ {
		got, err := s.TakeDay(l, limits.Keys{User: "alice"}, t0)
		if err != nil || got != want {
			t.Fatalf("TakeDay %d = %d, %v; want %d, nil", want, got, err, want)
		}
	}
	if got, err := s.TakeDay(l, limits.Keys{User: "alice"}, t0); got != 0 || !errors.As(err, new(*limits.ExceededError)) {
		t.Errorf("TakeDay past the limit = %d, %v; want 0 and the daily limit", got, err)
	}
}
