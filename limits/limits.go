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
//	user-H               sends for one user name
//	number-H             sends to one phone number (E.164 digits)
//	host-H               sends for one client address (PAM_RHOST)
//	user-H.lock, ...     empty; flock(2)ed while its key is read and rewritten
//	day-YYYYMMDD         all sends of one calendar day (UTC)
//	.NAME.tmp            a rewrite of NAME in progress, renamed over NAME
//	.NAME.XXXXXXXX.tmp   a new NAME being created, linked to NAME
//
// H is the first 32 hex digits of the SHA-256 of the key, so a directory
// listing shows no user names or phone numbers (an administrator can compute it:
// printf %s alice | sha256sum | cut -c1-32). The hash is unkeyed: it keeps names
// out of plain sight, not away from someone who can read the directory and guess
// numbers. Host keys that parse as IP addresses are normalized first (IPv4-mapped
// addresses unmapped, zones dropped). Every file appears under its name with mode
// 0660 whatever the umask (it is created under a temporary name, chmod-ed, then
// linked or renamed), so that root and the setgid helper run by ordinary users
// share them. Files of the previous layout (.lock, daily-YYYYMMDD) are not read;
// Prune removes them.
//
// # File format
//
// A user, number or host file is text: the line "pam-sms-limits 1", then one line
// per recorded send holding its time in decimal Unix seconds, in no particular
// order. Each write drops the records outside the window, so a file never holds
// more records than the limit it serves, and at most MaxLimit. A record more than
// a day in the future, a bad line, a missing header or an oversized file makes the
// file corrupt: every operation touching it fails and names it, since silently
// starting from zero would lift the limit. Remove the file (or run pam-sms limits
// reset) after checking the clock. An empty file counts nothing.
//
// A day file is a sequence of fixed-length records of 11 bytes, the send's time in
// ten decimal digits and a newline, each appended by one write. Its count is its
// size in records, a partial record (a writer that hit a file size limit) counting
// as one; the content is for people.
//
// # Concurrency
//
// No operation waits without bound, and no caller can make another user's login
// wait: a user may run the setgid helper by hand and stop it (SIGSTOP) at any
// moment, locks included.
//
// Each user, number or host key has a lock file of its own, NAME.lock, which is
// never replaced; only its holder rewrites (by rename) or removes NAME. Take
// locks the limited keys in the order user, number, host, so that two Takes
// never wait for each other in a cycle, re-checks after each flock that the lock
// file was not removed meanwhile (Prune and Reset remove them, holding them),
// reads the files and writes their new contents to .NAME.tmp. All of one Take's
// lock waits share one deadline (Store.LockTimeout, default DefaultLockTimeout);
// when it runs out Take returns a *BusyError (errors.Is(err, ErrBusy)) and the
// login is denied. The locks are held only for this read-modify-write: the
// helper calls the gateway after Take has returned. A stopped helper therefore
// stalls only logins that share one of its keys, and those only for the deadline.
//
// The day file is shared by every user, so it is never locked. Take claims a daily
// slot last, after the other keys were checked and their new contents written
// beside them: it refuses if the file already holds the limit, otherwise it
// appends one record with O_APPEND and derives its own position from the file
// offset after the write. A record at a position below the limit is a send;
// above it, the Take lost a race and is refused, and its record stays, which
// over-counts: the safe direction. Finally Take renames the new contents into
// place and releases the locks. A Take that fails or is killed after claiming a
// slot leaves it counted.
//
// Count takes no lock: every file is replaced by rename or only appended to, so a
// reader sees a whole state. Reset locks as Take does, within the same deadline;
// Prune never waits and skips a key whose lock is held.
//
// Take does not fsync: fsyncs were most of a login burst's queueing, and what a
// power loss can cost is the counts of the last seconds, which lifts a limit for
// at most one window. The one crash artefact of an unsynced rename, an empty
// file, therefore counts as no records. Locks are released when the process exits,
// so a helper killed by the module's deadline never leaves a key locked.
package limits

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// state file, which is read and rewritten under its lock on every send.
const MaxLimit = 10000

// MaxWindow is the longest window accepted. Prune relies on it: a file without a
// record in the last MaxWindow counts nothing.
const MaxWindow = 24 * time.Hour

// DefaultLockTimeout bounds the lock waits of one Take or Reset when
// Store.LockTimeout is 0. A key's critical section takes well under a
// millisecond, so even a burst of hundreds of logins sharing one client address
// stays far below it; only a holder that is stopped or stuck reaches it.
const DefaultLockTimeout = 2 * time.Second

