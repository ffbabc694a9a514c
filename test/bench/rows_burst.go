package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/smsclient"
)

const (
	burstSize = userCount // one login per bench user, all at once
	// burstRepeat users log in again after the burst: per_user = 1 must
	// refuse every one of them.
	burstRepeat = 20
	burstWindow = 15 * time.Minute
)

// burstRun is the outcome of one burst.
type burstRun struct {
	dispatch  []float64     // ms from the start gun to the gateway's arrival
	helperCPU time.Duration // CPU of all helpers together
	problems  []string      // every deviation: error, missing SMS, inexact count
	refused   int           // repeat logins refused by the limit, as they must be
	// With a frozen helper: the kinds of its records that were in when it
	// was stopped, and the runs it took to catch one between its append and
	// its SMS.
	frozenHeld     []string
	frozenAttempts int
}

// waveResult is one pamclient of a wave.
type waveResult struct {
	user int
	run  clientRun
	err  error
}

// burstKind is one burst configuration.
type burstKind struct {
	row, key, name string // key names its figures (markdown.go)
	https          bool
	limits         bool // limits at capacity; false: every limit 0, to show what the limits cost
	frozen         bool // another user's hand-run helper is stopped right after its records are in (frozen.go)
	// noHost sets per_host to 0: the limits without the one key all the
	// burst's logins share (they come from one client address).
	noHost bool
}

// burstKinds run in this order, rotated each round: the bursts of each ratio
// (5d/5a, 5a/5c, 5e/5c) run next to each other, so that what else the
// machine does drifts little between them.
var burstKinds = []burstKind{
	{row: "5d", key: "http.frozen", name: "HTTP, one frozen helper", limits: true, frozen: true},
	{row: "5a", key: "http", name: "HTTP", limits: true},
	{row: "5c", key: "http.nolimits", name: "HTTP, no limits"},
	{row: "5e", key: "http.nohost", name: "HTTP, limits but per_host 0", limits: true, noHost: true},
	{row: "5b", key: "https", name: "HTTPS", https: true, limits: true},
}

// rowBurst is row 5: burstSize logins released at once against a config whose
// limits are exactly at capacity (per_user 1, per_number 1, per_host and daily
// burstSize), over HTTP and HTTPS, over HTTP without limits for comparison,
// and over HTTP beside another user's helper stopped right after its records
// went into the shared state, in rotating order.
func (b *bench) rowBurst(ctx context.Context) error {
	res := map[string][]burstRun{}
	for r := range b.rounds(b.burstRounds) {
		for _, k := range rotate(burstKinds, r) {
			br, err := b.burst(ctx, k, r)
			if err != nil {
				return err
			}
			res[k.key] = append(res[k.key], br)
		}
	}
	for _, k := range burstKinds {
		b.burstResults(k, res[k.key])
	}
	b.burstRatios(res)
	return nil
}

func (b *bench) burstResults(k burstKind, runs []burstRun) {
	var p50, p99, last, cpu []float64
	var problems []string
	refused := 0
	for _, r := range runs {
		p50 = append(p50, percentile(r.dispatch, 50))
		p99 = append(p99, percentile(r.dispatch, 99))
		last = append(last, percentile(r.dispatch, 100))
		cpu = append(cpu, msOf(r.helperCPU)/burstSize)
		problems = append(problems, r.problems...)
		refused += r.refused
	}
	key, row := "burst."+k.key, k.row
	b.figs[key+".p50"], b.figs[key+".p99"] = summarize(p50).med, summarize(p99).med
	b.figs[key+".p99max"], b.figs[key+".cpu"] = summarize(p99).max, summarize(cpu).med
	b.add(msResult(row+"1", fmt.Sprintf("burst %s: p50 time to dispatch (per run)", k.name), summarize(p50)))
	r := msResult(row+"2", fmt.Sprintf("burst %s: p99 time to dispatch (per run)", k.name), summarize(p99))
	if k.limits && !k.noHost {
		r.target = "< 1 s"
		d := summarize(p99).max
		r.verdict = verdict(d < 1000, fmt.Sprintf("by %s in the worst run", fmtMs(d-1000)))
	}
	b.add(r)
	b.add(msResult(row+"3", fmt.Sprintf("burst %s: last SMS of the burst (per run)", k.name), summarize(last)))
	b.add(msResult(row+"4", fmt.Sprintf("burst %s: helper CPU per login", k.name), summarize(cpu)))
	want := len(runs) * burstSize
	ok := result{row: row + "5", what: fmt.Sprintf("burst %s: SMS received, errors, limits", k.name),
		med: fmt.Sprintf("%d/%d SMS, %d problems", want-countMissing(problems), want, len(problems)),
		n:   fmt.Sprint(len(runs)), target: "all SMS, no error"}
	wantRefused := 0
	if k.limits {
		wantRefused = len(runs) * burstRepeat
		ok.med += fmt.Sprintf(", %d/%d repeats refused", refused, wantRefused)
		ok.target += ", limits exact"
	}
	ok.verdict = verdict(len(problems) == 0 && refused == wantRefused, strings.Join(firstN(problems, 5), "; "))
	b.add(ok)
	if k.frozen {
		b.add(frozenResult(row+"6", runs))
	}
}

