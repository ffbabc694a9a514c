package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
)

// Row 7 (issue 10): a fleet-sized numbers file. Two configs, the same but
// for the numbers file they name (10 lines or 10,000), with no [numbers]: the
// bench user's number is on the file's last line, the longest scan.
const (
	fleetSmall = 10
	fleetBig   = 10000
)

// Issue 10's bounds on the 10,000-line file against the 10-line one.
const (
	fleetExemptTarget   = 1.1
	fleetEnforcedTarget = 1.2
)

// rowNumbers is row 7: exempt logins and full enforced logins with a numbers
// file of 10 and of 10,000 lines, interleaved, their per-round ratios against
// issue 10's targets, the helper's CPU, and the number lookup alone in a
// fresh process.
func (b *bench) rowNumbers(ctx context.Context) error {
	svcs := map[int]string{}
	configs := map[int]string{}
	for _, lines := range []int{fleetSmall, fleetBig} {
		svc, config, err := b.numbersStack(lines)
		if err != nil {
			return err
		}
		svcs[lines], configs[lines] = svc, config
	}
	if err := b.fleetExempt(ctx, svcs); err != nil {
		return err
	}
	if err := b.fleetEnforced(ctx, svcs); err != nil {
		return err
	}
	if err := b.fleetLookup(ctx, configs); err != nil {
		return err
	}
	fi, err := os.Stat(b.numbersFile(fleetBig))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	b.add(result{row: "7m", what: fmt.Sprintf("size of the %s-line numbers file", commas(fleetBig)), med: fmtKiB(float64(fi.Size()) / 1024)})
	return nil
}

// numbersFile is the path of the numbers file of lines lines.
func (b *bench) numbersFile(lines int) string {
	return filepath.Join(b.work, fmt.Sprintf("fleet-%d.numbers", lines))
}

// numbersStack writes a numbers file of lines lines (lines-1 other users,
// then the bench user), a config naming it and a service using that config;
// it returns the service and the config's path.
func (b *bench) numbersStack(lines int) (svc, config string, err error) {
	if err := writeRootFile(b.numbersFile(lines), fleetNumbers(lines)); err != nil {
		return "", "", err
	}
	o := generous
	o.url = b.gw.httpURL
	svc = fmt.Sprintf("sms-fleet-%d", lines)
	config, err = b.writeConfigFrom(svc, o, func(c string) string {
		return withoutNumbers(c, fmt.Sprintf("numbers_files = [%q]\n", b.numbersFile(lines)), "")
	})
	if err != nil {
		return "", "", err
	}
	return svc, config, writeService(b.confdir, svc, b.moduleLine(config))
}

// fleetNumbers is the text of a numbers file of lines lines: lines-1 other
// users, then the bench user (userName(0)) with its number.
func fleetNumbers(lines int) string {
	var f strings.Builder
	for i := range lines - 1 {
		fmt.Fprintf(&f, "user%05d = \"+49 151 %08d\"\n", i, i)
	}
	fmt.Fprintf(&f, "%s = %q\n", userName(0), userNumber(0))
	return f.String()
}

// writeConfigFrom is writeConfig with the rendered text passed through edit.
func (b *bench) writeConfigFrom(name string, o configOptions, edit func(string) string) (string, error) {
	o.stateDir = b.stateDir(name)
	if err := os.Mkdir(o.stateDir, 0o700); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	path := filepath.Join(b.work, name+".conf")
	return path, writeRootFile(path, edit(renderConfig(o)))
}

// withoutNumbers returns a config rendered by renderConfig without its
// [numbers] section (always the last), with policy added to [policy] and
// tail appended: a config whose numbers come from elsewhere.
func withoutNumbers(config, policy, tail string) string {
	head, _, _ := strings.Cut(config, "[numbers]\n")
	return strings.Replace(head, "[policy]\n", "[policy]\n"+policy, 1) + tail
}

