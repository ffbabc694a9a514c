package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/internal/execpath"
)

func TestStageHelper(t *testing.T) {
	requireRoot(t)
	unsafe := filepath.Join(t.TempDir(), "pam-sms-helper") // below /tmp: refused by the module
	if err := os.WriteFile(unsafe, []byte("helper"), 0o755); err != nil {
		t.Fatal(err)
	}
	staged, cleanup, err := stageHelper(unsafe)
	if err != nil {
		t.Fatal(err)
	}
	if staged == unsafe || execpath.Check(staged) != nil {
		t.Fatalf("staged %s (check: %v), want a copy the module runs", staged, execpath.Check(staged))
	}
	if b, err := os.ReadFile(staged); err != nil || string(b) != "helper" {
		t.Errorf("copy holds %q, %v", b, err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(staged)); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", filepath.Dir(staged), err)
	}

	safe, cleanup, err := stageHelper(staged) // gone now: refused and not copyable
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("stageHelper(missing) = %s, %v; want an error", safe, err)
	}
	if cleanup != nil {
		cleanup()
	}
}
