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
	if len(lines) != 1+userCount+1 {
		t.Fatalf("%d lines, want %d (root, the users, %s)", len(lines), 1+userCount+1, frozenUser)
	}
	if lines[0] != "root:x:0:0:root:/root:/bin/bash" {
		t.Errorf("first line %q, want root's unchanged", lines[0])
	}
	if want := "pamsmsb007:x:64007:65534:pam_sms bench user:/nonexistent:/usr/sbin/nologin"; lines[8] != want {
		t.Errorf("line 8 = %q, want %q", lines[8], want)
	}
	if want := frozenUser + ":x:64200:65534:pam_sms bench user (frozen helper):/nonexistent:/usr/sbin/nologin"; lines[len(lines)-1] != want {
		t.Errorf("last line = %q, want %q", lines[len(lines)-1], want)
	}
}

// TestRenderConfig checks that the bench configs are valid pam_sms configs
// of the announced size.
func TestRenderConfig(t *testing.T) {
	o := configOptions{url: "http://127.0.0.1:1/send", stateDir: "/var/tmp", perUser: 1, perNumber: 1,
		perHost: 200, daily: 200, bigNumbers: bigNumbers, bigNetworks: bigNetworks, frozen: true}
	cfg, err := conf.Parse("bench.conf", []byte(renderConfig(o)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cfg.Numbers), userCount+1+bigNumbers; got != want {
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
	if got := cfg.Numbers[frozenUser].Digits(); got != digitsOf(frozenNumber) {
		t.Errorf("number of %s = %q, want %s", frozenUser, got, digitsOf(frozenNumber))
	}
	if cfg.Limits.PerUser != 1 || cfg.Limits.PerHost != 200 || cfg.Limits.Daily != 200 {
		t.Errorf("limits = %+v", cfg.Limits.Limits)
	}
}

func TestGroupWithBench(t *testing.T) {
	in := "root:x:0:\n" + benchGroup + ":x:5:\nbusy:x:64900:\nnext:x:64901:alice\n"
	got, gid, err := groupWithBench([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if gid != 64902 {
		t.Errorf("gid %d, want 64902 (the first free one from %d)", gid, firstBenchGID)
	}
	want := "root:x:0:\nbusy:x:64900:\nnext:x:64901:alice\n" + benchGroup + ":x:64902:\n"
	if string(got) != want {
		t.Errorf("group file:\n%s\nwant:\n%s", got, want)
	}
}

// A run of some rows keeps the other rows, their run's date and the findings
// that cite none of the rows measured again.
func TestParsePrevious(t *testing.T) {
	old := "# pam_sms benchmarks\n\n## Machine\n\n| | |\n| --- | --- |\n| date | 2026-11-30 12:08 UTC |\n| nproc | 2 |\n| CPU | AMD EPYC |\n| kernel | Linux 6.1 |\n\n" +
		"## Results\n\n| row | measurement | median | min | max | n | target | verdict |\n" +
		"| --- | --- | ---: | ---: | ---: | ---: | --- | --- |\n" +
		"| 1a | exempt login: pam_permit.so | 0.11 ms | 0.10 ms | 0.93 ms | 200 | - | - |\n" +
		"| 1f | pam_sms minus pam_permit | 4.97 ms | - | - | - | <= 5 ms | met |\n" +
		"| 4c | client peak RSS | 2160 KiB | 2160 KiB | 2160 KiB | 12 | adds < 256 KiB | met |\n" +
		"| 5a2 | burst HTTP: p99 | 955 ms | 852 ms | 1029 ms | 5 | < 1 s | MISSED: by 28.8 ms in the worst run |\n\n" +
		"## Findings from this run\n\n- Exempt path: costs 4.97 ms.\n- Memory: adds 4 KiB.\n- Burst: p99 was 955 ms.\n\n## Method\n"
	p := parsePrevious(old, []string{"5", "6"})
	want := []result{
		{row: "1a", what: "exempt login: pam_permit.so", med: "0.11 ms", min: "0.10 ms", max: "0.93 ms", n: "200"},
		{row: "1f", what: "pam_sms minus pam_permit", med: "4.97 ms", target: "<= 5 ms", verdict: "met"},
		{row: "4c", what: "client peak RSS", med: "2160 KiB", min: "2160 KiB", max: "2160 KiB", n: "12", target: "adds < 256 KiB", verdict: "met"},
	}
	if diff := cmp.Diff(want, p.results, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("kept results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "4"}, p.rows()); diff != "" {
		t.Errorf("kept rows (-want +got):\n%s", diff)
	}
	if p.dates["1"] != "2026-11-30 12:08 UTC" || p.machines["1"] != "AMD EPYC, 2 cores, Linux 6.1" {
		t.Errorf("run of row 1: %q on %q", p.dates["1"], p.machines["1"])
	}
	// Exempt path cites row 6 too, which was measured again; Burst cites 5.
	wantF := map[string]string{"Memory": "Memory: adds 4 KiB. *(From the run of 2026-11-30 12:08 UTC.)*"}
	if diff := cmp.Diff(wantF, p.findings); diff != "" {
		t.Errorf("kept findings (-want +got):\n%s", diff)
	}

	// The file this writes reads back the same, with the run of each row.
	b := &bench{ran: []string{"5", "6"}, prev: p, figs: map[string]float64{}}
	b.machine = machine{date: "2026-12-02 01:30 UTC", cpu: "Intel Xeon", nproc: "2", kernel: "Linux 6.18"}
	b.results = []result{{row: "5a2", what: "burst HTTP: p99", med: "900 ms", min: "850 ms", max: "950 ms", n: "5"}}
	md := b.markdown()
	if want := "- Not written here: Exempt path, Config size, HTTPS, Burst, Numbers file, Directory, Failover. Each needs rows 1, 2, 3, 5, 6, 7, 8, 9 from one run"; !strings.Contains(md, want) {
		t.Errorf("the merged file does not say which findings it lacks (%q)", want)
	}
	again := parsePrevious(md, []string{"1"})
	if diff := cmp.Diff([]string{"4", "5"}, again.rows()); diff != "" {
		t.Errorf("rows kept from the merged file (-want +got):\n%s", diff)
	}
	if again.dates["4"] != "2026-11-30 12:08 UTC" || again.dates["5"] != "2026-12-02 01:30 UTC" {
		t.Errorf("dates kept from the merged file: %v", again.dates)
	}
	if again.machines["4"] != "AMD EPYC, 2 cores, Linux 6.1" || again.machines["5"] != "Intel Xeon, 2 cores, Linux 6.18" {
		t.Errorf("machines kept from the merged file: %v", again.machines)
	}
	if got := again.findings["Memory"]; got != wantF["Memory"] {
		t.Errorf("Memory finding kept twice: %q", got)
	}
}