// Limit names, as in the config and in ExceededError.Limit.
const (
	LimitPerUser   = "per_user"
	LimitPerNumber = "per_number"
	LimitPerHost   = "per_host"
	LimitDaily     = "daily"
)

// Key kinds, as in file names and in BusyError.Key.
const (
	KeyUser   = "user"
	KeyNumber = "number"
	KeyHost   = "host"
)

const (
	header = "pam-sms-limits 1\n"
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
	// LockTimeout bounds all lock waits of one Take or Reset; 0 means
	// DefaultLockTimeout. Set it before using the Store.
	LockTimeout time.Duration

	dir   string
	dirfd int

	mu      sync.Mutex
	running int  // critical sections on their goroutines, abandoned ones too
	closed  bool // Close was called; the last section closes dirfd
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
	// Take's lock wait uses a timer, and the runtime's first timer creates its
	// poller (an epoll descriptor) or dies trying. Have it made now, so that a
	// caller who exhausted RLIMIT_NOFILE gets an error from Take, not a crash.
	time.AfterFunc(time.Hour, func() {}).Stop()
	return &Store{dir: dir, dirfd: fd}, nil
}

// Close releases the directory. The Store must not be used afterwards. A
// critical section that a Take or Reset gave up on keeps the directory open
// until its lock wait ends, so that it never works on a reused descriptor.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.running > 0 {
		return nil
	}
	if err := unix.Close(s.dirfd); err != nil {
		return fmt.Errorf("limits: close state directory %s: %w", s.dir, err)
	}
	return nil
}

// enter and leave count the critical sections running on goroutines of their
// own (see withLocks), so that Close leaves the directory to the last of them.
func (s *Store) enter() {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
}

func (s *Store) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running--; s.running == 0 && s.closed {
		unix.Close(s.dirfd)
	}
}

// Take records one send at now for k, unless that would exceed a limit of l.
// It locks each limited key (user, number, host, in that order), returns an
// *ExceededError for the first limit (in the order per_user, per_number,
// per_host, daily) whose count has reached its maximum, and otherwise records now
// for each of those keys and in the day file. User, number and host keys with a
// limit of 0 are neither checked nor recorded (an empty Host is skipped); the day
// file records every send, and is checked only when daily > 0. When the locks are not had
// within the Store's LockTimeout it returns a *BusyError. On any error the
// caller must deny the login.
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
	ts := tallies(l, k, false)
	// Every send is recorded in the day file, limited or not, so that
	// pam-sms limits show counts today's SMS even with daily = 0.
	if err := checkDayTime(now); err != nil {
		return 0, err
	}
	keys := make([]key, len(ts))
	for i, t := range ts {
		keys[i] = key{t.kind, t.name}
	}
	err = s.withLocks(keys, func() (err error) {
		sentToday, err = s.take(l, ts, now)
		return err
	})
	return sentToday, err
}

// take is Take's read-modify-write, run with the keys of ts locked.
func (s *Store) take(l Limits, ts []*tally, now time.Time) (sentToday int, err error) {
	for _, t := range ts {
		if err := s.load(t, now); err != nil {
			return 0, err
		}
	}
	for _, t := range ts {
		if len(t.times) >= t.max {
			return 0, &ExceededError{Limit: t.limit, Max: t.max, Window: t.window}
		}
	}
	// Write the new contents beside the files before claiming a daily slot:
	// a write that fails (disk full, RLIMIT_FSIZE, no descriptor left) then
	// costs no slot and changes nothing.
	tmps := make([]string, len(ts))
	defer func() {
		for _, tmp := range tmps {
			if tmp != "" {
				unix.Unlinkat(s.dirfd, tmp, 0)
			}
		}
	}()
	for i, t := range ts {
		tmp, err := s.prepare(t.name, append(t.times, now.Unix()))
		if err != nil {
			return 0, err
		}
		tmps[i] = tmp
	}
	sentToday, err = s.claimDay(l.Daily, now)
	if err != nil {
		return 0, err
	}
	for i, t := range ts {
		// A failure after an earlier file was renamed leaves that send counted
		// there: over-counting is the safe direction.
		if err := unix.Renameat(s.dirfd, tmps[i], s.dirfd, t.name); err != nil {
			return 0, fmt.Errorf("limits: rename %s to %s: %w", s.path(tmps[i]), t.name, err)
		}
		tmps[i] = ""
	}
	return sentToday, nil
}

