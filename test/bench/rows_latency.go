package main

import (
	"context"
	"fmt"
	"strings"
)

// rowExempt is row 1: one whole transaction (pam_start_confdir,
// pam_authenticate, pam_end) from a trusted client address, where pam_sms
// returns PAM_IGNORE and sends nothing.
func (b *bench) rowExempt(ctx context.Context) error {
	vs := []variant{
		{"permit", "pam_permit.so", svcPermit, rhostTrusted},
		{"exec", "pam_exec.so /bin/true", svcExecTrue, rhostTrusted},
		{"sms", "pam_sms.so, 200 numbers, no ca_file", svcSMSHTTP, rhostTrusted},
		{"smsca", "pam_sms.so, 200 numbers, ca_file", svcSMSHTTPS, rhostTrusted},
		{"big", "pam_sms.so, 10,200 numbers + 1,001 networks, ca_file", svcSMSBig, rhostTrusted},
	}
	before, _ := b.gw.counts()
	runs, err := b.interleave(ctx, vs, b.rounds(10), 20, false)
	if err != nil {
		return err
	}
	if after, _ := b.gw.counts(); after != before {
		return fmt.Errorf("bench: row 1: the exempt path sent %d SMS", after-before)
	}
	sums := map[string]summary{}
	for i, v := range vs {
		var cpu []float64
		for _, r := range runs[v.label] {
			cpu = append(cpu, msOf(r.childCPU)/float64(len(r.txs)))
		}
		b.add(msResult(fmt.Sprintf("1%c", 'i'+i), "CPU of the login's child processes: "+v.label, summarize(cpu)))
		b.figs["exemptcpu."+v.key] = summarize(cpu).med
		txs := allTx(runs[v.label])
		for _, t := range txs {
			if t.prompts != 0 {
				return fmt.Errorf("bench: row 1: %s prompted on the exempt path", v.label)
			}
		}
		sums[v.label] = summarize(totals(txs))
		b.figs["exempt."+v.key], b.figs["exempt."+v.key+"min"] = sums[v.label].med, sums[v.label].min
		b.add(msResult(fmt.Sprintf("1%c", 'a'+i), "exempt login: "+v.label, sums[v.label]))
	}
	permit := sums[vs[0].label].med
	for i, v := range vs[2:] {
		d := sums[v.label].med - permit
		r := result{row: fmt.Sprintf("1%c", 'f'+i), what: "pam_sms minus pam_permit (" + strings.TrimPrefix(v.label, "pam_sms.so, ") + ")",
			med: fmtMs(d), target: "<= 5 ms"}
		r.verdict = verdict(d <= 5, fmt.Sprintf("%s over", fmtMs(d-5)))
		b.add(r)
	}
	return nil
}

// rowChallenge gives rows 2 and 3: logins from outside the trusted networks
// that receive the code at the fake gateway and answer it.
func (b *bench) rowChallenge(ctx context.Context) error {
	vs := []variant{
		{"http", "pam_sms, HTTP", svcSMSHTTP, rhostOutside},
		{"https", "pam_sms, HTTPS", svcSMSHTTPS, rhostOutside},
		{"big", "pam_sms, HTTPS, 10,200-number config", svcSMSBig, rhostOutside},
		{"curlhttp", "pam_exec + curl script, HTTP", svcCurlHTTP, rhostOutside},
		{"curlhttps", "pam_exec + curl script, HTTPS", svcCurlHTTPS, rhostOutside},
	}
	runs, err := b.interleave(ctx, vs, b.rounds(10), 8, false)
	if err != nil {
		return err
	}
	disp, total, cpu := map[string]summary{}, map[string]summary{}, map[string]summary{}
	for _, v := range vs {
		var c []float64
		for _, r := range runs[v.label] {
			c = append(c, msOf(r.childCPU)/float64(len(r.txs)))
		}
		cpu[v.label] = summarize(c)
		txs := allTx(runs[v.label])
		var d []float64
		for _, t := range txs {
			if t.recv == 0 || t.prompts == 0 {
				return fmt.Errorf("bench: row 2: %s: a login succeeded without SMS or prompt", v.label)
			}
			d = append(d, msOf(t.dispatch()))
		}
		disp[v.label], total[v.label] = summarize(d), summarize(totals(txs))
		b.figs["disp."+v.key], b.figs["total."+v.key] = disp[v.label].med, total[v.label].med
		b.figs["cpu."+v.key] = cpu[v.label].med
	}
	for i, v := range vs {
		b.add(msResult(fmt.Sprintf("2%c", 'a'+i), "dispatch: "+v.label, disp[v.label]))
	}
	for i, v := range vs {
		b.add(msResult(fmt.Sprintf("3%c", 'a'+i), "full login: "+v.label, total[v.label]))
	}
	for i, v := range vs {
		b.add(msResult(fmt.Sprintf("3%c", 'h'+i), "CPU of the login's child processes: "+v.label, cpu[v.label]))
	}
	b.challengeTargets(vs, disp, total)
	return nil
}

// challengeTargets adds the verdicts of rows 2 and 3: pam_sms over HTTP and
// HTTPS against 15 ms and against the script with the same protocol.
func (b *bench) challengeTargets(vs []variant, disp, total map[string]summary) {
	pairs := []struct{ sms, curl variant }{{vs[0], vs[3]}, {vs[1], vs[4]}}
	for i, p := range pairs {
		d, dc := disp[p.sms.label].med, disp[p.curl.label].med
		r := result{row: fmt.Sprintf("2%c", 'f'+i), what: "dispatch target: " + p.sms.label,
			med: fmtMs(d), target: "< 15 ms and < script (" + fmtMs(dc) + ")"}
		switch {
		case d >= 15:
			r.verdict = fmt.Sprintf("MISSED: by %s", fmtMs(d-15))
		case d >= dc:
			r.verdict = fmt.Sprintf("MISSED: slower than the script by %s", fmtMs(d-dc))
		default:
			r.verdict = fmt.Sprintf("met (%.1fx faster than the script)", dc/d)
		}
		b.add(r)
	}
	for i, p := range pairs {
		t, tc := total[p.sms.label].med, total[p.curl.label].med
		r := result{row: fmt.Sprintf("3%c", 'f'+i), what: "full login target: " + p.sms.label,
			med: fmtMs(t), target: "< script (" + fmtMs(tc) + ")"}
		r.verdict = verdict(t < tc, fmt.Sprintf("slower than the script by %s", fmtMs(t-tc)))
		if t < tc {
			r.verdict = fmt.Sprintf("met (%.1fx faster than the script)", tc/t)
		}
		b.add(r)
	}
}

func totals(txs []tx) []float64 {
	out := make([]float64, len(txs))
	for i, t := range txs {
		out[i] = msOf(t.total())
	}
	return out
}
