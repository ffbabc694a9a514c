package moduletest_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// safeBase holds the directories the module accepts a helper from: it and
// every directory above it are owned by root and writable by root only, and
// it is not on /tmp (world-writable) or a nosuid mount such as /run.
// test/internal/testenv.SafeDir makes the same for the tests under test/,
// which this package cannot import.
const safeBase = "/var/lib/pam-sms-test"

// safeDir makes a fresh directory, mode 0755, in base (created if missing,
// mode 0755, root-owned).
func safeDir(base, prefix string) (string, error) {
	if err := os.Mkdir(base, 0o755); err != nil && !os.IsExist(err) {
		return "", err
	}
	fi, err := os.Lstat(base)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", base)
	}
	// Mkdir's mode passes through the umask, and base may predate us.
	if err := os.Chown(base, 0, 0); err != nil {
		return "", err
	}
	if err := os.Chmod(base, 0o755); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// newSafeDir returns a fresh safe directory for one test, removed at its end.
func newSafeDir(t *testing.T) string {
	t.Helper()
	dir, err := safeDir(work, "t-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// copyFile copies src to dst with mode (exactly, whatever the umask).
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
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
	return os.Chmod(dst, mode)
}

// copyStandIn puts a copy of the stand-in helper at dir/name (made with its
// parents, mode 0755) and returns its path.
func copyStandIn(t *testing.T, dir, name string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := copyFile(standInExe, p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
