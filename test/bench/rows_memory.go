package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// rowMemory is row 4: the peak RSS of pamclient making one transaction, with
// each stack. pam_sms's helper is a separate process: its peak RSS is the
// client's largest child and is reported on its own.
func (b *bench) rowMemory(ctx context.Context) error {
	goSO, err := buildGoModule(b.repo, filepath.Join(b.work, "gomodule"), b.goTool)
	if err != nil {
		return err
	}
	if err := writeService(b.confdir, svcGo, goSO); err != nil {
		return err
	}
	vs := []variant{
		{"permit", "pam_permit.so", svcPermit, rhostTrusted},
		{"exec", "pam_exec.so /bin/true", svcExecTrue, rhostTrusted},
		{"exempt", "pam_sms.so, exempt path", svcSMSHTTPS, rhostTrusted},
		{"challenge", "pam_sms.so, full challenge (HTTPS)", svcSMSHTTPS, rhostOutside},
		{"go", "trivial Go c-shared module", svcGo, rhostTrusted},
		{"curl", "pam_exec + curl script (HTTPS)", svcCurlHTTPS, rhostOutside},
	}
	runs, err := b.interleave(ctx, vs, b.rounds(12), 1, true)
	if err != nil {
		return err
	}
	self, child := map[string]summary{}, map[string]summary{}
	for _, v := range vs {
		var s, c []float64
		for _, r := range runs[v.label] {
			s, c = append(s, float64(r.rssSelf)), append(c, float64(r.rssChild))
		}
		self[v.label], child[v.label] = summarize(s), summarize(c)
		b.figs["rss."+v.key], b.figs["childrss."+v.key] = self[v.label].med, child[v.label].med
	}
	base := self[vs[0].label].med
	for i, v := range vs {
		r := kibResult(fmt.Sprintf("4%c", 'a'+i), "client peak RSS: "+v.label, self[v.label])
		if i > 0 {
			add := self[v.label].med - base
			r.what += fmt.Sprintf(" (adds %s)", fmtKiB(add))
			if i == 2 || i == 3 {
				r.target = "adds < 256 KiB"
				r.verdict = verdict(add < 256, fmt.Sprintf("%s over", fmtKiB(add-256)))
			}
		}
		b.add(r)
	}
	b.add(kibResult("4g", "helper's own peak RSS (separate process), full challenge", child[vs[3].label]))
	b.add(kibResult("4h", "largest child of the curl script (sh or curl)", child[vs[5].label]))
	return nil
}