// fleetVariants are the two stacks of row 7 for a client address.
func fleetVariants(svcs map[int]string, rhost string) []variant {
	return []variant{
		{"n10", "numbers file of 10 lines", svcs[fleetSmall], rhost},
		{"n10000", "numbers file of 10,000 lines", svcs[fleetBig], rhost},
	}
}

// fleetExempt is rows 7a, 7b and 7k: exempt logins (trusted client address),
// which must not open the numbers file.
func (b *bench) fleetExempt(ctx context.Context, svcs map[int]string) error {
	vs := fleetVariants(svcs, rhostTrusted)
	before, _ := b.gw.counts()
	runs, err := b.interleave(ctx, vs, b.rounds(400), 1, false)
	if err != nil {
		return err
	}
	if after, _ := b.gw.counts(); after != before {
		return fmt.Errorf("bench: row 7: the exempt path sent %d SMS", after-before)
	}
	for i, v := range vs {
		for _, t := range allTx(runs[v.label]) {
			if t.prompts != 0 {
				return fmt.Errorf("bench: row 7: %s prompted on the exempt path", v.label)
			}
		}
		s := summarize(totals(allTx(runs[v.label])))
		b.figs["fleet.exempt."+v.key] = s.med
		b.add(msResult(fmt.Sprintf("7%c", 'a'+i), "exempt login: "+v.label, s))
	}
	b.fleetRatio("7k", "exempt login", runs, vs, fleetExemptTarget, "fleet.ratio.exempt")
	return nil
}

// fleetEnforced is rows 7c-7f and 7l: full logins from outside the trusted
// networks, each finding the number on the file's last line, receiving the
// SMS and answering the code.
func (b *bench) fleetEnforced(ctx context.Context, svcs map[int]string) error {
	vs := fleetVariants(svcs, rhostOutside)
	before := b.gw.receivedBy(userName(0))
	runs, err := b.interleave(ctx, vs, b.rounds(300), 1, false)
	if err != nil {
		return err
	}
	logins := 0
	for i, v := range vs {
		txs := allTx(runs[v.label])
		for _, t := range txs {
			if t.recv == 0 || t.prompts == 0 {
				return fmt.Errorf("bench: row 7: %s: a login succeeded without SMS or prompt", v.label)
			}
		}
		logins += len(txs)
		s := summarize(totals(txs))
		b.figs["fleet.enforced."+v.key] = s.med
		b.add(msResult(fmt.Sprintf("7%c", 'c'+i), "full enforced login: "+v.label, s))
	}
	if got := b.gw.receivedBy(userName(0)) - before; got != logins {
		return fmt.Errorf("bench: row 7: the gateway accepted %d SMS for %d logins", got, logins)
	}
	for i, v := range vs {
		var cpu []float64
		for _, r := range runs[v.label] {
			cpu = append(cpu, msOf(r.childCPU)/float64(len(r.txs)))
		}
		b.figs["fleet.cpu."+v.key] = summarize(cpu).med
		b.add(msResult(fmt.Sprintf("7%c", 'e'+i), "CPU of the login's child processes, enforced: "+v.label, summarize(cpu)))
	}
	b.fleetRatio("7l", "full enforced login", runs, vs, fleetEnforcedTarget, "fleet.ratio.enforced")
	return nil
}

// fleetRatio adds the ratio of the 10,000-line file's login to the 10-line
// file's, per round, with its median, min and max over the rounds; the
// verdict is on the median. A round is one login with each file, one right
// after the other (in alternating order), so that both see the same load on
// a shared machine: rounds of several logins each gave ratios from 0.3 to
// 2.7 on a busy machine, where logins that alternate one by one agree.
func (b *bench) fleetRatio(row, what string, runs map[string][]clientRun, vs []variant, target float64, fig string) {
	small, big := runs[vs[0].label], runs[vs[1].label]
	var ratios []float64
	for i := range min(len(small), len(big)) {
		ratios = append(ratios, summarize(totals(big[i].txs)).med/summarize(totals(small[i].txs)).med)
	}
	s := summarize(ratios)
	b.figs[fig] = s.med
	f := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	b.add(result{row: row, what: what + " ratio: 10,000 lines / 10 lines (per round)", med: f(s.med), min: f(s.min),
		max: f(s.max), n: fmt.Sprint(s.n), target: fmt.Sprintf("<= %.1f", target),
		verdict: verdict(s.med <= target, fmt.Sprintf("%+.1f %%", 100*(s.med-1)))})
}

