package limits

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// recordLen is the length of one record: ten digits of Unix seconds and a
	// newline. Records have one length so that a file's size is its count
	// and a writer's offset its position.
	recordLen       = 11
	maxRecordSecond = 9_999_999_999 // ten digits: until the year 2286
	// maxRecords bounds a key file: its limit's records, and those of Takes
	// that lost the race for its last slot.
	maxRecords  = 2 * MaxLimit
	maxFileSize = maxRecords * recordLen
)

// record is the record of a send at sec.
func record(sec int64) []byte {
	b := make([]byte, 0, recordLen)
	s := strconv.FormatInt(sec, 10)
	for range 10 - len(s) {
		b = append(b, '0')
	}
	return append(append(b, s...), '\n')
}

// records is the number of records in a file of size bytes: a partial record
// (a write cut short) counts as one.
func records(size int64) int {
	return int((size + recordLen - 1) / recordLen)
}

func checkTime(now time.Time) error {
	if sec := now.Unix(); sec < 1 || sec > maxRecordSecond {
		return fmt.Errorf("limits: time %s is outside what a state file records", now.UTC().Format(time.RFC3339))
	}
	return nil
}

// windowSeconds is the bucket length of a window: its whole seconds. A record
// two buckets back is then at least one second older than the window.
func windowSeconds(w time.Duration) int64 { return int64(w / time.Second) }

// bucketFile names the file of the key file base for bucket b of windows of
// ws seconds: base.WS.B.
func bucketFile(base string, ws, b int64) string {
	return base + "." + strconv.FormatInt(ws, 10) + "." + strconv.FormatInt(b, 10)
}

// parseBucketFile splits a bucket file name; ok is false for any other name.
func parseBucketFile(name string) (kind string, ws, b int64, ok bool) {
	base, rest, found := strings.Cut(name, ".")
	if !found {
		return "", 0, 0, false
	}
	w, bs, found := strings.Cut(rest, ".")
	if !found {
		return "", 0, 0, false
	}
	ws, okW := decimal(w)
	b, okB := decimal(bs)
	kind = keyKind(base)
	return kind, ws, b, kind != "" && okW && okB && ws > 0
}

// decimal parses a non-negative decimal written as strconv writes it.
func decimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// slot is a file that a Take appends its record to.
type slot struct {
	name    string
	fd      int    // the file, open; -1 while it does not exist
	tmp     int    // an unnamed file holding the record, to be linked as name; or -1
	tmpName string // the temporary name of tmp where O_TMPFILE is not available
}

