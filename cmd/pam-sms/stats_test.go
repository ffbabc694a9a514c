package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	usagerec "github.com/pam-sms/pam_sms/usage"
)

var (
	statsDay1 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	statsDay2 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

// statsSeries is a known series of attempts over two days.
var statsSeries = []usagerec.Record{
	{Time: statsDay1, Outcome: usagerec.Sent, Gateway: "gw.example", Country: "49", Duration: time.Second, User: "alice"},
	{Time: statsDay1.Add(time.Hour), Outcome: usagerec.Sent, Gateway: "gw.example", Country: "49", User: "alice"},
	{Time: statsDay1.Add(2 * time.Hour), Outcome: usagerec.Sent, Gateway: "backup.example", Country: "1", User: "bob"},
	{Time: statsDay2, Outcome: usagerec.Failed, Gateway: "gw.example", Country: "1", User: "bob"},
	{Time: statsDay2.Add(time.Minute), Outcome: usagerec.RefusedLimit, Country: "49", User: "carol"},
	{Time: statsDay2.Add(2 * time.Minute), Outcome: usagerec.Sent, Gateway: "gw.example", Country: "44", User: "carol"},
}

// EUR 0.08 by default, 0.075 to +49: the sent SMS cost 2 × 0.075 + 2 × 0.08.
var statsCost = conf.Cost{Currency: "EUR", Default: 0.08, HasDefault: true, ByCountry: map[string]float64{"49": 0.075}}

func f(v float64) *float64 { return &v }

func TestStatsAggregate(t *testing.T) {
	tests := []struct {
		by    string
		cost  conf.Cost
		rows  []statsRow
		total statsRow
	}{
		{"", statsCost, nil, statsRow{Sent: 4, Failed: 1, RefusedLimit: 1, Cost: f(0.31)}},
		{"day", statsCost, []statsRow{
			{Key: "2026-11-30", Sent: 3, Cost: f(0.23)},
			{Key: "2026-12-01", Sent: 1, Failed: 1, RefusedLimit: 1, Cost: f(0.08)},
		}, statsRow{Sent: 4, Failed: 1, RefusedLimit: 1, Cost: f(0.31)}},
		{"user", conf.Cost{}, []statsRow{
			{Key: "alice", Sent: 2},
			{Key: "bob", Sent: 1, Failed: 1},
			{Key: "carol", Sent: 1, RefusedLimit: 1},
		}, statsRow{Sent: 4, Failed: 1, RefusedLimit: 1}},
		{"country", statsCost, []statsRow{
			{Key: "+1", Sent: 1, Failed: 1, Cost: f(0.08)},
			{Key: "+44", Sent: 1, Cost: f(0.08)},
			{Key: "+49", Sent: 2, RefusedLimit: 1, Cost: f(0.15)},
		}, statsRow{Sent: 4, Failed: 1, RefusedLimit: 1, Cost: f(0.31)}},
		// Without a default, SMS to an unpriced country are counted apart.
		{"gateway", conf.Cost{Currency: "EUR", ByCountry: map[string]float64{"49": 0.075}}, []statsRow{
			{Key: "-", RefusedLimit: 1, Cost: f(0)},
			{Key: "backup.example", Sent: 1, Cost: f(0), Unpriced: 1},
			{Key: "gw.example", Sent: 3, Failed: 1, Cost: f(0.15), Unpriced: 1},
		}, statsRow{Sent: 4, Failed: 1, RefusedLimit: 1, Cost: f(0.15), Unpriced: 2}},
	}
	for _, tt := range tests {
		t.Run("by="+tt.by, func(t *testing.T) {
			ta := newTally(tt.cost, tt.by)
			for _, r := range statsSeries {
				ta.add(r)
			}
			rep := ta.report()
			if got, want := rowsString(rep.Rows), rowsString(tt.rows); got != want {
				t.Errorf("rows:\n%s\nwant:\n%s", got, want)
			}
			if got, want := rowsString([]statsRow{rep.Total}), rowsString([]statsRow{tt.total}); got != want {
				t.Errorf("total %s, want %s", got, want)
			}
		})
	}
}

func rowsString(rows []statsRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s sent=%d failed=%d refused=%d unpriced=%d", r.Key, r.Sent, r.Failed, r.RefusedLimit, r.Unpriced)
		if r.Cost != nil {
			fmt.Fprintf(&b, " cost=%v", *r.Cost)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestStatsTextQuotesKeys(t *testing.T) {
	var b strings.Builder
	rep := statsReport{By: "user", Rows: []statsRow{{Key: "a\x1b[2Jb", Sent: 1}, {Key: "bob smith", Sent: 1}}}
	if err := writeStatsText(&b, rep); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "\x1b") || !strings.Contains(out, `"a\x1b[2Jb"`) ||
		!strings.Contains(out, `"bob smith"`) {
		t.Errorf("keys not quoted:\n%s", out)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false},
		{"30d", now.Add(-30 * 24 * time.Hour), false},
		{"36h", now.Add(-36 * time.Hour), false},
		{"-3h", time.Time{}, true},
		{"xd", time.Time{}, true},
		{"2026-13-01", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	} {
		got, err := parseSince(tt.in, now)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// statsConfig writes a config with [cost] and the known series (plus one
// corrupt line) into its state directory.
func statsConfig(t *testing.T) (path, state string) {
	t.Helper()
	path, state = writeConfig(t, configOpts{numbers: fmt.Sprintf("root = %q\n[cost]\ncurrency = \"EUR\"\ndefault = 0.08\n\"49\" = 0.075\n", testNumber)})
	for _, r := range statsSeries {
		if err := usagerec.Append(state, r); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(state, usagerec.DayFile(statsDay2)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("1 garbage\n")
	f.Close()
	return path, state
}

const wantProm = `# HELP pam_sms_sms_total SMS send attempts in the pam_sms usage record, by outcome and gateway.
# TYPE pam_sms_sms_total counter
pam_sms_sms_total{outcome="sent",gateway="backup.example"} 1
pam_sms_sms_total{outcome="sent",gateway="gw.example"} 3
pam_sms_sms_total{outcome="failed",gateway="gw.example"} 1
pam_sms_sms_total{outcome="refused_limit",gateway=""} 1
# HELP pam_sms_cost_total Price of the SMS sent, from [cost] of pam_sms.conf, by gateway.
# TYPE pam_sms_cost_total counter
pam_sms_cost_total{currency="EUR",gateway="backup.example"} 0.08
pam_sms_cost_total{currency="EUR",gateway="gw.example"} 0.23
# HELP pam_sms_usage_dropped_total Send attempts not recorded because a day's usage file was full.
# TYPE pam_sms_usage_dropped_total counter
pam_sms_usage_dropped_total 0
# HELP pam_sms_usage_corrupt_lines Lines of the usage record that did not parse.
# TYPE pam_sms_usage_corrupt_lines gauge
pam_sms_usage_corrupt_lines 1
`

func TestStatsCommand(t *testing.T) {
	requireRoot(t)
	path, state := statsConfig(t)

	r := run(t, "stats", "--config", path, "--by", "country")
	if r.code != exitOK {
		t.Fatalf("stats: exit %d, stderr %s", r.code, r.stderr)
	}
	lines := strings.Split(r.stdout, "\n")
	want := []string{
		"COUNTRY  SENT  FAILED  REFUSED_LIMIT  COST EUR",
		"+1          1       1              0      0.08",
		"+44         1       0              0      0.08",
		"+49         2       0              1      0.15",
		"total       4       1              1      0.31",
		"1 lines of the usage record did not parse and were skipped",
	}
	if len(lines) < 7 || !strings.HasPrefix(lines[0], state+": every usage record kept") ||
		strings.Join(lines[1:7], "\n") != strings.Join(want, "\n") {
		t.Errorf("stats --by country:\n%s\nwant after the first line:\n%s", r.stdout, strings.Join(want, "\n"))
	}
	assertNoSecrets(t, r.stdout)

	r = run(t, "stats", "--config", path, "--since", "2026-12-01", "--json")
	var rep statsReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK {
		t.Fatalf("stats --json: exit %d, %v in %s", r.code, err, r.stdout)
	}
	if rep.Total.Sent != 1 || rep.Total.Failed != 1 || rep.Total.RefusedLimit != 1 || rep.Total.Cost == nil ||
		*rep.Total.Cost != 0.08 || rep.Currency != "EUR" || rep.Corrupt != 1 || rep.Since != "2026-12-01T00:00:00Z" {
		t.Errorf("stats --since 2026-12-01 --json: %s", r.stdout)
	}

	r = run(t, "stats", "--config", path, "--prometheus")
	if r.code != exitOK || r.stdout != wantProm {
		t.Errorf("stats --prometheus: exit %d\n%s\nwant:\n%s", r.code, r.stdout, wantProm)
	}
	dir := t.TempDir()
	prom := filepath.Join(dir, "pam_sms.prom")
	if err := os.WriteFile(prom, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, "stats", "--config", path, "--prometheus", prom)
	data, err := os.ReadFile(prom)
	if r.code != exitOK || err != nil || string(data) != wantProm {
		t.Errorf("stats --prometheus FILE: exit %d, %v, file:\n%s", r.code, err, data)
	}
	if fi, err := os.Stat(prom); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode: %v %v, want 0644", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("textfile directory holds %d entries, want the .prom file alone", len(ents))
	}
}

func TestStatsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"stats", "--by", "hour"},
		{"stats", "--since", "yesterday"},
		{"stats", "--json", "--prometheus"},
		{"stats", "extra"},
		{"stats", "--prometheus", "a", "b"},
	} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %s", args, r.code, exitUsage, r.stderr)
		}
	}
}
