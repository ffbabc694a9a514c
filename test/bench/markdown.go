package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// markdown renders BENCHMARKS.md: machine, table, targets, findings computed
// from this run's figures, and the method of each row. A run of some rows
// keeps the other rows and their findings from the file it replaces (b.prev)
// and lists which run each row comes from.
func (b *bench) markdown() string {
	var s strings.Builder
	s.WriteString("# pam_sms benchmarks\n\n")
	s.WriteString("Written by `make bench` (code in `test/bench/`); rerun it rather than editing this file.\n")
	if len(b.prev.results) == 0 {
		s.WriteString("Every figure is from the one run described below, so ratios within the table hold; each is a median\n" +
			"over interleaved runs (the variants of a row take turns, in rotating order) with min and max.\n\n")
	} else {
		fmt.Fprintf(&s, "%s from the run described below; %s kept from earlier runs (see Runs).\n"+
			"Each figure is a median over interleaved runs (the variants of a row take turns, in rotating order)\n"+
			"with min and max, so ratios within a row hold; between rows of different runs they need care.\n\n",
			rowList(b.ran, "is", "are"), strings.ToLower(rowList(b.prev.rows(), "is", "are")[:1])+rowList(b.prev.rows(), "is", "are")[1:])
	}
	s.WriteString(b.machineSection())
	if len(b.prev.results) > 0 {
		s.WriteString(b.runsSection())
	}
	results := b.allResults()
	s.WriteString("## Results\n\n")
	s.WriteString(markdownTable(results))
	s.WriteString("\n## Targets (issues 6, 9 and 10)\n\n")
	s.WriteString(targets(results))
	s.WriteString("\n## Findings from this run\n\n")
	for _, f := range b.findings() {
		s.WriteString("- " + f + "\n")
	}
	s.WriteString("\n")
	s.WriteString(methodSection)
	return s.String()
}

// rowList reads "Row 5 is" or "Rows 5, 6 are".
func rowList(rows []string, one, many string) string {
	if len(rows) == 1 {
		return "Row " + rows[0] + " " + one
	}
	return "Rows " + strings.Join(rows, ", ") + " " + many
}

// allResults is this run's results and the rows kept from earlier runs, in
// row order.
func (b *bench) allResults() []result {
	all := append(slices.Clone(b.results), b.prev.results...)
	slices.SortStableFunc(all, func(x, y result) int { return strings.Compare(x.row, y.row) })
	return all
}

// runsSection lists the run each row comes from, and the machine it ran on.
func (b *bench) runsSection() string {
	var s strings.Builder
	s.WriteString("## Runs\n\n| rows | run started | machine |\n| --- | --- | --- |\n")
	fmt.Fprintf(&s, "| %s | %s | %s%s |\n", strings.Join(b.ran, ", "), b.machine.date, b.machine.short(), thisRun)
	type run struct{ date, machine string }
	byRun := map[run][]string{}
	for row, date := range b.prev.dates {
		r := run{date, b.prev.machines[row]}
		byRun[r] = append(byRun[r], row)
	}
	runs := slices.Collect(maps.Keys(byRun))
	slices.SortFunc(runs, func(x, y run) int { return strings.Compare(x.date+x.machine, y.date+y.machine) })
	for _, r := range runs {
		rows := byRun[r]
		slices.Sort(rows)
		fmt.Fprintf(&s, "| %s | %s | %s |\n", strings.Join(rows, ", "), r.date, dash(r.machine))
	}
	s.WriteString("\n")
	return s.String()
}

// thisRun marks the machine of the run that wrote the file in its Runs table.
const thisRun = " (this run, see Machine)"

// short describes the machine in a few words, for the Runs table.
func (m machine) short() string {
	return fmt.Sprintf("%s, %s cores, %s", m.cpu, m.nproc, m.kernel)
}

// previous is what a run of some rows keeps of the BENCHMARKS.md it replaces.
type previous struct {
	results  []result
	dates    map[string]string // row ("1", "2", ...) -> the date its run started
	machines map[string]string // row -> the machine it ran on (machine.short), or ""
	findings map[string]string // label (the text before the first ":") -> finding, dated
}

// rows returns the kept rows ("1", "2", ...) in order.
func (p previous) rows() []string { return slices.Sorted(maps.Keys(p.dates)) }

