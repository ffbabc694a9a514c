package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSafeDir(t *testing.T) {
	RequireRoot(t)
	var dir string
	t.Run("make", func(t *testing.T) {
		dir = SafeDir(t)
		if !strings.HasPrefix(dir, SafeBase+"/") {
			t.Errorf("SafeDir = %s, want a directory in %s", dir, SafeBase)
		}
		if err := unsafePath(dir, false); err != nil {
			t.Errorf("SafeDir = %s: %v", dir, err)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("SafeDir = %s: mode %v, %v; want 0755", dir, fi.Mode(), err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after the test: %v", dir, err)
	}
}

// unsafePath must refuse what pam_sms.so refuses (pam_sms/moduletest tests
// the module itself on the same kinds of path).
func TestUnsafePath(t *testing.T) {
	RequireRoot(t)
	dir := SafeDir(t)
	helper := filepath.Join(dir, "bin", "helper")
	if err := os.Mkdir(filepath.Dir(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helper, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("bin", filepath.Join(dir, "link")))
	must(os.Mkdir(filepath.Join(dir, "group"), 0o755))
	must(os.Chmod(filepath.Join(dir, "group"), 0o775))
	must(os.Mkdir(filepath.Join(dir, "user"), 0o755))
	must(os.Chown(filepath.Join(dir, "user"), 65534, 65534))
	tests := []struct {
		path   string
		isFile bool
		want   string // "" for safe
	}{
		{helper, true, ""},
		{filepath.Dir(helper), false, ""},
		{filepath.Join(dir, "link", "helper"), true, "is a symbolic link"},
		{filepath.Join(dir, "group"), false, "writable by group or others"},
		{filepath.Join(dir, "user"), false, "owned by uid 65534"},
		{filepath.Dir(helper), true, "not a regular file"},
		{"/tmp", false, "writable by group or others"},
	}
	for _, tt := range tests {
		err := unsafePath(tt.path, tt.isFile)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("unsafePath(%s, %v) = %v, want %q", tt.path, tt.isFile, err, tt.want)
		}
	}
}

// A build directory the module would refuse a helper from (a clone under
// /tmp) is copied, once, into a safe directory; a safe one is used as is.
func TestBuildDirCopiesAnUnsafeBuild(t *testing.T) {
	RequireRoot(t)
	fake := func(dir string) {
		for _, f := range []string{ModuleFile, HelperFile} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("built "+f), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	unsafe := t.TempDir() // under /tmp
	fake(unsafe)
	t.Setenv("PAM_SMS_BUILD", unsafe)
	got := BuildDir(t)
	if got == unsafe || !strings.HasPrefix(got, SafeBase+"/") {
		t.Fatalf("BuildDir = %s, want a copy in %s", got, SafeBase)
	}
	t.Cleanup(func() { // a real build's copy stays for the process; this one need not
		safeBuilds.Lock()
		delete(safeBuilds.copies, unsafe)
		safeBuilds.Unlock()
		os.RemoveAll(got)
	})
	if err := unsafePath(filepath.Join(got, HelperFile), true); err != nil {
		t.Errorf("the copy is not safe: %v", err)
	}
	for _, f := range []string{ModuleFile, HelperFile} {
		b, err := os.ReadFile(filepath.Join(got, f))
		if err != nil || !bytes.Equal(b, []byte("built "+f)) {
			t.Errorf("copy of %s: %q, %v", f, b, err)
		}
	}
	if again := BuildDir(t); again != got {
		t.Errorf("second BuildDir = %s, want the same copy %s", again, got)
	}

	safe := SafeDir(t)
	fake(safe)
	t.Setenv("PAM_SMS_BUILD", safe)
	if got := BuildDir(t); got != safe {
		t.Errorf("BuildDir = %s, want the safe build directory %s itself", got, safe)
	}
}