// close closes sl's descriptors; dropTemp must have removed a temporary name.
func (sl *slot) close() {
	for _, fd := range []*int{&sl.fd, &sl.tmp} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// tally is one user, number or host key and the sends it counts at a time.
type tally struct {
	slot               // the file of the current bucket
	kind, limit string // KeyUser, LimitPerUser, ...
	max         int
	window      time.Duration
	lo, hi      int64  // the current bucket's seconds: [lo, hi)
	after       int64  // a record counts if its second is after this (Unix ns)
	prevName    string // the file of the bucket before
	nextName    string // and after
	prevSize    int64  // the size of prevName when read; -1 if missing
	prev        int    // records of prevName within the window
	cur         int    // records of the current bucket when read
	next        int    // records of nextName
	pos         int    // the position of the Take's own record in the current bucket
}

func newTally(kind, limit string, n int, window time.Duration, base string, now time.Time) *tally {
	ws := windowSeconds(window)
	b := now.Unix() / max(ws, 1)
	return &tally{
		slot: slot{name: bucketFile(base, ws, b), fd: -1, tmp: -1},
		kind: kind, limit: limit, max: n, window: window,
		lo: b * ws, hi: (b + 1) * ws, after: now.UnixNano() - int64(window),
		prevName: bucketFile(base, ws, b-1), nextName: bucketFile(base, ws, b+1),
		prevSize: -1,
	}
}

func (t *tally) exceeded() error {
	return &ExceededError{Limit: t.limit, Max: t.max, Window: t.window}
}

func slots(ts []*tally) []*slot {
	out := make([]*slot, 0, len(ts)+1)
	for _, t := range ts {
		out = append(out, &t.slot)
	}
	return out
}

// load counts t's sends at now: the records of the previous bucket within the
// window, all of the current bucket, which it leaves open with flags, and all
// of the next one (written by a clock ahead of ours).
func (s *Store) load(t *tally, now time.Time, flags int) error {
	if err := s.loadPrev(t); err != nil {
		return err
	}
	if err := s.loadNext(t); err != nil {
		return err
	}
	fd, err := s.openRegular(t.name, flags)
	if err != nil || fd < 0 {
		return err
	}
	t.fd = fd
	all, _, _, err := s.scan(fd, t.name, t.lo, t.hi, t.after)
	t.cur = all
	return err
}

func (s *Store) loadPrev(t *tally) error {
	fd, err := s.openRegular(t.prevName, unix.O_RDONLY)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	ws := t.hi - t.lo
	_, recent, size, err := s.scan(fd, t.prevName, t.lo-ws, t.lo, t.after)
	t.prev, t.prevSize = recent, size
	return err
}

// recount looks again, after the Take's append, at what others may have
// appended around it: the previous bucket (a racer whose clock had not yet
// reached this bucket), read again if it grew, and the next one (a racer whose
// clock had passed it), all of whose records count. Two racers thus always see
// each other: each appends before it looks.
func (s *Store) recount(t *tally, now time.Time) error {
	size, err := s.size(t.prevName)
	if err != nil {
		return err
	}
	if size >= 0 && size != t.prevSize {
		if err := s.loadPrev(t); err != nil {
			return err
		}
	}
	return s.loadNext(t)
}

func (s *Store) loadNext(t *tally) error {
	size, err := s.size(t.nextName)
	t.next = records(max(size, 0))
	return err
}

// size returns the size of the regular file name, or -1 if it is missing.
func (s *Store) size(name string) (int64, error) {
	var st unix.Stat_t
	err := unix.Fstatat(s.dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, nil
	case err != nil:
		return 0, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return 0, &notRegularError{fmt.Sprintf("limits: %s is not a regular file", s.path(name))}
	}
	return st.Size, nil
}

// scan reads the key file open as fd and returns its records, those of them
// after the Unix time after (ns), and its size. Every record must lie in [lo,
// hi), its bucket; a last record cut short (digits only) counts in both.
func (s *Store) scan(fd int, name string, lo, hi, after int64) (all, recent int, size int64, err error) {
	data, err := s.readFD(fd, name)
	if err != nil {
		return 0, 0, 0, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("limits: %s: %s", s.path(name), fmt.Sprintf(format, args...))
	}
	n := len(data) / recordLen
	for i := range n {
		r := data[i*recordLen : (i+1)*recordLen]
		sec, ok := decimal(strings.TrimLeft(string(r[:recordLen-1]), "0"))
		if r[recordLen-1] != '\n' || !ok {
			return 0, 0, 0, bad("record %d: bad record %q", i+1, r)
		}
		if sec < lo || sec >= hi {
			return 0, 0, 0, bad("record %d: time %d (%s) is outside the file's bucket", i+1, sec,
				time.Unix(sec, 0).UTC().Format(time.RFC3339))
		}
		if sec*int64(time.Second) > after {
			recent++
		}
	}
	all = n
	if tail := data[n*recordLen:]; len(tail) > 0 {
		if strings.Trim(string(tail), "0123456789") != "" {
			return 0, 0, 0, bad("record %d: bad record %q", n+1, tail)
		}
		all++
		recent++
	}
	return all, recent, int64(len(data)), nil
}

// openSlot opens the day file sl with flags, if it exists, and returns its
// records.
func (s *Store) openSlot(sl *slot, flags int) (int, error) {
	fd, err := s.openRegular(sl.name, flags)
	if err != nil || fd < 0 {
		return 0, err
	}
	sl.fd = fd
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("limits: stat %s: %w", s.path(sl.name), err)
	}
	return records(st.Size), nil
}

