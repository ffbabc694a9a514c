package limits

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// dayRecordLen is the length of a day file record: ten digits of Unix
	// seconds and a newline.
	dayRecordLen = 11
	// keyRecordLen is the length of a key file record: the key's hash (32 hex
	// digits), a space, ten digits of Unix seconds, spaces, and a newline. It
	// divides the page size, so that no record straddles a page: a reader
	// never sees half of one (the kernel copies a write into the page cache
	// page by page, growing the file after each) and a killed writer never
	// leaves half of one.
	keyRecordLen    = 64
	hashLen         = 32
	timeEnd         = hashLen + 1 + 10
	maxRecordSecond = 9_999_999_999 // ten digits: until the year 2286
	// maxFileSize bounds a key file. It stays below the RLIMIT_FSIZE of 1 MiB
	// that the helper requires, with room for the racers past the check, so
	// that no append is ever cut short by a caller's file size limit.
	maxFileSize = 1<<20 - 64<<10
	// tombstone is the time of the record Reset appends: the key's records
	// before it in its file no longer count.
	tombstone = "0000000000"
)

// dayRecord is the day file record of a send at sec; keyRecord that of key h.
func dayRecord(sec int64) []byte {
	b := make([]byte, 0, dayRecordLen)
	return append(appendTime(b, sec), '\n')
}

