package integration_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
	"golang.org/x/sys/unix"
)

// A kill storm: helpers SIGKILLed at random moments, from start-up through the
// limits' read-modify-write and the gateway call to the prompt. The caller of
// the setgid helper owns the process and may kill it whenever it likes; so may
// the module's deadline. Whatever moment it is, the state must stay parseable
// and unlocked, every SMS that went out must be counted, nothing may pass, and
// the next login must work as if there had been no storm.
//
// The module storm kills every child of this process that runs the helper:
// TestKillStorm must not run beside another test that logs in through the
// module (none here calls t.Parallel at the top level).

const (
	// stormSeedVar replays a storm: the seed fixes each run's moment as a
	// fraction of the calibrated time to the prompt.
	stormSeedVar = "PAM_SMS_KILLSTORM_SEED"
	// stormGatewayDelay widens the gateway call, so that kills land in it.
	stormGatewayDelay = 20 * time.Millisecond
	// stormSpan stretches the calibrated time to the prompt: the moments
	// cover start-up, the limits, the gateway and a while at the prompt.
	stormSpan = 1.5
	// stormWait bounds each wait for a killed run to be gone.
	stormWait = 10 * time.Second
	// stormLimitText is what the helper tells a user whose limit is reached.
	stormLimitText = "error Too many codes were requested. Try again later."
)

// stormRow is one storm's limits and size. A limit that the storm may reach
// shows that a refusal by the limits, killed or not, also leaves the state sound.
type stormRow struct {
	name   string
	limits limits.Limits
	runs   int
}

// farLimits are never reached by a storm.
var farLimits = limits.Limits{Window: 15 * time.Minute, PerUser: 10000, PerNumber: 10000, PerHost: 10000, Daily: 10000}

// TestKillStorm: the setgid helper run by hand by its user, several at once,
// and the module's helper in real PAM transactions, each SIGKILLed at a
// random moment. Replay a failure with the seed it logs.
func TestKillStorm(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	seed := stormSeed(t)
	testenv.CreateGroup(t, "smsintksg")
	caller := testenv.CreateUser(t, "smsintks1", "S3cret-pass-ks1")
	testenv.CreateUser(t, "smsintks2", "S3cret-pass-ks2")

	t.Run("setgid helper run by hand", func(t *testing.T) {
		const parallel = 5
		span := calibrateDirect(t, build, caller, parallel)
		rows := []stormRow{
			{"limits far off", farLimits, 50},
			{"per_user reached", withLimit(farLimits, limits.LimitPerUser, 3), 15},
			{"daily reached", withLimit(farLimits, limits.LimitDaily, 3), 15},
		}
		for i, row := range rows {
			t.Run(row.name, func(t *testing.T) {
				stormDirect(t, build, caller, row, parallel, span, rand.New(rand.NewPCG(seed, uint64(i))))
			})
		}
	})
	t.Run("through the module", func(t *testing.T) {
		stormModule(t, build, "smsintks2", stormRow{"limits far off", farLimits, 24},
			rand.New(rand.NewPCG(seed, 100)))
	})
}

// stormSeed is the seed from stormSeedVar, or a new one; logged either way.
func stormSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(stormSeedVar); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", stormSeedVar, s, err)
		}
	}
	t.Logf("seed %d (replay with %s=%d)", seed, stormSeedVar, seed)
	return seed
}

func withLimit(l limits.Limits, name string, n int) limits.Limits {
	switch name {
	case limits.LimitPerUser:
		l.PerUser = n
	case limits.LimitPerNumber:
		l.PerNumber = n
	case limits.LimitDaily:
		l.Daily = n
	}
	return l
}

// setLimits rewrites the [limits] values of a test config (window, per_host and
// state_dir stay).
func setLimits(t *testing.T, body string, l limits.Limits) string {
	t.Helper()
	for _, kv := range []struct {
		key string
		n   int
	}{{"per_user", l.PerUser}, {"per_number", l.PerNumber}, {"per_host", l.PerHost}, {"daily", l.Daily}} {
		re := regexp.MustCompile(`(?m)^` + kv.key + ` = [0-9]+$`)
		if !re.MatchString(body) {
			t.Fatalf("Setup: the test config has no %s to set", kv.key)
		}
		body = re.ReplaceAllString(body, kv.key+" = "+strconv.Itoa(kv.n))
	}
	return body
}

