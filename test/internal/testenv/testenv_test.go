package testenv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

func TestSubstituteModule(t *testing.T) {
	const mod = "/b/pam_sms.so config=/c helper=/b/h"
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"plain", "auth required pam_sms.so\n", "auth required " + mod + "\n", 1},
		{"args dropped", "auth\trequired\tpam_sms.so timeout=60 debug\n", "auth\trequired\t" + mod + "\n", 1},
		{"bracket control",
			"auth [success=done ignore=ignore default=die] pam_sms.so\nauth required pam_permit.so\n",
			"auth [success=done ignore=ignore default=die] " + mod + "\nauth required pam_permit.so\n", 1},
		{"comment kept", "# auth required pam_sms.so\n@include common-auth\n", "# auth required pam_sms.so\n@include common-auth\n", 0},
		{"no newline", "auth required pam_sms.so", "auth required " + mod, 1},
		{"other module", "auth required pam_sms.so.bak\n", "auth required pam_sms.so.bak\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := testenv.SubstituteModule(tc.in, mod)
			if got != tc.want || n != tc.n {
				t.Errorf("SubstituteModule(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.n)
			}
		})
	}
}

func TestConfigIsValidTOML(t *testing.T) {
	gw := fakegw.StartTLS(t)
	body := testenv.Config(t, gw, testenv.Options{
		TrustedNetworks: []string{"127.0.0.0/8"},
		FailMode:        "safe",
		Numbers:         map[string]string{"bob": "+49 170 1234567", "alice": "0049 170 7654321"},
		Extra:           map[string]string{"code": `# extra`},
	})
	var v map[string]map[string]any
	if _, err := toml.Decode(body, &v); err != nil {
		t.Fatalf("config is not TOML: %v\n%s", err, body)
	}
	checks := map[string]any{
		"policy.fail_mode":   "safe",
		"policy.trust_local": false,
		"code.message":       testenv.TestMessage,
		"gateway.url":        gw.URL,
		"gateway.ca_file":    gw.CAFile,
		"numbers.alice":      "0049 170 7654321",
	}
	for key, want := range checks {
		sec, k, _ := strings.Cut(key, ".")
		if got := v[sec][k]; got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if sd, _ := v["limits"]["state_dir"].(string); sd == "" || !filepath.IsAbs(sd) {
		t.Errorf("limits.state_dir = %q, want an absolute temp dir", sd)
	}
}

func TestWriteConfigAndServiceDir(t *testing.T) {
	testenv.RequireRoot(t)
	p := testenv.WriteConfig(t, t.TempDir(), "x = 1\n")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("config mode = %v, want 0640", fi.Mode().Perm())
	}
	dir := testenv.ServiceDir(t, "auth required pam_permit.so\n")
	for _, f := range []string{testenv.ServiceName, "other"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("service dir lacks %s: %v", f, err)
		}
	}
}

func TestModuleLine(t *testing.T) {
	got := testenv.ModuleLine("/b", "/c/pam_sms.conf", "timeout=30", "debug")
	want := "/b/pam_sms.so config=/c/pam_sms.conf helper=/b/pam-sms-helper timeout=30 debug"
	if got != want {
		t.Errorf("ModuleLine = %q, want %q", got, want)
	}
}
