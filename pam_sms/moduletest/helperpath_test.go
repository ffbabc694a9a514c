package moduletest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
)

// nobody owns the directories an attacker could write to in these tests.
const nobody = 65534

// A helper path and what the module must log when it refuses it.
type helperPath struct {
	name  string
	setup func(t *testing.T, dir string) string // builds the path in a safe dir, returns it
	// refusal is what the module's log line must say after the path;
	// "" means the path is safe and the helper must run.
	refusal string
}

// helperPaths are the paths the module must accept or refuse. {dir} in a
// refusal stands for the safe directory the case was built in.
var helperPaths = []helperPath{
	{"safe path", func(t *testing.T, dir string) string {
		return copyStandIn(t, filepath.Join(dir, "bin"), "helper")
	}, ""},
	{"symbolic link as the file", func(t *testing.T, dir string) string {
		symlink(t, copyStandIn(t, dir, "helper"), filepath.Join(dir, "link"))
		return filepath.Join(dir, "link")
	}, "{dir}/link is a symbolic link"},
	{"symbolic link as a directory", func(t *testing.T, dir string) string {
		copyStandIn(t, filepath.Join(dir, "real"), "helper")
		symlink(t, filepath.Join(dir, "real"), filepath.Join(dir, "linkdir"))
		return filepath.Join(dir, "linkdir", "helper")
	}, "{dir}/linkdir is a symbolic link"},
	{"directory owned by a user", func(t *testing.T, dir string) string {
		p := copyStandIn(t, filepath.Join(dir, "user"), "helper")
		chown(t, filepath.Dir(p), nobody)
		return p
	}, "directory {dir}/user is owned by uid 65534 with mode 0755"},
	{"group-writable directory", func(t *testing.T, dir string) string {
		p := copyStandIn(t, filepath.Join(dir, "group"), "helper")
		chmod(t, filepath.Dir(p), 0o775)
		return p
	}, "directory {dir}/group is owned by uid 0 with mode 0775"},
	{"directory in /tmp", func(t *testing.T, dir string) string {
		if fi, err := os.Stat("/tmp"); err != nil || fi.Mode()&0o777 != 0o777 {
			t.Skip("/tmp is not world-writable here")
		}
		tmp, err := os.MkdirTemp("/tmp", "pam_sms-helper-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(tmp) })
		chmod(t, tmp, 0o755)
		return copyStandIn(t, tmp, "helper")
	}, "directory /tmp is owned by uid 0 with mode 1777"},
	{"file owned by a user", func(t *testing.T, dir string) string {
		p := copyStandIn(t, dir, "helper")
		chown(t, p, nobody)
		return p
	}, "file {dir}/helper is owned by uid 65534 with mode 0755"},
	{"group-writable file", func(t *testing.T, dir string) string {
		p := copyStandIn(t, dir, "helper")
		chmod(t, p, 0o775)
		return p
	}, "file {dir}/helper is owned by uid 0 with mode 0775"},
	{"file not executable", func(t *testing.T, dir string) string {
		p := copyStandIn(t, dir, "helper")
		chmod(t, p, 0o644)
		return p
	}, "not executable (mode 0644)"},
	{"a directory", func(t *testing.T, dir string) string {
		copyStandIn(t, filepath.Join(dir, "bin"), "helper")
		return filepath.Join(dir, "bin")
	}, "{dir}/bin is not a regular file"},
	{"trailing slash", func(t *testing.T, dir string) string {
		return copyStandIn(t, dir, "helper") + "/"
	}, "the path does not end in a file name"},
	{"dot-dot", func(t *testing.T, dir string) string {
		copyStandIn(t, filepath.Join(dir, "bin"), "helper")
		return dir + "/bin/../bin/helper"
	}, `".." in the path`},
	{"missing", func(t *testing.T, dir string) string {
		return filepath.Join(dir, "nothing", "helper")
	}, "{dir}/nothing: No such file or directory"},
}

// The module runs a helper only through a path that root alone controls,
// and runs the file it checked: a symbolic link or a directory someone else
// may write to anywhere on the path denies (PAM_SYSTEM_ERR) without running
// anything.
func TestUnsafeHelperPathIsRefused(t *testing.T) {
	for _, tc := range helperPaths {
		t.Run(tc.name, func(t *testing.T) {
			helper := tc.setup(t, newSafeDir(t))
			f := newFixture(t, "mark", "helper="+helper)
			res := f.run(t, "alice", "", answerWith("4242"))
			_, err := os.Stat(filepath.Join(f.out, "ran"))
			ran := err == nil
			if tc.refusal == "" {
				if res.Err != nil || !ran {
					t.Fatalf("safe helper path: pam_authenticate = %v, helper ran: %v; want success", res.Err, ran)
				}
				return
			}
			if !errors.Is(res.Err, pam.ErrSystem) {
				t.Errorf("pam_authenticate = %v, want %v", res.Err, pam.ErrSystem)
			}
			if ran {
				t.Errorf("the helper at %s ran", helper)
			}
		})
	}
}

// The attack of issue 9: the admin points helper= into a directory a user
// owns, and the user swaps a path component between the real helper's
// directory and their own while logins run. Checking and then executing by
// name ran the user's program in about one try of eight. The module must
// refuse every try, and the user's program must never run.
func TestSwappedDirectoryIsNeverRun(t *testing.T) {
	dir := newSafeDir(t)
	userDir := filepath.Join(dir, "user")
	copyStandIn(t, filepath.Join(userDir, "good"), "helper")
	copyStandIn(t, filepath.Join(userDir, evilDir), "helper")
	symlink(t, "good", filepath.Join(userDir, "cur"))
	chown(t, userDir, nobody)

	// The attacker flips userDir/cur between good and bad, atomically.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flips atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		targets := []string{evilDir, "good"}
		tmp := filepath.Join(userDir, "cur.tmp")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			if os.Symlink(targets[i%2], tmp) == nil && os.Rename(tmp, filepath.Join(userDir, "cur")) == nil {
				flips.Add(1)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	f := newFixture(t, "mark", "helper="+filepath.Join(userDir, "cur", "helper"))
	evilTrace := filepath.Join(filepath.Dir(f.role), "evil-ran")
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		res := f.run(t, "alice", "", answerWith("4242"))
		if _, err := os.Stat(evilTrace); err == nil {
			t.Fatalf("try %d: the program the user swapped in ran (pam_authenticate = %v)", i+1, res.Err)
		}
		if !errors.Is(res.Err, pam.ErrSystem) {
			t.Fatalf("try %d: pam_authenticate = %v, want %v", i+1, res.Err, pam.ErrSystem)
		}
	}
	if _, err := os.Stat(filepath.Join(f.out, "ran")); err == nil {
		t.Error("the helper in the user's directory ran")
	}
	if flips.Load() == 0 {
		t.Fatal("the swapping goroutine never swapped: the test proved nothing")
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// wantLog returns what the module's log line must contain, in this order,
// for tc built in dir: the path, then why.
func (tc helperPath) wantLog(dir, helper string) []string {
	return []string{"helper " + helper + ": ", strings.ReplaceAll(tc.refusal, "{dir}", dir)}
}
