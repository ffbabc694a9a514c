package directory_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/test/internal/slapd"
)

// sourceEntries adds an invalid number to the Lookup tests' directory.
var sourceEntries = entries + slapd.Person("ivan", "mobile: call me maybe")

// source is the numsource directory source for s: ldaps, simple bind with
// the fixture's password file, the cache in a fresh state directory.
func source(t *testing.T, s *slapd.Server, cache time.Duration) numsource.Directory {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the bind password file must be owned by root: run as root")
	}
	return numsource.Directory{
		Dir: &conf.Directory{
			URIs: []string{s.LDAPSURI}, Base: slapd.People, Filter: "(uid={user})", Attributes: []string{"mobile"},
			BindDN: slapd.BindDN, BindPasswordFile: s.PasswordFile, CAFile: s.CAFile,
			ConnectTimeout: 2 * time.Second, Timeout: 4 * time.Second, Cache: cache,
		},
		Path: "test.conf", StateDir: t.TempDir(),
	}
}

// TestSourceAnswers: the directory as a number source: a number is validated
// like a configured one, no entry and no number are "not had".
func TestSourceAnswers(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: sourceEntries})
	src := source(t, s, 0)
	for _, c := range []struct {
		user        string
		had         bool
		masked      string
		problemPart string
	}{
		{user: "alice", had: true, masked: "+49 *** ****001"},
		{user: "nobody"},
		{user: "bob"},
		{user: "ivan", had: true, problemPart: "country code"},
	} {
		e, had, err := src.Lookup(context.Background(), c.user)
		if err != nil || had != c.had {
			t.Errorf("Lookup(%q) = had %v, %v; want had %v", c.user, had, err, c.had)
			continue
		}
		if c.masked != "" && (e.Problem != "" || !e.Number.IsValid()) {
			t.Errorf("Lookup(%q): number invalid: %q", c.user, e.Problem)
		}
		if c.problemPart != "" && (!strings.Contains(e.Problem, c.problemPart) || e.Number.IsValid()) {
			t.Errorf("Lookup(%q): Problem = %q, valid %v; want %q and no number", c.user, e.Problem, e.Number.IsValid(), c.problemPart)
		}
		if strings.Contains(e.Problem, "call me") {
			t.Errorf("Problem repeats the value: %q", e.Problem)
		}
	}
}

// TestSourceInjection: user names that would widen the filter find nothing:
// the one search slapd receives has them escaped (a NSS name cannot hold
// these characters, so this is tested here rather than through PAM).
func TestSourceInjection(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: sourceEntries})
	src := source(t, s, 0)
	for _, user := range []string{"*", "alice)(uid=*", "*)(|(uid=*", "al*", `alice\2a`, "alice\x00"} {
		before := len(s.Searches())
		_, had, err := src.Lookup(context.Background(), user)
		if err != nil || had {
			t.Errorf("Lookup(%q) = had %v, %v; want no entry", user, had, err)
		}
		after := s.Searches()[before:]
		if len(after) != 1 {
			t.Fatalf("Lookup(%q) made %d searches, want 1", user, len(after))
		}
		if f := after[0].Filter; strings.Count(f, "(") != 1 || strings.Contains(f, "*") {
			t.Errorf("Lookup(%q): slapd received filter %q; want one escaped equality", user, f)
		}
	}
}

// TestSourceErrors: unavailable wraps ErrDirectoryUnavailable (fail_mode
// applies); a wrong password or CA does not (the login is denied).
func TestSourceErrors(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: sourceEntries})
	wrongPW := t.TempDir() + "/wrong"
	if err := os.WriteFile(wrongPW, []byte("not-the-password\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		edit        func(*conf.Directory)
		unavailable bool
	}{
		{"server down", func(d *conf.Directory) { d.URIs = []string{"ldaps://" + slapd.ClosedAddr(t)} }, true},
		{"wrong bind password", func(d *conf.Directory) { d.BindPasswordFile = wrongPW }, false},
		{"wrong CA", func(d *conf.Directory) { d.CAFile = slapd.UntrustedCAFile(t) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := source(t, s, 0)
			c.edit(src.Dir)
			_, had, err := src.Lookup(context.Background(), "alice")
			if err == nil || had {
				t.Fatalf("Lookup = had %v, %v; want an error", had, err)
			}
			if got := errors.Is(err, numsource.ErrDirectoryUnavailable); got != c.unavailable {
				t.Errorf("errors.Is(%v, ErrDirectoryUnavailable) = %v, want %v", err, got, c.unavailable)
			}
			if strings.Contains(err.Error(), slapd.BindPassword) || strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("error holds a password: %v", err)
			}
		})
	}
}

// TestSourceCache: the cached number stands in only while the directory is
// unavailable, never after it said "no number", never when expired, and
// never after another error.
func TestSourceCache(t *testing.T) {
	s := slapd.Start(t, slapd.Options{LDIF: sourceEntries})
	src := source(t, s, 24*time.Hour)
	ctx := context.Background()
	if _, had, err := src.Lookup(ctx, "alice"); !had || err != nil {
		t.Fatalf("Lookup(alice) with slapd up = %v, %v", had, err)
	}
	down := src
	dir := *src.Dir
	dir.URIs = []string{"ldaps://" + slapd.ClosedAddr(t)}
	down.Dir = &dir

	e, had, err := down.Lookup(ctx, "alice")
	if err != nil || !had || !e.Number.IsValid() || !strings.HasPrefix(e.Where, numsource.CacheWhere) {
		t.Fatalf("Lookup(alice), directory down = %+v, %v, %v; want the cached number", e.Where, had, err)
	}
	if e.Number.Masked() != "+49 *** ****001" {
		t.Errorf("cached number %s, want alice's", e.Number.Masked())
	}

	// Expired: a day and a minute later.
	late := down
	late.Now = func() time.Time { return time.Now().Add(24*time.Hour + time.Minute) }
	if _, had, err := late.Lookup(ctx, "alice"); had || !errors.Is(err, numsource.ErrDirectoryUnavailable) {
		t.Errorf("Lookup with an expired cache = %v, %v; want unavailable", had, err)
	}

	// Another error (wrong CA) is not covered by the cache.
	wrongCA := *src.Dir
	wrongCA.CAFile = slapd.UntrustedCAFile(t)
	bad := src
	bad.Dir = &wrongCA
	if _, had, err := bad.Lookup(ctx, "alice"); had || err == nil || errors.Is(err, numsource.ErrDirectoryUnavailable) {
		t.Errorf("Lookup with a wrong CA = %v, %v; want a definitive error", had, err)
	}

	// A "no number" answer removes the cached number: carol's number is
	// cached, then the filter finds her without a mobile.
	if _, had, err := src.Lookup(ctx, "carol"); !had || err != nil {
		t.Fatalf("Lookup(carol) = %v, %v", had, err)
	}
	noMobile := src
	nm := *src.Dir
	nm.Attributes = []string{"pager"}
	noMobile.Dir = &nm
	if _, had, err := noMobile.Lookup(ctx, "carol"); had || err != nil {
		t.Fatalf("Lookup(carol) without the attribute = %v, %v; want no number", had, err)
	}
	if _, had, err := down.Lookup(ctx, "carol"); had || !errors.Is(err, numsource.ErrDirectoryUnavailable) {
		t.Errorf("Lookup(carol), directory down after \"no number\" = %v, %v; want unavailable, no cache", had, err)
	}
}
