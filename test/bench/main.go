// Command bench is `make bench`: it measures pam_sms beside what an
// administrator would use instead and writes BENCHMARKS.md.
//
// It runs as root in a private mount namespace (it re-executes itself under
// unshare), where its 200 test users are added to a bind-mounted copy of
// /etc/passwd; the host's files are not changed. Logins are real libpam
// transactions made by pamclient (pamclient.c, a small C client) against the
// built pam_sms.so and pam-sms-helper and a fake gateway on 127.0.0.1.
//
// Usage (make bench passes all of it):
//
//	bench -build DIR -client PAMCLIENT -repo DIR [-out BENCHMARKS.md] [-rows 1,2,...] [-burst-rounds N] [-quick] [-keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nsEnv marks the process that already runs inside the private namespace.
const nsEnv = "PAM_SMS_BENCH_NS"

// clientTimeout bounds one pamclient process.
const clientTimeout = 120 * time.Second

// options are the command-line flags.
type options struct {
	build, client, repo, out, goTool string
	rows                             []string
	burstRounds                      int // rounds of row 5's bursts
	quick, keep                      bool
}

// bench holds what every row needs.
type bench struct {
	options
	work, confdir string
	gid           int // benchGroup's
	gw            *gateway
	frozenReady   bool     // row 5d's helper is installed (frozen.go)
	mounts        []string // made in the namespace, unmounted by cleanup
	start         time.Time
	machine       machine
	results       []result
	figs          map[string]float64 // medians the findings refer to (markdown.go)
	ran           []string           // the rows measured in this run ("1", "2", ...)
	prev          previous           // what a partial run keeps of the last BENCHMARKS.md
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == probeFlag {
		if err := runProbe(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == numberProbeFlag {
		if err := runNumberProbe(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Getenv(nsEnv) != "1" {
		err = reexecInNamespace()
	} else {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.build, "build", "", "directory holding pam_sms.so and pam-sms-helper")
	fs.StringVar(&o.client, "client", "", "the built pamclient")
	fs.StringVar(&o.repo, "repo", ".", "repository root")
	fs.StringVar(&o.out, "out", "", "write BENCHMARKS.md here (empty: only print the table)")
	fs.StringVar(&o.goTool, "go", "go", "go command, to build the Go c-shared comparison module")
	rows := fs.String("rows", "1,2,3,4,5,6,7,8,9", "rows to run")
	// Row 5's per-round p99 ratios spread by tens of percent on a shared
	// machine; their median needs more rounds than the other rows' figures.
	fs.IntVar(&o.burstRounds, "burst-rounds", 15, "rounds of row 5 (each: one burst of every kind)")
	fs.BoolVar(&o.quick, "quick", false, "fewer rounds (for trying the bench, not for figures)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.build == "" || o.client == "" || fs.NArg() != 0 || o.burstRounds < 1 {
		return o, errors.New("usage: bench -build DIR -client PAMCLIENT [-repo DIR] [-out FILE] [-rows 1,2,...] [-burst-rounds N] [-quick] [-keep]")
	}
	o.rows = strings.Split(*rows, ",")
	for _, p := range []*string{&o.build, &o.client, &o.repo} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, fmt.Errorf("bench: %w", err)
		}
		*p = abs
	}
	return o, nil
}

// reexecInNamespace replaces this process by itself under unshare(1) with a
// private mount namespace, so the bind mount over /etc (see mountUsers)
// stays invisible to the rest of the machine and disappears with the bench.
func reexecInNamespace() error {
	if os.Geteuid() != 0 {
		return errors.New("bench: must run as root (it bind-mounts a copy of /etc in a private mount namespace, and the helper reads only root-owned configs)")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	unshare := "/usr/bin/unshare"
	args := append([]string{"unshare", "--mount", "--propagation", "private", "--", self}, os.Args[1:]...)
	err = syscall.Exec(unshare, args, append(os.Environ(), nsEnv+"=1"))
	return fmt.Errorf("bench: exec %s: %w", unshare, err)
}

func run(o options) error {
	// Go's benchmark harness (row 6) reads its flags from flag.CommandLine.
	testing.Init()
	if err := flag.CommandLine.Set("test.benchtime", "300ms"); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{options: o, start: time.Now(), figs: map[string]float64{}}
	defer b.cleanup()
	if err := b.setup(); err != nil {
		return err
	}
	b.machine = describeMachine(b.work)
	steps := []struct {
		rows []string
		fn   func(context.Context) error
	}{
		{[]string{"1"}, b.rowExempt},
		{[]string{"2", "3"}, b.rowChallenge}, // rows 2 and 3 come from the same logins
		{[]string{"4"}, b.rowMemory},
		{[]string{"5"}, b.rowBurst},
		{[]string{"6"}, b.rowHelper},
		{[]string{"7"}, b.rowNumbers},
		{[]string{"8"}, b.rowDirectory},
		{[]string{"9"}, b.rowFailover},
	}
	for _, s := range steps {
		if !slices.ContainsFunc(s.rows, func(r string) bool { return slices.Contains(o.rows, r) }) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: row %s (%s elapsed)\n", strings.Join(s.rows, "+"), time.Since(b.start).Round(time.Second))
		if err := s.fn(ctx); err != nil {
			return err
		}
		b.ran = append(b.ran, s.rows...)
	}
	b.machine.elapsed = time.Since(b.start).Round(time.Second)
	slices.SortStableFunc(b.results, func(x, y result) int { return strings.Compare(x.row, y.row) })
	fmt.Print(b.table())
	if o.out != "" {
		// A run of some rows keeps the others' figures from the file it
		// replaces, and says which run each row comes from.
		old, err := os.ReadFile(o.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("bench: %w", err)
		}
		b.prev = parsePrevious(string(old), b.ran)
		if err := os.WriteFile(o.out, []byte(b.markdown()), 0o644); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.out)
	}
	return nil
}

// setup makes the work directory, the users, the gateway and the PAM confdir.
func (b *bench) setup() error {
	for _, f := range []string{filepath.Join(b.build, "pam_sms.so"), filepath.Join(b.build, "pam-sms-helper"), b.client} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("bench: %w (run make build)", err)
		}
	}
	// Under /var/tmp, not a tmpfs /tmp: the limit state must live on a real
	// disk, as /var/lib/pam-sms does.
	work, err := os.MkdirTemp("/var/tmp", "pam-sms-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	b.work = work
	if b.gid, err = mountUsers(work); err != nil {
		return err
	}
	numbers := map[string]string{}
	for i := range userCount {
		numbers[userName(i)] = userTo(i)
	}
	if b.gw, err = startGateway(work, gatewayID, gatewayPW, numbers); err != nil {
		return err
	}
	b.confdir = filepath.Join(work, "pam.d")
	if err := newConfdir(b.confdir); err != nil {
		return err
	}
	return b.writeStacks()
}

func (b *bench) cleanup() {
	if b.gw != nil {
		b.gw.close()
	}
	for _, m := range slices.Backward(b.mounts) {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "bench: unmount %s: %v\n", m, err)
		}
	}
	if b.work == "" {
		return
	}
	if b.keep {
		fmt.Fprintf(os.Stderr, "bench: work directory kept: %s\n", b.work)
		return
	}
	os.RemoveAll(b.work)
}

// rounds scales a round count down for -quick.
func (b *bench) rounds(n int) int {
	if b.quick {
		return max(2, n/4)
	}
	return n
}
