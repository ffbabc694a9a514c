// Package limits counts SMS sends per user, number, client address and day under a
// state directory, so that a flood is stopped locally before it costs money.
//
// The helper runs setgid pam-sms under the caller's uid (root for sshd, login, su;
// the user for a screen locker), and many logins run at once in separate
// processes, so all state lives in files shared through the state directory
// (default /var/lib/pam-sms, mode 2770 root:pam-sms), in the manner of
// pam_faillock.
//
// # Layout
//
//	.lock            empty; flock(2)ed LOCK_EX by Take and Reset, LOCK_SH by Count
//	user-H           sends for one user name
//	number-H         sends to one phone number (E.164 digits)
//	host-H           sends for one client address (PAM_RHOST)
//	daily-YYYYMMDD   all sends of one calendar day (UTC)
//	.NAME.tmp        a write in progress, renamed over NAME
//
// H is the first 32 hex digits of the SHA-256 of the key, so a directory
// listing shows no user names or phone numbers (an administrator can compute it:
// printf %s alice | sha256sum | cut -c1-32). The hash is unkeyed: it keeps names
// out of plain sight, not away from someone who can read the directory and guess
// numbers. Host keys that parse as IP addresses are normalized first (IPv4-mapped
// addresses unmapped, zones dropped). Files are created mode 0660 whatever the
// umask, so that root and the setgid helper run by ordinary users share them.
//
// # File format
//
// A state file is text: the line "pam-sms-limits 1", then one line per recorded
// send holding its time in decimal Unix seconds, in no particular order. Each write
// drops the records outside the window (for daily files, those of other days), so
// a file never holds more records than the limit it serves, and at most MaxLimit.
// A record more than a day in the future, a bad line, a missing header or an
// oversized file makes the file corrupt: every operation touching it fails and
// names it, since silently starting from zero would lift the limit. Remove the file
// (or run pam-sms limits reset) after checking the clock.
//
// # Concurrency and durability
//
// Take holds one exclusive lock on .lock for the check and the update, so counts
// are exact across threads and processes. A write goes to a temporary file that is
// renamed over the old one, so readers see either the old or the new file. Take
// does not fsync: five fsyncs under the one lock were most of a login burst's
// queueing (200 logins at once, 2 cores), and what a power loss can cost is the
// counts of the last seconds, which lifts a limit for at most one window. The one
// crash artefact of an unsynced rename, an empty file, therefore counts as no
// records; anything else unreadable is still corrupt. The critical section is a few
// small reads and writes; the lock is released when the process exits, so a
// helper killed by the module's deadline never leaves the directory locked.
package limits

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
// state file, which is read and rewritten under the lock on every send.
const MaxLimit = 10000

// MaxWindow is the longest window accepted. Prune relies on it: a file without a
// record in the last MaxWindow counts nothing.
const MaxWindow = 24 * time.Hour

// Limit names, as in the config and in ExceededError.Limit.
const (
	LimitPerUser   = "per_user"
	LimitPerNumber = "per_number"
	LimitPerHost   = "per_host"
	LimitDaily     = "daily"
)

