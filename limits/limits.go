// Package limits counts SMS sends per user, number, client address and day under a
// state directory, so that a flood is stopped locally before it costs money.
//
// The helper runs setgid pam-sms under the caller's uid (root for sshd, login, su;
// the user for a screen locker or a user running it by hand), and many logins run
// at once in separate processes, so all state lives in files shared through the
// state directory (default /var/lib/pam-sms, mode 2770 root:pam-sms), in the
// manner of pam_faillock.
//
// # Layout
//
//	user-S.W.B           sends per user name, in one time bucket
//	number-S.W.B         sends per phone number (E.164 digits), likewise
//	host-S.W.B           sends per client address (PAM_RHOST), likewise
//	day-YYYYMMDD         all sends of one calendar day (UTC)
//	.NAME.XXXXXXXX.tmp   a new NAME being created (only where O_TMPFILE is missing)
//
// A key is known by its hash H, the first 32 hex digits of the SHA-256 of the
// key, so that no file shows user names or phone numbers (an administrator can
// compute it: printf %s alice | sha256sum | cut -c1-32). The hash is unkeyed:
// it keeps names out of plain sight, not away from someone who can read the
// directory and guess numbers. Host keys that parse as IP addresses are
// normalized first (IPv4-mapped addresses unmapped, zones dropped). The keys of
// one kind share 16 files per bucket, S being the first hex digit of their
// hash, so that a login burst of new users creates a few files, not two per
// login. W is the window in whole seconds and B the bucket, floor(t/W) of the
// Unix time t of its sends. Changing the window starts every key's count
// afresh.
//
// Every file appears under its name complete with its first record and mode
// 0660 whatever the umask (it is written as an unnamed O_TMPFILE, chmod-ed, then
// linked), so that root and the setgid helper run by ordinary users share it and
// a creator stopped half-way leaves nothing behind. Files of earlier layouts
// (user-H, user-H.lock, user-H.W.B, .lock, daily-YYYYMMDD) are not read; Prune
// removes them.
//
// # File format
//
// Every file is a sequence of fixed-length records, each appended by one
// write(2) with O_APPEND. A key file's record is 64 bytes: the key's hash, a
// space, the send's time in ten decimal digits, spaces, and a newline; 64
// divides the page size, so that no record straddles a page, where a reader
// could see half of it or a killed writer leave half of it. A key counts, at
// time t, its records in its file of bucket floor(t/W) and those within the
// window in the file of the bucket before. Reset appends a tombstone, the
// key's hash with the time 0000000000: the key's records before it in that
// file no longer count. A day file's record is 11 bytes, the time and a
// newline; its count is its size in records, a partial record (a write cut
// short) counting as one, and its content is for people.
//
// A key file whose size is a whole number of records, whose records have that
// shape, whose times lie in its bucket (or are tombstones) and that is at most
// 1 MiB is good; anything else makes it corrupt: Take and Count fail and name
// it, since silently starting from zero would lift the limit (for every key of
// its shard). Remove the file after checking; a corrupt file stops counting by
// itself once its window has passed, and Prune then removes it. Take refuses
// to append to a file of 960 KiB or more, so that no append can be cut short
// by the 1 MiB file size limit the helper requires.
//
// # Concurrency
//
// Nothing is locked, so no operation waits for another and no caller can make
// another user's login wait: a user may run the setgid helper by hand and stop
// it (SIGSTOP) at any moment without holding anything another login needs.
//
// Take first reads its keys' counts and the day's; if one is at its limit, it
// refuses and writes nothing. Otherwise it appends one record to each key's
// current file; the file offset after the write marks its own record, and the
// key counts its records up to that one (and those of the previous bucket,
// read again if it grew meanwhile, and any of the next bucket, written by a
// racer whose clock had passed the bucket's end). A count beyond the limit
// means the Take lost a race: it is refused, and its records stay, which
// over-counts: the safe direction. The day file is claimed last, in the same
// way. A key therefore holds at most its limit plus the Takes that raced for
// its last slot. Whatever else fails (a file that cannot be created, no
// descriptor left) fails before the first append, so that such a Take changes
// nothing; a Take that fails or is killed during its appends leaves counted
// what it appended.
//
// Count reads the same files and writes nothing. Reset appends tombstones;
// Prune removes buckets that no Take reads any more. Neither waits.
//
// Take does not fsync: fsyncs were most of a login burst's queueing, and what a
// power loss can cost is the counts of the last seconds, which lifts a limit for
// at most one window.
package limits

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Limits are the values of the config's limits section; 0 means no limit.
type Limits struct {
	Window                      time.Duration
	PerUser, PerNumber, PerHost int
	Daily                       int
}

