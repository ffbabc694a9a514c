package packaging_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoPick checks how mk/go.sh (GO in the Makefile) picks the go command
// among stand-ins that report a version: one at least as new as go.mod runs
// as it is; otherwise the newest go >= 1.21 runs with GOTOOLCHAIN=auto, so
// that it fetches go.mod's toolchain; a go 1.19 (Debian 12's golang-go)
// alone is no go at all, and make deps must install one.
func TestGoPick(t *testing.T) {
	root := repoRoot(t)
	want := goModVersion(t, root)
	dir := t.TempDir()
	fake := func(name, version string) string {
		p := filepath.Join(dir, name)
		script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in\nversion) echo \"go version go%s linux/amd64\" ;;\n"+
			"env) echo \"%s GOTOOLCHAIN=${GOTOOLCHAIN:-}\" ;;\nesac\n", version, name)
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	current := fake("current", want)
	newer := fake("newer", "1.99.0")
	old19 := fake("old19", "1.19.8")
	go121 := fake("go121", "1.21.0")
	go123 := fake("go123", "1.23.5")
	rc := fake("rc", "1.22rc1")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name       string
		candidates []string
		toolchain  string // GOTOOLCHAIN in the caller's environment
		code       int    // exit code of --which
		pick       string
		env        string // GOTOOLCHAIN the picked go sees
	}{
		{"new enough first", []string{current, go123}, "", 0, current, ""},
		{"new enough after older", []string{old19, go123, newer}, "", 0, newer, ""},
		{"older gos: the newest switches", []string{old19, go121, go123}, "", 3, go123, "auto"},
		{"release candidate switches", []string{rc, old19}, "", 3, rc, "auto"},
		{"caller's GOTOOLCHAIN kept", []string{go123}, "local", 3, go123, "local"},
		{"caller's GOTOOLCHAIN kept when new enough", []string{current}, "go1.99.0", 0, current, "go1.99.0"},
		{"go 1.19 only", []string{old19, missing}, "", 1, "", ""},
		{"none", []string{missing}, "", 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(os.Environ(), "PAM_SMS_GO_CANDIDATES="+strings.Join(tt.candidates, " "))
			env = append(env, "GOTOOLCHAIN="+tt.toolchain)
			code, out := runGoSh(t, root, env, "--which")
			if tt.code == 1 {
				if code != 1 || !strings.Contains(out, "make deps") {
					t.Fatalf("--which: exit %d, %q; want exit 1 and a pointer to make deps", code, out)
				}
				return
			}
			if code != tt.code || strings.TrimSpace(out) != tt.pick {
				t.Fatalf("--which: exit %d, %q; want exit %d, %q", code, out, tt.code, tt.pick)
			}
			code, out = runGoSh(t, root, env, "env")
			wantOut := filepath.Base(tt.pick) + " GOTOOLCHAIN=" + tt.env
			if code != 0 || strings.TrimSpace(out) != wantOut {
				t.Errorf("env: exit %d, %q; want %q", code, out, wantOut)
			}
		})
	}
}

// runGoSh runs mk/go.sh with args and returns its exit code and output.
func runGoSh(t *testing.T, root string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join(root, "mk", "go.sh")}, args...)...)
	cmd.Dir = root
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("mk/go.sh %s: %v", strings.Join(args, " "), err)
	return 0, ""
}
