package packaging_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freshMakeTestTimeout bounds the nested make test (stepTimeout shortens it
// to end before the outer go test's -timeout).
const freshMakeTestTimeout = 40 * time.Minute

// freshMustRun are packages (below the module) whose tests must have run and
// passed in the nested make test: the ones that log in through libpam, su,
// login, sudo and sshd, and the packaging tests themselves.
var freshMustRun = []string{"test/e2e", "test/integration", "test/packaging", "pam_sms/moduletest", "helper", "cmd/pam-sms", "conf"}

// freshNoSkip are packages where no test may skip in the fresh root: make
// deps installed everything they need, and the root is as bare as a new
// machine (no syslog daemon, no sshd running).
var freshNoSkip = []string{"test/e2e", "test/integration"}

// makeTest runs `make test` in the source tree of the root, with
// freshNestedEnv set and GOFLAGS=-v, so that go test names every test and
// whether it passed or was skipped. It fails when make test fails, when a
// package's tests were skipped wholesale or did not run, when the nested
// tests leave a process or a mount behind in the root.
func (c *freshChroot) makeTest(t *testing.T) {
	t.Helper()
	module := strings.TrimSpace(c.inSource(t, "sed -n 's/^module //p' go.mod"))
	before := c.mountsBelow()
	start := time.Now()
	out, err := c.shell(stepTimeout(t, freshMakeTestTimeout), []string{freshNestedEnv + "=1", "GOFLAGS=-v"}, "make test")
	t.Logf("make test: %s", time.Since(start).Round(time.Second))

	// What the nested tests left behind, before anything else is killed.
	for _, pid := range procsInRoot(c.dir) {
		t.Errorf("left running in the root after make test: pid %d (%s)", pid, procComm(pid))
	}
	if left := killInRoot(c.dir, 10*time.Second); len(left) > 0 {
		t.Errorf("processes in the fresh root survived SIGKILL: %v", left)
	}
	for _, m := range c.mountsBelow() {
		if !slices.Contains(before, m) {
			t.Errorf("left mounted by make test: %s", m)
		}
	}

	if err != nil {
		t.Fatalf("make test failed in the fresh root: %v\n%s", err, out)
	}
	results := parseGoTestV(out)
	var passed, skipped int
	for _, r := range results {
		passed += r.pass
		skipped += r.skip
		t.Logf("%-55s ok=%v passed %3d skipped %2d", r.pkg, r.ok, r.pass, r.skip)
		for _, s := range r.skipped {
			t.Logf("    skipped %s", s)
		}
	}
	t.Logf("make test in the fresh root: %d packages with tests, %d tests passed, %d skipped", len(results), passed, skipped)
	for _, problem := range checkGoTestV(results, module) {
		t.Error(problem)
	}
}

// goTestPkg is what `go test -v` printed for one package.
type goTestPkg struct {
	pkg        string
	ok         bool
	pass, skip int      // top-level tests
	skipped    []string // top-level tests and subtests: "name: reason"
}

// parseGoTestV reads the output of `go test -v` over several packages (go
// prints each package's output in one piece, ending with its "ok" or
// "FAIL" line) and returns the packages that have tests, in order. It stops
// at the first fuzzing run (make fuzz-short after go test), whose "ok"
// lines run no tests.
func parseGoTestV(out string) []goTestPkg {
	var (
		pkgs []goTestPkg
		cur  goTestPkg
	)
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if strings.Contains(line, " -fuzz=") {
			break
		}
		fields := strings.Split(line, "\t")
		switch {
		case strings.HasPrefix(line, "--- PASS: "):
			cur.pass++
		case strings.HasPrefix(strings.TrimLeft(line, " "), "--- SKIP: "):
			if !strings.HasPrefix(line, " ") {
				cur.skip++
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimLeft(line, " "), "--- SKIP: "), " (")
			cur.skipped = append(cur.skipped, name+": "+skipReason(lines[:i]))
		case len(fields) >= 2 && (strings.TrimSpace(fields[0]) == "ok" || fields[0] == "FAIL"):
			cur.pkg = fields[1]
			cur.ok = strings.TrimSpace(fields[0]) == "ok"
			pkgs = append(pkgs, cur)
			cur = goTestPkg{}
		case len(fields) >= 2 && strings.TrimSpace(fields[0]) == "?":
			cur = goTestPkg{} // [no test files]
		}
	}
	return pkgs
}

