package conf

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

// shipped is the example config installed as /etc/security/pam_sms.conf.
const shipped = "pam_sms.conf"

// shippedSecret is the password_file the shipped config names.
const shippedSecret = "/etc/security/pam_sms.secret"

func readShipped(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return data
}

// TestShippedParses: the shipped file states every default; only the gateway
// URL (an example host) and the password file differ from an empty config.
func TestShippedParses(t *testing.T) {
	cfg, err := Parse(shipped, readShipped(t))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := defaults("https://gateway.example/send")
	want.Path = shipped
	want.Gateway.PasswordFile = shippedSecret
	if diff := cmp.Diff(want, cfg, cmpOpts); diff != "" {
		t.Errorf("shipped config differs from the defaults (-want +got):\n%s", diff)
	}
}

// TestShippedDocumentsEveryKey keeps the reference file and the parser in
// step: every key the parser knows is set in the file or shown commented out.
func TestShippedDocumentsEveryKey(t *testing.T) {
	data := readShipped(t)
	var doc map[string]any
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var set []string
	for _, k := range md.Keys() {
		set = append(set, k.String())
	}
	for _, table := range []string{"policy", "code", "gateway", "gateway.fields", "limits", "directory"} {
		for _, key := range knownKeys(table) {
			full := table + "." + key
			commented := strings.Contains(string(data), "\n# "+key+" = ")
			if full == "gateway.failover" {
				commented = strings.Contains(string(data), "\n# [[gateway.failover]]\n")
			}
			if !slices.Contains(set, full) && !commented {
				t.Errorf("%s is neither set nor shown commented out in %s", full, shipped)
			}
		}
	}
	for _, table := range []string{"gateway.extra", "numbers"} {
		if !slices.Contains(set, table) {
			t.Errorf("[%s] is missing from %s", table, shipped)
		}
	}
}

// lineOf returns the 1-based line of the first line starting with prefix.
func lineOf(t *testing.T, data []byte, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("Setup: no line starts with %q", prefix)
	return 0
}

// TestShippedLoad: as installed, Load fails only because the password file
// does not exist yet; once the secret is written as the comments say, it loads.
func TestShippedLoad(t *testing.T) {
	requireRoot(t)
	data := readShipped(t)
	dir := t.TempDir()

	if _, err := os.Lstat(shippedSecret); err == nil {
		t.Logf("%s exists on this machine; skipping the as-installed case", shippedSecret)
	} else {
		path := writeFile(t, dir, "as-installed.conf", string(data), 0o640)
		_, err := Load(path)
		want := path + ":" + strconv.Itoa(lineOf(t, data, "password_file =")) +
			": gateway.password_file: " + shippedSecret + ": file does not exist"
		if err == nil || err.Error() != want {
			t.Errorf("Load(shipped) error =\n%v\nwant\n%s", err, want)
		}
	}

	secret := writeFile(t, dir, "pam_sms.secret", "gateway-password\n", 0o640)
	filled := strings.Replace(string(data), `password_file = "`+shippedSecret+`"`, `password_file = "`+secret+`"`, 1)
	filled = strings.Replace(filled, `id = ""`, `id = "acme-4711"`, 1)
	path := writeFile(t, dir, "filled.conf", filled, 0o640)
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load(filled in): %v", err)
	}
	if cfg.Gateway.Password != "gateway-password" || cfg.Gateway.ID != "acme-4711" {
		t.Errorf("Gateway ID %q, password %q; want acme-4711, gateway-password", cfg.Gateway.ID, cfg.Gateway.Password)
	}
	if filepath.Dir(cfg.Gateway.PasswordFile) != dir {
		t.Errorf("PasswordFile = %q", cfg.Gateway.PasswordFile)
	}
}
