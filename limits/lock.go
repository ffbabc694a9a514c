package limits

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBusy is matched (errors.Is) by every *BusyError.
var ErrBusy = errors.New("limits: state busy")

// BusyError says that a key's lock was not had within the Store's LockTimeout:
// another process holds it, most likely a helper that was stopped or is stuck.
// The login must be denied.
type BusyError struct {
	Key    string        // "user", "number" or "host"
	Path   string        // the lock file; its name hides the key
	Waited time.Duration // from the start of the call until giving up
}

// Error reads like "limits: user state /var/lib/pam-sms/user-….lock is
// locked by another process; gave up after 2s".
func (e *BusyError) Error() string {
	return fmt.Sprintf("limits: %s state %s is locked by another process; gave up after %s",
		e.Key, e.Path, e.Waited.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// lockSuffix names a key's lock file: NAME.lock guards NAME. The lock is a file
// of its own, never replaced, because NAME is replaced by rename on every
// write: waiters on a replaced file would all have to wake up, notice and queue
// again on the new one, at every hand-off of a burst.
const lockSuffix = ".lock"

// key is one user, number or host key: its kind and its data file's name.
type key struct{ kind, name string }

// errAbandoned ends a critical section whose caller gave up waiting.
var errAbandoned = errors.New("limits: abandoned")

// withLocks locks the lock files of keys in order (creating them as needed)
// and runs fn with all of them held, then releases them. The waits share one
// deadline, the Store's LockTimeout; when it runs out withLocks returns a
// *BusyError naming the key being waited for, and fn does not run.
//
// A wait is a blocking flock(2), not LOCK_NB polling: the kernel hands the lock
// to the next waiter the moment it is released, while a poller notices only at
// its next try, and hundreds of pollers (a login burst from one client address)
// would take the CPU from the holder they wait for. To give up at the deadline
// anyway, the locking and fn run on a goroutine of their own, which the caller
// abandons: when its flock returns later it releases the lock and stops. Doing
// the whole critical section there, rather than each flock on a helper
// goroutine, keeps the woken thread on the path to the work, with no hand-off
// between goroutines while the lock is held. An abandoned goroutine keeps a
// thread until the holder lets go; the helper exits right after a denial.
func (s *Store) withLocks(keys []key, fn func() error) error {
	if len(keys) == 0 {
		return fn()
	}
	start := time.Now()
	cs := &section{}
	done := make(chan error, 1)
	s.enter()
	go func() {
		defer s.leave()
		done <- s.runLocked(cs, keys, fn)
	}()
	timer := time.NewTimer(s.lockTimeout())
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		if k, ok := cs.abandon(); ok {
			return &BusyError{Key: k.kind, Path: s.path(k.name + lockSuffix), Waited: time.Since(start)}
		}
		return <-done // past its last wait: it ends without waiting again
	}
}

// section is the state a critical section shares with the caller that waits
// for it.
type section struct {
	mu        sync.Mutex
	waiting   key   // the key whose lock is being waited for
	held      []int // descriptors of the locks had so far
	abandoned bool  // the caller gave up: release everything, change nothing
	running   bool  // all locks held: fn runs to its end
}

// hold adds a locked descriptor; false (and fd closed) if abandoned.
func (cs *section) hold(fd int) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.abandoned {
		unix.Close(fd)
		return false
	}
	cs.held = append(cs.held, fd)
	return true
}

// release closes the descriptors held, releasing their locks.
func (cs *section) release() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, fd := range cs.held {
		unix.Close(fd)
	}
	cs.held = nil
}

// wait records the key about to be waited for; false if abandoned.
func (cs *section) wait(k key) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.waiting = k
	return !cs.abandoned
}

// gone reports whether the caller gave up.
func (cs *section) gone() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.abandoned
}

// run marks all locks held; false if abandoned, and then fn must not run.
func (cs *section) run() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.running = !cs.abandoned
	return cs.running
}

// abandon gives up unless fn already runs, and returns the awaited key. The
// locks had so far are released at once: the goroutine may stay in its flock
// for as long as the holder lets it, and must not keep other keys meanwhile.
func (cs *section) abandon() (key, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.running {
		return key{}, false
	}
	cs.abandoned = true
	for _, fd := range cs.held {
		unix.Close(fd)
	}
	cs.held = nil
	return cs.waiting, true
}

func (s *Store) runLocked(cs *section, keys []key, fn func() error) error {
	defer cs.release()
	for _, k := range keys {
		if !cs.wait(k) {
			return errAbandoned
		}
		fd, err := s.lock(cs, k.name+lockSuffix)
		if err != nil {
			return err
		}
		if !cs.hold(fd) {
			return errAbandoned
		}
	}
	if !cs.run() {
		return errAbandoned
	}
	return fn()
}

// lock opens the lock file name (creating it empty if missing), locks it
// exclusively and checks that name still refers to the locked file: Prune and
// Reset remove lock files, holding them, while others may wait. It then locks
// the new file. The caller closes the descriptor to unlock.
func (s *Store) lock(cs *section, name string) (int, error) {
	for {
		fd, err := s.openOrCreate(name, unix.O_RDONLY)
		if err != nil {
			return -1, err
		}
		if err := flock(fd, unix.LOCK_EX); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("limits: lock %s: %w", s.path(name), err)
		}
		if cs.gone() {
			unix.Close(fd)
			return -1, errAbandoned
		}
		same, err := s.isNamed(fd, name)
		if err != nil || !same {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		if same {
			return fd, nil
		}
	}
}

// isNamed reports whether name (not followed) is the file open as fd.
func (s *Store) isNamed(fd int, name string) (bool, error) {
	var open, named unix.Stat_t
	if err := unix.Fstat(fd, &open); err != nil {
		return false, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	}
	err := unix.Fstatat(s.dirfd, name, &named, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("limits: stat %s: %w", s.path(name), err)
	}
	return open.Dev == named.Dev && open.Ino == named.Ino, nil
}

// tryLock takes the lock file name without waiting, for Prune. It returns the
// locked descriptor, or -1 with busy set when another process holds the lock or
// has just replaced the file, or -1 alone when name does not exist.
func (s *Store) tryLock(name string) (fd int, busy bool, err error) {
	fd, err = s.openRegular(name, unix.O_RDONLY)
	if err != nil || fd < 0 {
		return -1, false, err
	}
	err = flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		unix.Close(fd)
		return -1, true, nil
	}
	if err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("limits: lock %s: %w", s.path(name), err)
	}
	same, err := s.isNamed(fd, name)
	if err != nil || !same {
		unix.Close(fd)
		return -1, err == nil, err
	}
	return fd, false, nil
}

func flock(fd, how int) error {
	for {
		if err := unix.Flock(fd, how); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