// stateDir is the state_dir of a config.
func stateDir(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^state_dir = "([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("Setup: no state_dir in the config:\n%s", body)
	}
	return m[1]
}

// installStorm installs the setgid helper for u with the row's limits and
// returns it with its state directory.
func installStorm(t *testing.T, build string, u *user.User, gw *fakegw.Gateway, l limits.Limits) (setgidInstall, string) {
	t.Helper()
	in := installSetgid(t, build, "smsintksg", gw, map[string]string{u.Username: number})
	body, err := os.ReadFile(in.conf)
	if err != nil {
		t.Fatal(err)
	}
	gid := fileGID(t, in.conf)
	writeConf(t, in.conf, setLimits(t, string(body), l), 0o640)
	mustChmod(t, in.conf, 0o640, int(gid))
	return in, filepath.Join(filepath.Dir(in.conf), "state")
}

// calibrateDirect measures how long hand-run helpers started parallel at a
// time take from their start to the prompt (the slowest of them), and returns
// the span the storm draws its moments from. They are timed under the storm's
// own load: started alone they are several times faster.
func calibrateDirect(t *testing.T, build string, u *user.User, parallel int) time.Duration {
	t.Helper()
	gw := fakegw.Start(t)
	gw.SetDelay(stormGatewayDelay)
	in, _ := installStorm(t, build, u, gw, farLimits)
	type timed struct {
		took  time.Duration
		lines []string
		err   error
	}
	results := make(chan timed, parallel)
	for range parallel {
		start := time.Now()
		h := startCaller(t, in, u, callerRun{})
		h.request(t, u.Username)
		go func() {
			var r timed
			for r.err == nil && (len(r.lines) == 0 || !strings.HasPrefix(r.lines[len(r.lines)-1], "prompt_")) {
				var l string
				l, r.err = h.r.ReadString('\n')
				r.lines = append(r.lines, strings.TrimSuffix(l, "\n"))
			}
			r.took = time.Since(start)
			h.cmd.Process.Kill()
			results <- r
		}()
	}
	var most time.Duration
	for range parallel {
		r := <-results
		if r.err != nil || len(r.lines) != 2 || !strings.HasPrefix(r.lines[0], "info Code sent to ") {
			t.Fatalf("Setup: helper said %q (%v), want the code-sent line and the prompt", r.lines, r.err)
		}
		most = max(most, r.took)
	}
	span := time.Duration(float64(most) * stormSpan)
	t.Logf("%d hand-run helpers at once reach the prompt within %s: kills fall in [0, %s)", parallel, most, span)
	return span
}

// runEnd is what one killed run showed before it was gone.
type runEnd struct {
	pid   int
	lines []string // what the helper said
	err   string   // a wait that ran out; "" if none
}

// phase names the stage a run was killed in, as far as its words show.
func (r runEnd) phase() string {
	if len(r.lines) == 0 {
		return "before a word (start-up, limits, gateway)"
	}
	switch last := r.lines[len(r.lines)-1]; {
	case strings.HasPrefix(last, "info Code sent to "):
		return "SMS out, before the prompt"
	case strings.HasPrefix(last, "prompt_echo_off "):
		return "at the prompt"
	case strings.HasPrefix(last, "result "):
		return "ended on its own: " + last
	case last == stormLimitText:
		return "refused by the limits, before its result"
	}
	return "other"
}

// killRun kills a run started by startCaller after delay and waits, bounded,
// until its end of the socket is closed and the process is reaped.
func killRun(h *helperSession, delay time.Duration) runEnd {
	end := runEnd{pid: h.cmd.Process.Pid}
	time.Sleep(delay)
	h.cmd.Process.Kill()
	// Every holder of the helper's end is gone once the read sees EOF.
	h.w.(*os.File).SetReadDeadline(time.Now().Add(stormWait))
	for {
		l, err := h.r.ReadString('\n')
		if err != nil {
			// A helper killed before it read the whole request resets the
			// connection; what it said before is read first.
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				end.err = fmt.Sprintf("reading after the kill: %v", err)
			}
			break
		}
		end.lines = append(end.lines, strings.TrimSuffix(l, "\n"))
	}
	waited := make(chan struct{})
	go func() { h.cmd.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(stormWait):
		end.err = fmt.Sprintf("process %d not reaped within %s of its SIGKILL", end.pid, stormWait)
	}
	return end
}