// frozenResult says what the frozen helpers held and how many runs it took
// to catch each.
func frozenResult(row string, runs []burstRun) result {
	held := map[string]int{}
	var attempts []float64
	for _, r := range runs {
		held[strings.Join(r.frozenHeld, "+")]++
		attempts = append(attempts, float64(r.frozenAttempts))
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(held)) {
		parts = append(parts, fmt.Sprintf("%s %dx", k, held[k]))
	}
	s := summarize(attempts)
	f := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	return result{row: row, what: "burst HTTP, one frozen helper: its records in when stopped; runs to catch one before its SMS (max " +
		fmt.Sprint(frozenAttempts) + ")", med: strings.Join(parts, ", ") + "; " + f(s.med) + " runs",
		min: f(s.min), max: f(s.max), n: fmt.Sprint(s.n)}
}

// burstRatios adds the p99 ratios the issue sets targets for, from bursts of
// the same round (run one after the other): with limits / without (5a/5c),
// and with a frozen helper / without (5d/5a); and, to show what the one lock
// the burst shares costs, limits without per_host / no limits (5e/5c).
func (b *bench) burstRatios(res map[string][]burstRun) {
	for _, c := range []struct {
		row, num, den, what, fig string
		target                   bool // issue 9's: at most 5 % more
	}{
		{"5r1", "http", "http.nolimits", "burst p99 ratio: limits at capacity / no limits (5a2 / 5c2, per round)", "limits", true},
		{"5r2", "http.frozen", "http", "burst p99 ratio: one frozen helper / none (5d2 / 5a2, per round)", "frozen", true},
		{"5r3", "http.nohost", "http.nolimits", "burst p99 ratio: limits but per_host 0 / no limits (5e2 / 5c2, per round)", "nohost", false},
	} {
		num, den := res[c.num], res[c.den]
		var ratios []float64
		for i := range min(len(num), len(den)) {
			ratios = append(ratios, percentile(num[i].dispatch, 99)/percentile(den[i].dispatch, 99))
		}
		s := summarize(ratios)
		f := func(v float64) string { return fmt.Sprintf("%.3f", v) }
		b.figs["ratio."+c.fig] = s.med
		r := result{row: c.row, what: c.what, med: f(s.med), min: f(s.min), max: f(s.max), n: fmt.Sprint(s.n)}
		if c.target {
			r.target, r.verdict = "<= 1.05", verdict(s.med <= 1.05, fmt.Sprintf("%+.1f %%", 100*(s.med-1)))
		}
		b.add(r)
	}
}