// skipReason is the test's log above its "--- SKIP" line (-v prints a
// test's log as it comes, before the result): the indented lines back to
// the previous "=== " or "--- " line, joined.
func skipReason(above []string) string {
	start := len(above)
	for start > 0 {
		l := above[start-1]
		trimmed := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(l, " ") || strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- ") {
			break
		}
		start--
	}
	var parts []string
	for _, l := range above[start:] {
		parts = append(parts, strings.TrimSpace(l))
	}
	return strings.Join(parts, " ")
}

// checkGoTestV lists what is wrong with a make test run's results: a
// package that failed, one whose tests all skipped or that ran none, a
// package of freshMustRun missing, a skip in freshNoSkip, or no sign that
// TestFreshDebian skipped itself there (then the output was not -v, or the
// nested run did not see freshNestedEnv).
func checkGoTestV(results []goTestPkg, module string) []string {
	var problems []string
	seen := map[string]goTestPkg{}
	for _, r := range results {
		seen[r.pkg] = r
		rel := strings.TrimPrefix(strings.TrimPrefix(r.pkg, module), "/")
		switch {
		case !r.ok:
			problems = append(problems, fmt.Sprintf("%s failed in the fresh root", r.pkg))
		case r.pass == 0:
			problems = append(problems, fmt.Sprintf("%s ran no test in the fresh root (%d skipped: %v)", r.pkg, r.skip, r.skipped))
		}
		if slices.Contains(freshNoSkip, rel) {
			for _, s := range r.skipped {
				problems = append(problems, fmt.Sprintf("%s skipped %s in the fresh root", r.pkg, s))
			}
		}
	}
	for _, rel := range freshMustRun {
		if _, ok := seen[module+"/"+rel]; !ok {
			problems = append(problems, fmt.Sprintf("%s/%s did not run in the fresh root", module, rel))
		}
	}
	nested := false
	for _, s := range seen[module+"/test/packaging"].skipped {
		nested = nested || strings.HasPrefix(s, "TestFreshDebian: ") && strings.Contains(s, freshNestedEnv)
	}
	if !nested {
		problems = append(problems, "the nested make test did not skip TestFreshDebian for "+freshNestedEnv)
	}
	return problems
}