// stormDirect runs row.runs hand-run helpers, parallel at a time, each killed
// at a random moment in [0, span), then checks what they left.
func stormDirect(t *testing.T, build string, u *user.User, row stormRow, parallel int, span time.Duration, rng *rand.Rand) {
	gw := fakegw.Start(t)
	gw.SetDelay(stormGatewayDelay)
	in, state := installStorm(t, build, u, gw, row.limits)

	ends := make(chan runEnd, row.runs)
	running := 0
	var got []runEnd
	for range row.runs {
		if running == parallel {
			got = append(got, <-ends)
			running--
		}
		delay := time.Duration(rng.Float64() * float64(span))
		h := startCaller(t, in, u, callerRun{})
		h.request(t, u.Username)
		running++
		go func() { ends <- killRun(h, delay) }()
	}
	for ; running > 0; running-- {
		got = append(got, <-ends)
	}

	phases := map[string]int{}
	var pids []int
	spoke := 0 // runs that said their code was sent
	for _, e := range got {
		phases[e.phase()]++
		if len(e.lines) > 0 && strings.HasPrefix(e.lines[0], "info Code sent to ") {
			spoke++
		}
		pids = append(pids, e.pid)
		if e.err != "" {
			t.Errorf("run %d: %s", e.pid, e.err)
		}
		checkKilledWords(t, e)
	}
	t.Logf("%d runs killed: %v", len(got), phases)

	waitGatewayIdle(t, gw)
	sent := gw.Count()
	t.Logf("%d runs killed with their SMS at the gateway, before they said so", sent-spoke)
	keys := limits.Keys{User: u.Username, Number: digits(number)}
	c := checkStateAfterStorm(t, state, row.limits, keys, pids)
	checkCounts(t, c, row.limits, sent, len(got), false)

	t.Run("a fresh login afterwards", func(t *testing.T) {
		h := startCaller(t, in, u, callerRun{})
		h.request(t, u.Username)
		if reached(c, row.limits) {
			// The limits hold what the storm spent: refused for that, not
			// for a damaged state.
			lines := h.untilResult(t)
			if want := []string{stormLimitText, "result 7"}; !slices.Equal(lines, want) {
				t.Fatalf("with counts %+v: helper said %q, want %q", c, lines, want)
			}
			if n := gw.Count(); n != sent {
				t.Errorf("a refused login sent %d SMS", n-sent)
			}
			return
		}
		h.loginOK(t, gw, sent+1)
	})
}

// checkKilledWords fails a run that said anything a login killed before it
// was answered may not say: a success, or a denial other than the limits'.
func checkKilledWords(t *testing.T, e runEnd) {
	t.Helper()
	for i, l := range e.lines {
		switch {
		case strings.HasPrefix(l, "info Code sent to "), strings.HasPrefix(l, "prompt_echo_off "):
		case l == stormLimitText && (i+1 == len(e.lines) || e.lines[i+1] == "result 7"):
		case l == "result 7" && i > 0 && e.lines[i-1] == stormLimitText:
		default:
			t.Errorf("run %d said %q (all: %q); want only the code-sent line, the prompt or the limit's refusal",
				e.pid, l, e.lines)
		}
	}
}

// reached reports whether the counts leave no send under l.
func reached(c limits.Counts, l limits.Limits) bool {
	return (l.PerUser > 0 && c.User >= l.PerUser) || (l.PerNumber > 0 && c.Number >= l.PerNumber) ||
		(l.Daily > 0 && c.Daily >= l.Daily)
}

// checkStateAfterStorm asserts that every state file parses (Count and Prune
// read them all), that no lock is held on any of them nor by any of the dead
// pids, and returns the counts of keys.
func checkStateAfterStorm(t *testing.T, state string, l limits.Limits, keys limits.Keys, pids []int) limits.Counts {
	t.Helper()
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if holdsLock(locks, pid) {
			t.Errorf("dead run %d still holds a lock:\n%s", pid, locks)
		}
	}
	entries, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if l := lockOn(locks, fi.Sys().(*syscall.Stat_t)); l != "" {
			t.Errorf("%s is still locked after the storm: %s", e.Name(), l)
		}
	}
	t.Logf("state after the storm: %q", names)

	s, err := limits.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	c, err := s.Count(l, keys, now)
	if err != nil {
		t.Fatalf("Count after the storm: %v", err)
	}
	if _, err := s.Prune(now); err != nil {
		t.Errorf("Prune after the storm: %v", err)
	}
	if again, err := s.Count(l, keys, now); err != nil || again != c {
		t.Errorf("Count after Prune: %+v, %v; want %+v as before", again, err, c)
	}
	return c
}