// fleetLookup is rows 7g-7j: the number lookup (numsource.Lookup: [numbers],
// then the file) alone, in a fresh process after conf.Load as in the helper,
// for the user on the last line and for a user in no source (the whole file
// is looked at).
func (b *bench) fleetLookup(ctx context.Context, configs map[int]string) error {
	type probe struct {
		key, label string
		fn         func() (float64, error)
	}
	var probes []probe
	for _, lines := range []int{fleetSmall, fleetBig} {
		file := b.numbersFile(lines)
		probes = append(probes,
			probe{fmt.Sprintf("last%d", lines), fmt.Sprintf("number lookup in a fresh process, %s lines, user on the last line", commas(lines)),
				b.lookupProbe(ctx, configs[lines], userName(0), file)},
			probe{fmt.Sprintf("none%d", lines), fmt.Sprintf("number lookup in a fresh process, %s lines, user in no source", commas(lines)),
				b.lookupProbe(ctx, configs[lines], userName(1), "")})
	}
	// Rows 7g-7j in the order: last 10, last 10,000, none 10, none 10,000.
	order := []int{0, 2, 1, 3}
	got := map[string][]float64{}
	for r := range b.rounds(20) {
		for _, p := range rotate(probes, r) {
			v, err := p.fn()
			if err != nil {
				return err
			}
			got[p.key] = append(got[p.key], v)
		}
	}
	for i, j := range order {
		p := probes[j]
		s := summarize(got[p.key])
		b.figs["fleet.lookup."+p.key] = s.med
		b.add(msResult(fmt.Sprintf("7%c", 'g'+i), p.label, s))
	}
	return nil
}

// Number probe: `bench -probe-number CONFIG USER` loads CONFIG (untimed),
// then times numsource.Lookup for USER through the config's sources, as the
// helper runs it for an enforced user, and prints the nanoseconds and the
// source that had the number ("-" for none). It fails when a source could
// not be used or holds an invalid number.
const numberProbeFlag = "-probe-number"

// runNumberProbe is main for a number probe process.
func runNumberProbe(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("bench: usage: bench %s CONFIG USER", numberProbeFlag)
	}
	cfg, err := conf.Load(args[0])
	if err != nil {
		return fmt.Errorf("bench: probe: %w", err)
	}
	srcs := numsource.Sources(cfg)
	start := time.Now()
	res, err := numsource.Lookup(context.Background(), srcs, args[1])
	d := time.Since(start)
	switch {
	case err != nil:
		return fmt.Errorf("bench: probe: %w", err)
	case res.Found && !res.OK():
		return fmt.Errorf("bench: probe: %s", res.Why())
	}
	source := "-"
	if res.Found {
		source = res.Source
	}
	fmt.Println(d.Nanoseconds(), source)
	return nil
}

// lookupProbe returns a function that runs one number probe and returns its
// time in milliseconds; it fails unless the number came from source ("" for
// a user no source has).
func (b *bench) lookupProbe(ctx context.Context, config, user, source string) func() (float64, error) {
	return func() (float64, error) {
		self, err := os.Executable()
		if err != nil {
			return 0, fmt.Errorf("bench: %w", err)
		}
		cmd := exec.CommandContext(ctx, self, numberProbeFlag, config, user)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("bench: number probe %s %s: %w", config, user, err)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			return 0, fmt.Errorf("bench: number probe: unexpected output %q", out)
		}
		want := source
		if want == "" {
			want = "-"
		}
		if f[1] != want {
			return 0, fmt.Errorf("bench: number probe %s %s: number from %s, want %s", config, user, f[1], want)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: number probe: %w", err)
		}
		return msOf(time.Duration(ns)), nil
	}
}

