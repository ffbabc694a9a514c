package usage

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Summary says what Scan read besides the records.
type Summary struct {
	Files   int // day files read
	Records int // records passed on
	Corrupt int // lines that did not parse, skipped
	Dropped int // records dropped because their day file was full
}

// Scan calls fn for every record in dir with since <= Time < until, day file by
// day file in date order (within a file, in the order they were appended). A
// zero until means no upper bound. Lines that do not parse are skipped and
// counted; so are drop markers of records in the range's days.
func Scan(dir string, since, until time.Time, fn func(Record)) (Summary, error) {
	var sum Summary
	d, err := openDir(dir)
	if err != nil {
		return sum, err
	}
	defer unix.Close(d.fd)
	names, err := d.days()
	if err != nil {
		return sum, err
	}
	for _, name := range names {
		day, _ := dayOf(name)
		if day.Add(24*time.Hour).Compare(since) <= 0 || !until.IsZero() && !day.Before(until) {
			continue
		}
		data, err := d.read(name)
		if err != nil {
			return sum, err
		}
		sum.Files++
		scanDay(data, since, until, fn, &sum)
	}
	return sum, nil
}

// scanDay passes the records of one day file's content on. A last line
// without its newline is a write cut short: corrupt.
func scanDay(data []byte, since, until time.Time, fn func(Record), sum *Summary) {
	text := string(data)
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	last := len(lines) - 1
	if lines[last] != "" {
		sum.Corrupt++
	}
	lines = lines[:last]
	for _, line := range lines {
		if line == "-" {
			sum.Dropped++
			continue
		}
		r, ok := parse(line)
		if !ok {
			sum.Corrupt++
			continue
		}
		if r.Time.Before(since) || !until.IsZero() && !r.Time.Before(until) {
			continue
		}
		sum.Records++
		fn(r)
	}
}

// days lists the day files of the directory, in date order.
func (d *stateDir) days() ([]string, error) {
	fd, err := openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("usage: open state directory %s: %w", d.dir, err)
	}
	f := os.NewFile(uintptr(fd), d.dir)
	defer f.Close()
	all, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("usage: list state directory %s: %w", d.dir, err)
	}
	var names []string
	for _, n := range all {
		if _, ok := dayOf(n); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// read returns the content of the day file name, at most the bytes a writer
// may have put there; what lies beyond (a file grown by hand) is left unread.
func (d *stateDir) read(name string) ([]byte, error) {
	fd, err := d.openRegular(name, unix.O_RDONLY)
	if err != nil || fd < 0 {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 64<<10)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		end := min(cap(buf), MaxFileSize+MaxDropBytes)
		if len(buf) == end {
			return buf, nil
		}
		n, err := unix.Pread(fd, buf[len(buf):end], int64(len(buf)))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("usage: read %s: %w", d.path(name), err)
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Prune removes the day files of days that ended more than Retention before
// now, and returns how many went.
func Prune(dir string, now time.Time) (int, error) {
	d, err := openDir(dir)
	if err != nil {
		return 0, err
	}
	defer unix.Close(d.fd)
	names, err := d.days()
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-Retention)
	removed := 0
	var errs []error
	for _, name := range names {
		day, _ := dayOf(name)
		if !day.Add(24 * time.Hour).Before(cutoff) {
			continue
		}
		if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("usage: remove %s: %w", d.path(name), err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
