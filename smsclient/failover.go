package smsclient

import (
	"context"
	"fmt"
	"time"
)

// Chain sends one message through a list of gateways: the first, then each
// failover in order while the one tried did not send (see FailOver). Every
// gateway gets the same text, so at most one code is valid whichever
// delivered.
type Chain struct {
	clients     []*Client
	onRateLimit bool
	total       time.Duration
}

// Attempt is one gateway's part of a chain send.
type Attempt struct {
	Gateway int // position in the chain: 0 is the first ([gateway])
	Result
	Took time.Duration
	// Reason says why the chain went on, or stopped, after a result
	// that is not Sent; "" after Sent. For the log line.
	Reason string
}

// NewChain builds a client for each gateway, in the order they are tried.
// With onRateLimit a 429 or a reply matching RateLimited goes on to the next
// gateway too.
func NewChain(cfgs []Config, onRateLimit bool) (*Chain, error) {
	ch := &Chain{onRateLimit: onRateLimit}
	for i, cfg := range cfgs {
		c, err := New(cfg)
		if err != nil {
			return nil, fmt.Errorf("gateway %d: %w", i, err)
		}
		ch.clients = append(ch.clients, c)
		ch.total += cfg.Timeout
	}
	if len(ch.clients) == 0 {
		return nil, fmt.Errorf("smsclient: no gateway")
	}
	return ch, nil
}

// Timeout is the bound of a whole Send: the timeouts of every gateway
// added up.
func (ch *Chain) Timeout() time.Duration { return ch.total }

// Send tries the gateways in order and returns every attempt made; the last
// one is the outcome: Sent, or the failure that ended the chain. Each
// attempt is bounded by its gateway's timeout and the whole send by their
// sum (and ctx). A refused connection is retried only at the last gateway:
// before it, the next gateway is the better retry.
func (ch *Chain) Send(ctx context.Context, to Number, text string) []Attempt {
	ctx, cancel := context.WithTimeout(ctx, ch.total)
	defer cancel()
	out := make([]Attempt, 0, len(ch.clients))
	for i, c := range ch.clients {
		retries := 0
		if i == len(ch.clients)-1 {
			retries = c.retries
		}
		start := time.Now()
		r := c.send(ctx, to, text, retries)
		next, reason := FailOver(r, ch.onRateLimit)
		out = append(out, Attempt{Gateway: i, Result: r, Took: time.Since(start), Reason: reason})
		if !next || ctx.Err() != nil {
			break
		}
	}
	return out
}

// FailOver reports whether a send whose result is r leaves the message to
// the next gateway, and says why in words.
//
// It goes on when the gateway did not send: no connection (refused, DNS,
// TLS handshake), no answer within the timeout, a 5xx answer, or an answer
// that is neither sent nor rate-limited (a 2xx whose body does not match
// success, a 3xx). Never after Sent; never after another 4xx, which is the
// gateway's definite refusal of this request (a bad number or credentials
// that failing over would hide); after a 429 or a rate_limited reply only
// with onRateLimit.
//
// No answer after the request was written is ambiguous: the gateway may
// have sent the SMS. The chain goes on all the same: the next gateway
// sends the same code, so a second SMS grants nothing, and stopping would
// deny the login (or, with fail_mode "safe", let it pass without a code)
// whenever a gateway hangs, which is what failover is for. The reason says
// so, for the administrator who sees two SMS.
func FailOver(r Result, onRateLimit bool) (bool, string) {
	switch {
	case r.Class == Sent:
		return false, ""
	case r.Class == Unreachable && r.Written:
		return true, "no answer after the request was sent (the gateway may have sent the SMS)"
	case r.Class == Unreachable:
		return true, "unreachable"
	case r.Class == RateLimited && onRateLimit:
		return true, "rate-limited (failover_on_rate_limit)"
	case r.Class == RateLimited:
		return false, "rate-limited (no failover: failover_on_rate_limit is off)"
	case r.Status == 0:
		return false, "no request made"
	case r.Status >= 500:
		return true, fmt.Sprintf("HTTP %d", r.Status)
	case r.Status >= 400:
		return false, fmt.Sprintf("HTTP %d: the gateway refused the request (no failover on 4xx)", r.Status)
	}
	return true, fmt.Sprintf("HTTP %d, the reply matches neither success nor rate_limited", r.Status)
}
