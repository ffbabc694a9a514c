package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
)

// failoverTable is a [[gateway.failover]] table for url in the CLI tests'
// config.
func failoverTable(url string) string {
	return fmt.Sprintf("[[gateway.failover]]\nurl = %q\nid = \"backup-id\"\npassword = \"backup-pw-77\"\ntimeout = \"5s\"\n", url)
}

// send-test --gateway N sends through exactly gateway N: 0 is [gateway],
// 1 the first failover; no failover happens, and a number out of range
// sends nothing.
func TestSendTestGateway(t *testing.T) {
	requireRoot(t)
	first := startGateway(t, "100 OK", false)
	second := startGateway(t, "100 OK", false)
	path, _ := writeConfig(t, configOpts{url: first.url(), gateway: failoverTable(second.url())})

	r := run(t, "send-test", "--config", path, "--gateway", "1", "--json", "root")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep sendReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(strings.TrimSuffix(second.url(), "/send"), "http://")
	if rep.GatewayIndex != 1 || rep.Gateway != host || rep.Class != "sent" {
		t.Errorf("report %+v, want gateway 1 (%s) sent", rep, host)
	}
	if form := second.next(t); form.Get("id") != "backup-id" || form.Get("pw") != "backup-pw-77" {
		t.Errorf("second gateway got %v, want its own credentials", form)
	}
	if first.count() != 0 {
		t.Errorf("[gateway] got %d requests with --gateway 1", first.count())
	}
	if strings.Contains(r.stdout, "backup-pw-77") {
		t.Errorf("the failover's password is shown:\n%s", r.stdout)
	}

	// A failover answering garbage: send-test reports it, and does not
	// go on to another gateway.
	second.reply = "maintenance"
	r = run(t, "send-test", "--config", path, "--gateway", "1", "root")
	if r.code != exitFailed || !strings.Contains(r.stdout, "gateway:  1 ("+host+")") ||
		!strings.Contains(r.stdout, "why:      the reply does not match gateway.failover[1].success") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	second.next(t)
	if first.count() != 0 {
		t.Errorf("send-test --gateway 1 failed over to [gateway]")
	}

	r = run(t, "send-test", "--config", path, "root")
	if r.code != 0 || first.count() != 1 || second.count() != 2 {
		t.Errorf("default: exit %d, requests %d and %d, want [gateway] only", r.code, first.count(), second.count())
	}
	for _, n := range []string{"2", "-1"} {
		r = run(t, "send-test", "--config", path, "--gateway", n, "root")
		if r.code != exitProblem || !strings.Contains(r.stderr, "gateways 0 to 1 ([gateway] and 1 [[gateway.failover]] tables)") {
			t.Errorf("--gateway %s: exit %d, stderr %q", n, r.code, r.stderr)
		}
	}
	if first.count() != 1 || second.count() != 2 {
		t.Errorf("an out-of-range --gateway sent something")
	}
}

// doctor checks every gateway and names the one that is down: a warning
// while another answers, a failure when none does.
func TestDoctorGateways(t *testing.T) {
	up := startGateway(t, "100 OK", false)
	down := "http://127.0.0.1:1/send"
	d := &doctor{ctx: context.Background()}
	tests := []struct {
		name  string
		urls  []string
		want  []string // status per gateway
		check []string // prefix of each check
	}{
		{"first down", []string{down, up.url()}, []string{statusWarn, statusOK},
			[]string{"gateway http://127.0.0.1:1", "gateway failover 1 " + strings.TrimSuffix(up.url(), "/send")}},
		{"failover down", []string{up.url(), down}, []string{statusOK, statusWarn},
			[]string{"gateway " + strings.TrimSuffix(up.url(), "/send"), "gateway failover 1 http://127.0.0.1:1"}},
		{"all down", []string{down, down}, []string{statusFail, statusFail},
			[]string{"gateway http://127.0.0.1:1", "gateway failover 1 http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fmt.Sprintf("[gateway]\nurl = %q\ntimeout = \"2s\"\n", tt.urls[0])
			for _, u := range tt.urls[1:] {
				body += fmt.Sprintf("[[gateway.failover]]\nurl = %q\ntimeout = \"2s\"\n", u)
			}
			cfg, err := conf.Parse("t.conf", []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			items := d.gateways(cfg)
			if len(items) != len(tt.want) {
				t.Fatalf("%d items, want %d", len(items), len(tt.want))
			}
			for i, it := range items {
				if it.Status != tt.want[i] || it.Check != tt.check[i] {
					t.Errorf("item %d: %s %q: %s, want %s %q", i, it.Status, it.Check, it.Message, tt.want[i], tt.check[i])
				}
				if it.Status == statusWarn && !strings.Contains(it.Message, "logins fail over to gateway") {
					t.Errorf("item %d: %s", i, it.Message)
				}
				if it.Status == statusFail && !strings.Contains(it.Message, "when every gateway is down, logins through pam_sms are denied") {
					t.Errorf("item %d: %s", i, it.Message)
				}
			}
		})
	}
}

// pam-sms check --json reports a bad failover table with file, line and key.
func TestCheckFailoverProblem(t *testing.T) {
	requireRoot(t)
	path, _ := writeConfig(t, configOpts{gateway: "[[gateway.failover]]\nurl = \"http://gw.example.org/send\"\ntimeot = \"5s\"\n"})
	r := run(t, "check", "--config", path, "--json")
	var rep struct {
		Problems []struct {
			File, Key, Message string
			Line               int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	want := map[string]string{
		"gateway.failover[1].url":    "http is allowed only to a loopback address",
		"gateway.failover[1].timeot": "unknown key (did you mean timeout?)",
	}
	for _, p := range rep.Problems {
		if w, ok := want[p.Key]; ok && strings.Contains(p.Message, w) && p.File == path && p.Line > 0 {
			delete(want, p.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing problems %v in %s", want, r.stdout)
	}
	if r.code == 0 {
		t.Errorf("check passed a bad failover table")
	}
}
