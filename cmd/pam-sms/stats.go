package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pam-sms/pam_sms/conf"
	usagerec "github.com/pam-sms/pam_sms/usage"
)

var statsCmd = &command{
	Name:       "stats",
	ShortUsage: "pam-sms stats [--config PATH] [--since DATE|DURATION] [--by day|user|country|gateway] [--json | --prometheus [FILE]]",
	ShortHelp:  "Count the SMS sent, failed and refused by the limits, and their cost",
	LongHelp: `"stats" reads the usage record in state_dir (one line per send attempt,
written by the helper) and counts the SMS sent, the sends the gateway
failed, and the sends refused by a limit (no SMS), in total or per day,
user, country calling code or gateway. With a [cost] section in the
configuration it adds what the SMS sent cost; SMS to a country without a
price are counted apart. With [[gateway.failover]] tables, a login whose
code went out through a failover counts as sent at the gateway that
delivered and as failed at each gateway tried before it.

--since takes a date (2026-11-01, UTC) or a duration back from now (36h,
30d); without it every record kept counts (400 days; pam-sms prune
removes older days). Lines of the record that do not parse are skipped
and counted; records dropped because a day's file was full (2 MiB) are
counted too.

--prometheus writes the counts in the node_exporter textfile format:
pam_sms_sms_total{outcome,gateway}, pam_sms_cost_total{currency,gateway},
pam_sms_usage_dropped_total, pam_sms_usage_corrupt_lines. Given FILE
(ending in .prom, in node_exporter's --collector.textfile.directory), it
writes it atomically: a temporary file renamed over FILE. The counters
cover every record kept, so they only go down when pam-sms prune removes
a day older than 400 days, which Prometheus takes as a counter reset.

Exit status 0 when done, 2 for wrong usage, 3 when the configuration or
the usage record cannot be read.

Examples:
  pam-sms stats
  pam-sms stats --since 2026-11-01 --by country
  pam-sms stats --since 30d --by user --json
  pam-sms stats --prometheus /var/lib/prometheus/node-exporter/pam_sms.prom`,
	Run: runStats,
}

// statsRow counts the attempts of one key (or of all, in the total).
type statsRow struct {
	Key          string   `json:"key,omitempty"`
	Sent         int      `json:"sent"`
	Failed       int      `json:"failed"`
	RefusedLimit int      `json:"refused_limit"`
	Cost         *float64 `json:"cost,omitempty"`     // of the sent SMS; nil without [cost]
	Unpriced     int      `json:"unpriced,omitempty"` // sent SMS to a country without a price

	micro int64 // cost in millionths, summed exactly
}

// statsReport is the output of stats.
type statsReport struct {
	StateDir string     `json:"state_dir"`
	Since    string     `json:"since,omitempty"` // RFC 3339; "" = every record kept
	Until    string     `json:"until"`
	By       string     `json:"by,omitempty"`
	Currency string     `json:"currency,omitempty"`
	Rows     []statsRow `json:"rows,omitempty"`
	Total    statsRow   `json:"total"`
	Corrupt  int        `json:"corrupt_lines"`
	Dropped  int        `json:"dropped"`
}

// gatewayKey is one counter of the textfile output.
type gatewayKey struct {
	outcome usagerec.Outcome
	gateway string
}

// tally aggregates records into a report.
type tally struct {
	cost   conf.Cost
	by     string
	rows   map[string]*statsRow
	total  statsRow
	perGW  map[gatewayKey]int
	costGW map[string]int64 // millionths by gateway
}

func newTally(cost conf.Cost, by string) *tally {
	return &tally{cost: cost, by: by, rows: map[string]*statsRow{}, perGW: map[gatewayKey]int{},
		costGW: map[string]int64{}}
}

func (t *tally) key(r usagerec.Record) string {
	switch t.by {
	case "day":
		return r.Time.UTC().Format(time.DateOnly)
	case "user":
		return r.User
	case "country":
		if r.Country == "" {
			return "unknown"
		}
		return "+" + r.Country
	case "gateway":
		if r.Gateway == "" {
			return "-"
		}
		return r.Gateway
	}
	return ""
}

