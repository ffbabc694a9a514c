package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/policy"
)

// rowHelper is row 6: the helper's size and start-up, the cost of loading a
// config (done on every login), the per-login lookups, and the critical
// section of the limits (serialized across the logins that share a key).
func (b *bench) rowHelper(ctx context.Context) error {
	if err := b.sizes(); err != nil {
		return err
	}
	if err := b.startup(ctx); err != nil {
		return err
	}
	if err := b.configLoad(ctx); err != nil {
		return err
	}
	if err := b.lookups(); err != nil {
		return err
	}
	if err := b.certPool(ctx); err != nil {
		return err
	}
	return b.limitsTake()
}

func (b *bench) sizes() error {
	for i, f := range []string{"pam-sms-helper", "pam_sms.so"} {
		fi, err := os.Stat(filepath.Join(b.build, f))
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		b.add(result{row: fmt.Sprintf("6%c", 'a'+i), what: "size of build/" + f + " (stripped)", med: fmtKiB(float64(fi.Size()) / 1024)})
	}
	return nil
}

// startup times fork+exec+exit of the helper (a bad flag: it exits after the
// Go runtime has started and parsed its arguments) beside /bin/true.
func (b *bench) startup(ctx context.Context) error {
	cmds := [][]string{{filepath.Join(b.build, "pam-sms-helper"), "--bench-startup"}, {"/bin/true"}}
	got := map[string][]float64{}
	for r := range b.rounds(10) {
		for _, c := range rotate(cmds, r) {
			ds, err := b.spawnTimes(ctx, 20, c...)
			if err != nil {
				return err
			}
			got[c[0]] = append(got[c[0]], ms(ds)...)
		}
	}
	b.figs["startup.helper"], b.figs["startup.true"] = summarize(got[cmds[0][0]]).med, summarize(got["/bin/true"]).med
	b.add(msResult("6c", "helper start-up (fork, exec, Go runtime, exit)", summarize(got[cmds[0][0]])))
	b.add(msResult("6d", "/bin/true start-up, for reference", summarize(got["/bin/true"])))
	return nil
}

// configLoad times conf.Load as a login pays it: once, in a fresh process
// (file checks, TOML, validation, and the gateway client it builds, whose
// system root pool a long-lived process would have cached), for three
// configs in rotating order; and conf.Parse of the big config in this
// process (decoding and validation only).
func (b *bench) configLoad(ctx context.Context) error {
	big := filepath.Join(b.work, svcSMSBig+".conf")
	bigData, err := os.ReadFile(big)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	loads := []struct {
		key, label string
		fn         func() (float64, error)
	}{
		{"small", "conf.Load in a fresh process, 200 numbers, no ca_file", b.probeFn(ctx, probeConfLoad, filepath.Join(b.work, svcSMSHTTP+".conf"))},
		{"smallca", "conf.Load in a fresh process, 200 numbers, ca_file", b.probeFn(ctx, probeConfLoad, filepath.Join(b.work, svcSMSHTTPS+".conf"))},
		{"big", "conf.Load in a fresh process, 10,200 numbers + 1,001 networks, ca_file", b.probeFn(ctx, probeConfLoad, big)},
		{"parse", "conf.Parse of the big config (decoding and validation only)", func() (float64, error) {
			start := time.Now()
			_, err := conf.Parse(big, bigData)
			return msOf(time.Since(start)), err
		}},
	}
	got := map[string][]float64{}
	for r := range b.rounds(20) {
		for _, l := range rotate(loads, r) {
			v, err := l.fn()
			if err != nil {
				return fmt.Errorf("bench: %s: %w", l.label, err)
			}
			got[l.key] = append(got[l.key], v)
		}
	}
	for i, l := range loads {
		b.add(msResult(fmt.Sprintf("6%c", 'e'+i), l.label, summarize(got[l.key])))
		b.figs["load."+l.key] = summarize(got[l.key]).med
	}
	b.add(result{row: "6i", what: "size of the big config", med: fmtKiB(float64(len(bigData)) / 1024)})
	return nil
}