// Count returns the sends currently counted for each non-empty key of k, and
// today's total, whatever the limits (for pam-sms limits show). It takes no
// lock. l.Window must be positive.
func (s *Store) Count(l Limits, k Keys, now time.Time) (Counts, error) {
	if l.Window <= 0 {
		return Counts{}, fmt.Errorf("limits: window %s must be positive", l.Window)
	}
	var c Counts
	for _, t := range tallies(l, k, true) {
		if err := s.load(t, now); err != nil {
			return Counts{}, err
		}
		switch t.kind {
		case KeyUser:
			c.User = len(t.times)
		case KeyNumber:
			c.Number = len(t.times)
		case KeyHost:
			c.Host = len(t.times)
		}
	}
	n, err := s.dayCount(now)
	if err != nil {
		return Counts{}, err
	}
	c.Daily = n
	return c, nil
}

// Reset removes the records of k's user, number and host (each when non-empty),
// for pam-sms limits reset USER. It locks them as Take does, within the Store's
// LockTimeout, and removes a key's file also when it is not a regular file
// (planted or damaged), since that is what an administrator runs to clear it.
// The daily total is left alone: those messages were sent and paid for.
func (s *Store) Reset(k Keys) error {
	if k.User == "" && k.Number == "" && k.Host == "" {
		return errors.New("limits: reset: no user, number or host given")
	}
	var keys []key
	for _, k := range []key{{KeyUser, keyFile(KeyUser, k.User)}, {KeyNumber, keyFile(KeyNumber, k.Number)}, {KeyHost, hostFile(k.Host)}} {
		if k.name != "" {
			keys = append(keys, k)
		}
	}
	err := s.withLocks(keys, func() error {
		for _, k := range keys {
			// Under the lock, so no Take is between its read and its rename;
			// the lock file goes too, and its waiters lock a new one.
			for _, name := range []string{k.name, "." + k.name + ".tmp", k.name + lockSuffix} {
				if err := unix.Unlinkat(s.dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
					return fmt.Errorf("limits: remove %s: %w", s.path(name), err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.syncDir()
}

func (s *Store) lockTimeout() time.Duration {
	if s.LockTimeout > 0 {
		return s.LockTimeout
	}
	return DefaultLockTimeout
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

// tally is one user, number or host file with the records that count at now.
type tally struct {
	kind   string // KeyUser, KeyNumber or KeyHost
	limit  string // LimitPerUser, ...
	max    int
	window time.Duration
	name   string
	times  []int64
}

// tallies lists the user, number and host files to consult, in lock order:
// those with a limit, or with all set, every non-empty key.
func tallies(l Limits, k Keys, all bool) []*tally {
	var ts []*tally
	add := func(kind, limit string, n int, name string) {
		if name != "" && (n > 0 || all) {
			ts = append(ts, &tally{kind: kind, limit: limit, max: n, window: l.Window, name: name})
		}
	}
	add(KeyUser, LimitPerUser, l.PerUser, keyFile(KeyUser, k.User))
	add(KeyNumber, LimitPerNumber, l.PerNumber, keyFile(KeyNumber, k.Number))
	add(KeyHost, LimitPerHost, l.PerHost, hostFile(k.Host))
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
	return keyFile(KeyHost, host)
}

// keyKind returns the kind of a user, number or host file name, or "".
func keyKind(name string) string {
	kind, h, ok := strings.Cut(name, "-")
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

// load reads t's file without a lock and keeps the records that count at now.
func (s *Store) load(t *tally, now time.Time) error {
	fd, err := s.openRegular(t.name, unix.O_RDONLY)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	return s.loadFD(t, fd, now)
}

// loadFD reads t's file from fd and keeps the records that count at now.
func (s *Store) loadFD(t *tally, fd int, now time.Time) error {
	data, err := s.readFD(fd, t.name)
	if err != nil {
		return err
	}
	times, err := parse(data, now.Add(maxFuture).Unix())
	if err != nil {
		return fmt.Errorf("limits: %s: %w", s.path(t.name), err)
	}
	t.times = slices.DeleteFunc(times, func(sec int64) bool { return now.Sub(time.Unix(sec, 0)) >= t.window })
	return nil
}

// parse parses a user, number or host file, refusing records after latest.
func parse(data []byte, latest int64) ([]int64, error) {
	if len(data) == 0 {
		return nil, nil // a new file, or a rename that a crash overtook
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

// parseSeconds accepts only what prepare produces: a positive decimal without
// sign or leading zeros.
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

// format renders a user, number or host file.
func format(times []int64) []byte {
	buf := make([]byte, 0, len(header)+len(times)*11)
	buf = append(buf, header...)
	slices.Sort(times)
	for _, sec := range times {
		buf = strconv.AppendInt(buf, sec, 10)
		buf = append(buf, '\n')
	}
	return buf
}
