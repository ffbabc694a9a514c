package limits

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	dayPrefix = "day-"
	// dayRecordLen is the length of one day file record: ten digits of Unix
	// seconds and a newline. Records have one length so that the file's size
	// is its count and a writer's offset its position.
	dayRecordLen = 11
	maxDaySecond = 9_999_999_999 // ten digits: until the year 2286
)

func dayFile(now time.Time) string {
	return dayPrefix + now.UTC().Format("20060102")
}

// isDayFile reports whether name is a day file (of any day).
func isDayFile(name string) bool {
	d, ok := strings.CutPrefix(name, dayPrefix)
	return ok && isDate(d)
}

// isLegacyDaily reports whether name is a daily file of the previous layout,
// a text file rewritten under one directory-wide lock.
func isLegacyDaily(name string) bool {
	d, ok := strings.CutPrefix(name, "daily-")
	return ok && isDate(d)
}

func isDate(s string) bool {
	return len(s) == 8 && strings.Trim(s, "0123456789") == ""
}

func checkDayTime(now time.Time) error {
	if sec := now.Unix(); sec < 1 || sec > maxDaySecond {
		return fmt.Errorf("limits: time %s is outside what a day file records", now.UTC().Format(time.RFC3339))
	}
	return nil
}

// dayRecords is the number of records in a day file of size bytes: a partial
// record (a write cut short by a file size limit) counts as one.
func dayRecords(size int64) int64 {
	return (size + dayRecordLen - 1) / dayRecordLen
}

// claimDay takes one of max daily slots for a send at now, without a lock: it
// refuses when the day file already holds max records, otherwise appends a
// record and wins when the record's position is below max. A Take that lost the
// race leaves its record: over-counting is the safe direction, and the size
// check stops the file from growing past max plus the racers of one moment.
// With max 0 (no daily limit) it only records the send. It returns the
// record's position (1-based): today's count including this send.
func (s *Store) claimDay(max int, now time.Time) (int, error) {
	name := dayFile(now)
	fd, err := s.openOrCreate(name, unix.O_WRONLY|unix.O_APPEND)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	}
	exceeded := &ExceededError{Limit: LimitDaily, Max: max}
	if max > 0 && dayRecords(st.Size) >= int64(max) {
		return 0, exceeded
	}
	rec := fmt.Appendf(nil, "%010d\n", now.Unix())
	n, err := write(fd, rec)
	if err != nil {
		return 0, fmt.Errorf("limits: append to %s: %w", s.path(name), err)
	}
	if n != len(rec) {
		return 0, fmt.Errorf("limits: append to %s: short write (%d of %d bytes)", s.path(name), n, len(rec))
	}
	// O_APPEND placed the record at the end of the file under the inode's lock;
	// our own descriptor's offset now points just past it.
	end, err := unix.Seek(fd, 0, unix.SEEK_CUR)
	if err != nil {
		return 0, fmt.Errorf("limits: seek %s: %w", s.path(name), err)
	}
	slot := dayRecords(end)
	if max > 0 && slot > int64(max) {
		return 0, exceeded
	}
	return int(slot), nil
}

// dayCount returns the records of now's day file, without a lock.
func (s *Store) dayCount(now time.Time) (int, error) {
	name := dayFile(now)
	fd, err := s.openRegular(name, unix.O_RDONLY)
	if err != nil || fd < 0 {
		return 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	}
	return int(dayRecords(st.Size)), nil
}

// write is one write(2), retried on EINTR only: a day record must go out in
// one piece or count as a partial one.
func write(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
