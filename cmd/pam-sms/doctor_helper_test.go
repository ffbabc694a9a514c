package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doctor says what pam_sms.so would say of the helper path: a symbolic link,
// or a directory above it that someone but root can write, is refused at
// login, so doctor fails it too.
func TestDoctorHelperPath(t *testing.T) {
	requireRoot(t)
	cfg, _ := writeConfig(t, configOpts{})
	base, err := os.MkdirTemp("/run", "pam-sms-doctor-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	mustDo(t, os.Chmod(base, 0o755))
	good := filepath.Join(base, "pam-sms-helper")
	mustDo(t, os.WriteFile(good, []byte("x"), 0o755))
	mustDo(t, os.Chmod(good, 0o755|os.ModeSetgid))
	userDir := filepath.Join(base, "user")
	mustDo(t, os.Mkdir(userDir, 0o755))
	mustDo(t, os.Chown(userDir, 65534, 65534))
	inUser := filepath.Join(userDir, "pam-sms-helper")
	mustDo(t, os.WriteFile(inUser, []byte("x"), 0o755))
	mustDo(t, os.Chmod(inUser, 0o755|os.ModeSetgid))
	link := filepath.Join(base, "link")
	mustDo(t, os.Symlink(good, link))

	tests := []struct {
		name, helper, status, msg string
	}{
		{"safe path", good, statusOK, ""},
		{"directory owned by a user", inUser, statusFail, "pam_sms.so refuses to run it: " + userDir + " is owned by uid 65534"},
		{"symbolic link", link, statusFail, "is a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := pamDir(t, map[string]string{"svc": "@include common-auth\nauth required pam_sms.so helper=" + tt.helper + "\n"})
			r := runWith(t, testHost(t, goodSshd), nil, "doctor", "--json", "--pam-dir", dir, "--config", cfg)
			var rep doctorReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("%v in %q", err, r.stdout)
			}
			found := false
			for _, it := range rep.Items {
				if it.Check != "helper "+tt.helper {
					continue
				}
				found = true
				if it.Status != tt.status || !strings.Contains(it.Message, tt.msg) {
					t.Errorf("%s %q, want %s with %q", it.Status, it.Message, tt.status, tt.msg)
				}
			}
			if !found {
				t.Errorf("no helper item in %s", r.stdout)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