// rowOf returns the row a table line belongs to: the leading digits of its
// name ("5" for "5a2").
func rowOf(name string) string {
	i := 0
	for i < len(name) && name[i] >= '0' && name[i] <= '9' {
		i++
	}
	return name[:i]
}

// parsePrevious reads the results, run dates and findings of an earlier
// BENCHMARKS.md (md, possibly empty) and keeps those of rows not in ran.
func parsePrevious(md string, ran []string) previous {
	p := previous{dates: map[string]string{}, machines: map[string]string{}, findings: map[string]string{}}
	section, runDate := "", ""
	var m machine                      // of the run that wrote md
	rowDates := map[string]string{}    // from a Runs section, when the file has one
	rowMachines := map[string]string{} // likewise
	var results []result
	var findings []string
	for line := range strings.Lines(md) {
		line = strings.TrimRight(line, "\n")
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = h
			continue
		}
		cells := tableCells(line)
		switch {
		case section == "Machine" && len(cells) == 2:
			switch cells[0] {
			case "date":
				runDate = cells[1]
			case "CPU":
				m.cpu = cells[1]
			case "nproc":
				m.nproc = cells[1]
			case "kernel":
				m.kernel = cells[1]
			}
		case section == "Runs" && len(cells) == 3 && cells[0] != "rows" && !strings.HasPrefix(cells[0], "---"):
			for _, r := range strings.Split(cells[0], ",") {
				r = strings.TrimSpace(r)
				rowDates[r], rowMachines[r] = cells[1], undash(strings.TrimSuffix(cells[2], thisRun))
			}
		case section == "Results" && len(cells) == 8 && cells[0] != "row" && !strings.HasPrefix(cells[0], "---"):
			results = append(results, result{row: cells[0], what: cells[1], med: cells[2], min: undash(cells[3]),
				max: undash(cells[4]), n: undash(cells[5]), target: undash(cells[6]), verdict: undash(cells[7])})
		case strings.HasPrefix(section, "Findings") && strings.HasPrefix(line, "- "):
			findings = append(findings, strings.TrimPrefix(line, "- "))
		}
	}
	dateOf := func(row string) string {
		if d, ok := rowDates[row]; ok {
			return d
		}
		return runDate
	}
	machineOf := func(row string) string {
		if d, ok := rowMachines[row]; ok {
			return d
		}
		if m.cpu == "" {
			return ""
		}
		return m.short()
	}
	for _, r := range results {
		row := rowOf(r.row)
		if row == "" || slices.Contains(ran, row) {
			continue
		}
		p.results = append(p.results, r)
		p.dates[row], p.machines[row] = dateOf(row), machineOf(row)
	}
	for _, f := range findings {
		label, _, ok := strings.Cut(f, ":")
		def := findingDef(label)
		if !ok || def == nil || slices.ContainsFunc(def.rows, func(r string) bool { return slices.Contains(ran, r) }) {
			continue // unknown, or stale: some of its rows were measured again
		}
		if !strings.Contains(f, keptMark) {
			f += fmt.Sprintf("%s%s.)*", keptMark, dateOf(def.rows[0]))
		}
		p.findings[label] = f
	}
	return p
}

// keptMark ends a finding kept from an earlier run.
const keptMark = " *(From the run of "

