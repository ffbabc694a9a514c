// Package usage keeps the usage record of pam_sms: one line per send attempt
// (an SMS sent, a gateway that failed, a send refused by the limits) in the
// state directory, for pam-sms stats.
//
// The record is bookkeeping, not a guard: the limits (package limits) stop a
// flood. A record that cannot be written never denies a login; the helper logs
// a warning and goes on.
//
// # Layout
//
//	usage-YYYYMMDD              the attempts of one UTC day
//	.usage-YYYYMMDD.XXXX.tmp    a new day file being created, linked to its name
//
// # Record format
//
// One line per attempt, fields separated by one space:
//
//	1 UNIXSECONDS OUTCOME GATEWAY CC MS USER
//
// "1" is the format version; OUTCOME is one of the Outcome constants; GATEWAY
// the gateway's name ("-" when none); CC the country calling code of the number
// (digits, "-" when unknown), never the number itself; MS the send's duration
// in milliseconds; USER the account name, escaped as a URL query value. Each
// line is appended by one write(2) with O_APPEND, so concurrent helpers never
// interleave within a line. A line that does not parse (a write cut short by a
// file size limit, a disk error) is skipped and counted as corrupt by Scan. The
// line "-" marks a record dropped because the file was full.
//
// Stats by user need the name, so it is stored as it is, not hashed as the
// limit files' names are: the state directory is root:pam-sms 2770, so the
// record is readable by the same people as the authpriv log, which holds the
// same names. Numbers are personal data and are not stored: only their country
// calling code, which is what cost depends on.
//
// # Bounds
//
// A day file takes records up to MaxFileSize bytes; after that each attempt
// appends a two-byte drop marker, up to MaxFileSize+MaxDropBytes, then nothing.
// Scan reports the drops it saw (at most MaxDropBytes/2 a day). Prune removes
// day files older than Retention. So the directory holds at most
// Retention × (MaxFileSize+MaxDropBytes) of usage records (some 820 MiB at
// worst; a few MB a year at a hundred logins a day). A local user running
// the helper by hand after a limit refused it adds a refused_limit record per
// run: such a flood fills that day's file and then only counts drops.
//
// # Concurrency
//
// Nothing is locked: a writer appends one line with one write and closes the
// file, so a stopped or killed helper holds nothing another one needs. A day
// file is created under a temporary name, given mode 0660 whatever the umask,
// and linked to its name, so that the name never refers to a file another uid
// cannot append to; the temporary file of a creator that died is removed by
// pam-sms prune with the other stale .*.tmp files (limits.Prune). The
// helper runs under the caller's uid, so a user running it by hand may own
// the day file it created; the directory's mode keeps everyone outside group
// pam-sms from reaching it by name.
package usage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Outcome is what became of one send attempt.
type Outcome string

const (
	Sent         Outcome = "sent"          // the gateway accepted the SMS
	Failed       Outcome = "failed"        // the gateway could not be used
	RefusedLimit Outcome = "refused_limit" // a limit refused the send; no SMS
)

// Outcomes lists the outcomes in the order stats show them.
var Outcomes = []Outcome{Sent, Failed, RefusedLimit}

func (o Outcome) valid() bool {
	switch o {
	case Sent, Failed, RefusedLimit:
		return true
	}
	return false
}

const (
	// MaxFileSize is the size up to which a day file takes records: some
	// 25,000 records of a usual length.
	MaxFileSize = 2 << 20
	// MaxDropBytes is the room after MaxFileSize for drop markers.
	MaxDropBytes = 64 << 10
	// Retention is how long Prune keeps a day file: over a year, so that a
	// month compares with the same month a year before.
	Retention = 400 * 24 * time.Hour
	// maxLine bounds a record line; a longer one is corrupt.
	maxLine = 512

	prefix  = "usage-"
	version = "1"
	drop    = "-\n"
)

// Record is one send attempt.
type Record struct {
	Time     time.Time
	Outcome  Outcome
	Gateway  string        // the gateway's name; "" when none was tried
	Country  string        // country calling code digits; "" when unknown
	Duration time.Duration // how long the send took; 0 when none was made
	User     string        // the account name
}

// DayFile is the name of the day file holding records of t's UTC day.
func DayFile(t time.Time) string { return prefix + t.UTC().Format("20060102") }

