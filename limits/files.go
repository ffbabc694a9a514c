package limits

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// notRegularError says that a state file name holds something other than a
// regular file (a symbolic link, a directory, a FIFO).
type notRegularError struct{ msg string }

func (e *notRegularError) Error() string { return e.msg }

// openRegular opens an existing regular file under the directory without
// following symbolic links and without blocking on a FIFO, and returns its size
// from the fstat that checked it. A missing file gives (-1, 0, nil).
func (s *Store) openRegular(name string, flags int) (int, int64, error) {
	fd, err := openat(s.dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, 0, nil
	case errors.Is(err, unix.ELOOP):
		return -1, 0, &notRegularError{fmt.Sprintf("limits: %s is a symbolic link; refusing to follow it", s.path(name))}
	case errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENXIO): // a directory or a FIFO, opened for writing
		return -1, 0, &notRegularError{fmt.Sprintf("limits: %s is not a regular file", s.path(name))}
	case err != nil:
		return -1, 0, fmt.Errorf("limits: open %s: %w", s.path(name), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, 0, &notRegularError{fmt.Sprintf("limits: %s is not a regular file", s.path(name))}
	}
	return fd, st.Size, nil
}

// create makes the new file name mode 0660 and returns it open for reading and writing;
// errors name the file shown. The mode is set again with fchmod because the
// caller's umask (022 under sshd, 077 in some screen lockers) would take the
// group's write bit, and the next login may run under another uid.
func (s *Store) create(name, shown string) (int, error) {
	fd, err := openat(s.dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o660)
	if err != nil {
		return -1, fmt.Errorf("limits: create %s: %w", s.path(shown), err)
	}
	if err := unix.Fchmod(fd, 0o660); err != nil {
		unix.Close(fd)
		unix.Unlinkat(s.dirfd, name, 0)
		return -1, fmt.Errorf("limits: chmod %s: %w", s.path(shown), err)
	}
	return fd, nil
}

// maxReadSize bounds what is read of a key file: a file larger than the file
// size limit that the helper requires was not written by it.
const maxReadSize = 1 << 20

// readFD reads the key file name from fd, from offset off to its end,
// refusing an oversized one. size is its size when opened: the buffer holds
// that much and a little, so that a file that did not grow reads in two
// preads.
func (s *Store) readFD(fd int, name string, off, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(max(size-off, 0)+keyRecordLen, maxReadSize+1))
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		end := min(cap(buf), maxReadSize+1)
		n, err := unix.Pread(fd, buf[len(buf):end], off+int64(len(buf)))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("limits: read %s: %w", s.path(name), err)
		}
		buf = buf[:len(buf)+n]
		if off+int64(len(buf)) > maxReadSize {
			return nil, fmt.Errorf("limits: %s: larger than %d bytes", s.path(name), maxReadSize)
		}
		if n == 0 {
			return buf, nil
		}
	}
}

// readRange reads bytes [from, to) of the key file name from fd.
func (s *Store) readRange(fd int, name string, from, to int64) ([]byte, error) {
	buf := make([]byte, to-from)
	for done := 0; done < len(buf); {
		n, err := unix.Pread(fd, buf[done:], from+int64(done))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("limits: read %s: %w", s.path(name), err)
		}
		if n == 0 {
			return nil, fmt.Errorf("limits: read %s: it ends before its own record", s.path(name))
		}
		done += n
	}
	return buf, nil
}

// names lists the state directory, sorted.
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
