package testenv

import (
	"bytes"
	"fmt"
	"os/exec"
	"os/user"
	"strings"
	"testing"
	"time"
)

// TestUserComment marks users and groups made by CreateUser, so that a stale one
// left by a killed run is recognised and replaced, and no other user is touched.
const TestUserComment = "pam_sms test user"

// CreateUser adds a local user with a home directory and password (useradd,
// chpasswd) and removes it with userdel -r in t.Cleanup. A stale test user of
// the same name (comment TestUserComment) is removed first; any other existing
// user of that name fails the test. groups are supplementary groups that must
// exist.
func CreateUser(t testing.TB, name, password string, groups ...string) *user.User {
	t.Helper()
	if u, err := user.Lookup(name); err == nil {
		if u.Name != TestUserComment {
			t.Fatalf("testenv: user %s exists and is not a test user; pick another name", name)
		}
		if err := run("", "userdel", "-r", "-f", name); err != nil {
			t.Fatalf("testenv: remove stale test user: %v", err)
		}
	}
	args := []string{"-m", "-s", "/bin/sh", "-c", TestUserComment}
	if len(groups) > 0 {
		args = append(args, "-G", strings.Join(groups, ","))
	}
	if err := run("", "useradd", append(args, name)...); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := run("", "userdel", "-r", "-f", name); err != nil {
			t.Errorf("testenv: cleanup: %v", err)
		}
	})
	if err := run(name+":"+password+"\n", "chpasswd"); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("testenv: look up new user: %v", err)
	}
	return u
}

// CreateGroup adds a local group and removes it in t.Cleanup. An existing group
// of that name fails the test.
func CreateGroup(t testing.TB, name string) {
	t.Helper()
	if _, err := user.LookupGroup(name); err == nil {
		// groupadd has no comment field; only names with this prefix are ours.
		if !strings.HasPrefix(name, "smst") {
			t.Fatalf("testenv: group %s exists; pick another name", name)
		}
		if err := run("", "groupdel", name); err != nil {
			t.Fatalf("testenv: remove stale test group: %v", err)
		}
	}
	if err := run("", "groupadd", name); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := run("", "groupdel", name); err != nil {
			t.Errorf("testenv: cleanup: %v", err)
		}
	})
}

// run runs an account tool, retrying while another process (a parallel test
// package) holds the lock on /etc/passwd; exit status 10 of useradd/userdel/
// groupadd and "cannot lock" mean exactly that.
func run(stdin, name string, args ...string) error {
	var last error
	for range 50 {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err == nil {
			return nil
		}
		last = fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
		if !strings.Contains(out.String(), "lock") {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}
