package limits

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TempMaxAge is how old a temporary file must be before Prune takes it for the
// leftover of a writer that died: creating a file takes microseconds, so only
// a dead or stopped writer leaves one this long.
const TempMaxAge = time.Minute

// Pruned counts what Prune removed.
type Pruned struct {
	User   int // user key files of buckets that no longer count
	Number int // number files, likewise
	Host   int // host files, likewise
	Day    int // day files of other days
	Temp   int // temporary files left by writers that died
	Legacy int // files of earlier layouts: user-H, user-H.lock, user-H.W.B, .lock, daily-*
}

// Removed is the number of files removed.
func (p Pruned) Removed() int { return p.User + p.Number + p.Host + p.Day + p.Temp + p.Legacy }

// Prune removes state that no longer counts at now: user, number and host
// key files of buckets that no Take reads any more (older than the bucket
// before the current one), day files of other days, temporary files left by writers
// that died, and the files of earlier layouts. Take never needs it; it keeps
// the directory from growing with every user, number and client ever seen, and
// is run by pam-sms prune from a daily timer. It never waits. The files that
// still count are read, and a corrupt one is left in place and reported;
// names that are not state files are left alone.
func (s *Store) Prune(now time.Time) (Pruned, error) {
	var p Pruned
	names, err := s.names()
	if err != nil {
		return p, err
	}
	var errs []error
	today := dayFile(now)
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp"):
			p.Temp += s.pruneTemp(name, now, &errs)
		case name == ".lock" || isLegacyDaily(name) || isLegacyKey(name):
			p.Legacy += s.remove(name, &errs)
		case isDayFile(name):
			if name != today {
				p.Day += s.remove(name, &errs)
			}
		default:
			s.pruneBucket(name, now, &p, &errs)
		}
	}
	if p.Removed() > 0 {
		if err := s.syncDir(); err != nil {
			errs = append(errs, err)
		}
	}
	return p, errors.Join(errs...)
}

// isLegacyKey reports whether name is a key file of an earlier layout: one
// file per key (kind-H), its lock file, or its buckets (kind-H.W.B).
func isLegacyKey(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	return keyKind(base) != ""
}

// pruneBucket removes the key file name if no Take reads it at now, and
// otherwise checks that it reads.
func (s *Store) pruneBucket(name string, now time.Time, p *Pruned, errs *[]error) {
	kind, _, ws, b, ok := parseShardFile(name)
	if !ok {
		return
	}
	if now.Unix()/ws < b+2 {
		fd, size, err := s.openRegular(name, unix.O_RDONLY)
		if err == nil && fd >= 0 {
			var data []byte
			if data, err = s.readFD(fd, name, 0, size); err == nil {
				err = s.check(data, name, b*ws, (b+1)*ws)
			}
			unix.Close(fd)
		}
		if err != nil {
			*errs = append(*errs, err)
		}
		return
	}
	n := s.remove(name, errs)
	switch kind {
	case KeyUser:
		p.User += n
	case KeyNumber:
		p.Number += n
	case KeyHost:
		p.Host += n
	}
}

// pruneTemp removes the temporary file name if it is older than TempMaxAge,
// and returns 1 if it did.
func (s *Store) pruneTemp(name string, now time.Time, errs *[]error) int {
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
