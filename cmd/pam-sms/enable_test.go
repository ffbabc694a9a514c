package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// safeHelper writes a root-owned helper below /run, where pam_sms.so and
// doctor accept it (not below /tmp, mode 1777), and returns its path.
func safeHelper(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("/run", "pam-sms-enable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(root, "pam-sms-helper")
	if err := os.WriteFile(helper, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(helper, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return helper
}

// enableHost is a test host whose checks enable passes: a good helper, and
// a configuration that gives root (the only user) a number.
func enableHost(t *testing.T) (*host, string) {
	t.Helper()
	h := testHost(t, goodSshd)
	h.Helper = safeHelper(t)
	cfg, _ := writeConfig(t, configOpts{})
	return h, cfg
}

// TestEnableRefuses: each reason a login would fail refuses enable, with
// exit 1, the reason named, and every file of the stack byte-identical;
// --force enables and says what it overrode.
func TestEnableRefuses(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, h *host) string // returns the config path
		want  []string                           // in stderr
	}{
		{"config with problems", func(t *testing.T, h *host) string {
			cfg, _ := writeConfig(t, configOpts{missing: "sometimes"})
			return cfg
		}, []string{"config ", "pam-sms check finds problems", ":4: policy.missing_number"}},
		{"placeholder gateway url", func(t *testing.T, h *host) string {
			cfg, _ := writeConfig(t, configOpts{url: "https://gateway.example/send"})
			return cfg
		}, []string{"config ", "gateway.url"}},
		{"config missing", func(t *testing.T, h *host) string {
			return filepath.Join(t.TempDir(), "nonexistent.conf")
		}, []string{"config ", "every login through pam_sms is denied"}},
		{"state dir missing", func(t *testing.T, h *host) string {
			cfg, state := writeConfig(t, configOpts{})
			os.Remove(state)
			return cfg
		}, []string{"state dir ", "missing"}},
		{"state dir writable by others", func(t *testing.T, h *host) string {
			cfg, state := writeConfig(t, configOpts{})
			os.Chmod(state, 0o777)
			return cfg
		}, []string{"state dir ", "writable by others"}},
		{"helper missing", func(t *testing.T, h *host) string {
			h.Helper = filepath.Join(filepath.Dir(h.Helper), "nonexistent")
			cfg, _ := writeConfig(t, configOpts{})
			return cfg
		}, []string{"helper ", "does not exist"}},
		{"helper writable by the group", func(t *testing.T, h *host) string {
			os.Chmod(h.Helper, 0o775)
			cfg, _ := writeConfig(t, configOpts{})
			return cfg
		}, []string{"helper ", "writable by group or others"}},
		{"helper below /tmp", func(t *testing.T, h *host) string {
			tmp := filepath.Join(t.TempDir(), "pam-sms-helper")
			os.WriteFile(tmp, []byte("x"), 0o755)
			h.Helper = tmp
			cfg, _ := writeConfig(t, configOpts{})
			return cfg
		}, []string{"helper ", "pam_sms.so refuses to run it"}},
		{"root has no number", func(t *testing.T, h *host) string {
			cfg, _ := writeConfig(t, configOpts{noNumbers: true})
			return cfg
		}, []string{"users: 1 of 1 users", `missing_number = "deny"`, ": root"}},
		{"enforced through a group without a number", func(t *testing.T, h *host) string {
			h.Users = func(context.Context) ([]string, error) { return []string{"root", "daemon"}, nil }
			cfg, _ := writeConfig(t, configOpts{groups: `["root", "daemon"]`})
			return cfg
		}, []string{"users: 1 of 2 users", ": daemon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := enableHost(t)
			cfg := tt.setup(t, h)
			dir := pamDir(t, map[string]string{"sshd": debianSshd, "login": debianLogin})
			before := snapshot(t, dir)
			r := runWith(t, h, nil, "enable", "--config", cfg, "--pam-dir", dir)
			if r.code != exitFailed {
				t.Errorf("exit %d, want %d", r.code, exitFailed)
			}
			for _, w := range append(tt.want, "refused", "nothing was changed", "--force") {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("files after a refused enable: %d, before %d", len(after), len(before))
			}
			for name, body := range before {
				if after[name] != body {
					t.Errorf("%s changed by a refused enable:\n%s", name, after[name])
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "sshd"+backupSuffix)); err == nil {
				t.Error("a refused enable wrote a backup")
			}

			f := runWith(t, h, nil, "enable", "--force", "--config", cfg, "--pam-dir", dir)
			if f.code != exitOK {
				t.Errorf("--force: exit %d: %s", f.code, f.stderr)
			}
			for _, w := range append(tt.want, "--force: enabling although") {
				if !strings.Contains(f.stderr, w) {
					t.Errorf("--force stderr lacks %q:\n%s", w, f.stderr)
				}
			}
			if !strings.Contains(readFile(t, filepath.Join(dir, "sshd")), smsLine) {
				t.Error("--force did not enable sshd")
			}
		})
	}
}

// TestEnableMissingIgnore: with missing_number = "ignore" users without a
// number log in without a code, so they do not refuse enable.
func TestEnableMissingIgnore(t *testing.T) {
	requireRoot(t)
	h, _ := enableHost(t)
	cfg, _ := writeConfig(t, configOpts{noNumbers: true, missing: "ignore"})
	dir := pamDir(t, map[string]string{"sshd": debianSshd})
	if r := runWith(t, h, nil, "enable", "--config", cfg, "--pam-dir", dir, "--service", "sshd"); r.code != exitOK {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// TestEnableRefusesBeforePamAuthUpdate: on the pam-auth-update path a
// refusal runs nothing and leaves /etc/pam.d as it was.
func TestEnableRefusesBeforePamAuthUpdate(t *testing.T) {
	requireRoot(t)
	if !fileExists(filepath.Join(defaultPamDir, "common-auth")) {
		t.Skip("no " + defaultPamDir + "/common-auth: not a pam-auth-update system")
	}
	h, _ := enableHost(t)
	ran := 0
	h.PamAuthUpdate = "/nonexistent/pam-auth-update"
	h.RunPamAuthUpdate = func(context.Context, ...string) error { ran++; return nil }
	cfg, _ := writeConfig(t, configOpts{noNumbers: true})
	before := snapshot(t, defaultPamDir)
	r := runWith(t, h, nil, "enable", "--config", cfg)
	if r.code != exitFailed || !strings.Contains(r.stderr, ": root") || ran != 0 {
		t.Errorf("exit %d, pam-auth-update run %d times; stderr:\n%s", r.code, ran, r.stderr)
	}
	after := snapshot(t, defaultPamDir)
	for name, body := range before {
		if after[name] != body {
			t.Errorf("%s changed by a refused enable", name)
		}
	}
}