func keyRecord(h string, sec int64) []byte {
	b := make([]byte, 0, keyRecordLen)
	b = append(append(b, h...), ' ')
	b = appendTime(b, sec)
	for len(b) < keyRecordLen-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

func appendTime(b []byte, sec int64) []byte {
	s := strconv.FormatInt(sec, 10)
	for range 10 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// dayRecords is the number of records in a day file of size bytes: a partial
// record (a write cut short) counts as one.
func dayRecords(size int64) int {
	return int((size + dayRecordLen - 1) / dayRecordLen)
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

// shardFile names the key file of kind for keys whose hash starts with the
// hex digit shard, bucket b of windows of ws seconds: kind-S.WS.B.
func shardFile(kind string, shard byte, ws, b int64) string {
	return kind + "-" + string(shard) + "." + strconv.FormatInt(ws, 10) + "." + strconv.FormatInt(b, 10)
}

// parseShardFile splits a key file name; ok is false for any other name.
func parseShardFile(name string) (kind string, shard byte, ws, b int64, ok bool) {
	base, rest, found := strings.Cut(name, ".")
	if !found {
		return "", 0, 0, 0, false
	}
	kind, s, found := strings.Cut(base, "-")
	if !found || len(s) != 1 || !isHex(s[0]) || (kind != KeyUser && kind != KeyNumber && kind != KeyHost) {
		return "", 0, 0, 0, false
	}
	w, bs, found := strings.Cut(rest, ".")
	if !found {
		return "", 0, 0, 0, false
	}
	ws, okW := decimal(w)
	b, okB := decimal(bs)
	return kind, s[0], ws, b, okW && okB && ws > 0
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

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
	flags   int    // how add opens the file when another Take created it
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
	slot               // the key file of the current bucket
	kind, limit string // KeyUser, LimitPerUser, ...
	max         int
	window      time.Duration
	hash        string // the key's hash, as in its records
	lo, hi      int64  // the current bucket's seconds: [lo, hi)
	after       int64  // a record of the bucket before counts if its second is after this (Unix ns)
	prevName    string // the key file of the bucket before
	nextName    string // and after
	prevSize    int64  // the size of prevName when counted; -1 if missing
	nextSize    int64  // likewise
	curSize     int64  // the bytes of the current file counted in cur
	prev        int    // the key's records in prevName within the window
	cur         int    // in the current file
	next        int    // in nextName
	pos         int    // the key's records in the current file up to the Take's own
}

func newTally(kind, limit string, n int, window time.Duration, base string, now time.Time) *tally {
	ws := windowSeconds(window)
	b := now.Unix() / max(ws, 1)
	h := strings.TrimPrefix(base, kind+"-")
	return &tally{
		slot: slot{name: shardFile(kind, h[0], ws, b), flags: unix.O_RDWR | unix.O_APPEND, fd: -1, tmp: -1},
		kind: kind, limit: limit, max: n, window: window, hash: h,
		lo: b * ws, hi: (b + 1) * ws, after: now.UnixNano() - int64(window),
		prevName: shardFile(kind, h[0], ws, b-1), nextName: shardFile(kind, h[0], ws, b+1),
		prevSize: -1, nextSize: -1,
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

// load counts t's sends at now: its records in the previous bucket within the
// window, all in the current bucket, whose file it leaves open with flags, and
// all in the next one (written by a clock ahead of ours).
func (s *Store) load(t *tally, flags int) error {
	if err := s.countPrev(t); err != nil {
		return err
	}
	if err := s.countNext(t); err != nil {
		return err
	}
	fd, size, err := s.openRegular(t.name, flags)
	if err != nil || fd < 0 {
		return err
	}
	t.fd = fd
	data, err := s.readFD(fd, t.name, 0, size)
	if err != nil {
		return err
	}
	t.cur, _, err = s.count(data, t.name, 0, t.hash, t.lo, t.hi, math.MinInt64)
	t.curSize = int64(len(data))
	return err
}

func (s *Store) countPrev(t *tally) (err error) {
	ws := t.hi - t.lo
	t.prev, t.prevSize, err = s.countFile(t.prevName, t.hash, t.lo-ws, t.lo, t.after)
	return err
}

func (s *Store) countNext(t *tally) (err error) {
	ws := t.hi - t.lo
	t.next, t.nextSize, err = s.countFile(t.nextName, t.hash, t.hi, t.hi+ws, math.MinInt64)
	return err
}

// countFile counts the records of h in the key file name (see count) and
// returns its size, or -1 if it is missing.
func (s *Store) countFile(name, h string, lo, hi, after int64) (int, int64, error) {
	fd, size, err := s.openRegular(name, unix.O_RDONLY)
	if err != nil || fd < 0 {
		return 0, -1, err
	}
	defer unix.Close(fd)
	data, err := s.readFD(fd, name, 0, size)
	if err != nil {
		return 0, 0, err
	}
	n, _, err := s.count(data, name, 0, h, lo, hi, after)
	return n, int64(len(data)), err
}

// position counts t's records in its file from what load read up to end, the
// offset just past the Take's own record.
func (s *Store) position(t *tally, end int64) error {
	data, err := s.readRange(t.fd, t.name, t.curSize, end)
	if err != nil {
		return err
	}
	n, reset, err := s.count(data, t.name, t.curSize, t.hash, t.lo, t.hi, math.MinInt64)
	if !reset {
		n += t.cur
	}
	t.pos = n
	return err
}

// recount looks again, after the Take's append, at what others may have
// appended around it: the previous bucket (a racer whose clock had not yet
// reached this bucket) and the next one (a racer whose clock had passed it),
// each counted again if it changed. Two racers thus always see each other:
// each appends before it looks.
func (s *Store) recount(t *tally) error {
	size, err := s.size(t.prevName)
	if err != nil {
		return err
	}
	if size != t.prevSize {
		if err := s.countPrev(t); err != nil {
			return err
		}
	}
	if size, err = s.size(t.nextName); err != nil {
		return err
	}
	if size != t.nextSize {
		return s.countNext(t)
	}
	return nil
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

// count counts the records of h in data, a part of the key file name from
// offset off, whose records lie in [lo, hi): those after h's last tombstone
// whose second is after after (Unix ns). reset says whether data holds a
// tombstone of h. Records of other keys are checked for their shape only.
func (s *Store) count(data []byte, name string, off int64, h string, lo, hi, after int64) (n int, reset bool, err error) {
	err = s.records(data, name, off, func(i int, r []byte) error {
		if string(r[:hashLen]) != h {
			return nil
		}
		if !padded(r) {
			return s.badRecord(name, i, r)
		}
		sec, err := s.recordTime(name, i, r, lo, hi)
		switch {
		case err != nil:
			return err
		case sec == 0:
			n, reset = 0, true
		case sec*int64(time.Second) > after:
			n++
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return n, reset, nil
}

// check checks every record of the key file name whose records lie in [lo, hi).
func (s *Store) check(data []byte, name string, lo, hi int64) error {
	return s.records(data, name, 0, func(i int, r []byte) error {
		if !padded(r) || strings.Trim(string(r[:hashLen]), "0123456789abcdef") != "" {
			return s.badRecord(name, i, r)
		}
		_, err := s.recordTime(name, i, r, lo, hi)
		return err
	})
}

// records checks that data, a part of the key file name from offset off, is
// whole records, each with its space and newline in place, and calls f on
// each with its index in the file (0-based), stopping at f's first error.
func (s *Store) records(data []byte, name string, off int64, f func(i int, r []byte) error) error {
	first := int(off / keyRecordLen) // records before data, for error messages
	if len(data)%keyRecordLen != 0 {
		i := len(data) / keyRecordLen
		return s.badRecord(name, first+i, data[i*keyRecordLen:])
	}
	for i := 0; i < len(data); i += keyRecordLen {
		r := data[i : i+keyRecordLen]
		if r[hashLen] != ' ' || r[keyRecordLen-1] != '\n' {
			return s.badRecord(name, first+i/keyRecordLen, r)
		}
		if err := f(first+i/keyRecordLen, r); err != nil {
			return err
		}
	}
	return nil
}

// padded reports whether the key record r has only spaces after its time.
func padded(r []byte) bool {
	for _, c := range r[timeEnd : keyRecordLen-1] {
		if c != ' ' {
			return false
		}
	}
	return true
}

// recordTime returns the time of record i (0-based) of the key file name, r,
// which must lie in [lo, hi) or be a tombstone (0).
func (s *Store) recordTime(name string, i int, r []byte, lo, hi int64) (int64, error) {
	t := string(r[hashLen+1 : timeEnd])
	if t == tombstone {
		return 0, nil
	}
	sec, ok := decimal(strings.TrimLeft(t, "0"))
	if !ok {
		return 0, s.badRecord(name, i, r)
	}
	if sec < lo || sec >= hi {
		return 0, fmt.Errorf("limits: %s: record %d: time %d (%s) is outside the file's bucket", s.path(name), i+1, sec,
			time.Unix(sec, 0).UTC().Format(time.RFC3339))
	}
	return sec, nil
}

func (s *Store) badRecord(name string, i int, r []byte) error {
	return fmt.Errorf("limits: %s: record %d: bad record %q", s.path(name), i+1, r)
}

// openDay opens the day file sl with flags, if it exists, and returns its
// records.
func (s *Store) openDay(sl *slot, flags int) (int, error) {
	fd, size, err := s.openRegular(sl.name, flags)
	if err != nil || fd < 0 {
		return 0, err
	}
	sl.fd = fd
	return dayRecords(size), nil
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
		fd, err = openat(s.dirfd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o660)
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
// the offset just past the record.
func (s *Store) add(sl *slot, rec []byte) (int64, error) {
	if sl.fd < 0 {
		err := s.link(sl)
		if err == nil {
			sl.fd, sl.tmp = sl.tmp, -1
			return int64(len(rec)), nil
		}
		s.dropTemp(sl)
		if !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("limits: create %s: %w", s.path(sl.name), err)
		}
		// Another Take created it meanwhile: append to theirs.
		fd, _, err := s.openRegular(sl.name, sl.flags)
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
	return end, nil
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
// goes out in one piece or not at all.
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
