package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pam-sms/pam_sms/conf"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []float64{3}, summary{med: 3, min: 3, max: 3, n: 1}},
		{"odd", []float64{5, 1, 3}, summary{med: 3, min: 1, max: 5, n: 3}},
		{"even", []float64{4, 1, 3, 2}, summary{med: 2.5, min: 1, max: 4, n: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(200 - i) // 200..1, unsorted
	}
	tests := []struct {
		p    float64
		want float64
	}{{50, 100}, {99, 198}, {100, 200}, {0.1, 1}}
	for _, tt := range tests {
		if got := percentile(xs, tt.p); got != tt.want {
			t.Errorf("percentile(1..200, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}

func TestRotate(t *testing.T) {
	vs := []string{"a", "b", "c"}
	want := [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}}
	for r, w := range want {
		if diff := cmp.Diff(w, rotate(vs, r)); diff != "" {
			t.Errorf("rotate(round %d) (-want +got):\n%s", r, diff)
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, vs); diff != "" {
		t.Errorf("rotate changed its input:\n%s", diff)
	}
}

func TestParseClient(t *testing.T) {
	out := "ready\n" +
		"tx 0 rc 0 start 100 auth 200 authend 900 end 1000 recv 300 prompts 1 errors 0\n" +
		"tx 1 rc 7 start 2000 auth 2100 authend 2200 end 2300 recv 0 prompts 0 errors 1\n" +
		"rss self 2048 children 15000 cpu 1500\n"
	got, err := parseClient(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := clientRun{
		txs: []tx{
			{rc: 0, start: 100, auth: 200, authEnd: 900, end: 1000, recv: 300, prompts: 1},
			{rc: 7, start: 2000, auth: 2100, authEnd: 2200, end: 2300, errors: 1},
		},
		rssSelf: 2048, rssChild: 15000, childCPU: 1500 * 1000,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(clientRun{}, tx{})); diff != "" {
		t.Errorf("parseClient (-want +got):\n%s", diff)
	}
	if d := got.txs[0].dispatch(); d != 100 {
		t.Errorf("dispatch = %d, want 100", d)
	}
	if d := got.txs[0].total(); d != 900 {
		t.Errorf("total = %d, want 900", d)
	}
}

func TestParseClientBadNumber(t *testing.T) {
	_, err := parseClient(strings.NewReader("tx 0 rc x start 1 auth 2 authend 3 end 4 recv 0 prompts 0 errors 0\n"))
	if err == nil || !strings.Contains(err.Error(), `bench: pamclient line "tx 0 rc x`) {
		t.Errorf("err = %v, want a bad-line error", err)
	}
}

func TestPasswdWithUsers(t *testing.T) {
	in := "root:x:0:0:root:/root:/bin/bash\npamsmsb007:x:1:1::/:/bin/sh\n"
	got := string(passwdWithUsers([]byte(in)))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 1+userCount {
		t.Fatalf("%d lines, want %d", len(lines), 1+userCount)
	}
	if lines[0] != "root:x:0:0:root:/root:/bin/bash" {
		t.Errorf("first line %q, want root's unchanged", lines[0])
	}
	if want := "pamsmsb007:x:64007:65534:pam_sms bench user:/nonexistent:/usr/sbin/nologin"; lines[8] != want {
		t.Errorf("line 8 = %q, want %q", lines[8], want)
	}
}

// TestRenderConfig checks that the bench configs are valid pam_sms configs
// of the announced size.
func TestRenderConfig(t *testing.T) {
	o := configOptions{url: "http://127.0.0.1:1/send", stateDir: "/var/tmp", perUser: 1, perNumber: 1,
		perHost: 200, daily: 200, bigNumbers: bigNumbers, bigNetworks: bigNetworks}
	cfg, err := conf.Parse("bench.conf", []byte(renderConfig(o)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cfg.Numbers), userCount+bigNumbers; got != want {
		t.Errorf("%d numbers, want %d", got, want)
	}
	if got, want := cfg.Policy.TrustedNetworks.Len(), 1+bigNetworks; got != want {
		t.Errorf("%d networks, want %d (networks merged?)", got, want)
	}
	if !cfg.Policy.TrustedNetworks.Contains(rhostTrusted) || cfg.Policy.TrustedNetworks.Contains(rhostOutside) {
		t.Errorf("trusted networks: %s must match, %s must not", rhostTrusted, rhostOutside)
	}
	if got := cfg.Numbers[userName(7)].Digits(); got != strings.TrimPrefix(userTo(7), "00") {
		t.Errorf("number of %s = %s, want %s", userName(7), got, userTo(7))
	}
	if cfg.Limits.PerUser != 1 || cfg.Limits.PerHost != 200 || cfg.Limits.Daily != 200 {
		t.Errorf("limits = %+v", cfg.Limits.Limits)
	}
}