func (t *tally) add(r usagerec.Record) {
	rows := []*statsRow{&t.total}
	if t.by != "" {
		k := t.key(r)
		row := t.rows[k]
		if row == nil {
			row = &statsRow{Key: k}
			t.rows[k] = row
		}
		rows = append(rows, row)
	}
	t.perGW[gatewayKey{r.Outcome, r.Gateway}]++
	var micro int64
	priced := true
	if r.Outcome == usagerec.Sent && t.cost.Configured() {
		p, ok := t.cost.Price(r.Country)
		priced = ok
		micro = int64(math.Round(p * 1e6))
		t.costGW[r.Gateway] += micro
	}
	for _, row := range rows {
		switch r.Outcome {
		case usagerec.Sent:
			row.Sent++
			row.micro += micro
			if !priced {
				row.Unpriced++
			}
		case usagerec.Failed:
			row.Failed++
		case usagerec.RefusedLimit:
			row.RefusedLimit++
		}
	}
}

// report returns the rows sorted by key (days in date order).
func (t *tally) report() statsReport {
	rep := statsReport{By: t.by, Total: t.total}
	if t.cost.Configured() {
		rep.Currency = t.cost.Currency
	}
	for _, row := range t.rows {
		rep.Rows = append(rep.Rows, *row)
	}
	slices.SortFunc(rep.Rows, func(a, b statsRow) int { return strings.Compare(a.Key, b.Key) })
	for i := range rep.Rows {
		t.setCost(&rep.Rows[i])
	}
	t.setCost(&rep.Total)
	return rep
}

func (t *tally) setCost(r *statsRow) {
	if t.cost.Configured() {
		c := float64(r.micro) / 1e6
		r.Cost = &c
	}
}

func runStats(_ context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	sinceArg := fs.String("since", "", "count from this date (YYYY-MM-DD, UTC) or this long ago (36h, 30d)")
	by := fs.String("by", "", "one row per day, user, country or gateway")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	prom := fs.Bool("prometheus", false, "write the node_exporter textfile format (to FILE, or stdout)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	maxArgs := 0
	if *prom {
		maxArgs = 1 // FILE
	}
	if err := wantArgs(env, c, pos, 0, maxArgs, ""); err != nil {
		return err
	}
	if *prom && *asJSON {
		fmt.Fprintf(env.Stderr, "pam-sms stats: --json and --prometheus exclude each other\n")
		return errUsage
	}
	switch *by {
	case "", "day", "user", "country", "gateway":
	default:
		fmt.Fprintf(env.Stderr, "pam-sms stats: --by %q: want day, user, country or gateway\n", *by)
		return errUsage
	}
	now := time.Now()
	since, err := parseSince(*sinceArg, now)
	if err != nil {
		fmt.Fprintf(env.Stderr, "pam-sms stats: --since: %v\n", err)
		return errUsage
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	t := newTally(cfg.Cost, *by)
	sum, err := usagerec.Scan(cfg.Limits.StateDir, since, time.Time{}, t.add)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	rep := t.report()
	rep.StateDir = cfg.Limits.StateDir
	rep.Until = now.UTC().Format(time.RFC3339)
	if !since.IsZero() {
		rep.Since = since.UTC().Format(time.RFC3339)
	}
	rep.Corrupt, rep.Dropped = sum.Corrupt, sum.Dropped
	switch {
	case *prom && len(pos) == 1 && pos[0] != "-":
		// Through a temporary file renamed over FILE, so that a scrape
		// never sees half a file; node_exporter reads *.prom only, not
		// the temporary name.
		var buf bytes.Buffer
		if err := writePrometheus(&buf, t, rep); err != nil {
			return failf(exitProblem, "%v", err)
		}
		if err := writeAtomic(pos[0], buf.Bytes(), 0o644, nil); err != nil {
			return failf(exitProblem, "write %s: %v", pos[0], err)
		}
		return nil
	case *prom:
		return writePrometheus(env.Stdout, t, rep)
	case *asJSON:
		return writeJSON(env.Stdout, rep)
	}
	return writeStatsText(env.Stdout, rep)
}

// parseSince reads --since: a UTC date, a Go duration or a number of days
// ("30d"), back from now. "" is the zero time: everything.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100000 {
			return time.Time{}, fmt.Errorf("%q: want a number of days such as 30d", s)
		}
		return now.Add(-time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q: want a date (2026-11-01) or a duration (36h, 30d)", s)
	}
	return now.Add(-d), nil
}