// lockOn returns the /proc/locks line of a lock on the file st describes, or "".
func lockOn(locks []byte, st *syscall.Stat_t) string {
	dev := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for line := range strings.Lines(string(locks)) {
		// "1: FLOCK  ADVISORY  WRITE 1234 00:1d:5678 0 EOF"; a waiter has "->" after "1:".
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == "->" {
			f = f[1:]
		}
		if len(f) >= 6 && f[5] == dev {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// checkCounts asserts what a storm of runs that sent sent SMS may have
// recorded: each send counted before it went out, at most one record per
// run, and no more SMS than a limit allows. A key may count past its limit:
// runs that lost the race for its last slot leave their record (package
// limits appends without locks). A host is counted only when the runs had
// root (host).
func checkCounts(t *testing.T, c limits.Counts, l limits.Limits, sent, runs int, host bool) {
	t.Helper()
	t.Logf("gateway received %d SMS; recorded %+v", sent, c)
	type key struct {
		name   string
		n, max int
	}
	keys := []key{{"per_user", c.User, l.PerUser}, {"per_number", c.Number, l.PerNumber}, {"daily", c.Daily, l.Daily}}
	if host {
		keys = append(keys, key{"per_host", c.Host, l.PerHost})
	} else if c.Host != 0 {
		t.Errorf("per_host count %d for runs without root, want 0", c.Host)
	}
	for _, k := range keys {
		if k.n < sent || k.n > runs {
			t.Errorf("%s count %d; want from %d (SMS the gateway received) to %d (runs started)", k.name, k.n, sent, runs)
		}
		if sent > k.max {
			t.Errorf("%d SMS went out under a %s limit of %d", sent, k.name, k.max)
		}
	}
}

// waitGatewayIdle waits until the gateway has no connection left open by a
// client (established, queued or half closed by a killed helper), so that
// every request a killed run got out has been recorded.
func waitGatewayIdle(t *testing.T, gw *fakegw.Gateway) {
	t.Helper()
	u, err := url.Parse(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(stormWait)
	for {
		tcp, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for line := range strings.Lines(string(tcp)) {
			// "sl local_address rem_address st ...": 01 established, 03 SYN_RECV, 08 CLOSE_WAIT.
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], local) && (f[3] == "01" || f[3] == "03" || f[3] == "08") {
				open++
			}
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway still has %d connections open %s after the storm", open, stormWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stormModule runs row.runs real PAM transactions as root, one at a time,
// and SIGKILLs each one's helper (found in /proc: a child of this process
// running the helper's file) at a random moment. Every transaction must be
// denied promptly; then the state is checked and a fresh login must pass.
func stormModule(t *testing.T, build, name string, row stormRow, rng *rand.Rand) {
	const modNumber = "+49 170 5550061"
	const rhost = "192.0.2.61"
	gw := fakegw.Start(t)
	gw.SetDelay(stormGatewayDelay)
	body := setLimits(t, testenv.Config(t, gw, testenv.Options{Numbers: map[string]string{name: modNumber}}), row.limits)
	state := stateDir(t, body)
	conf := testenv.WriteConfig(t, t.TempDir(), body)
	// timeout=30: a module that missed its helper's death would wait that
	// long, far past the bound each transaction gets.
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, conf, "timeout=30")+"\n")
	helper, err := os.Stat(filepath.Join(build, "pam-sms-helper"))
	if err != nil {
		t.Fatal(err)
	}
	to := "00" + digits(modNumber)
	login := func() pamrun.Result {
		return pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: name, Rhost: rhost,
			Limit: stormWait, Answer: func(n int, m pamrun.Msg) (string, error) {
				msgs := gw.Messages()
				if len(msgs) == 0 || msgs[len(msgs)-1].To != to {
					return "", fmt.Errorf("prompt %q before an SMS to %s", m.Text, to)
				}
				code, _ := fakegw.ParseCode(msgs[len(msgs)-1].Text)
				return code, nil
			}})
	}

	// Calibrate on a transaction that logs in: the time to its prompt.
	var toPrompt time.Duration
	start := time.Now()
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: name, Rhost: rhost,
		Limit: stormWait, Answer: func(n int, m pamrun.Msg) (string, error) {
			toPrompt = time.Since(start)
			code, _ := fakegw.ParseCode(gw.Wait(t, 1).Text)
			return code, nil
		}})
	checkResult(t, res, nil)
	span := time.Duration(float64(toPrompt) * stormSpan)
	t.Logf("the module's helper reaches the prompt within %s: kills fall in [0, %s)", toPrompt, span)
	keys := limits.Keys{User: name, Number: digits(modNumber), Host: rhost}
	before := countNow(t, state, row.limits, keys)
	sentBefore := gw.Count()

	outcomes := map[string]int{}
	var pids []int
	for i := range row.runs {
		delay := time.Duration(rng.Float64() * float64(span))
		killed := make(chan kill, 1)
		done := make(chan struct{})
		go func() { killed <- killHelperChild(helper, delay, done) }()
		prompted := false
		res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: name, Rhost: rhost,
			Limit: stormWait, Answer: func(n int, m pamrun.Msg) (string, error) {
				// Hold the prompt until the helper is dead, then give up.
				prompted = true
				select {
				case k := <-killed:
					killed <- k
				case <-time.After(stormWait / 2):
				}
				return "", errors.New("user gave up")
			}})
		returned := time.Now()
		close(done)
		var k kill
		select {
		case k = <-killed:
		case <-time.After(stormWait):
			t.Fatalf("run %d: the killer did not finish", i)
		}
		if res.Err == nil {
			t.Errorf("run %d: PAM_SUCCESS for a login whose helper was killed; user saw:\n%s", i, res.Transcript())
		}
		if k.pid == 0 {
			t.Errorf("run %d: no helper was found to kill (delay %s); user saw:\n%s", i, delay, res.Transcript())
			continue
		}
		pids = append(pids, k.pid)
		if took := returned.Sub(k.at); took > 3*time.Second {
			t.Errorf("run %d: pam_authenticate returned %s after its helper was killed", i, took)
		}
		outcomes[fmt.Sprintf("%v (prompted: %v)", res.Err, prompted)]++
	}
	t.Logf("%d transactions with a killed helper: %v", row.runs, outcomes)

	waitGatewayIdle(t, gw)
	sent := gw.Count() - sentBefore
	after := checkStateAfterStorm(t, state, row.limits, keys, pids)
	storm := limits.Counts{User: after.User - before.User, Number: after.Number - before.Number,
		Host: after.Host - before.Host, Daily: after.Daily - before.Daily}
	checkCounts(t, storm, row.limits, sent, row.runs, true)

	t.Run("a fresh login afterwards", func(t *testing.T) {
		checkResult(t, login(), nil)
	})
}

