package smsclient

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFailOver: which results leave the SMS to the next gateway.
func TestFailOver(t *testing.T) {
	tests := []struct {
		name        string
		r           Result
		onRateLimit bool
		want        bool
		reason      string
	}{
		{"sent", Result{Class: Sent, Status: 200, Written: true}, true, false, ""},
		{"refused", Result{Class: Unreachable}, false, true, "unreachable"},
		{"no answer after the request", Result{Class: Unreachable, Written: true}, false, true, "no answer after the request was sent"},
		{"500", Result{Class: Failed, Status: 500, Written: true}, false, true, "HTTP 500"},
		{"503", Result{Class: Failed, Status: 503, Written: true}, false, true, "HTTP 503"},
		{"200 garbage", Result{Class: Failed, Status: 200, Written: true}, false, true, "neither success nor rate_limited"},
		{"302", Result{Class: Failed, Status: 302, Written: true}, false, true, "HTTP 302"},
		{"400", Result{Class: Failed, Status: 400, Written: true}, true, false, "no failover on 4xx"},
		{"401", Result{Class: Failed, Status: 401, Written: true}, true, false, "no failover on 4xx"},
		{"429 without opt-in", Result{Class: RateLimited, Status: 429, Written: true}, false, false, "failover_on_rate_limit is off"},
		{"429 with opt-in", Result{Class: RateLimited, Status: 429, Written: true}, true, true, "rate-limited"},
		{"rate_limited body with opt-in", Result{Class: RateLimited, Status: 200, Written: true}, true, true, "rate-limited"},
		{"invalid number: no request", Result{Class: Failed, Err: errors.New("x")}, true, false, "no request made"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := FailOver(tt.r, tt.onRateLimit)
			if got != tt.want || !strings.Contains(reason, tt.reason) {
				t.Errorf("FailOver = %v, %q; want %v, a reason with %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

// blackHole accepts connections and never reads nor answers; it returns
// the address.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestChainSend: a chain of two gateways; the second gets the SMS exactly
// when the first did not send, with the same text.
func TestChainSend(t *testing.T) {
	tests := []struct {
		name        string
		first       string // "refused", "blackhole", "tls-blackhole" or "STATUS BODY"
		onRateLimit bool
		rateLimited string
		wantFirst   Class
		wantSecond  int // requests at the second gateway
		wantWritten bool
	}{
		{"first refuses", "refused", false, "", Unreachable, 1, false},
		{"first answers 500", "500 busy", false, "", Failed, 1, true},
		{"first answers garbage", "200 <html>maintenance</html>", false, "", Failed, 1, true},
		{"first sends", "200 OK", false, "", Sent, 0, true},
		{"first answers 400", "400 bad number", true, "", Failed, 0, true},
		{"first 429 without opt-in", "429 slow down", false, "", RateLimited, 0, true},
		{"first 429 with opt-in", "429 slow down", true, "", RateLimited, 1, true},
		{"first rate_limited body with opt-in", "200 ERR quota", true, "^ERR quota", RateLimited, 1, true},
		{"first black-holed", "blackhole", false, "", Unreachable, 1, true},
		{"first TLS black-holed", "tls-blackhole", false, "", Unreachable, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var firstURL string
			var first *gateway
			switch tt.first {
			case "refused":
				firstURL = "http://" + closedAddr(t) + "/send"
			case "blackhole":
				firstURL = "http://" + blackHole(t) + "/send"
			case "tls-blackhole":
				firstURL = "https://" + blackHole(t) + "/send"
			default:
				status, body, _ := strings.Cut(tt.first, " ")
				code := map[string]int{"200": 200, "400": 400, "429": 429, "500": 500}[status]
				first = newGateway(t, false, answer(code, body))
				firstURL = first.srv.URL + "/send"
			}
			second := newGateway(t, false, answer(200, "OK"))
			c1, c2 := testConfig(firstURL), testConfig(second.srv.URL+"/send")
			c1.Timeout = time.Second
			if tt.rateLimited != "" {
				c1.RateLimited = regexp.MustCompile(tt.rateLimited)
			}
			ch, err := NewChain([]Config{c1, c2}, tt.onRateLimit)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			att := ch.Send(context.Background(), testNumber(t), testText)
			took := time.Since(start)
			if att[0].Class != tt.wantFirst || att[0].Written != tt.wantWritten {
				t.Errorf("first attempt %v written %v (%q, err %v), want %v written %v",
					att[0].Class, att[0].Written, att[0].Reason, att[0].Err, tt.wantFirst, tt.wantWritten)
			}
			if got := len(second.requests()); got != tt.wantSecond {
				t.Fatalf("second gateway got %d requests, want %d", got, tt.wantSecond)
			}
			if len(att) != 1+tt.wantSecond {
				t.Errorf("%d attempts, want %d", len(att), 1+tt.wantSecond)
			}
			if tt.wantSecond == 1 {
				if last := att[len(att)-1]; last.Class != Sent || last.Gateway != 1 {
					t.Errorf("last attempt: gateway %d %v, want 1 sent", last.Gateway, last.Class)
				}
				if got := second.requests()[0].Form.Get("text"); got != testText {
					t.Errorf("second gateway got text %q, want the same %q", got, testText)
				}
			}
			if first != nil && len(first.requests()) != 1 {
				t.Errorf("first gateway got %d requests, want 1", len(first.requests()))
			}
			// A refused first gateway is not retried (that alone would take
			// 100+200+400 ms): the second gateway is.
			if tt.first == "refused" && took > 600*time.Millisecond {
				t.Errorf("failover after a refused connection took %v", took)
			}
			if took > ch.Timeout() {
				t.Errorf("send took %v, over the bound %v", took, ch.Timeout())
			}
		})
	}
}

// Every gateway black-holed: the whole send ends within the sum of the
// timeouts, each gateway having had its own.
func TestChainBound(t *testing.T) {
	var cfgs []Config
	for range 3 {
		c := testConfig("http://" + blackHole(t) + "/send")
		c.Timeout = 300 * time.Millisecond
		cfgs = append(cfgs, c)
	}
	ch, err := NewChain(cfgs, false)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Timeout() != 900*time.Millisecond {
		t.Errorf("Timeout = %v", ch.Timeout())
	}
	start := time.Now()
	att := ch.Send(context.Background(), testNumber(t), testText)
	took := time.Since(start)
	if len(att) != 3 {
		t.Fatalf("%d attempts, want 3", len(att))
	}
	// Each gateway but the last has its own timeout in full; the last one
	// ends with the whole send's bound, less what the ones before it took
	// beyond their timeouts.
	for _, a := range att {
		if a.Class != Unreachable || a.Gateway < 2 && a.Took < 250*time.Millisecond {
			t.Errorf("attempt %d: %v after %v", a.Gateway, a.Class, a.Took)
		}
	}
	if took < 850*time.Millisecond || took > 900*time.Millisecond+time.Second {
		t.Errorf("send took %v, want about the sum of the timeouts (900ms)", took)
	}
}

// The caller's context bounds the chain too: a canceled login stops it.
func TestChainContext(t *testing.T) {
	c1 := testConfig("http://" + blackHole(t) + "/send")
	second := newGateway(t, false, answer(200, "OK"))
	ch, err := NewChain([]Config{c1, testConfig(second.srv.URL)}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	att := ch.Send(ctx, testNumber(t), testText)
	if len(att) != 1 || len(second.requests()) != 0 {
		t.Errorf("%d attempts, %d requests at the second gateway after the context ended", len(att), len(second.requests()))
	}
}

func TestNewChainErrors(t *testing.T) {
	bad := testConfig("http://gw.example.org/send") // http to a remote host
	_, err := NewChain([]Config{testConfig("http://127.0.0.1:1/send"), bad}, false)
	if err == nil || !strings.HasPrefix(err.Error(), "gateway 1: ") {
		t.Errorf("NewChain error %v, want one naming gateway 1", err)
	}
	if _, err := NewChain(nil, false); err == nil {
		t.Error("NewChain with no gateway succeeded")
	}
}
