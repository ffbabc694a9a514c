package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// Row 9 (issue 12): failover. The bench gateway as [[gateway.failover]]
// behind a first gateway that is down, beside the same gateway alone.
const (
	// failoverBlackHoleTimeout is the black-holed first gateway's
	// timeout: the bound of its attempt.
	failoverBlackHoleTimeout = "1s"
	failoverBlackHoleMs      = 1000.0
	// failoverRefusedTarget bounds what a refusing first gateway may add:
	// a connect to a closed port and no retry before the failover.
	failoverRefusedTarget = 50.0
	// failoverBlackHoleSlack is what a black-holed first gateway may add
	// beyond its timeout.
	failoverBlackHoleSlack = 100.0
)

// blackHole accepts TCP connections on 127.0.0.1 and never reads from them
// nor answers: a hung gateway. It counts the connections.
type blackHole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	n     atomic.Int64
}

func startBlackHole() (*blackHole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: black hole: %w", err)
	}
	h := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.n.Add(1)
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

func (h *blackHole) url() string { return "http://" + h.ln.Addr().String() + "/send" }

func (h *blackHole) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/send", nil
}

// failoverStack writes a config whose [gateway] is firstURL with timeout
// and whose one [[gateway.failover]] is the bench gateway over HTTP, and a
// service using it.
func (b *bench) failoverStack(svc, firstURL, timeout string) error {
	o := generous
	o.url = firstURL
	config, err := b.writeConfigFrom(svc, o, func(c string) string {
		c = strings.Replace(c, "timeout = \"10s\"\n", fmt.Sprintf("timeout = %q\n", timeout), 1)
		table := fmt.Sprintf("[[gateway.failover]]\nurl = %q\nmethod = \"POST\"\nid = %q\npassword = %q\ntimeout = \"10s\"\n",
			b.gw.httpURL, gatewayID, gatewayPW)
		return strings.Replace(c, "\n[limits]\n", "\n"+table+"\n[limits]\n", 1)
	})
	if err != nil {
		return err
	}
	return writeService(b.confdir, svc, b.moduleLine(config))
}

// rowFailover is row 9: full logins that receive the code from the failover
// gateway while the first refuses connections or is black-holed, beside the
// standard config (the same gateway alone), interleaved: the time from
// pam_authenticate to the SMS at the gateway, and the whole login.
func (b *bench) rowFailover(ctx context.Context) error {
	hole, err := startBlackHole()
	if err != nil {
		return err
	}
	defer hole.close()
	closed, err := closedURL()
	if err != nil {
		return err
	}
	if err := b.failoverStack("sms-fo-refused", closed, "10s"); err != nil {
		return err
	}
	if err := b.failoverStack("sms-fo-hole", hole.url(), failoverBlackHoleTimeout); err != nil {
		return err
	}
	vs := []variant{
		{"single", "one healthy gateway (HTTP)", svcSMSHTTP, rhostOutside},
		{"refused", "first gateway refuses connections, failover delivers", "sms-fo-refused", rhostOutside},
		{"hole", "first gateway black-holed (timeout " + failoverBlackHoleTimeout + "), failover delivers", "sms-fo-hole", rhostOutside},
	}
	const perClient = 3
	rounds := b.rounds(10)
	before, _ := b.gw.counts()
	runs, err := b.interleave(ctx, vs, rounds, perClient, false)
	if err != nil {
		return err
	}
	want := int64(rounds * perClient)
	if after, _ := b.gw.counts(); after-before != len(vs)*rounds*perClient {
		return fmt.Errorf("bench: row 9: the gateway received %d SMS for %d logins", after-before, len(vs)*rounds*perClient)
	}
	if got := hole.n.Load(); got != want {
		return fmt.Errorf("bench: row 9: the black hole saw %d connections for %d logins", got, want)
	}
	disp, total := map[string]summary{}, map[string]summary{}
	for _, v := range vs {
		txs := allTx(runs[v.label])
		var d []float64
		for _, t := range txs {
			if t.recv == 0 || t.prompts == 0 {
				return fmt.Errorf("bench: row 9: %s: a login succeeded without SMS or prompt", v.label)
			}
			d = append(d, msOf(t.dispatch()))
		}
		disp[v.key], total[v.key] = summarize(d), summarize(totals(txs))
		b.figs["failover.disp."+v.key], b.figs["failover.total."+v.key] = disp[v.key].med, total[v.key].med
	}
	for i, v := range vs {
		b.add(msResult(fmt.Sprintf("9%c", 'a'+i), "time to SMS: "+v.label, disp[v.key]))
	}
	for i, v := range vs {
		b.add(msResult(fmt.Sprintf("9%c", 'd'+i), "full login: "+v.label, total[v.key]))
	}
	single := disp["single"].med
	refused := disp["refused"].med - single
	r := result{row: "9g", what: "time to SMS, refusing first gateway minus one gateway", med: fmtMs(refused),
		target: fmt.Sprintf("< %s (no retry before the failover)", fmtMs(failoverRefusedTarget))}
	r.verdict = verdict(refused < failoverRefusedTarget, fmt.Sprintf("%s over", fmtMs(refused-failoverRefusedTarget)))
	b.add(r)
	hole9 := disp["hole"].med - single
	r = result{row: "9h", what: "time to SMS, black-holed first gateway minus one gateway", med: fmtMs(hole9),
		target: fmt.Sprintf("<= its timeout %s + %s", fmtMs(failoverBlackHoleMs), fmtMs(failoverBlackHoleSlack))}
	r.verdict = verdict(hole9 <= failoverBlackHoleMs+failoverBlackHoleSlack,
		fmt.Sprintf("%s over", fmtMs(hole9-failoverBlackHoleMs-failoverBlackHoleSlack)))
	b.add(r)
	b.figs["failover.extra.refused"], b.figs["failover.extra.hole"] = refused, hole9
	return nil
}

