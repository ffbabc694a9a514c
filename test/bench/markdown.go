package main

import (
	"fmt"
	"strings"
)

// markdown renders BENCHMARKS.md: machine, table, targets, findings computed
// from this run's figures, and the method of each row.
func (b *bench) markdown() string {
	var s strings.Builder
	s.WriteString("# pam_sms benchmarks\n\n")
	s.WriteString("Written by `make bench` (code in `test/bench/`); rerun it rather than editing this file.\n" +
		"Every figure is from the one run described below, so ratios within the table hold; each is a median\n" +
		"over interleaved runs (the variants of a row take turns, in rotating order) with min and max.\n\n")
	s.WriteString(b.machineSection())
	s.WriteString("## Results\n\n")
	s.WriteString(b.markdownTable())
	s.WriteString("\n## Targets (issue 6)\n\n")
	s.WriteString(b.targets())
	s.WriteString("\n## Findings from this run\n\n")
	for _, f := range b.findings() {
		s.WriteString("- " + f + "\n")
	}
	s.WriteString("\n")
	s.WriteString(methodSection)
	return s.String()
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
| work and limit state directory | /var/tmp/pam-sms-bench-* (%s, like /var/lib/pam-sms) |
| /dev/log | %s |
| load average (1, 5, 15 min) at the start | %s |
| CPU busy in the 2 s before the run | %s |
| duration of the run (pambench, after the builds) | %s |

The last two show other work on the machine (the load average also counts earlier bench runs'
bursts of 200 processes); such work adds noise to every figure, but the variants of a row share it.

`, m.date, m.nproc, m.cpu, m.mem, m.kernel, m.goVersion, m.gcc, m.libpam, m.curl, m.fs, syslog,
		m.loadStart, m.busyBefore, m.elapsed)
}

// findings explains the figures of this run; each needs the rows it cites and
// is left out when they were not run.
func (b *bench) findings() []string {
	var out []string
	for _, f := range []func() string{b.findExempt, b.findConfigSize, b.findHTTPS, b.findBurst, b.findMemory} {
		if s := f(); s != "" {
			out = append(out, s)
		}
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
	if !b.has("burst.http.p99", "burst.https.p99", "burst.http.nolimits.p99", "burst.http.cpu", "burst.https.cpu", "take") {
		return ""
	}
	n := atof(b.machine.nproc)
	return fmt.Sprintf("Burst: p99 was %s over HTTP, %s over HTTPS, and %s over HTTP with every limit 0 (5a2, 5b2, "+
		"5c2), so the limits add about %s. Every send holds the one exclusive flock of the state directory to read "+
		"and rewrite (write and rename, no fsync) four small counter files (6p: %s per Take), so %d sends queue "+
		"for about %s (6q) one after the other. The rest is CPU: each helper needs %s over HTTP and %s over HTTPS "+
		"(5a4, 5b4), i.e. %s and %s for %d logins on %s cores, before the gateway and the clients get any. What "+
		"would close the gap: less CPU per helper (the Go runtime start is the floor, 6c), or per-key locks in "+
		"limits so that sends for different users do not queue at all.",
		fmtMs(f["burst.http.p99"]), fmtMs(f["burst.https.p99"]), fmtMs(f["burst.http.nolimits.p99"]),
		fmtMs(f["burst.http.p99"]-f["burst.http.nolimits.p99"]), fmtMs(f["take"]), burstSize, fmtMs(f["take"]*burstSize),
		fmtMs(f["burst.http.cpu"]), fmtMs(f["burst.https.cpu"]),
		fmtMs(f["burst.http.cpu"]*burstSize/n), fmtMs(f["burst.https.cpu"]*burstSize/n), burstSize, b.machine.nproc)
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
	"burst has a fresh config and state directory with the limits exactly at capacity (per_user 1,\n" +
	"per_number 1, per_host 200, daily 200), so a lost or doubled count shows. Every login must succeed\n" +
	"with its code and without an error message; the gateway must receive exactly one SMS per user; the\n" +
	"counts read back with limits.Store.Count must be exact; then 20 users log in again at once and each\n" +
	"must be refused (PAM_AUTH_ERR, an error message, no prompt, no SMS). 5 bursts over HTTP, 5 over\n" +
	"HTTPS, and for comparison 5 over HTTP with every limit 0 (no counting), in rotating order; p50\n" +
	"and p99 are per burst, and the table gives their median, min and max. Rows 5x4 are the CPU time of all\n" +
	"helpers of a burst divided by 200.\n\n" +
	"Row 6, helper. Sizes of the stripped binaries. Start-up: `pamclient -x 20 build/pam-sms-helper\n" +
	"--bench-startup` (fork, exec, Go runtime start, flag error, exit) beside /bin/true, 10 rounds.\n" +
	"conf.Load: timed once per fresh process (`pambench -probe confload PATH`), as each helper pays it\n" +
	"(a process caches the system root pool and other lazily built data), 20 rounds in rotating order\n" +
	"with conf.Parse of the big config in pambench. Lookups: Go's benchmark harness (testing.Benchmark)\n" +
	"on the loaded configs, 3 rounds. x509.SystemCertPool(): 20 fresh processes\n" +
	"(`pambench -probe certpool`). limits.Store.Take: 200 calls with four counters in a state directory\n" +
	"beside the others.\n\n" +
	"Nothing here runs in `make test`: test/bench is a `package main` whose only tests (stats_test.go) check\n" +
	"the statistics and config helpers, not timings.\n"
