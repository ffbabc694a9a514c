package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// PAM return codes the bench expects.
const (
	pamSuccess = 0
	pamAuthErr = 7
)

// tx is one transaction as pamclient reports it; times are CLOCK_MONOTONIC ns.
type tx struct {
	rc                        int
	start, auth, authEnd, end int64
	recv                      int64 // gateway arrival of this user's SMS; 0 if none
	prompts, errors           int
}

// total is the whole transaction: pam_start_confdir to after pam_end.
func (t tx) total() time.Duration { return time.Duration(t.end - t.start) }

// dispatch is pam_authenticate's start to the gateway's arrival stamp.
func (t tx) dispatch() time.Duration { return time.Duration(t.recv - t.auth) }

// clientRun is the output of one pamclient process.
type clientRun struct {
	txs               []tx
	rssSelf, rssChild int64         // KiB
	childCPU          time.Duration // user + system time of all children
}

// clientArgs describe one pamclient process in PAM mode.
type clientArgs struct {
	service, user, rhost string
	n                    int
	expect               int
	barrier              bool // wait for EOF on fd 3 before pam_authenticate
	// noASLR runs pamclient under setarch -R: without address space
	// randomization its peak RSS is the same from run to run, so small
	// differences between stacks show.
	noASLR bool
}

func (b *bench) clientCmd(ctx context.Context, a clientArgs) *exec.Cmd {
	args := []string{"-c", b.confdir, "-s", a.service, "-u", a.user, "-n", strconv.Itoa(a.n),
		"-k", b.gw.codeDir, "-e", strconv.Itoa(a.expect)}
	if a.rhost != "" {
		args = append(args, "-r", a.rhost)
	}
	if a.barrier {
		args = append(args, "-b", "3")
	}
	name := b.client
	if a.noASLR {
		name, args = "setarch", append([]string{b.machine.arch, "-R", b.client}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = time.Second
	return cmd
}

// runClient runs one pamclient to completion and checks every rc.
func (b *bench) runClient(ctx context.Context, a clientArgs) (clientRun, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	out, err := b.clientCmd(ctx, a).Output()
	run, perr := parseClient(strings.NewReader(string(out)))
	if err != nil {
		return run, fmt.Errorf("bench: pamclient %s for %s: %w (want rc %d; got %s)",
			a.service, a.user, err, a.expect, rcList(run.txs))
	}
	if perr != nil {
		return run, perr
	}
	if len(run.txs) != a.n {
		return run, fmt.Errorf("bench: pamclient %s: %d transactions reported, want %d", a.service, len(run.txs), a.n)
	}
	return run, nil
}

func rcList(txs []tx) string {
	var rcs []string
	for _, t := range txs {
		rcs = append(rcs, strconv.Itoa(t.rc))
	}
	return "[" + strings.Join(rcs, " ") + "]"
}

// parseClient reads pamclient's "tx ..." and "rss ..." lines ("ready" and
// anything else is skipped).
func parseClient(r io.Reader) (clientRun, error) {
	var run clientRun
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 18 && f[0] == "tx":
			var v [8]int64
			for i, idx := range []int{3, 5, 7, 9, 11, 13, 15, 17} {
				n, err := strconv.ParseInt(f[idx], 10, 64)
				if err != nil {
					return run, fmt.Errorf("bench: pamclient line %q: %w", sc.Text(), err)
				}
				v[i] = n
			}
			run.txs = append(run.txs, tx{rc: int(v[0]), start: v[1], auth: v[2], authEnd: v[3], end: v[4],
				recv: v[5], prompts: int(v[6]), errors: int(v[7])})
		case len(f) == 7 && f[0] == "rss":
			s, err1 := strconv.ParseInt(f[2], 10, 64)
			c, err2 := strconv.ParseInt(f[4], 10, 64)
			us, err3 := strconv.ParseInt(f[6], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				return run, fmt.Errorf("bench: pamclient line %q: bad rss", sc.Text())
			}
			run.rssSelf, run.rssChild, run.childCPU = s, c, time.Duration(us)*time.Microsecond
		}
	}
	if err := sc.Err(); err != nil {
		return run, fmt.Errorf("bench: reading pamclient: %w", err)
	}
	return run, nil
}

// spawnTimes runs pamclient's spawn mode: n fork+exec+wait of argv.
func (b *bench) spawnTimes(ctx context.Context, n int, argv ...string) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.client, append([]string{"-x", strconv.Itoa(n)}, argv...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench: pamclient -x %s: %w", argv[0], err)
	}
	var ds []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || f[0] != "spawn" {
			return nil, fmt.Errorf("bench: pamclient -x: unexpected line %q", line)
		}
		ns, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bench: pamclient -x: %w", err)
		}
		ds = append(ds, time.Duration(ns))
	}
	if len(ds) != n {
		return nil, fmt.Errorf("bench: pamclient -x: %d results, want %d", len(ds), n)
	}
	return ds, nil
}
