package execpath

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the paths must be root-owned")
	}
	// A root-owned 0755 base outside /tmp (1777, which the module refuses).
	base, err := os.MkdirTemp("/run", "execpath-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	good := filepath.Join(base, "helper")
	must(t, os.WriteFile(good, []byte("#!/bin/true\n"), 0o755))
	must(t, os.Chmod(good, 0o755|os.ModeSetgid))
	mkdir := func(name string, mode os.FileMode, uid int) string {
		d := filepath.Join(base, name)
		must(t, os.Mkdir(d, 0o700))
		must(t, os.Chown(d, uid, 0))
		must(t, os.Chmod(d, mode))
		return d
	}
	userDir := mkdir("user", 0o755, 65534)
	groupW := mkdir("groupw", 0o775, 0)
	sticky := mkdir("sticky", 0o1777, 0)
	for _, d := range []string{userDir, groupW, sticky} {
		must(t, os.WriteFile(filepath.Join(d, "helper"), []byte("x"), 0o755))
	}
	link := filepath.Join(base, "link")
	must(t, os.Symlink(good, link))
	dirLink := filepath.Join(base, "dirlink")
	must(t, os.Symlink(base, dirLink))
	noexec := filepath.Join(base, "noexec")
	must(t, os.WriteFile(noexec, []byte("x"), 0o644))
	writable := filepath.Join(base, "writable")
	must(t, os.WriteFile(writable, []byte("x"), 0o755))
	must(t, os.Chmod(writable, 0o757))
	notRoot := filepath.Join(base, "notroot")
	must(t, os.WriteFile(notRoot, []byte("x"), 0o755))
	must(t, os.Chown(notRoot, 65534, 0))

	tests := []struct {
		path, want string // want: substring of the error, "" for nil
	}{
		{good, ""},
		{"relative/helper", "not a clean absolute path"},
		{base + "/./helper", "not a clean absolute path"},
		{base + "/x/../helper", "not a clean absolute path"},
		{"/", "not a clean absolute path"},
		{link, "is a symbolic link"},
		{filepath.Join(dirLink, "helper"), "is a symbolic link"},
		{filepath.Join(userDir, "helper"), "owned by uid 65534"},
		{filepath.Join(groupW, "helper"), "writable by group or others"},
		{filepath.Join(sticky, "helper"), "writable by group or others"},
		{noexec, "not executable"},
		{writable, "writable by group or others"},
		{notRoot, "owned by uid 65534"},
		{base, "not a regular file"},
		{filepath.Join(good, "x"), "not a directory"},
		{filepath.Join(base, "missing"), "no such file"},
	}
	for _, tt := range []struct{ dir, want string }{
		{base, ""}, {"/", ""}, {userDir, "owned by uid 65534"}, {sticky, "writable by group"},
		{dirLink, "is a symbolic link"}, {good, "not a directory"}, {base + "/", "not a clean absolute path"},
	} {
		err := CheckDir(tt.dir)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckDir(%s) = %v, want %q", tt.dir, err, tt.want)
		}
	}
	for _, tt := range tests {
		err := Check(tt.path)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%s) = %v, want nil", tt.path, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(%s) = %v, want an error containing %q", tt.path, err, tt.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the paths must be root-owned")
	}
	base, err := os.MkdirTemp("/run", "execpath-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	// base (good) / user (uid 65534) / ok (good) / groupw (0775)
	user := filepath.Join(base, "user")
	ok := filepath.Join(user, "ok")
	groupW := filepath.Join(ok, "groupw")
	must(t, os.MkdirAll(groupW, 0o755))
	must(t, os.Chown(user, 65534, 0))
	must(t, os.Chmod(groupW, 0o775))

	for _, tt := range []struct {
		dir  string
		want []string
	}{
		{"/", nil},
		{base, nil},
		{ok, []string{user}},
		{groupW, []string{user, groupW}},
	} {
		if got := Refused(tt.dir); !slices.Equal(got, tt.want) {
			t.Errorf("Refused(%s) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}