// commas writes n with thousands separators: 10,000.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// findNumbers is the finding of row 7.
func (b *bench) findNumbers() string {
	f := b.figs
	if !b.has("fleet.ratio.exempt", "fleet.ratio.enforced", "fleet.exempt.n10", "fleet.exempt.n10000",
		"fleet.enforced.n10", "fleet.enforced.n10000", "fleet.lookup.last10", "fleet.lookup.last10000",
		"fleet.lookup.none10000", "fleet.cpu.n10000") {
		return ""
	}
	return fmt.Sprintf("Numbers file: per round (one login with each file, back to back), a login with the user's "+
		"number on the last line of a 10,000-line file took %.3f times as long as with a 10-line file when exempt "+
		"and %.3f times when enforced (7k, 7l; issue 10 allows %.1f and %.1f). The medians over all logins "+
		"(7a-7d: %s and %s exempt, %s and %s enforced) also carry whatever else the machine did at each "+
		"moment; the ratios compare logins made back to back. An exempt login never opens the file; an enforced one "+
		"maps it and scans it for the user's line instead of decoding it (numsource.File): %s instead of %s "+
		"in a fresh process (7h, 7g), %s for a user in no source (7j), against %s of CPU for the whole "+
		"enforced login (7f).",
		f["fleet.ratio.exempt"], f["fleet.ratio.enforced"], fleetExemptTarget, fleetEnforcedTarget,
		fmtMs(f["fleet.exempt.n10"]), fmtMs(f["fleet.exempt.n10000"]), fmtMs(f["fleet.enforced.n10"]),
		fmtMs(f["fleet.enforced.n10000"]), fmtMs(f["fleet.lookup.last10000"]), fmtMs(f["fleet.lookup.last10"]),
		fmtMs(f["fleet.lookup.none10000"]), fmtMs(f["fleet.cpu.n10000"]))
}

// numbersMethod describes row 7 in the method section.
const numbersMethod = "Row 7, a fleet-sized numbers file (issue 10). Two configs that differ only in the numbers file\n" +
	"they name (`[policy] numbers_files`), without `[numbers]`: one of 10 lines, one of 10,000 (about 300 KB),\n" +
	"each a root-owned 0640 file of `user = \"number\"` lines with the bench user on its last line, the\n" +
	"longest scan. The configs are otherwise the standard bench config over HTTP (the smallest login, so\n" +
	"the file's share is the largest). A round is one pamclient per config making one transaction, the\n" +
	"two one right after the other in alternating order, so that both logins of a round see the same load\n" +
	"(rounds of several logins per pamclient gave per-round ratios from 0.3 to 2.7 on a busy machine).\n" +
	"7a and 7b: exempt logins (client address 192.0.2.10, trusted; no SMS, no prompt, checked), 400 rounds.\n" +
	"7c and 7d: full logins from 198.51.100.7 that receive the code at the gateway (which checks the number)\n" +
	"and answer it, 300 rounds; 7e and 7f their CPU. 7k and 7l: per round, the login with the 10,000-line\n" +
	"file divided by the login with the 10-line one; median, min and max over the rounds, against issue\n" +
	"10's targets (1.1 exempt, 1.2 enforced). 7g-7j: numsource.Lookup alone (the config's `[numbers]`, then\n" +
	"the file), timed in a fresh process after conf.Load, as the helper runs it (`pambench -probe-number\n" +
	"CONFIG USER`), 20 rounds in rotating order, for the user on the last line and for a user in no source.\n\n"