// dayOf parses a day file name; ok is false for any other name.
func dayOf(name string) (time.Time, bool) {
	d, ok := strings.CutPrefix(name, prefix)
	if !ok || len(d) != 8 || strings.Trim(d, "0123456789") != "" {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102", d)
	return t, err == nil
}

// format renders r as one line, or an error when a field cannot be recorded.
func format(r Record) ([]byte, error) {
	if !r.Outcome.valid() {
		return nil, fmt.Errorf("usage: unknown outcome %q", r.Outcome)
	}
	sec := r.Time.Unix()
	if sec < 1 {
		return nil, fmt.Errorf("usage: time %s before 1970", r.Time.UTC().Format(time.RFC3339))
	}
	if r.User == "" {
		return nil, errors.New("usage: no user")
	}
	cc := r.Country
	if cc == "" {
		cc = "-"
	} else if len(cc) > 3 || strings.Trim(cc, "0123456789") != "" {
		return nil, fmt.Errorf("usage: %q is not a country calling code", cc)
	}
	gw := r.Gateway
	if gw == "" {
		gw = "-"
	} else if !plain(gw) {
		return nil, fmt.Errorf("usage: gateway name %q holds a space or control character", gw)
	}
	line := fmt.Appendf(nil, "%s %d %s %s %s %d %s\n", version, sec, r.Outcome, gw, cc,
		max(r.Duration.Milliseconds(), 0), url.QueryEscape(r.User))
	if len(line) > maxLine {
		return nil, fmt.Errorf("usage: record longer than %d bytes", maxLine)
	}
	return line, nil
}

// plain reports whether s is printable ASCII without spaces, up to 64 bytes.
func plain(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// parse reads one line without its newline.
func parse(line string) (Record, bool) {
	f := strings.Split(line, " ")
	if len(f) != 7 || f[0] != version {
		return Record{}, false
	}
	sec, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || sec < 1 {
		return Record{}, false
	}
	r := Record{Time: time.Unix(sec, 0).UTC(), Outcome: Outcome(f[2])}
	if !r.Outcome.valid() {
		return Record{}, false
	}
	if f[3] != "-" {
		r.Gateway = f[3]
	}
	if f[4] != "-" {
		if len(f[4]) > 3 || f[4] == "" || strings.Trim(f[4], "0123456789") != "" {
			return Record{}, false
		}
		r.Country = f[4]
	}
	ms, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil || ms < 0 {
		return Record{}, false
	}
	r.Duration = time.Duration(ms) * time.Millisecond
	if r.User, err = url.QueryUnescape(f[6]); err != nil || r.User == "" {
		return Record{}, false
	}
	return r, true
}

// Append adds r to the day file of r.Time in the state directory dir. It
// returns ErrFull (the record was dropped and counted) when the file has
// reached MaxFileSize. It never waits on a lock.
func Append(dir string, r Record) error {
	line, err := format(r)
	if err != nil {
		return err
	}
	d, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(d.fd)
	name := DayFile(r.Time)
	fd, err := d.openOrCreate(name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("usage: stat %s: %w", d.path(name), err)
	}
	if st.Size+int64(len(line)) > MaxFileSize {
		// Full: count the drop while there is room for the count.
		if st.Size+int64(len(drop)) <= MaxFileSize+MaxDropBytes {
			if err := writeOnce(fd, []byte(drop)); err != nil {
				return fmt.Errorf("usage: append to %s: %w", d.path(name), err)
			}
		}
		return ErrFull
	}
	if err := writeOnce(fd, line); err != nil {
		return fmt.Errorf("usage: append to %s: %w", d.path(name), err)
	}
	return nil
}

// ErrFull says that the day file had reached MaxFileSize and the record was
// dropped.
var ErrFull = errors.New("usage: day file full; record dropped")

// writeOnce is one write(2), retried on EINTR only: a line goes out in one
// piece or is left cut short, for Read to count as corrupt.
func writeOnce(fd int, b []byte) error {
	for {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n != len(b) {
			return fmt.Errorf("short write (%d of %d bytes)", n, len(b))
		}
		return nil
	}
}

// stateDir is an open state directory.
type stateDir struct {
	dir string
	fd  int
}

func openDir(dir string) (*stateDir, error) {
	fd, err := openat(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("usage: open state directory %s: %w", dir, err)
	}
	return &stateDir{dir: dir, fd: fd}, nil
}

func (d *stateDir) path(name string) string { return d.dir + "/" + name }

// openRegular opens the existing regular file name without following a
// symbolic link or blocking on a FIFO; a missing file gives (-1, nil).
func (d *stateDir) openRegular(name string, flags int) (int, error) {
	fd, err := openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, nil
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("usage: %s is a symbolic link; refusing to follow it", d.path(name))
	case errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENXIO):
		return -1, fmt.Errorf("usage: %s is not a regular file", d.path(name))
	case err != nil:
		return -1, fmt.Errorf("usage: open %s: %w", d.path(name), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("usage: stat %s: %w", d.path(name), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, fmt.Errorf("usage: %s is not a regular file", d.path(name))
	}
	return fd, nil
}

// openOrCreate opens name for appending, creating it (mode 0660) when missing.
func (d *stateDir) openOrCreate(name string) (int, error) {
	for range 10 {
		fd, err := d.openRegular(name, unix.O_WRONLY|unix.O_APPEND)
		if err != nil || fd >= 0 {
			return fd, err
		}
		if err := d.publish(name); err != nil {
			return -1, err
		}
	}
	return -1, fmt.Errorf("usage: %s vanished each time it was created", d.path(name))
}

// publish creates the empty file name unless something has that name: made
// under a temporary name, chmod-ed to 0660 (the caller's umask may be 077 and
// the next login runs under another uid) and linked to name, so that a creator
// stopped half-way leaves at most a temporary file.
func (d *stateDir) publish(name string) error {
	tmp := fmt.Sprintf(".%s.%016x.tmp", name, rand.Uint64())
	fd, err := openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o660)
	if err != nil {
		return fmt.Errorf("usage: create %s: %w", d.path(name), err)
	}
	err = unix.Fchmod(fd, 0o660)
	unix.Close(fd)
	if err == nil {
		err = unix.Linkat(d.fd, tmp, d.fd, name, 0)
	}
	unix.Unlinkat(d.fd, tmp, 0)
	if err == nil || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("usage: create %s: %w", d.path(name), err)
}

func openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, flags, mode)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}