// procsInRoot lists the processes whose root directory is dir or below it
// (a chroot inside the root), by /proc/PID/root: the path when it is in
// this mount namespace, the directory itself otherwise. Zombies have none.
func procsInRoot(dir string) []int {
	want, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		root := filepath.Join("/proc", e.Name(), "root")
		if link, err := os.Readlink(root); err == nil && (link == dir || strings.HasPrefix(link, dir+"/")) {
			pids = append(pids, pid)
		} else if fi, err := os.Stat(root); err == nil && os.SameFile(fi, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killInRoot sends SIGKILL to every process in the root until none is
// left, and returns those still there after wait.
func killInRoot(dir string, wait time.Duration) []int {
	deadline := time.Now().Add(wait)
	for {
		pids := procsInRoot(dir)
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procComm is a process's command name, for messages.
func procComm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}

// TestParseGoTestV checks the reading of make test's output that
// TestFreshDebian's assertions rest on, and that each of them can fail.
func TestParseGoTestV(t *testing.T) {
	const m = "example.org/mod"
	good := strings.Join([]string{
		"gcc -std=c99 ... -o build/pam_sms.so.tmp",
		"?   \t" + m + "/internal/none\t[no test files]",
		"=== RUN   TestA",
		"--- PASS: TestA (0.00s)",
		"=== RUN   TestB",
		"=== RUN   TestB/sub",
		"    b_test.go:9: no sub here",
		"        second line",
		"    --- SKIP: TestB/sub (0.00s)",
		"--- PASS: TestB (0.01s)",
		"PASS",
		"ok  \t" + m + "/test/e2e\t1.234s",
		"--- PASS: TestC (0.00s)",
		"=== RUN   TestFreshDebian",
		"    fresh_test.go:61: " + freshNestedEnv + " is set: nested",
		"--- SKIP: TestFreshDebian (0.00s)",
		"=== RUN   TestHelper",
		"--- SKIP: TestHelper (0.00s)",
		"ok  \t" + m + "/test/packaging\t0.5s",
		"mk/go.sh test -run='^$' -fuzz='^FuzzParse$' -fuzztime=3000x ./conf/",
		"ok  \t" + m + "/conf\t5.1s",
	}, "\n")
	got := parseGoTestV(good)
	want := []goTestPkg{
		{pkg: m + "/test/e2e", ok: true, pass: 2, skipped: []string{"TestB/sub: b_test.go:9: no sub here second line"}},
		{pkg: m + "/test/packaging", ok: true, pass: 1, skip: 2, skipped: []string{"TestFreshDebian: fresh_test.go:61: " + freshNestedEnv + " is set: nested", "TestHelper: "}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parseGoTestV:\n got %v\nwant %v", got, want)
	}

	// Each check, with the one result that breaks it.
	for _, tc := range []struct {
		name    string
		results []goTestPkg
		problem string
	}{
		{"failed package", []goTestPkg{{pkg: m + "/conf", ok: false, pass: 3}}, m + "/conf failed"},
		{"all skipped", []goTestPkg{{pkg: m + "/conf", ok: true, skip: 2}}, m + "/conf ran no test"},
		{"skip in e2e", []goTestPkg{{pkg: m + "/test/e2e", ok: true, pass: 1, skipped: []string{"TestX: no sudo"}}}, "skipped TestX: no sudo"},
		{"missing package", nil, m + "/test/integration did not run"},
		{"not nested", nil, "did not skip TestFreshDebian"},
	} {
		problems := checkGoTestV(tc.results, m)
		if !strings.Contains(strings.Join(problems, "\n"), tc.problem) {
			t.Errorf("%s: problems %q lack %q", tc.name, problems, tc.problem)
		}
	}
	// The whole set of packages, all passing, and the nested skip: no problem.
	var all []goTestPkg
	for _, rel := range freshMustRun {
		r := goTestPkg{pkg: m + "/" + rel, ok: true, pass: 1}
		if rel == "test/packaging" {
			r.skip, r.skipped = 1, []string{"TestFreshDebian: x.go:1: " + freshNestedEnv + " is set"}
		}
		all = append(all, r)
	}
	if problems := checkGoTestV(all, m); len(problems) > 0 {
		t.Errorf("a good run has problems: %q", problems)
	}
}

// TestFreshRootCleanup checks the fresh root's cleanup on what a nested run
// can leave: a process running in a chroot below the root (as a nested
// install test's would be) is killed, a mount below the root that the root
// did not make is reported and unmounted, and then the root is gone.
func TestFreshRootCleanup(t *testing.T) {
	requireRoot(t)
	dir, err := os.MkdirTemp("/var/tmp", "pam-sms-fresh-")
	if err != nil {
		t.Fatal(err)
	}
	c := &freshChroot{chroot: &chroot{dir: dir}}
	done := false
	t.Cleanup(func() {
		if !done {
			c.remove()
		}
	})
	c.mount(t, dir, "--bind", dir)
	// A nested root with sleep and the libraries it loads.
	nested := c.path("/var/tmp/pam-sms-chroot-x")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	libs := regexp.MustCompile(`(?m)(/\S+) \(0x`).FindAllStringSubmatch(run(t, "", "ldd", sleep), -1)
	for _, f := range append([]string{sleep}, column(libs, 1)...) {
		dst := filepath.Join(nested, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, mustRead(t, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A nested test's mount that nobody unmounted.
	if err := os.MkdirAll(filepath.Join(nested, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", "mount", "-t", "tmpfs", "leftover", filepath.Join(nested, "proc"))
	cmd := exec.Command("chroot", nested, sleep, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(procsInRoot(dir), cmd.Process.Pid) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the chrooted sleep (pid %d) is not found in the root", cmd.Process.Pid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	problems := c.remove()
	done = true
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Error("remove left the chrooted sleep running")
	}
	want := "left mounted in the fresh root: " + filepath.Join(nested, "proc")
	if len(problems) != 1 || problems[0] != want {
		t.Errorf("remove reported %q, want only %q", problems, want)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the root is still there: %v", err)
	}
}

// column is the i-th submatch of every match.
func column(matches [][]string, i int) []string {
	var out []string
	for _, m := range matches {
		out = append(out, m[i])
	}
	return out
}

// TestFreshCacheLock checks that a second fresh root goes without the caches
// while a first one has them, and gets them once the first is removed.
func TestFreshCacheLock(t *testing.T) {
	requireRoot(t)
	first := &freshChroot{chroot: &chroot{}}
	if !first.lockCaches(t) {
		t.Skip("a fresh-machine run holds the caches now")
	}
	second := &freshChroot{chroot: &chroot{}}
	if second.lockCaches(t) {
		second.lock.Close()
		t.Error("a second root got the caches while the first had them")
	}
	first.lock.Close()
	third := &freshChroot{chroot: &chroot{}}
	if !third.lockCaches(t) {
		t.Fatal("the caches stayed locked after the first root let them go")
	}
	third.lock.Close()
}
