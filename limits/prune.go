package limits

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TempMaxAge is how old a temporary file whose key is not locked must be before
// Prune takes it for the leftover of a writer that died: creating a file takes
// microseconds, so only a dead or stopped writer leaves one this long.
const TempMaxAge = time.Minute

const legacyLock = ".lock"

// Pruned counts what Prune removed, and what it left because a login held it.
type Pruned struct {
	User   int // user files without a send within MaxWindow (with their lock files)
	Number int // number files, likewise
	Host   int // host files, likewise
	Day    int // day files of other days
	Temp   int // temporary files left by writers that died
	Legacy int // .lock and daily-* files of the previous layout
	Busy   int // user, number and host keys skipped: a login held their lock
}

// Removed is the number of files removed.
func (p Pruned) Removed() int { return p.User + p.Number + p.Host + p.Day + p.Temp + p.Legacy }

// Prune removes state that no longer counts at now: day files of other days,
// user, number and host files (and their lock files) without a record within
// MaxWindow, temporary files left by writers that died, and the files of the
// previous layout (.lock, daily-*). Take never needs it; it keeps the directory
// from growing with every user, number and client ever seen, and is run by
// pam-sms prune from a daily timer. It never waits: a key whose lock is held is
// skipped (counted as Busy), and so is its temporary file. Corrupt files are
// left in place and reported; names that are not state files are left alone.
func (s *Store) Prune(now time.Time) (Pruned, error) {
	var p Pruned
	names, err := s.names()
	if err != nil {
		return p, err
	}
	var errs []error
	var keys, temps []string
	today := dayFile(now)
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp"):
			temps = append(temps, name) // after the keys they belong to
		case name == legacyLock || isLegacyDaily(name):
			p.Legacy += s.remove(name, &errs)
		case isDayFile(name):
			if name != today {
				p.Day += s.remove(name, &errs)
			}
		case keyKind(name) != "":
			keys = append(keys, name)
		case keyKind(strings.TrimSuffix(name, lockSuffix)) != "":
			if k := strings.TrimSuffix(name, lockSuffix); !has(names, k) {
				keys = append(keys, k) // a lock file whose key has no file
			}
		}
	}
	for _, name := range keys {
		s.pruneKey(name, now, &p, &errs)
	}
	for _, name := range temps {
		p.Temp += s.pruneTemp(name, now, &errs)
	}
	if p.Removed() > 0 {
		if err := s.syncDir(); err != nil {
			errs = append(errs, err)
		}
	}
	return p, errors.Join(errs...)
}

// pruneKey removes the user, number or host file name and its lock file if it
// has no record within MaxWindow, holding the lock so that no Take is between
// its read and its rename.
func (s *Store) pruneKey(name string, now time.Time, p *Pruned, errs *[]error) {
	lock := name + lockSuffix
	fd, busy, err := s.tryLock(lock)
	if err == nil && fd < 0 && !busy {
		// No lock file (Reset keeps none, and a crash may lose one): make
		// one, as Take would, so that a Take starting now waits for us.
		if err = s.publish(lock); err == nil {
			fd, busy, err = s.tryLock(lock)
		}
	}
	switch {
	case err != nil:
		*errs = append(*errs, err)
		return
	case busy:
		p.Busy++
		return
	case fd < 0:
		return // removed since we listed it
	}
	defer unix.Close(fd)
	t := &tally{name: name, window: MaxWindow}
	if err := s.load(t, now); err != nil {
		*errs = append(*errs, err)
		return
	}
	if len(t.times) > 0 {
		return
	}
	// The data file first: a lock file alone is harmless, a data file alone
	// is locked through a new lock file.
	n := s.remove(name, errs)
	p.Temp += s.remove("."+name+".tmp", errs) // only a lock holder writes it: stale
	s.remove(lock, errs)
	if n == 0 {
		return // it had no data file; count the key only once
	}
	switch keyKind(name) {
	case KeyUser:
		p.User++
	case KeyNumber:
		p.Number++
	case KeyHost:
		p.Host++
	}
}

// pruneTemp removes the temporary file name if its writer is gone, and returns
// 1 if it did. A rewrite's .NAME.tmp is only ever written by the holder of
// NAME's lock, so holding that lock proves it stale; anything else (a creation's
// .NAME.XXXXXXXX.tmp, a rewrite whose NAME has no lock file, the previous
// layout's) must be older than TempMaxAge.
func (s *Store) pruneTemp(name string, now time.Time, errs *[]error) int {
	inner := strings.TrimSuffix(strings.TrimPrefix(name, "."), ".tmp")
	if keyKind(inner) != "" {
		fd, busy, err := s.tryLock(inner + lockSuffix)
		if err != nil || busy {
			return 0 // reported, or counted, with the key itself
		}
		if fd >= 0 {
			defer unix.Close(fd)
			return s.remove(name, errs)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstatat(s.dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if !errors.Is(err, unix.ENOENT) {
			*errs = append(*errs, fmt.Errorf("limits: stat %s: %w", s.path(name), err))
		}
		return 0
	}
	if now.Sub(time.Unix(st.Mtim.Unix())) < TempMaxAge {
		return 0
	}
	return s.remove(name, errs)
}

// remove unlinks name and returns 1, or records the error and returns 0.
func (s *Store) remove(name string, errs *[]error) int {
	err := unix.Unlinkat(s.dirfd, name, 0)
	switch {
	case err == nil:
		return 1
	case errors.Is(err, unix.ENOENT):
		return 0
	}
	*errs = append(*errs, fmt.Errorf("limits: remove %s: %w", s.path(name), err))
	return 0
}

// has reports whether the sorted names hold name.
func has(names []string, name string) bool {
	_, ok := slices.BinarySearch(names, name)
	return ok
}