const (
	lockName = ".lock"
	header   = "pam-sms-limits 1\n"
	// maxFuture tolerates a clock stepped back by NTP; beyond it a record is
	// taken as corruption rather than as a send.
	maxFuture   = 24 * time.Hour
	maxLineLen  = 20 // 19 digits of an int64 and LF
	maxFileSize = len(header) + MaxLimit*maxLineLen
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
// Under one exclusive lock it reads every limited key's file, returns an
// *ExceededError for the first limit (in the order per_user, per_number,
// per_host, daily) whose count has reached its maximum, and otherwise appends now
// to each of those files. Keys with a limit of 0 are neither checked nor
// recorded; an empty Host is skipped. On any error the caller must deny the login.
func (s *Store) Take(l Limits, k Keys, now time.Time) error {
	if err := l.validate(); err != nil {
		return err
	}
	if err := checkKeys(l, k); err != nil {
		return err
	}
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	ts := s.tallies(l, k, now, false)
	for _, t := range ts {
		if err := s.load(t, now); err != nil {
			return err
		}
	}
	for _, t := range ts {
		if len(t.times) >= t.max {
			return &ExceededError{Limit: t.limit, Max: t.max, Window: t.window}
		}
	}
	if len(ts) == 0 {
		return nil
	}
	for _, t := range ts {
		// A failure after an earlier file was written leaves that send counted
		// there: over-counting is the safe direction.
		if err := s.write(t.name, append(t.times, now.Unix())); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the sends currently counted for each non-empty key of k, whatever
// the limits (for pam-sms limits show). l.Window must be positive.
func (s *Store) Count(l Limits, k Keys, now time.Time) (Counts, error) {
	if l.Window <= 0 {
		return Counts{}, fmt.Errorf("limits: window %s must be positive", l.Window)
	}
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return Counts{}, err
	}
	defer unlock()
	var c Counts
	for _, t := range s.tallies(l, k, now, true) {
		if err := s.load(t, now); err != nil {
			return Counts{}, err
		}
		switch t.limit {
		case LimitPerUser:
			c.User = len(t.times)
		case LimitPerNumber:
			c.Number = len(t.times)
		case LimitPerHost:
			c.Host = len(t.times)
		case LimitDaily:
			c.Daily = len(t.times)
		}
	}
	return c, nil
}

// Reset removes the records of k's user, number and host (each when non-empty),
// for pam-sms limits reset USER. The daily total is left alone: those messages
// were sent and paid for.
func (s *Store) Reset(k Keys) error {
	if k.User == "" && k.Number == "" && k.Host == "" {
		return errors.New("limits: reset: no user, number or host given")
	}
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	for _, name := range []string{keyFile("user", k.User), keyFile("number", k.Number), hostFile(k.Host)} {
		if name == "" {
			continue
		}
		if err := unix.Unlinkat(s.dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("limits: remove %s: %w", s.path(name), err)
		}
	}
	return s.syncDir()
}

// Prune removes state that no longer counts at now: daily files of other days,
// user, number and host files without a record within MaxWindow, and temporary
// files left by writers that died. Take never needs it; it keeps the directory
// from growing with every user, number and client ever seen, and is meant for
// pam-sms or a daily timer. Corrupt files are left in place and reported.
func (s *Store) Prune(now time.Time) error {
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	names, err := s.names()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		stale, err := s.stale(name, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !stale {
			continue
		}
		if err := unix.Unlinkat(s.dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("limits: remove %s: %w", s.path(name), err))
		}
	}
	if err := s.syncDir(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stale reports whether Prune may remove name.
func (s *Store) stale(name string, now time.Time) (bool, error) {
	switch {
	case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp"):
		return true, nil // we hold the lock, so no write is in progress
	case strings.HasPrefix(name, "daily-"):
		return name != dailyFile(now), nil
	case !strings.HasPrefix(name, "user-") && !strings.HasPrefix(name, "number-") && !strings.HasPrefix(name, "host-"):
		return false, nil // not ours (.lock included)
	}
	t := &tally{name: name, window: MaxWindow}
	if err := s.load(t, now); err != nil {
		return false, err
	}
	return len(t.times) == 0, nil
}

// names lists the state directory.
func (s *Store) names() ([]string, error) {
	// Reopen "." relative to our descriptor: reading entries moves the offset,
	// and s.dirfd is shared by concurrent calls.
	fd, err := openat(s.dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("limits: open state directory %s: %w", s.dir, err)
	}
	d := os.NewFile(uintptr(fd), s.dir)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("limits: list state directory %s: %w", s.dir, err)
	}
	slices.Sort(names)
	return names, nil
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
	if (l.PerUser > 0 || l.PerNumber > 0 || l.PerHost > 0) && l.Window <= 0 {
		return fmt.Errorf("limits: window %s must be positive", l.Window)
	}
	if l.Window > MaxWindow {
		return fmt.Errorf("limits: window %s is longer than %s", l.Window, MaxWindow)
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

// tally is one state file with the records that count at now.
type tally struct {
	limit  string
	max    int
	window time.Duration // 0 for daily
	name   string
	times  []int64
}

// tallies lists the files to consult: those with a limit, or with all set,
// every non-empty key.
func (s *Store) tallies(l Limits, k Keys, now time.Time, all bool) []*tally {
	var ts []*tally
	add := func(limit string, n int, window time.Duration, name string) {
		if name != "" && (n > 0 || all) {
			ts = append(ts, &tally{limit: limit, max: n, window: window, name: name})
		}
	}
	add(LimitPerUser, l.PerUser, l.Window, keyFile("user", k.User))
	add(LimitPerNumber, l.PerNumber, l.Window, keyFile("number", k.Number))
	add(LimitPerHost, l.PerHost, l.Window, hostFile(k.Host))
	add(LimitDaily, l.Daily, 0, dailyFile(now))
	return ts
}

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
	return keyFile("host", host)
}

func dailyFile(now time.Time) string {
	return "daily-" + now.UTC().Format("20060102")
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// load reads t's file and keeps the records that count at now.
func (s *Store) load(t *tally, now time.Time) error {
	data, err := s.read(t.name)
	if err != nil || data == nil {
		return err
	}
	times, err := parse(data, now.Add(maxFuture).Unix())
	if err != nil {
		return fmt.Errorf("limits: %s: %w", s.path(t.name), err)
	}
	t.times = slices.DeleteFunc(times, func(sec int64) bool { return !t.counts(sec, now) })
	return nil
}

// counts reports whether a send at sec counts against t at now.
func (t *tally) counts(sec int64, now time.Time) bool {
	if t.window == 0 {
		y, m, d := now.UTC().Date()
		start := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
		return sec >= start && sec < start+24*60*60
	}
	return now.Sub(time.Unix(sec, 0)) < t.window
}

// parse parses a state file, refusing records after latest.
func parse(data []byte, latest int64) ([]int64, error) {
	if len(data) == 0 {
		return nil, nil // a rename that a crash overtook (see Concurrency)
	}
	rest, ok := bytes.CutPrefix(data, []byte(header))
	if !ok {
		return nil, errors.New("line 1: not a pam-sms limits file (want header \"pam-sms-limits 1\")")
	}
	if len(rest) == 0 {
		return nil, nil
	}
	if rest[len(rest)-1] != '\n' {
		return nil, errors.New("last line is not terminated (truncated file)")
	}
	lines := bytes.Split(rest[:len(rest)-1], []byte("\n"))
	if len(lines) > MaxLimit {
		return nil, fmt.Errorf("%d records, more than %d", len(lines), MaxLimit)
	}
	times := make([]int64, 0, len(lines)+1)
	for i, line := range lines {
		sec, err := parseSeconds(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+2, err)
		}
		if sec > latest {
			return nil, fmt.Errorf("line %d: time %d (%s) is more than %s in the future",
				i+2, sec, time.Unix(sec, 0).UTC().Format(time.RFC3339), maxFuture)
		}
		times = append(times, sec)
	}
	return times, nil
}

// parseSeconds accepts only what write produces: a positive decimal without sign
// or leading zeros.
func parseSeconds(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > maxLineLen-1 || b[0] == '0' {
		return 0, fmt.Errorf("bad time %q", b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad time %q", b)
		}
	}
	sec, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad time %q", b)
	}
	return sec, nil
}

// read returns the content of the state file name, or nil if it does not exist.
func (s *Store) read(name string) ([]byte, error) {
	// O_NONBLOCK: a FIFO planted in place of a state file must not hang the login.
	f, err := s.openRegular(name, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxFileSize)+1))
	if err != nil {
		return nil, fmt.Errorf("limits: read %s: %w", s.path(name), err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("limits: %s: larger than %d bytes", s.path(name), maxFileSize)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// openRegular opens an existing regular file under the directory without
// following symbolic links. A missing file gives (nil, nil).
func (s *Store) openRegular(name string, flags int) (*os.File, error) {
	fd, err := openat(s.dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, nil
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("limits: %s is a symbolic link; refusing to follow it", s.path(name))
	case errors.Is(err, unix.EISDIR): // opening for writing
		return nil, fmt.Errorf("limits: %s is not a regular file", s.path(name))
	case err != nil:
		return nil, fmt.Errorf("limits: open %s: %w", s.path(name), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("limits: %s is not a regular file", s.path(name))
	}
	return os.NewFile(uintptr(fd), s.path(name)), nil
}

// write replaces the file name with a header and times, atomically.
func (s *Store) write(name string, times []int64) (err error) {
	tmp := "." + name + ".tmp"
	// A stale temporary file is left by a writer that died under the lock, which
	// we now hold; it may belong to another uid, so remove rather than reuse it.
	if err := unix.Unlinkat(s.dirfd, tmp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("limits: remove stale %s: %w", s.path(tmp), err)
	}
	f, err := s.create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			unix.Unlinkat(s.dirfd, tmp, 0)
		}
	}()
	buf := make([]byte, 0, len(header)+len(times)*11)
	buf = append(buf, header...)
	slices.Sort(times)
	for _, sec := range times {
		buf = strconv.AppendInt(buf, sec, 10)
		buf = append(buf, '\n')
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("limits: write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("limits: close %s: %w", f.Name(), err)
	}
	if err := unix.Renameat(s.dirfd, tmp, s.dirfd, name); err != nil {
		return fmt.Errorf("limits: rename %s to %s: %w", s.path(tmp), name, err)
	}
	return nil
}

// create makes a new file mode 0660. The mode is set again with fchmod because
// the caller's umask (022 under sshd, 077 in some screen lockers) would take the
// group's write bit, and the next login may run under another uid.
func (s *Store) create(name string) (*os.File, error) {
	fd, err := openat(s.dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o660)
	if err != nil {
		return nil, fmt.Errorf("limits: create %s: %w", s.path(name), err)
	}
	if err := unix.Fchmod(fd, 0o660); err != nil {
		unix.Close(fd)
		unix.Unlinkat(s.dirfd, name, 0)
		return nil, fmt.Errorf("limits: chmod %s: %w", s.path(name), err)
	}
	return os.NewFile(uintptr(fd), s.path(name)), nil
}

// lock takes a flock of kind how (LOCK_EX or LOCK_SH) on .lock, creating it if
// needed, and returns the function that releases it. Each call opens its own file
// description, so goroutines of one process exclude each other too.
func (s *Store) lock(how int) (unlock func(), err error) {
	f, err := s.openRegular(lockName, unix.O_RDWR|unix.O_NONBLOCK)
	if err == nil && f == nil {
		f, err = s.create(lockName)
		if errors.Is(err, unix.EEXIST) { // another process created it first
			f, err = s.openRegular(lockName, unix.O_RDWR|unix.O_NONBLOCK)
		}
	}
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("limits: %s vanished while opening it", s.path(lockName))
	}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			for {
				if err = unix.Flock(int(fd), how); !errors.Is(err, unix.EINTR) {
					return
				}
			}
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("limits: lock %s: %w", s.path(lockName), err)
	}
	// Closing the last descriptor releases the lock.
	return func() { f.Close() }, nil
}

func (s *Store) syncDir() error {
	for {
		err := unix.Fsync(s.dirfd)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("limits: sync state directory %s: %w", s.dir, err)
		}
		return nil
	}
}

func openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, flags, mode)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}
