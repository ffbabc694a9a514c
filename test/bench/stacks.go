package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Services (PAM stacks) in the bench confdir. Each is the module under test
// followed by pam_permit.
const (
	svcPermit    = "permit"     // pam_permit.so
	svcExecTrue  = "exec-true"  // pam_exec.so /bin/true
	svcSMSHTTP   = "sms-http"   // pam_sms, gateway over loopback HTTP
	svcSMSHTTPS  = "sms-https"  // pam_sms, gateway over HTTPS with ca_file
	svcSMSBig    = "sms-big"    // pam_sms, HTTPS, 10,000 more numbers and 1,000 more networks
	svcCurlHTTP  = "curl-http"  // pam_exec + curl script, HTTP
	svcCurlHTTPS = "curl-https" // pam_exec + curl script, HTTPS
	svcGo        = "go-cshared" // trivial Go c-shared module (row 4 only)
)

// Sizes of the big config (row 1, 2 and 6).
const (
	bigNumbers  = 10000
	bigNetworks = 1000
)

// generous limits never refuse a bench login outside the burst row.
var generous = configOptions{perUser: 10000, perNumber: 10000, perHost: 10000}

// variant is one PAM stack in a comparison, with the client address used.
// key names its figures for the findings (see markdown.go).
type variant struct {
	key, label, service, rhost string
}

func (b *bench) moduleLine(conf string) string {
	return fmt.Sprintf("%s config=%s helper=%s timeout=120", filepath.Join(b.build, "pam_sms.so"),
		conf, filepath.Join(b.build, "pam-sms-helper"))
}

// writeConfig writes the config name.conf with its own state directory and
// returns its path.
func (b *bench) writeConfig(name string, o configOptions) (string, error) {
	o.stateDir = b.stateDir(name)
	if err := os.Mkdir(o.stateDir, 0o700); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	path := filepath.Join(b.work, name+".conf")
	return path, writeRootFile(path, renderConfig(o))
}

// stateDir is the limit state directory of the config name.
func (b *bench) stateDir(name string) string { return filepath.Join(b.work, name+"-state") }

// writeStacks writes the configs, the curl baseline's files and every
// service but the Go module's.
func (b *bench) writeStacks() error {
	httpO, httpsO, bigO := generous, generous, generous
	httpO.url = b.gw.httpURL
	httpsO.url, httpsO.caFile = b.gw.httpsURL, b.gw.caFile
	bigO.url, bigO.caFile = b.gw.httpsURL, b.gw.caFile
	bigO.bigNumbers, bigO.bigNetworks = bigNumbers, bigNetworks
	services := map[string][]string{
		svcPermit:   {"pam_permit.so"},
		svcExecTrue: {"pam_exec.so /bin/true"},
	}
	for _, c := range []struct {
		svc string
		o   configOptions
	}{{svcSMSHTTP, httpO}, {svcSMSHTTPS, httpsO}, {svcSMSBig, bigO}} {
		path, err := b.writeConfig(c.svc, c.o)
		if err != nil {
			return err
		}
		services[c.svc] = []string{b.moduleLine(path)}
	}
	for svc, tls := range map[string]string{svcCurlHTTP: "", svcCurlHTTPS: "--cacert " + b.gw.caFile} {
		lines, err := b.curlBaseline(svc, tls)
		if err != nil {
			return err
		}
		services[svc] = lines
	}
	for svc, lines := range services {
		if err := writeService(b.confdir, svc, lines...); err != nil {
			return err
		}
	}
	return nil
}

// curlBaseline writes the environment file and number table of the pam_exec
// baseline and returns its two stack lines.
func (b *bench) curlBaseline(name, curlTLS string) ([]string, error) {
	state := filepath.Join(b.work, name+"-state")
	if err := os.Mkdir(state, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	url := b.gw.httpURL
	if curlTLS != "" {
		url = b.gw.httpsURL
	}
	numbers := filepath.Join(b.work, "numbers.txt")
	var tab strings.Builder
	for i := range userCount {
		fmt.Fprintf(&tab, "%s %s\n", userName(i), userTo(i))
	}
	if err := writeRootFile(numbers, tab.String()); err != nil {
		return nil, err
	}
	env := filepath.Join(b.work, name+".env")
	content := fmt.Sprintf("URL='%s'\nID='%s'\nPW='%s'\nCURL_TLS='%s'\nNUMBERS='%s'\nSTATE='%s'\n",
		url, gatewayID, gatewayPW, curlTLS, numbers, state)
	if err := writeRootFile(env, content); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.repo, "test/bench/baseline")
	return []string{
		"pam_exec.so quiet /bin/sh " + filepath.Join(dir, "sms-send.sh") + " " + env,
		"pam_exec.so quiet expose_authtok /bin/sh " + filepath.Join(dir, "sms-verify.sh") + " " + env,
	}, nil
}

// interleave runs rounds rounds; in each, one pamclient per variant (in an
// order that rotates) makes n transactions. It returns every client run per
// variant label, and fails if any transaction does not succeed.
func (b *bench) interleave(ctx context.Context, vs []variant, rounds, n int, noASLR bool) (map[string][]clientRun, error) {
	runs := map[string][]clientRun{}
	for r := range rounds {
		for _, v := range rotate(vs, r) {
			run, err := b.runClient(ctx, clientArgs{service: v.service, user: userName(0), rhost: v.rhost, n: n,
				expect: pamSuccess, noASLR: noASLR})
			if err != nil {
				return nil, err
			}
			runs[v.label] = append(runs[v.label], run)
		}
	}
	return runs, nil
}

// allTx flattens the transactions of several runs.
func allTx(runs []clientRun) []tx {
	var out []tx
	for _, r := range runs {
		out = append(out, r.txs...)
	}
	return out
}