// findFailover writes the finding of row 9.
func (b *bench) findFailover() string {
	f := b.figs
	if !b.has("failover.disp.single", "failover.disp.refused", "failover.disp.hole", "failover.extra.refused",
		"failover.extra.hole", "failover.total.single", "failover.total.hole") {
		return ""
	}
	return fmt.Sprintf("Failover: with the first gateway refusing connections, the code reached the failover "+
		"gateway %s after pam_authenticate began (9b), %s more than with the gateway alone (9a: %s; 9g): a refused "+
		"connection is not retried when a failover follows. With the first gateway black-holed (it accepts the "+
		"connection and never answers) the login waits out that gateway's timeout (%s) and the failover then "+
		"delivers: %s to the SMS (9c), %s more than alone (9h); the whole login took %s against %s (9f, 9d). "+
		"The wait is the first gateway's timeout, which is what an administrator tunes.",
		fmtMs(f["failover.disp.refused"]), fmtMs(f["failover.extra.refused"]), fmtMs(f["failover.disp.single"]),
		failoverBlackHoleTimeout, fmtMs(f["failover.disp.hole"]), fmtMs(f["failover.extra.hole"]),
		fmtMs(f["failover.total.hole"]), fmtMs(f["failover.total.single"]))
}

// failoverMethod describes row 9 in the method section.
const failoverMethod = "Row 9, failover (issue 12). Two configs like the standard bench config over HTTP but with another\n" +
	"`[gateway]` and the bench gateway as their one `[[gateway.failover]]` (its own url, id, password and a\n" +
	"10s timeout): in one the first gateway is a closed port on 127.0.0.1 (connection refused), in the other\n" +
	"a listener in pambench that accepts connections and never reads nor answers (black-holed), with\n" +
	"timeout = \"" + failoverBlackHoleTimeout + "\". Beside them the standard config (9a, the same gateway alone). 10 rounds of one\n" +
	"pamclient per stack in rotating order making 3 full logins from 198.51.100.7 that receive the code at\n" +
	"the bench gateway and answer it; every login must get its SMS there and the black hole must have seen\n" +
	"one connection per login of its stack (checked). 9a-9c run from before pam_authenticate to the\n" +
	"gateway's stamp, 9d-9f are the whole transaction, 9g and 9h the difference of the medians to 9a.\n\n"
