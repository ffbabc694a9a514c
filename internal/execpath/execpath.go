// Package execpath says whether pam_sms.so would run a helper at a path.
//
// The module (pam_sms/pam_sms.c) walks the path from / one component at a
// time without following symbolic links, requires every directory to be
// owned by root and not writable by group or others, and the file to be a
// regular file owned by root, not writable by group or others and executable
// by its owner; then it executes the descriptor it checked. The admin CLI
// (doctor, demo) and the tests use this package to say the same thing before
// a login finds out.
package execpath

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Check returns nil when pam_sms.so would execute the helper at path, or an
// error naming the first component it would refuse and why.
func Check(path string) error {
	if path == "/" {
		return fmt.Errorf("%s: not a clean absolute path to a file", path)
	}
	return walk(path, true)
}

// CheckDir returns nil when pam_sms.so would accept dir and every directory
// above it as a helper's parents.
func CheckDir(dir string) error {
	return walk(dir, false)
}

// Refused returns, top down, each of dir and the directories above it that
// pam_sms.so would refuse on its own account (CheckDir stops at the first):
// the ones a fix has to change. dir must be clean and absolute.
func Refused(dir string) []string {
	var bad []string
	cur := "/"
	if checkComponent(cur, false) != nil {
		bad = append(bad, cur)
	}
	if dir == "/" {
		return bad
	}
	for _, p := range strings.Split(dir[1:], "/") {
		cur = filepath.Join(cur, p)
		if checkComponent(cur, false) != nil {
			bad = append(bad, cur)
		}
	}
	return bad
}

func walk(path string, file bool) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("%s: not a clean absolute path", path)
	}
	if err := checkComponent("/", false); err != nil || path == "/" {
		return err
	}
	parts := strings.Split(path[1:], "/")
	cur := "/"
	for i, p := range parts {
		cur = filepath.Join(cur, p)
		if err := checkComponent(cur, file && i == len(parts)-1); err != nil {
			return err
		}
	}
	return nil
}

func checkComponent(path string, file bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner information", path)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link", path)
	case file && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case !file && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	case st.Uid != 0:
		return fmt.Errorf("%s is owned by uid %d, not root", path, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %04o)", path, st.Mode&0o7777)
	case file && fi.Mode().Perm()&0o100 == 0:
		return fmt.Errorf("%s is not executable by its owner", path)
	}
	return nil
}
