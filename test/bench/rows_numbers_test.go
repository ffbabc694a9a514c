package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
)

// TestWithoutNumbers checks the configs of rows 7 and 8: valid pam_sms
// configs with no [numbers] (so the number must come from the numbers file
// or the directory), the numbers file or [directory] as asked, and the rest
// of the standard bench config.
func TestWithoutNumbers(t *testing.T) {
	o := generous
	o.url, o.stateDir = "http://127.0.0.1:1/send", "/var/tmp"
	base := renderConfig(o)
	for _, c := range []struct {
		name, policy, tail string
		files              []string
		uri                string
		startTLS           bool
		numbers            int
	}{
		{name: "numbers file", policy: "numbers_files = [\"/var/tmp/fleet-10.numbers\"]\n", files: []string{"/var/tmp/fleet-10.numbers"}},
		{name: "directory", tail: directorySection("ldap://127.0.0.1:389/", true, "/var/tmp/bind.pw", "/var/tmp/ca.pem"),
			uri: "ldap://127.0.0.1:389/", startTLS: true},
		{name: "directory and [numbers]", numbers: 1, uri: "ldaps://127.0.0.1:636/",
			tail: directorySection("ldaps://127.0.0.1:636/", false, "/var/tmp/bind.pw", "/var/tmp/ca.pem") +
				"\n[numbers]\n" + userName(0) + " = \"" + userNumber(0) + "\"\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := conf.Parse("bench.conf", []byte(withoutNumbers(base, c.policy, c.tail)))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Numbers) != c.numbers {
				t.Errorf("%d numbers in [numbers], want %d", len(cfg.Numbers), c.numbers)
			}
			if !slices.Equal(cfg.Policy.NumbersFiles, c.files) {
				t.Errorf("numbers_files = %q, want %q", cfg.Policy.NumbersFiles, c.files)
			}
			switch {
			case c.uri == "" && cfg.Directory != nil:
				t.Errorf("[directory] present: %+v", cfg.Directory)
			case c.uri != "" && (cfg.Directory == nil || !slices.Equal(cfg.Directory.URIs, []string{c.uri}) ||
				cfg.Directory.StartTLS != c.startTLS):
				t.Errorf("[directory] = %+v, want uri %s starttls %t", cfg.Directory, c.uri, c.startTLS)
			}
			if !cfg.Policy.TrustedNetworks.Contains(rhostTrusted) || cfg.Gateway.URL != o.url {
				t.Errorf("not the standard bench config otherwise: %+v", cfg.Policy)
			}
		})
	}
}

// TestFleetNumbers checks row 7's numbers files: exactly the lines announced,
// the bench user on the last one with the number the gateway expects, found
// there by the helper's own lookup.
func TestFleetNumbers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("numbers files must be owned by root: run as root")
	}
	for _, lines := range []int{fleetSmall, fleetBig} {
		text := fleetNumbers(lines)
		if got := strings.Count(text, "\n"); got != lines {
			t.Errorf("%d lines, want %d", got, lines)
		}
		path := filepath.Join(t.TempDir(), "numbers")
		if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
		e, ok, err := numsource.File{Path: path}.Lookup(context.Background(), userName(0))
		if err != nil || !ok || e.Problem != "" {
			t.Fatalf("Lookup(%s) = %+v, %v, %v", userName(0), e, ok, err)
		}
		if want := path + " line " + commas(lines); e.Where != strings.ReplaceAll(want, ",", "") {
			t.Errorf("found at %q, want the last line", e.Where)
		}
		if got := e.Number.Digits(); got != strings.TrimPrefix(userTo(0), "00") {
			t.Errorf("number %s, want %s", got, userTo(0))
		}
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 10: "10", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}