// lookups measures, with Go's benchmark harness, what a login does with a
// loaded config: match PAM_RHOST and find the user's number.
func (b *bench) lookups() error {
	small, err := conf.Load(filepath.Join(b.work, svcSMSHTTPS+".conf"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	big, err := conf.Load(filepath.Join(b.work, svcSMSBig+".conf"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	acct := policy.Account{Name: userName(7), UID: "64007", Groups: []string{"nogroup"}}
	req := policy.Request{User: acct.Name, Rhost: rhostOutside, Service: "sshd"}
	benches := []struct {
		label string
		fn    func(*testing.B)
	}{
		{"trusted_networks match, 1 network", containsBench(small, rhostOutside)},
		{"trusted_networks match, 1,001 networks", containsBench(big, rhostOutside)},
		{"number lookup, 200 numbers", numberBench(small, acct.Name)},
		{"number lookup, 10,200 numbers", numberBench(big, acct.Name)},
		{"policy.Decide (whole decision), big config", func(tb *testing.B) {
			for tb.Loop() {
				_ = policy.Decide(big, req, acct)
			}
		}},
	}
	got := map[string][]float64{}
	for r := range b.rounds(3) {
		for _, bb := range rotate(benches, r) {
			res := testing.Benchmark(bb.fn)
			got[bb.label] = append(got[bb.label], float64(res.NsPerOp()))
		}
	}
	for i, bb := range benches {
		b.add(nsResult(fmt.Sprintf("6%c", 'j'+i), bb.label, summarize(got[bb.label])))
	}
	return nil
}

func containsBench(c *conf.Config, rhost string) func(*testing.B) {
	return func(tb *testing.B) {
		for tb.Loop() {
			_ = c.Policy.TrustedNetworks.Contains(rhost)
		}
	}
}

func numberBench(c *conf.Config, user string) func(*testing.B) {
	return func(tb *testing.B) {
		for tb.Loop() {
			_ = c.Numbers[user]
		}
	}
}

// limitsTake times limits.Store.Take in a fresh state directory beside the
// bench's, with the burst's keys: a different user and number each time, one
// client address. Each Take reads the key files of its three keys' shards for
// the current and previous bucket, appends one record to each and one to the
// day file, and counts its keys' records up to its own; it takes no lock, so
// Takes from one client address do not queue for each other.
func (b *bench) limitsTake() error {
	dir := filepath.Join(b.work, "take-state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	store, err := limits.Open(dir)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer store.Close()
	l := limits.Limits{Window: burstWindow, PerUser: 10, PerNumber: 10, PerHost: limits.MaxLimit, Daily: limits.MaxLimit}
	var got []float64
	for i := range b.rounds(200) {
		k := limits.Keys{User: userName(i % userCount), Number: fmt.Sprintf("49170555%04d", i%userCount), Host: rhostOutside}
		start := time.Now()
		if err := store.Take(l, k, time.Now()); err != nil {
			return fmt.Errorf("bench: limits.Take: %w", err)
		}
		got = append(got, msOf(time.Since(start)))
	}
	s := summarize(got)
	b.figs["take"] = s.med
	b.add(msResult("6p", "limits.Take, 3 keys (no lock; 3 key records and 1 day record appended)", s))
	return nil
}

// Probes: `bench -probe KIND [ARG]` times one operation in a fresh process
// and prints nanoseconds. Per-process caches (the system root pool, lazily
// compiled data) make a second call in the same process cheaper than what
// each helper, a new process per login, pays.
const (
	probeFlag      = "-probe"
	probeCertPool  = "certpool" // x509.SystemCertPool()
	probeConfLoad  = "confload" // conf.Load(ARG)
	probeArgsCount = 2
)

// runProbe is main for a probe process.
func runProbe(args []string) error {
	if len(args) == 0 || len(args) > probeArgsCount {
		return fmt.Errorf("bench: usage: bench %s %s|%s PATH", probeFlag, probeCertPool, probeConfLoad)
	}
	start := time.Now()
	var err error
	switch {
	case args[0] == probeCertPool && len(args) == 1:
		_, err = x509.SystemCertPool()
	case args[0] == probeConfLoad && len(args) == 2:
		_, err = conf.Load(args[1])
	default:
		return fmt.Errorf("bench: unknown probe %q", strings.Join(args, " "))
	}
	if err != nil {
		return fmt.Errorf("bench: probe %s: %w", args[0], err)
	}
	fmt.Println(time.Since(start).Nanoseconds())
	return nil
}

// probeFn returns a function that runs one probe process and returns its
// figure in milliseconds.
func (b *bench) probeFn(ctx context.Context, args ...string) func() (float64, error) {
	return func() (float64, error) {
		self, err := os.Executable()
		if err != nil {
			return 0, fmt.Errorf("bench: %w", err)
		}
		cmd := exec.CommandContext(ctx, self, append([]string{probeFlag}, args...)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("bench: probe %s: %w", strings.Join(args, " "), err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: probe %s: %w", strings.Join(args, " "), err)
		}
		return msOf(time.Duration(ns)), nil
	}
}

// certPool times the system root pool load: smsclient.New adds ca_file to
// x509.SystemCertPool(), and without ca_file Go loads the same pool at the
// first certificate verification.
func (b *bench) certPool(ctx context.Context) error {
	probe := b.probeFn(ctx, probeCertPool)
	var got []float64
	for range b.rounds(20) {
		v, err := probe()
		if err != nil {
			return err
		}
		got = append(got, v)
	}
	certs := "system"
	if data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		certs = fmt.Sprint(strings.Count(string(data), "BEGIN CERTIFICATE"))
	}
	b.figs["certpool"] = summarize(got).med
	b.add(msResult("6o", fmt.Sprintf("x509.SystemCertPool() in a fresh process (%s roots)", certs), summarize(got)))
	return nil
}