// tableCells splits a Markdown table line into its trimmed cells, or returns
// nil for any other line.
func tableCells(line string) []string {
	if !strings.HasPrefix(line, "| ") || !strings.HasSuffix(line, " |") {
		return nil
	}
	cells := strings.Split(line[2:len(line)-2], " | ")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func (b *bench) machineSection() string {
	m := b.machine
	syslog := "absent: the helper's syslog lines were dropped, so their cost is not in these figures"
	if m.syslog {
		syslog = "present: the helper's syslog lines (one per decision) are in these figures"
	}
	return fmt.Sprintf(`## Machine

| | |
| --- | --- |
| date | %s |
| nproc | %s |
| CPU | %s |
| memory | %s |
| kernel | %s |
| Go | %s |
| gcc | %s |
| libpam0g | %s |
| curl | %s |
| work and limit state directory | /var/tmp/pam-sms-bench-* (%s; a disk, like /var/lib/pam-sms) |
| /dev/log | %s |
| load average (1, 5, 15 min) at the start | %s |
| CPU busy in the 2 s before the run | %s |
| duration of the run (pambench, after the builds) | %s |

The last two show other work on the machine (the load average also counts earlier bench runs'
bursts of 200 processes); such work adds noise to every figure, but the variants of a row share it.

`, m.date, m.nproc, m.cpu, m.mem, m.kernel, m.goVersion, m.gcc, m.libpam, m.curl, m.fs, syslog,
		m.loadStart, m.busyBefore, m.elapsed)
}

// finding is one paragraph of the findings: its label (the text before its
// first ":"), the rows it needs, and the function that writes it from this
// run's figures ("" when they are missing).
type finding struct {
	label string
	rows  []string
	fn    func(*bench) string
}

var findingDefs = []finding{
	{"Exempt path", []string{"1", "6"}, (*bench).findExempt},
	{"Config size", []string{"1", "6"}, (*bench).findConfigSize},
	{"HTTPS", []string{"2", "3", "6"}, (*bench).findHTTPS},
	{"Burst", []string{"5", "6"}, (*bench).findBurst},
	{"Memory", []string{"4"}, (*bench).findMemory},
	{"Numbers file", []string{"7"}, (*bench).findNumbers},
	{"Directory", []string{"8"}, (*bench).findDirectory},
	{"Failover", []string{"9"}, (*bench).findFailover},
}

func findingDef(label string) *finding {
	for i := range findingDefs {
		if findingDefs[i].label == label {
			return &findingDefs[i]
		}
	}
	return nil
}

// findings explains the figures of this run; each needs the rows it cites and
// is left out when they were not run, unless an earlier run's is kept.
func (b *bench) findings() []string {
	var out, missing []string
	var need []string
	for _, d := range findingDefs {
		if s := d.fn(b); s != "" {
			out = append(out, s)
		} else if s, ok := b.prev.findings[d.label]; ok {
			out = append(out, s)
		} else if len(b.prev.results) > 0 {
			missing = append(missing, d.label)
			need = append(need, d.rows...)
		}
	}
	if len(missing) > 0 {
		slices.Sort(need)
		out = append(out, fmt.Sprintf("Not written here: %s. Each needs rows %s from one run, and this file "+
			"has them from different runs; `make bench` with all rows writes them.",
			strings.Join(missing, ", "), strings.Join(slices.Compact(need), ", ")))
	}
	return out
}

// has reports whether every figure named is in this run.
func (b *bench) has(keys ...string) bool {
	for _, k := range keys {
		if _, ok := b.figs[k]; !ok {
			return false
		}
	}
	return true
}

func (b *bench) findExempt() string {
	f := b.figs
	if !b.has("exempt.sms", "exempt.smsmin", "exempt.smsca", "exempt.permit", "exempt.exec", "exemptcpu.sms",
		"exemptcpu.smsca", "startup.helper", "startup.true", "load.small") {
		return ""
	}
	s := fmt.Sprintf("Exempt path: pam_sms costs %s more than pam_permit per transaction (1c - 1a) and %s of CPU "+
		"in the helper (1k). Even an exempt login forks and execs the Go helper, which starts its runtime (6c: %s, "+
		"against %s for /bin/true) and loads the whole config (6e: %s in a fresh process) before it can decide; "+
		"that is the price of keeping Go out of the login process (SPEC section 2). pam_exec running /bin/true "+
		"costs %s.",
		fmtMs(f["exempt.sms"]-f["exempt.permit"]), fmtMs(f["exemptcpu.sms"]), fmtMs(f["startup.helper"]),
		fmtMs(f["startup.true"]), fmtMs(f["load.small"]), fmtMs(f["exempt.exec"]-f["exempt.permit"]))
	s += " What would close the rest: an exempt decision without starting a Go process (a small C pre-check " +
		"would duplicate policy in the login process, which the design avoids), or a helper that starts faster."
	return s
}

func (b *bench) findConfigSize() string {
	f := b.figs
	if !b.has("exempt.big", "exempt.smsca", "load.big", "load.smallca", "load.parse") {
		return ""
	}
	return fmt.Sprintf("Config size: the lookups a login makes do not grow with the config: trusted_networks "+
		"is a binary search over merged ranges (6j, 6k) and the numbers are a Go map (6l, 6m), both well under a "+
		"microsecond. But every login, exempt or not, parses and validates the whole file: conf.Load takes %s for "+
		"10,200 numbers and 1,001 networks against %s for the standard config (6g, 6f; both with ca_file), %s of "+
		"it decoding and validating (6h, linear in the number of entries: TOML decoding and per-number "+
		"validation), and an exempt login with the big config costs %s instead of %s (1e, 1d). Closing it needs "+
		"a product change: e.g. a validated binary snapshot of the config cached by the helper and keyed by the "+
		"file's inode, size and mtime, or numbers in a separate file read only for the one user.",
		fmtMs(f["load.big"]), fmtMs(f["load.smallca"]), fmtMs(f["load.parse"]), fmtMs(f["exempt.big"]), fmtMs(f["exempt.smsca"]))
}

func (b *bench) findHTTPS() string {
	f := b.figs
	if !b.has("disp.https", "disp.http", "certpool", "cpu.https", "cpu.http") {
		return ""
	}
	return fmt.Sprintf("HTTPS: a dispatch over HTTPS takes %s more than over HTTP (2b - 2a) and %s more CPU "+
		"(3i - 3h): the TLS handshake. With ca_file set, smsclient verifies the gateway's chain against that file "+
		"first and parses the system trust store only if that fails; a gateway with a public certificate (no "+
		"ca_file) pays for the system roots in every helper (6o: %s), as Go loads them at the first verification.",
		fmtMs(f["disp.https"]-f["disp.http"]), fmtMs(f["cpu.https"]-f["cpu.http"]), fmtMs(f["certpool"]))
}

func (b *bench) findBurst() string {
	f := b.figs
	if !b.has("burst.http.p99", "burst.https.p99", "burst.http.nolimits.p99", "burst.http.cpu", "burst.https.cpu",
		"burst.http.nolimits.cpu", "ratio.limits") {
		return ""
	}
	n := atof(b.machine.nproc)
	extra := f["burst.http.cpu"] - f["burst.http.nolimits.cpu"]
	s := fmt.Sprintf("Burst: p99 was %s over HTTP, %s over HTTPS, and %s over HTTP with every limit 0 (5a2, 5b2, "+
		"5c2); per round, p99 with the limits at capacity is %.3f times p99 without (5r1; issue 9 allows 1.05). "+
		"The CPU is the floor: each helper needs %s over HTTP and %s over HTTPS (5a4, 5b4), i.e. %s and %s for "+
		"%d logins on %s cores, before the gateway and the clients get any; with limits a helper needs %s "+
		"(5a4 - 5c4), %s for the burst. Each Take holds no lock: the keys of a kind share "+
		"16 files per window bucket, and it reads those of its user, its number and its client address for "+
		"the current bucket and the one before, appends one fixed-length record to each and one to the day "+
		"file (one write each, O_APPEND), and counts its key's records up to its own; a file is created only "+
		"at the first send of its shard in a bucket, written whole before it is linked into place, and "+
		"nothing is rewritten or renamed",
		fmtMs(f["burst.http.p99"]), fmtMs(f["burst.https.p99"]), fmtMs(f["burst.http.nolimits.p99"]), f["ratio.limits"],
		fmtMs(f["burst.http.cpu"]), fmtMs(f["burst.https.cpu"]),
		fmtMs(f["burst.http.cpu"]*burstSize/n), fmtMs(f["burst.https.cpu"]*burstSize/n), burstSize, b.machine.nproc,
		moreLess(extra), moreLess(extra*burstSize/n))
	if b.has("take") {
		s += fmt.Sprintf(" (6p: %s per Take, one at a time)", fmtMs(f["take"]))
	}
	s += fmt.Sprintf(". The burst's users and numbers all differ, yet they create at most 16 user and 16 number "+
		"files; its %d logins come from one client address and append to that address's file without "+
		"waiting for each other.", burstSize)
	if b.has("ratio.nohost", "burst.http.nohost.p99") {
		s += fmt.Sprintf(" Without that one shared key (per_host 0, the other limits at capacity), p99 was %s, "+
			"%.3f times p99 without limits (5e2, 5r3).", fmtMs(f["burst.http.nohost.p99"]), f["ratio.nohost"])
	}
	if f["ratio.limits"] > 1.05 {
		s += fmt.Sprintf(" 5a4 - 5c4 is %.1f %% of 5c4", 100*extra/f["burst.http.nolimits.cpu"])
		if b.has("take") {
			s += fmt.Sprintf(", against %s per Take (6p)", fmtMs(f["take"]))
		}
		if b.has("burst.http.frozen.cpu") {
			s += fmt.Sprintf("; 5a and 5d, which count the same limits, differ by %s in helper CPU (5d4 - 5a4): "+
				"medians of this machine carry noise of that order", fmtMs(f["burst.http.frozen.cpu"]-f["burst.http.cpu"]))
		}
		s += ". 5r1's min and max show how far single rounds spread."
	}
	if b.has("burst.http.frozen.p99", "ratio.frozen") {
		s += fmt.Sprintf(" With another user's hand-run helper stopped (SIGSTOP) right after its records went "+
			"into the burst's state directory, before its SMS (5d6), p99 was %s, %.3f times 5a's of the same "+
			"round (5r2): package limits holds nothing, so a stopped helper leaves only its records, which "+
			"count against its own user and number and the day, and a caller without root gets no per_host "+
			"key whatever client address it names; no login of the burst waits for it (5d5: every login got "+
			"its SMS).", fmtMs(f["burst.http.frozen.p99"]), f["ratio.frozen"])
	}
	return s
}

// moreLess says a CPU difference as "1.2 ms more than without" or, when the
// medians came out the other way round (noise), "0.1 ms less than without".
func moreLess(ms float64) string {
	if ms < 0 {
		return fmtMs(-ms) + " less than without"
	}
	return fmtMs(ms) + " more than without"
}

func (b *bench) findMemory() string {
	f := b.figs
	if !b.has("rss.permit", "rss.exempt", "rss.challenge", "rss.go", "childrss.challenge") {
		return ""
	}
	return fmt.Sprintf("Memory: pam_sms.so adds %s (exempt) and %s (full challenge) to the login process's peak RSS "+
		"(4c, 4d); a do-nothing Go "+
		"c-shared module adds %s (4e) and would bring the Go runtime's threads into sshd. The helper is a separate, "+
		"short-lived process with its own peak RSS of %s (4g).",
		fmtKiB(f["rss.exempt"]-f["rss.permit"]), fmtKiB(f["rss.challenge"]-f["rss.permit"]),
		fmtKiB(f["rss.go"]-f["rss.permit"]), fmtKiB(f["childrss.challenge"]))
}

func atof(s string) float64 {
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil || v == 0 {
		return 1
	}
	return v
}

const methodSection = "## Method and how to reproduce\n\n" +
	"`make bench` (as root, on Debian 12) installs what it lacks (test/deps.sh, plus curl), builds\n" +
	"the product (`make build`), `build/bench/pamclient` (test/bench/pamclient/pamclient.c) and\n" +
	"`build/bench/pambench` (test/bench), and runs\n\n" +
	"    build/bench/pambench -build build -client build/bench/pamclient -repo . -out BENCHMARKS.md\n\n" +
	"`make bench BENCH_ROWS=2,3` runs some rows only; `BENCH_ARGS=-keep` keeps the work directory\n" +
	"(/var/tmp/pam-sms-bench-*: configs, `pam.d/` stacks, the curl baseline's files) for inspection.\n\n" +
	"Common set-up. pambench re-executes itself under `unshare --mount` and bind-mounts a copy of /etc\n" +
	"whose passwd holds 200 users `pamsmsb000`...`pamsmsb199`, so the host's user database is never\n" +
	"changed. Every login is a real libpam transaction made by pamclient, a small C client\n" +
	"(`pam_start_confdir`, `pam_authenticate`, `pam_end`; linked with -lpam), against the built pam_sms.so\n" +
	"and pam-sms-helper. Each PAM stack is `auth required <module under test>` followed by\n" +
	"`auth required pam_permit.so`, so the stacks differ only in the module. Configs are root-owned 0640,\n" +
	"as the helper demands. The fake gateway runs inside pambench on 127.0.0.1 (plain HTTP, and HTTPS\n" +
	"with a self-signed ECDSA P-256 certificate given to pam_sms as ca_file and to curl as --cacert); it\n" +
	"stamps each request with CLOCK_MONOTONIC when its headers have arrived, checks id, pw and to, and\n" +
	"writes the code and the stamp to a file before it answers, which pamclient reads to answer the\n" +
	"prompt and to compute the dispatch time (pamclient stamps with the same clock).\n\n" +
	"Row 1, exempt path. Client address 192.0.2.10, inside trusted_networks: pam_sms returns PAM_IGNORE\n" +
	"and sends nothing (checked). Time from before pam_start_confdir to after pam_end. 10 rounds of one\n" +
	"pamclient per stack making 20 transactions. Stacks: pam_permit; pam_exec running /bin/true; pam_sms\n" +
	"with the standard bench config (200 numbers, 1 network) without ca_file (gateway over HTTP) and with\n" +
	"ca_file (HTTPS); pam_sms with the big config (10,000 more numbers, 1,000 more networks, ca_file). Rows\n" +
	"1i-1m are the CPU time of the login's child processes per login. One pamclient by hand, inside the\n" +
	"namespace: `pamclient -c WORK/pam.d -s sms-http -u pamsmsb000 -r 192.0.2.10 -n 20 -k WORK/codes`.\n\n" +
	"Rows 2 and 3, challenge. Client address 198.51.100.7 (not trusted). 10 rounds of one pamclient per\n" +
	"stack making 8 full logins, answering the prompt with the code. Row 2 is from before pam_authenticate\n" +
	"to the gateway's stamp; row 3 is the whole transaction (pam_start_confdir to after pam_end); rows\n" +
	"3h-3l are the CPU time of the login's child processes (helper; or sh, curl, od, awk) per login, from\n" +
	"getrusage(RUSAGE_CHILDREN). The baseline is what an administrator would write with stock modules:\n" +
	"`pam_exec.so quiet /bin/sh test/bench/baseline/sms-send.sh ENV` (looks the number up in a table,\n" +
	"makes a code from /dev/urandom, keeps it in a root-only file, posts the same four fields with curl)\n" +
	"then `pam_exec.so quiet expose_authtok /bin/sh test/bench/baseline/sms-verify.sh ENV` (pam_exec prompts,\n" +
	"as no authtok is set yet, and hands the answer to the script on stdin; the script compares it with\n" +
	"the kept code). That is the fair counterpart of one pam_sms line: it sends, asks and checks. It is\n" +
	"lighter than pam_sms: no policy, no limits, no validity or attempt count, no masked-number message,\n" +
	"no fail mode, its HTTPS trusts only the --cacert file, and after a password module it would not even\n" +
	"prompt (pam_exec hands over the password instead). pam_sms over HTTPS trusts the system roots plus\n" +
	"ca_file.\n\n" +
	"Row 4, memory. One transaction per pamclient, 12 rounds, under `setarch -R` (no address space\n" +
	"randomization, so the peak RSS of identical runs is identical and small differences show). The\n" +
	"client's peak RSS is its VmHWM from /proc/self/status (getrusage's ru_maxrss would include the image\n" +
	"before execve, a copy of the bench driver). \"Adds\" is the\n" +
	"median minus pam_permit's median. The helper's peak RSS (4g) is ru_maxrss of RUSAGE_CHILDREN: it is a\n" +
	"separate process, started per login and gone after it. The Go comparison module\n" +
	"(test/bench/testdata/gomodule: `pam_sm_authenticate` returning PAM_SUCCESS) is built with\n" +
	"`go build -buildmode=c-shared` in the work directory at bench time, only for this row.\n\n" +
	"Row 5, burst. 200 pamclients, one per user, each call pam_start_confdir and block on a pipe; pambench\n" +
	"closes the pipe (the start gun) and measures from then to each request's arrival at the gateway. Each\n" +
	"burst has a fresh config and state directory (the config at /etc/security/pam_sms.conf and the\n" +
	"state directory, root:GROUP 2770, under /etc/pam-sms-bench, both in the bench's copy of /etc on the\n" +
	"work directory's disk; GROUP, added to that copy's /etc/group, stands in for pam-sms; every burst is\n" +
	"laid out as row 5d needs it, so that 5d differs from 5a only in the frozen helper) with the limits\n" +
	"exactly at capacity (per_user 1,\n" +
	"per_number 1, per_host 200, daily 200), so a lost or doubled count shows. Every login must succeed\n" +
	"with its code and without an error message; the gateway must receive exactly one SMS per user; the\n" +
	"counts read back with limits.Store.Count must be exact; then 20 users log in again at once and each\n" +
	"must be refused (PAM_AUTH_ERR, an error message, no prompt, no SMS). Each round (15 by default,\n" +
	"`BENCH_ARGS=-burst-rounds=N`) runs one burst over HTTP, one over HTTPS, for comparison one over HTTP\n" +
	"with every limit 0 (no counting), one over HTTP beside a frozen helper (5d), and one over HTTP with\n" +
	"per_host 0 and the other limits at capacity (5e), in rotating order (5d, 5a, 5c, 5e, 5b: the bursts\n" +
	"of each ratio below run next to each other); p50 and p99 are per burst, and\n" +
	"the table gives their median, min and max. Rows 5x4 are the\n" +
	"CPU time of all helpers of a burst divided by 200. All logins of a burst come from one client\n" +
	"address (198.51.100.7), so they share its per_host key; 5e shows what that one shared key costs.\n\n" +
	"Row 5d is the attack of issue 9: a local user runs the setgid helper by hand and stops it (SIGSTOP)\n" +
	"in the middle of its work on the limits. Before the burst, pambench runs the real helper as\n" +
	"`pamsmsbfrozen`, a user outside the burst, installed as the package installs it: root:GROUP mode 2755\n" +
	"on a tmpfs of its own (so no nosuid mount drops the setgid bit) under /etc/pam-sms-bench (every parent\n" +
	"root-owned). It is started with the module's wiring: one end of a socketpair as fd 0 and 1, the\n" +
	"module's environment, uid and gid of the user without supplementary groups, and a request for itself\n" +
	"that names the burst's client address. A caller without root gets only /etc/security/pam_sms.conf:\n" +
	"the burst's config (5a's limits; every burst's config also has pamsmsbfrozen's number), root:GROUP\n" +
	"0640. pambench polls the user's counts (limits.Store.Count on the burst's state directory) until its\n" +
	"record is in, stops the helper at once, checks that its SMS has not reached the gateway and\n" +
	"/proc/PID/status (real gid the user's, effective GROUP: really setgid), and starts another run, up to\n" +
	"50, when one was not caught in time (resetting the user's counts first). The daily limit of that\n" +
	"burst is raised by the frozen run's day record, if it was in, so that the burst's limits stay exactly\n" +
	"at capacity. The helper stays stopped through the burst and the repeat wave (checked after them,\n" +
	"with its counts unchanged; a problem otherwise) and is killed afterwards. 5d6 names the records it\n" +
	"had in when stopped and the runs it took to catch one.\n\n" +
	"Rows 5r1-5r3 are ratios of p99 between the bursts of one round, median, min and max over the\n" +
	"rounds: 5a/5c is what the limits add (issue 9: at most 5 %), 5d/5a what a frozen helper adds to other\n" +
	"users' logins (issue 9: nothing; the target allows the same 5 % of noise), 5e/5c what the limits add\n" +
	"without the key all the burst's logins share.\n\n" +
	"Row 6, helper. Sizes of the stripped binaries. Start-up: `pamclient -x 20 build/pam-sms-helper\n" +
	"--bench-startup` (fork, exec, Go runtime start, flag error, exit) beside /bin/true, 10 rounds, with\n" +
	"the environment the module gives the helper (PATH and LANG; with any other the helper would restart\n" +
	"itself clean, a second exec no login pays).\n" +
	"conf.Load: timed once per fresh process (`pambench -probe confload PATH`), as each helper pays it\n" +
	"(a process caches the system root pool and other lazily built data), 20 rounds in rotating order\n" +
	"with conf.Parse of the big config in pambench. Lookups: Go's benchmark harness (testing.Benchmark)\n" +
	"on the loaded configs, 3 rounds. x509.SystemCertPool(): 20 fresh processes\n" +
	"(`pambench -probe certpool`). limits.Store.Take: 200 calls in a state directory beside the others,\n" +
	"each for another user and number and for the one client address of the burst.\n\n" +
	numbersMethod + directoryMethod + failoverMethod +
	"Nothing here runs in `make test`: test/bench is a `package main` whose only tests (stats_test.go) check\n" +
	"the statistics and config helpers, not timings.\n"