// haveProcFD says whether an O_TMPFILE can be linked by its /proc/self/fd
// name, which needs no privilege (AT_EMPTY_PATH does).
var haveProcFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// prepare writes rec into a new file of mode 0660 that has no name yet (an
// O_TMPFILE, or a temporary name where the file system lacks it), for add to
// link as sl.name. The mode is set again with fchmod because the caller's
// umask (022 under sshd, 077 in some screen lockers) would take the group's
// write bit, and the next login may run under another uid.
func (s *Store) prepare(sl *slot, rec []byte) error {
	fd := -1
	var err error
	if haveProcFD() {
		fd, err = openat(s.dirfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o660)
		if err == nil {
			if err = unix.Fchmod(fd, 0o660); err != nil {
				unix.Close(fd)
				return fmt.Errorf("limits: chmod new %s: %w", s.path(sl.name), err)
			}
		} else if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("limits: create %s: %w", s.path(sl.name), err)
		}
	}
	if fd < 0 {
		sl.tmpName = fmt.Sprintf(".%s.%016x.tmp", sl.name, rand.Uint64())
		if fd, err = s.create(sl.tmpName, sl.name); err != nil {
			sl.tmpName = ""
			return err
		}
	}
	sl.tmp = fd
	if err := writeRecord(fd, rec); err != nil {
		s.dropTemp(sl)
		return fmt.Errorf("limits: write new %s: %w", s.path(sl.name), err)
	}
	return nil
}

// dropTemp closes and removes sl's prepared file.
func (s *Store) dropTemp(sl *slot) {
	if sl.tmp >= 0 {
		unix.Close(sl.tmp)
		sl.tmp = -1
	}
	if sl.tmpName != "" {
		unix.Unlinkat(s.dirfd, sl.tmpName, 0)
		sl.tmpName = ""
	}
}

// add appends rec to sl, or links the file prepare made with it, and returns
// the record's position in the file (1-based).
func (s *Store) add(sl *slot, rec []byte) (int, error) {
	if sl.fd < 0 {
		err := s.link(sl)
		if err == nil {
			sl.fd, sl.tmp = sl.tmp, -1
			return 1, nil
		}
		s.dropTemp(sl)
		if !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("limits: create %s: %w", s.path(sl.name), err)
		}
		// Another Take created it meanwhile: append to theirs.
		fd, err := s.openRegular(sl.name, unix.O_WRONLY|unix.O_APPEND)
		if err != nil {
			return 0, err
		}
		if fd < 0 {
			return 0, fmt.Errorf("limits: %s was removed while it was being created", s.path(sl.name))
		}
		sl.fd = fd
	}
	if err := writeRecord(sl.fd, rec); err != nil {
		return 0, fmt.Errorf("limits: append to %s: %w", s.path(sl.name), err)
	}
	// O_APPEND placed the record at the end of the file under the inode's
	// lock; our own descriptor's offset now points just past it.
	end, err := unix.Seek(sl.fd, 0, unix.SEEK_CUR)
	if err != nil {
		return 0, fmt.Errorf("limits: seek %s: %w", s.path(sl.name), err)
	}
	return records(end), nil
}

// link gives the prepared file its name; EEXIST if the name is taken.
func (s *Store) link(sl *slot) error {
	if sl.tmpName != "" {
		err := unix.Linkat(s.dirfd, sl.tmpName, s.dirfd, sl.name, 0)
		unix.Unlinkat(s.dirfd, sl.tmpName, 0)
		sl.tmpName = ""
		return err
	}
	return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(sl.tmp), s.dirfd, sl.name, unix.AT_SYMLINK_FOLLOW)
}

// writeRecord writes rec with one write(2), retried on EINTR only: a record
// goes out in one piece or counts as a partial one.
func writeRecord(fd int, rec []byte) error {
	for {
		n, err := unix.Write(fd, rec)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n != len(rec) {
			return fmt.Errorf("short write (%d of %d bytes)", n, len(rec))
		}
		return nil
	}
}
