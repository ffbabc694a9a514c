package conf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireRoot skips tests that need root-owned files: CheckFile refuses files
// owned by anyone else, so without root there is no file it accepts.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: CheckFile accepts only root-owned files (CI runs the tests as root)")
	}
}

// writeFile creates name in dir with exactly mode perm (no umask).
func writeFile(t *testing.T, dir, name, content string, perm fs.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return path
}

func TestCheckFile(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		perm    fs.FileMode
		wantErr string // with P for the path
	}{
		{"0640", 0o640, ""},
		{"0600", 0o600, ""},
		{"0400", 0o400, ""},
		{"0440", 0o440, ""},
		{"0644", 0o644, "conf: P is mode 0644; it must not be readable by others (chmod 0640 P)"},
		{"0660", 0o660, "conf: P is mode 0660; it must not be writable by group (chmod 0640 P)"},
		{"0602", 0o602, "conf: P is mode 0602; it must not be writable by others (chmod 0600 P)"},
		{"0641", 0o641, "conf: P is mode 0641; it must not be accessible by others (chmod 0640 P)"},
		{"0666", 0o666, "conf: P is mode 0666; it must not be writable by group, writable by others or readable by others (chmod 0640 P)"},
		{"0777", 0o777, "conf: P is mode 0777; it must not be writable by group, writable by others or readable by others (chmod 0750 P)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, tt.name, "x", tt.perm)
			err := CheckFile(path)
			want := strings.ReplaceAll(tt.wantErr, "P", path)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckFile: %v", err)
				}
				return
			}
			if err == nil || err.Error() != want {
				t.Errorf("CheckFile error = %v, want %s", err, want)
			}
		})
	}
}

// TestCheckFileNotRegular needs no root: the file type is checked before the owner.
func TestCheckFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	target := writeFile(t, dir, "target", "x", 0o640)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o640); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	sub := filepath.Join(dir, "dir")
	if err := os.Mkdir(sub, 0o750); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name, path, want string
	}{
		{"symlink", link, "conf: " + link + " is a symbolic link; it must be a regular file (replace the link by the file it points to)"},
		{"fifo", fifo, "conf: " + fifo + " is not a regular file"},
		{"directory", sub, "conf: " + sub + " is a directory; it must be a regular file"},
		{"missing", missing, "conf: " + missing + ": file does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for fn, check := range map[string]func(string) error{
				"CheckFile": CheckFile,
				"Load":      func(p string) error { _, err := Load(p); return err },
			} {
				err := check(tt.path)
				if err == nil || err.Error() != tt.want {
					t.Errorf("%s error = %v, want %s", fn, err, tt.want)
				}
			}
		})
	}
	if err := CheckFile(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CheckFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestCheckFileOwner(t *testing.T) {
	requireRoot(t)
	path := writeFile(t, t.TempDir(), "conf", "x", 0o640)
	if err := os.Chown(path, 65534, 0); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	want := "conf: " + path + " is owned by uid 65534; it must be owned by root (chown root " + path + ")"
	if err := CheckFile(path); err == nil || err.Error() != want {
		t.Errorf("CheckFile error = %v, want %s", err, want)
	}
	// Group ownership is free: the shipped group is pam-sms.
	if err := os.Chown(path, 0, 65534); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := CheckFile(path); err != nil {
		t.Errorf("CheckFile with group 65534: %v", err)
	}
}

// testCA writes a self-signed CA certificate in PEM.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pam_sms test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestLoad(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	ca := testCA(t)
	// Files named by a row are dir/pw_NAME and dir/ca_NAME; {PW}, {CA} and {C}
	// (the config) stand for their paths in wantErr.
	pwPath := func(name string) string { return filepath.Join(dir, "pw_"+name) }
	caPath := func(name string) string { return filepath.Join(dir, "ca_"+name) }
	pw := func(t *testing.T, name, content string, perm fs.FileMode) string {
		return writeFile(t, dir, "pw_"+name, content, perm)
	}
	caFile := func(t *testing.T, name, content string, perm fs.FileMode) string {
		return writeFile(t, dir, "ca_"+name, content, perm)
	}
	const gw = "[gateway]\nurl = \"https://gw.example/send\"\n"

	tests := []struct {
		name         string
		conf         func(t *testing.T, name string) string // config text; may create files
		perm         fs.FileMode
		wantPassword string
		wantErr      string // with C for the config path; "" = success
	}{
		{"no_password", func(t *testing.T, n string) string { return gw }, 0o640, "", ""},
		{"inline_password", func(t *testing.T, n string) string { return gw + "password = \"s3cret\"\n" }, 0o640, "s3cret", ""},
		{"password_file_trimmed", func(t *testing.T, n string) string {
			return gw + "password_file = \"" + pw(t, n, "  s3 cret \t\r\nsecond line\n", 0o640) + "\"\n"
		}, 0o640, "  s3 cret", ""},
		{"password_file_no_newline", func(t *testing.T, n string) string {
			return gw + "password_file = \"" + pw(t, n, "s3cret", 0o600) + "\"\n"
		}, 0o640, "s3cret", ""},
		{"password_file_empty", func(t *testing.T, n string) string {
			p := pw(t, n, "\nsecond line\n", 0o640)
			return gw + "password_file = \"" + p + "\"\n"
		}, 0o640, "", "{C}:3: gateway.password_file: {PW}: the first line is empty; it must hold the gateway password"},
		{"password_file_blank", func(t *testing.T, n string) string {
			return gw + "password_file = \"" + pw(t, n, " \t\n", 0o640) + "\"\n"
		}, 0o640, "", "{C}:3: gateway.password_file: {PW}: the first line is empty; it must hold the gateway password"},
		{"password_file_mode", func(t *testing.T, n string) string {
			return gw + "password_file = \"" + pw(t, n, "s3cret\n", 0o644) + "\"\n"
		}, 0o640, "", "{C}:3: gateway.password_file: {PW} is mode 0644; it must not be readable by others (chmod 0640 {PW})"},
		{"password_file_missing", func(t *testing.T, n string) string {
			return gw + "password_file = \"" + dir + "/nope\"\n"
		}, 0o640, "", "{C}:3: gateway.password_file: " + dir + "/nope: file does not exist"},
		{"ca_file_ok", func(t *testing.T, n string) string {
			return gw + "ca_file = \"" + caFile(t, n, ca, 0o644) + "\"\n"
		}, 0o640, "", ""},
		{"ca_file_no_pem", func(t *testing.T, n string) string {
			return gw + "ca_file = \"" + caFile(t, n, "not a certificate\n", 0o644) + "\"\n"
		}, 0o640, "", "{C}:3: gateway.ca_file: {CA} holds no PEM certificate"},
		{"ca_file_key_only", func(t *testing.T, n string) string {
			return gw + "ca_file = \"" + caFile(t, n, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o644) + "\"\n"
		}, 0o640, "", "{C}:3: gateway.ca_file: {CA} holds no PEM certificate"},
		{"ca_file_writable", func(t *testing.T, n string) string {
			return gw + "ca_file = \"" + caFile(t, n, ca, 0o666) + "\"\n"
		}, 0o640, "", "{C}:3: gateway.ca_file: {CA} is mode 0666; it must not be writable by group or others (chmod 0644 {CA})"},
		{"ca_file_missing", func(t *testing.T, n string) string {
			return gw + "ca_file = \"" + dir + "/nope.pem\"\n"
		}, 0o640, "", "{C}:3: gateway.ca_file: " + dir + "/nope.pem: file does not exist"},
		{"config_mode", func(t *testing.T, n string) string { return gw }, 0o644,
			"", "conf: {C} is mode 0644; it must not be readable by others (chmod 0640 {C})"},
		{"config_invalid", func(t *testing.T, n string) string { return gw + "method = \"PUT\"\n" }, 0o640,
			"", "{C}:3: gateway.method: must be \"POST\" or \"GET\", not \"PUT\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.conf(t, tt.name)
			path := writeFile(t, dir, "conf_"+tt.name, text, tt.perm)
			cfg, err := Load(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Path != path {
					t.Errorf("Path = %q, want %q", cfg.Path, path)
				}
				if cfg.Gateway.Password != tt.wantPassword {
					t.Errorf("Password = %q, want %q", cfg.Gateway.Password, tt.wantPassword)
				}
				return
			}
			want := strings.NewReplacer("{C}", path, "{PW}", pwPath(tt.name), "{CA}", caPath(tt.name)).Replace(tt.wantErr)
			if err == nil || err.Error() != want {
				t.Errorf("Load error =\n%v\nwant\n%s", err, want)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with the error")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Load error repeats the password: %v", err)
			}
		})
	}
}