func countMissing(problems []string) int {
	n := 0
	for _, p := range problems {
		if strings.Contains(p, "SMS received") {
			n++
		}
	}
	return n
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

// burst runs one burst and, with limits, the repeat wave, and checks every
// outcome.
func (b *bench) burst(ctx context.Context, k burstKind, round int) (burstRun, error) {
	var br burstRun
	name := fmt.Sprintf("burst-%d-%s", round, strings.NewReplacer(" ", "", ",", "-").Replace(strings.ToLower(k.name)))
	o := configOptions{url: b.gw.httpURL}
	if k.https {
		o.url, o.caFile = b.gw.httpsURL, b.gw.caFile
	}
	if k.limits {
		o.perUser, o.perNumber, o.perHost, o.daily = 1, 1, burstSize, burstSize
	}
	if k.noHost {
		o.perHost = 0
	}
	conf, state, err := b.writeBurstConfig(name, o)
	if err != nil {
		return br, err
	}
	if err := writeService(b.confdir, name, b.moduleLine(conf)); err != nil {
		return br, err
	}
	var f *frozen
	frozenDay := 0 // the frozen runs' day records: sends, so the daily limit makes room
	if k.frozen {
		if f, err = b.freeze(state); err != nil {
			return br, err
		}
		defer f.kill()
		br.frozenHeld, br.frozenAttempts = f.held, f.attempts
		if frozenDay = f.counts.Daily; frozenDay > 0 && o.daily > 0 {
			o.daily += frozenDay
			o.stateDir, o.frozen = state, true
			if err := writeRootFile(conf, renderConfig(o)); err != nil {
				return br, err
			}
			if err := setOwnerMode(conf, b.gid, 0o640); err != nil {
				return br, err
			}
		}
	}
	users := make([]int, burstSize)
	before := make([]int, burstSize)
	for i := range users {
		users[i], before[i] = i, b.gw.receivedBy(userName(i))
	}
	release, results, err := b.wave(ctx, name, users, pamSuccess)
	if err != nil {
		return br, err
	}
	for _, w := range results {
		br.helperCPU += w.run.childCPU
		if p := burstProblem(w); p != "" {
			br.problems = append(br.problems, p)
			continue
		}
		br.dispatch = append(br.dispatch, msOf(time.Duration(w.run.txs[0].recv-release)))
	}
	for i := range users {
		if got := b.gw.receivedBy(userName(i)) - before[i]; got != 1 {
			br.problems = append(br.problems, fmt.Sprintf("%s: %d SMS received, want 1", userName(i), got))
		}
	}
	if k.limits {
		if err := b.checkLimits(ctx, name, state, o.perHost > 0, frozenDay, &br); err != nil {
			return br, err
		}
	}
	if f != nil {
		if p := f.stillFrozen(state); p != "" {
			br.problems = append(br.problems, p)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: burst %s round %d: p50 %s p99 %s, %d problems\n", k.name, round,
		fmtMs(percentile(br.dispatch, 50)), fmtMs(percentile(br.dispatch, 99)), len(br.problems))
	return br, nil
}

// checkLimits checks the counts after a burst, runs the repeat wave, and
// checks that the counts did not move. extraDay are sends of the day before
// the burst (the frozen helper's).
func (b *bench) checkLimits(ctx context.Context, name, state string, perHost bool, extraDay int, br *burstRun) error {
	br.problems = append(br.problems, checkCounts(state, burstSize, perHost, extraDay)...)
	refused, problems, err := b.repeatWave(ctx, name)
	if err != nil {
		return err
	}
	br.refused, br.problems = refused, append(br.problems, problems...)
	br.problems = append(br.problems, checkCounts(state, burstSize, perHost, extraDay)...)
	return nil
}

// burstProblem says what is wrong with one burst login, or "".
func burstProblem(w waveResult) string {
	u := userName(w.user)
	switch {
	case w.err != nil:
		return fmt.Sprintf("%s: %v", u, w.err)
	case len(w.run.txs) != 1:
		return fmt.Sprintf("%s: no transaction reported", u)
	}
	t := w.run.txs[0]
	switch {
	case t.rc != pamSuccess:
		return fmt.Sprintf("%s: rc %d", u, t.rc)
	case t.errors != 0 || t.prompts == 0 || t.recv == 0:
		return fmt.Sprintf("%s: %d error messages, %d prompts, SMS arrival %d", u, t.errors, t.prompts, t.recv)
	}
	return ""
}

// repeatWave starts burstRepeat more logins of users who already had their
// code: each must be refused (PAM_AUTH_ERR, an error message, no prompt, no SMS).
func (b *bench) repeatWave(ctx context.Context, svc string) (refused int, problems []string, err error) {
	users := make([]int, burstRepeat)
	for i := range users {
		users[i] = i
	}
	total, _ := b.gw.counts()
	_, results, err := b.wave(ctx, svc, users, pamAuthErr)
	if err != nil {
		return 0, nil, err
	}
	for _, w := range results {
		u := userName(w.user)
		switch {
		case w.err != nil || len(w.run.txs) != 1:
			problems = append(problems, fmt.Sprintf("repeat %s: %v", u, w.err))
		case w.run.txs[0].rc != pamAuthErr || w.run.txs[0].prompts != 0 || w.run.txs[0].errors == 0:
			problems = append(problems, fmt.Sprintf("repeat %s: rc %d, %d prompts, %d error messages (want refusal)",
				u, w.run.txs[0].rc, w.run.txs[0].prompts, w.run.txs[0].errors))
		default:
			refused++
		}
	}
	if after, _ := b.gw.counts(); after != total {
		problems = append(problems, fmt.Sprintf("repeat wave: %d SMS sent, want none", after-total))
	}
	return refused, problems, nil
}

// checkCounts reads the limit state of a burst and reports every count that
// is not exactly one per user and number, n for the host (none without
// perHost) and n+extraDay for the day.
func checkCounts(stateDir string, n int, perHost bool, extraDay int) []string {
	store, err := limits.Open(stateDir)
	if err != nil {
		return []string{err.Error()}
	}
	defer store.Close()
	l := limits.Limits{Window: burstWindow, PerUser: 1, PerNumber: 1, PerHost: n, Daily: n + extraDay}
	var problems []string
	for i := range n {
		num, err := smsclient.ParseNumber(userNumber(i))
		if err != nil {
			return []string{err.Error()}
		}
		c, err := store.Count(l, limits.Keys{User: userName(i), Number: num.Digits(), Host: rhostOutside}, time.Now())
		if err != nil {
			return append(problems, err.Error())
		}
		want := limits.Counts{User: 1, Number: 1, Daily: n + extraDay}
		if perHost {
			want.Host = n
		}
		if c != want {
			problems = append(problems, fmt.Sprintf("%s: limit counts %+v, want %+v", userName(i), c, want))
		}
	}
	return problems
}

// wave starts one pamclient per user, waits until each has called
// pam_start_confdir, then releases them all at once by closing the barrier
// pipe. It returns the release time (CLOCK_MONOTONIC ns) and every result.
func (b *bench) wave(ctx context.Context, svc string, users []int, expect int) (int64, []waveResult, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, nil, fmt.Errorf("bench: %w", err)
	}
	defer pw.Close()
	ready := make(chan error, len(users))
	done := make(chan waveResult, len(users))
	for _, u := range users {
		cmd := b.clientCmd(ctx, clientArgs{service: svc, user: userName(u), rhost: rhostOutside, n: 1, expect: expect, barrier: true})
		cmd.ExtraFiles = []*os.File{pr}
		if expect != pamSuccess {
			cmd.Stderr = nil // the refusal messages are expected
		}
		if err := startWaveClient(cmd, u, ready, done); err != nil {
			pr.Close()
			return 0, nil, err
		}
	}
	pr.Close()
	for range users {
		select {
		case err := <-ready:
			if err != nil {
				return 0, nil, err
			}
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("bench: waiting for %d clients to be ready: %w", len(users), ctx.Err())
		}
	}
	release := monoNow()
	pw.Close()
	results := make([]waveResult, 0, len(users))
	for range users {
		results = append(results, <-done) // each client is bounded by ctx
	}
	return release, results, nil
}

// startWaveClient starts cmd and reports its "ready" line on ready and its
// result on done.
func startWaveClient(cmd *exec.Cmd, user int, ready chan<- error, done chan<- waveResult) error {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: starting pamclient: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		var rest strings.Builder
		sawReady := false
		for sc.Scan() {
			if !sawReady && sc.Text() == "ready" {
				sawReady = true
				ready <- nil
				continue
			}
			rest.WriteString(sc.Text() + "\n")
		}
		if !sawReady {
			ready <- fmt.Errorf("bench: pamclient for %s exited before pam_authenticate", userName(user))
		}
		werr := cmd.Wait()
		run, perr := parseClient(strings.NewReader(rest.String()))
		if werr == nil {
			werr = perr
		}
		done <- waveResult{user: user, run: run, err: werr}
	}()
	return nil
}