// Keys identify one send. Number is the E.164 digits; Host is the client address
// ("" for local logins).
type Keys struct {
	User, Number, Host string
}

// MaxLimit is the largest value accepted for any limit. It bounds the size of a
// state file, which is read on every send.
const MaxLimit = 10000

// MaxWindow is the longest window accepted.
const MaxWindow = 24 * time.Hour

// Limit names, as in the config and in ExceededError.Limit.
const (
	LimitPerUser   = "per_user"
	LimitPerNumber = "per_number"
	LimitPerHost   = "per_host"
	LimitDaily     = "daily"
)

// Key kinds, as in file names.
const (
	KeyUser   = "user"
	KeyNumber = "number"
	KeyHost   = "host"
)

// ExceededError says that a send was refused because a limit was reached.
type ExceededError struct {
	Limit  string        // "per_user", "per_number", "per_host" or "daily"
	Max    int           // the configured limit
	Window time.Duration // the window; 0 for daily (the UTC calendar day)
}

// Error reads like "limits: per_user limit of 5 per 15m0s reached".
func (e *ExceededError) Error() string {
	if e.Limit == LimitDaily {
		return fmt.Sprintf("limits: daily limit of %d reached", e.Max)
	}
	return fmt.Sprintf("limits: %s limit of %d per %s reached", e.Limit, e.Max, e.Window)
}

// Counts are the sends currently counted against each key: within the window for
// User, Number and Host, on the UTC day for Daily. A key that was not given counts 0.
type Counts struct {
	User, Number, Host, Daily int
}

// Store is an open state directory. It is safe for concurrent use by multiple
// goroutines and processes.
type Store struct {
	dir   string
	dirfd int
}

// Open opens the state directory dir, which must exist, be a directory and not a
// symbolic link, and must not be writable by others (anyone who can write it can
// reset the counts). The caller should Close the Store when done.
func Open(dir string) (*Store, error) {
	fd, err := openat(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("limits: state directory %s does not exist", dir)
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
		// With O_DIRECTORY, Linux reports a symbolic link as ENOTDIR.
		if fi, lerr := os.Lstat(dir); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("limits: state directory %s is a symbolic link", dir)
		}
		return nil, fmt.Errorf("limits: state directory %s is not a directory", dir)
	case err != nil:
		return nil, fmt.Errorf("limits: open state directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("limits: stat state directory %s: %w", dir, err)
	}
	if st.Mode&0o002 != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("limits: state directory %s is writable by others (mode %#o)", dir, st.Mode&0o7777)
	}
	return &Store{dir: dir, dirfd: fd}, nil
}

// Close releases the directory. The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := unix.Close(s.dirfd); err != nil {
		return fmt.Errorf("limits: close state directory %s: %w", s.dir, err)
	}
	return nil
}

// Take records one send at now for k, unless that would exceed a limit of l.
// It returns an *ExceededError for the first limit (in the order per_user,
// per_number, per_host, daily) whose count has reached its maximum, or that a
// concurrent Take reached first, and otherwise records now for each limited key
// and in the day file. User, number and host keys with a limit of 0 are neither
// checked nor recorded (an empty Host is skipped); the day file records every
// send, and is checked only when daily > 0. It never waits for another Take.
// On any error the caller must deny the login.
func (s *Store) Take(l Limits, k Keys, now time.Time) error {
	_, err := s.TakeDay(l, k, now)
	return err
}

// TakeDay is Take that also returns the send's position in the day file:
// today's count including this send, as the append itself placed it, so a
// caller can act on reaching a count (the quota warnings) exactly once,
// without reading the count again.
func (s *Store) TakeDay(l Limits, k Keys, now time.Time) (sentToday int, err error) {
	if err := l.validate(); err != nil {
		return 0, err
	}
	if err := checkKeys(l, k); err != nil {
		return 0, err
	}
	// Every send is recorded in the day file, limited or not, so that
	// pam-sms limits show counts today's SMS even with daily = 0.
	if err := checkTime(now); err != nil {
		return 0, err
	}
	ts := tallies(l, k, false, now)
	day := &slot{name: dayFile(now), flags: unix.O_WRONLY | unix.O_APPEND, fd: -1, tmp: -1}
	defer func() {
		for _, sl := range append(slots(ts), day) {
			s.dropTemp(sl)
			sl.close()
		}
	}()
	return s.take(l.Daily, ts, day, now)
}

