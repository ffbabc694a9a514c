package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pam-sms/pam_sms/internal/execpath"
)

// SafeBase holds the directories SafeDir makes. pam_sms.so runs a helper
// only from a path whose every component is owned by root and writable by
// root only (no /tmp, where go test and t.TempDir work), and a setgid copy
// of the helper needs a filesystem mounted without nosuid (not /run).
const SafeBase = "/var/lib/pam-sms-test"

// SafeDir returns a fresh directory, mode 0755, inside SafeBase (created
// root-owned, mode 0755, when missing), removed by the test's cleanup. It
// fails the test when not root or when the path or its mount is unfit.
func SafeDir(t testing.TB) string {
	t.Helper()
	dir, err := makeSafeDir("t-")
	if err != nil {
		t.Fatalf("testenv: SafeDir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func makeSafeDir(prefix string) (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("needs root (the directories must be owned by root)")
	}
	if err := os.Mkdir(SafeBase, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(SafeBase)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", SafeBase)
	}
	// Mkdir's mode passes through the umask, and the directory may predate us.
	if err := os.Chown(SafeBase, 0, 0); err != nil {
		return "", err
	}
	if err := os.Chmod(SafeBase, 0o755); err != nil {
		return "", err
	}
	if err := unsafePath(SafeBase, false); err != nil {
		return "", err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(SafeBase, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", SafeBase, err)
	}
	if st.Flags&unix.ST_NOSUID != 0 {
		return "", fmt.Errorf("%s is on a nosuid mount: a setgid helper there would not be setgid", SafeBase)
	}
	dir, err := os.MkdirTemp(SafeBase, prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// unsafePath returns why pam_sms.so would refuse a helper at path (isFile)
// or in the directory path, or nil (execpath holds the module's rule).
func unsafePath(path string, isFile bool) error {
	if isFile {
		return execpath.Check(path)
	}
	return execpath.CheckDir(path)
}

// safeBuilds maps a build directory pam_sms.so would refuse a helper from to
// its copy in a safe directory, made once per test process.
var safeBuilds struct {
	sync.Mutex
	copies map[string]string
}

// safeBuild returns dir when pam_sms.so accepts its helper, else a
// directory in SafeBase holding copies of the module and the helper. The
// copies outlive the test (later tests of the process use them); a later
// process removes those whose process has gone.
func safeBuild(t testing.TB, dir string) string {
	t.Helper()
	why := unsafePath(filepath.Join(dir, HelperFile), true)
	if why == nil || os.Geteuid() != 0 {
		return dir // not root: tests that run the module skip anyway
	}
	safeBuilds.Lock()
	defer safeBuilds.Unlock()
	if c, ok := safeBuilds.copies[dir]; ok {
		return c
	}
	removeStaleBuilds()
	c, err := makeSafeDir(fmt.Sprintf("build-%d-", os.Getpid()))
	if err != nil {
		t.Fatalf("testenv: the module would refuse the helper in %s (%v), and no safe copy can be made: %v", dir, why, err)
	}
	for _, f := range []string{ModuleFile, HelperFile} {
		if err := copyExecutable(filepath.Join(dir, f), filepath.Join(c, f)); err != nil {
			os.RemoveAll(c)
			t.Fatalf("testenv: copying the build to a safe directory: %v", err)
		}
	}
	if safeBuilds.copies == nil {
		safeBuilds.copies = map[string]string{}
	}
	safeBuilds.copies[dir] = c
	t.Logf("testenv: pam_sms.so refuses a helper in %s (%v); using copies in %s", dir, why, c)
	return c
}

// removeStaleBuilds removes the build copies of test processes that ended.
func removeStaleBuilds() {
	ents, _ := os.ReadDir(SafeBase)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "build-")
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 {
			continue
		}
		if syscall.Kill(n, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Join(SafeBase, e.Name()))
		}
	}
}

// copyExecutable copies src to dst, mode 0755, owned by root.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chown(dst, 0, 0); err != nil {
		return err
	}
	return os.Chmod(dst, 0o755)
}