// TestParseDoesNotOpenFiles: Parse checks only the form of password_file and
// ca_file; the CLI can parse a config for a machine whose files it lacks.
func TestParseDoesNotOpenFiles(t *testing.T) {
	in := "[gateway]\nurl = \"https://gw.example/\"\npassword_file = \"/nonexistent/secret\"\nca_file = \"/nonexistent/ca.pem\"\n"
	cfg, err := Parse("t", []byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.Gateway.PasswordFile != "/nonexistent/secret" || cfg.Gateway.Password != "" || cfg.Gateway.CAFile != "/nonexistent/ca.pem" {
		t.Errorf("Gateway = %+v", cfg.Gateway)
	}
}

// TestReadFileBound: ReadFile reads a file of exactly limit bytes whole and
// refuses one byte more, and the file's rules apply (a numbers file is read
// with it).
func TestReadFileBound(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the file must be owned by root")
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		size int
		ok   bool
	}{{0, true}, {1, true}, {4096, true}, {4097, false}, {9000, false}} {
		path := filepath.Join(dir, fmt.Sprint("f", tt.size))
		data := bytes.Repeat([]byte("x"), tt.size)
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path, 4096)
		switch {
		case tt.ok && (err != nil || !bytes.Equal(got, data)):
			t.Errorf("size %d: ReadFile = %d bytes, %v; want the whole file", tt.size, len(got), err)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "larger than 4096 bytes")):
			t.Errorf("size %d: ReadFile = %v, want larger than 4096 bytes", tt.size, err)
		}
	}
	unsafe := filepath.Join(dir, "unsafe")
	if err := os.WriteFile(unsafe, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(unsafe, 0o664); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(unsafe, 4096); err == nil || !strings.Contains(err.Error(), "writable by group") {
		t.Errorf("ReadFile(0664) = %v, want writable by group", err)
	}
}