// take is Take's work on the opened tallies; the caller closes them.
func (s *Store) take(daily int, ts []*tally, day *slot, now time.Time) (int, error) {
	for _, t := range ts {
		if err := s.load(t, unix.O_RDWR|unix.O_APPEND); err != nil {
			return 0, err
		}
	}
	for _, t := range ts {
		if t.prev+t.cur+t.next >= t.max {
			return 0, t.exceeded()
		}
		if t.curSize+keyRecordLen > maxFileSize {
			return 0, fmt.Errorf("limits: %s is full (%d bytes): no more sends of its keys in this window", s.path(t.name), t.curSize)
		}
	}
	pause("loaded")
	records, err := s.openDay(day, day.flags)
	if err != nil {
		return 0, err
	}
	exceeded := &ExceededError{Limit: LimitDaily, Max: daily}
	if daily > 0 && records >= daily {
		return 0, exceeded
	}
	// Every file still missing gets its record in an unnamed file now, so
	// that nothing after the first append needs a new descriptor or a write
	// to a new file: a Take that fails for want of either changes nothing.
	for _, t := range ts {
		if t.fd < 0 {
			if err := s.prepare(&t.slot, keyRecord(t.hash, now.Unix())); err != nil {
				return 0, err
			}
		}
	}
	dayRec := dayRecord(now.Unix())
	if day.fd < 0 {
		if err := s.prepare(day, dayRec); err != nil {
			return 0, err
		}
	}
	pause("prepared")
	ends := make([]int64, len(ts))
	for i, t := range ts {
		if ends[i], err = s.add(&t.slot, keyRecord(t.hash, now.Unix())); err != nil {
			return 0, err
		}
	}
	pause("appended")
	for i, t := range ts {
		if err := s.position(t, ends[i]); err != nil {
			return 0, err
		}
		if err := s.recount(t); err != nil {
			return 0, err
		}
		if t.prev+t.pos+t.next > t.max {
			return 0, t.exceeded() // lost a race for the last slot; our records stay
		}
	}
	end, err := s.add(day, dayRec)
	if err != nil {
		return 0, err
	}
	pos := dayRecords(end)
	if daily > 0 && pos > daily {
		return 0, exceeded
	}
	return pos, nil
}

// Count returns the sends currently counted for each non-empty key of k, and
// today's total, whatever the limits (for pam-sms limits show). It writes
// nothing. l.Window must be positive.
func (s *Store) Count(l Limits, k Keys, now time.Time) (Counts, error) {
	if err := checkWindow(l.Window); err != nil {
		return Counts{}, err
	}
	if err := checkTime(now); err != nil {
		return Counts{}, err
	}
	var c Counts
	for _, t := range tallies(l, k, true, now) {
		err := s.load(t, unix.O_RDONLY)
		t.close()
		if err != nil {
			return Counts{}, err
		}
		n := t.prev + t.cur + t.next
		switch t.kind {
		case KeyUser:
			c.User = n
		case KeyNumber:
			c.Number = n
		case KeyHost:
			c.Host = n
		}
	}
	day := &slot{name: dayFile(now), fd: -1, tmp: -1}
	n, err := s.openDay(day, unix.O_RDONLY)
	day.close()
	if err != nil {
		return Counts{}, err
	}
	c.Daily = n
	return c, nil
}

// Reset clears the counts of k's user, number and host (each when non-empty),
// for pam-sms limits reset USER: it appends a tombstone for each key to every
// key file of its shard (every bucket, every window), after which the key's
// earlier records in that file do not count, and removes the key's files of
// earlier layouts. A key file that is not a regular file (planted or damaged)
// is removed, since that is what an administrator runs to clear it. A Take
// racing with it may keep its own record. The daily total is left alone:
// those messages were sent and paid for.
func (s *Store) Reset(k Keys) error {
	if k.User == "" && k.Number == "" && k.Host == "" {
		return errors.New("limits: reset: no user, number or host given")
	}
	var bases []string
	for _, b := range []string{keyFile(KeyUser, k.User), keyFile(KeyNumber, k.Number), hostFile(k.Host)} {
		if b != "" {
			bases = append(bases, b)
		}
	}
	names, err := s.names()
	if err != nil {
		return err
	}
	for _, name := range names {
		for _, b := range bases {
			kind, h, _ := strings.Cut(b, "-")
			if fk, shard, _, _, ok := parseShardFile(name); ok && fk == kind && shard == h[0] {
				if err := s.bury(name, h); err != nil {
					return err
				}
			}
			if name == b || strings.HasPrefix(name, b+".") || strings.HasPrefix(name, "."+b+".") {
				if err := s.unlink(name); err != nil {
					return err
				}
			}
		}
	}
	return s.syncDir()
}