// countNow returns the counts of keys in state.
func countNow(t *testing.T, state string, l limits.Limits, keys limits.Keys) limits.Counts {
	t.Helper()
	s, err := limits.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Count(l, keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kill is a helper killed: its pid (0 if none was) and when.
type kill struct {
	pid int
	at  time.Time
}

// killHelperChild waits delay, then SIGKILLs the first child of this process
// that runs the helper's file, as soon as there is one. It gives up when done
// is closed (the transaction ended) or after stormWait without one.
func killHelperChild(helper os.FileInfo, delay time.Duration, done <-chan struct{}) kill {
	select {
	case <-time.After(delay):
	case <-done:
		return kill{}
	}
	deadline := time.Now().Add(stormWait)
	for time.Now().Before(deadline) {
		for _, pid := range helperChildren(helper) {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				return kill{pid, time.Now()}
			}
		}
		select {
		case <-done:
			return kill{}
		case <-time.After(time.Millisecond):
		}
	}
	return kill{}
}

// helperChildren lists the children of this process whose executable is helper.
func helperChildren(helper os.FileInfo) []int {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + p.Name() + "/stat")
		if err != nil {
			continue
		}
		// "PID (COMM) STATE PPID ...": the fields after the last ")".
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(self) {
			continue
		}
		if exe, err := os.Stat("/proc/" + p.Name() + "/exe"); err == nil && os.SameFile(exe, helper) {
			pids = append(pids, pid)
		}
	}
	return pids
}