func writeStatsText(w io.Writer, rep statsReport) error {
	if rep.Since == "" {
		fmt.Fprintf(w, "%s: every usage record kept, until %s\n", rep.StateDir, rep.Until)
	} else {
		fmt.Fprintf(w, "%s: since %s, until %s\n", rep.StateDir, rep.Since, rep.Until)
	}
	head := strings.ToUpper(rep.By)
	if head == "" {
		head = "SMS"
	}
	priced := rep.Total.Cost != nil
	cells := [][]string{{head, "SENT", "FAILED", "REFUSED_LIMIT"}}
	if priced {
		cells[0] = append(cells[0], strings.TrimSpace("COST "+rep.Currency))
	}
	total := rep.Total
	total.Key = "total"
	for _, r := range append(slices.Clone(rep.Rows), total) {
		row := []string{printable(r.Key), strconv.Itoa(r.Sent), strconv.Itoa(r.Failed), strconv.Itoa(r.RefusedLimit)}
		if priced {
			row = append(row, money(*r.Cost))
		}
		cells = append(cells, row)
	}
	writeTable(w, cells)
	if rep.Total.Unpriced > 0 {
		fmt.Fprintf(w, "%d SMS sent to countries without a price in [cost] are not in the cost\n", rep.Total.Unpriced)
	}
	if rep.Dropped > 0 {
		fmt.Fprintf(w, "%d attempts not recorded: a day's usage file was full\n", rep.Dropped)
	}
	if rep.Corrupt > 0 {
		fmt.Fprintf(w, "%d lines of the usage record did not parse and were skipped\n", rep.Corrupt)
	}
	return nil
}

// writeTable prints cells in columns two spaces apart, the first
// left-aligned (names), the others right-aligned (numbers).
func writeTable(w io.Writer, cells [][]string) {
	width := make([]int, len(cells[0]))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range cells {
		var b strings.Builder
		for i, c := range row {
			switch {
			case i == 0:
				fmt.Fprintf(&b, "%-*s", width[i], c)
			default:
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// printable quotes a key (a user name) that holds a space, a control
// character or anything else a terminal could misread.
func printable(s string) string {
	for _, r := range s {
		if r <= ' ' || r == '"' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func money(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// writePrometheus writes the node_exporter textfile format: counters by
// outcome and gateway, cost by gateway, drops and corrupt lines.
func writePrometheus(w io.Writer, t *tally, rep statsReport) error {
	var b strings.Builder
	b.WriteString("# HELP pam_sms_sms_total SMS send attempts in the pam_sms usage record, by outcome and gateway.\n")
	b.WriteString("# TYPE pam_sms_sms_total counter\n")
	keys := make([]gatewayKey, 0, len(t.perGW))
	for k := range t.perGW {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b gatewayKey) int {
		if c := slices.Index(usagerec.Outcomes, a.outcome) - slices.Index(usagerec.Outcomes, b.outcome); c != 0 {
			return c
		}
		return strings.Compare(a.gateway, b.gateway)
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "pam_sms_sms_total{outcome=%s,gateway=%s} %d\n", label(string(k.outcome)), label(k.gateway), t.perGW[k])
	}
	if t.cost.Configured() {
		b.WriteString("# HELP pam_sms_cost_total Price of the SMS sent, from [cost] of pam_sms.conf, by gateway.\n")
		b.WriteString("# TYPE pam_sms_cost_total counter\n")
		gws := make([]string, 0, len(t.costGW))
		for g := range t.costGW {
			gws = append(gws, g)
		}
		slices.Sort(gws)
		for _, g := range gws {
			fmt.Fprintf(&b, "pam_sms_cost_total{currency=%s,gateway=%s} %s\n", label(t.cost.Currency), label(g),
				money(float64(t.costGW[g])/1e6))
		}
	}
	b.WriteString("# HELP pam_sms_usage_dropped_total Send attempts not recorded because a day's usage file was full.\n")
	b.WriteString("# TYPE pam_sms_usage_dropped_total counter\n")
	fmt.Fprintf(&b, "pam_sms_usage_dropped_total %d\n", rep.Dropped)
	b.WriteString("# HELP pam_sms_usage_corrupt_lines Lines of the usage record that did not parse.\n")
	b.WriteString("# TYPE pam_sms_usage_corrupt_lines gauge\n")
	fmt.Fprintf(&b, "pam_sms_usage_corrupt_lines %d\n", rep.Corrupt)
	_, err := io.WriteString(w, b.String())
	return err
}

// label quotes a label value of the text exposition format.
func label(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