// bury appends a tombstone of h to the key file name, or removes name if it
// is not a regular file.
func (s *Store) bury(name, h string) error {
	fd, _, err := s.openRegular(name, unix.O_WRONLY|unix.O_APPEND)
	var nr *notRegularError
	switch {
	case errors.As(err, &nr):
		return s.unlink(name)
	case err != nil || fd < 0:
		return err
	}
	defer unix.Close(fd)
	if err := writeRecord(fd, keyRecord(h, 0)); err != nil {
		return fmt.Errorf("limits: append to %s: %w", s.path(name), err)
	}
	return nil
}

func (s *Store) unlink(name string) error {
	if err := unix.Unlinkat(s.dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		if errors.Is(err, unix.EISDIR) {
			err = unix.Unlinkat(s.dirfd, name, unix.AT_REMOVEDIR)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("limits: remove %s: %w", s.path(name), err)
		}
	}
	return nil
}

// testPause, when set (by tests only), is called at each stage of Take, so
// that a test can stop a process there.
var testPause func(stage string)

func pause(stage string) {
	if testPause != nil {
		testPause(stage)
	}
}

func (l Limits) validate() error {
	for _, v := range []struct {
		name string
		n    int
	}{{LimitPerUser, l.PerUser}, {LimitPerNumber, l.PerNumber}, {LimitPerHost, l.PerHost}, {LimitDaily, l.Daily}} {
		if v.n < 0 || v.n > MaxLimit {
			return fmt.Errorf("limits: %s = %d: want 0 to %d", v.name, v.n, MaxLimit)
		}
	}
	if l.PerUser > 0 || l.PerNumber > 0 || l.PerHost > 0 {
		if err := checkWindow(l.Window); err != nil {
			return err
		}
	}
	if l.Window > MaxWindow {
		return fmt.Errorf("limits: window %s is longer than %s", l.Window, MaxWindow)
	}
	return nil
}

// checkWindow refuses a window shorter than a second: records and buckets
// count whole seconds.
func checkWindow(w time.Duration) error {
	if w <= 0 {
		return fmt.Errorf("limits: window %s must be positive", w)
	}
	if w < time.Second {
		return fmt.Errorf("limits: window %s is shorter than 1s", w)
	}
	return nil
}

// checkKeys refuses a limited key that is empty: the caller lost it, and counting
// all such sends under "" would mix users.
func checkKeys(l Limits, k Keys) error {
	if l.PerUser > 0 && k.User == "" {
		return errors.New("limits: per_user is set but the user name is empty")
	}
	if l.PerNumber > 0 && k.Number == "" {
		return errors.New("limits: per_number is set but the number is empty")
	}
	return nil
}

// tallies lists the user, number and host keys to consult, in the order of
// their limits: those with a limit, or with all set, every non-empty key.
func tallies(l Limits, k Keys, all bool, now time.Time) []*tally {
	var ts []*tally
	add := func(kind, limit string, n int, base string) {
		if base != "" && (n > 0 || all) {
			ts = append(ts, newTally(kind, limit, n, l.Window, base, now))
		}
	}
	add(KeyUser, LimitPerUser, l.PerUser, keyFile(KeyUser, k.User))
	add(KeyNumber, LimitPerNumber, l.PerNumber, keyFile(KeyNumber, k.Number))
	add(KeyHost, LimitPerHost, l.PerHost, hostFile(k.Host))
	return ts
}

// keyFile is the base of a key's file names: kind-H.
func keyFile(kind, key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return kind + "-" + hex.EncodeToString(sum[:16])
}

// hostFile normalizes IP literals so that one client has one file whatever the
// spelling ("::ffff:192.0.2.1" and "192.0.2.1").
func hostFile(host string) string {
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().WithZone("").String()
	}
	return keyFile(KeyHost, host)
}

// keyKind returns the kind of a key file base (kind-H), or "".
func keyKind(base string) string {
	kind, h, ok := strings.Cut(base, "-")
	if !ok || len(h) != 32 || strings.Trim(h, "0123456789abcdef") != "" {
		return ""
	}
	switch kind {
	case KeyUser, KeyNumber, KeyHost:
		return kind
	}
	return ""
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }
