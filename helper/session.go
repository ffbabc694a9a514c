package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
	"github.com/pam-sms/pam_sms/smsclient"
	"github.com/pam-sms/pam_sms/usage"
)

// answerGrace is how long after a code expires the helper still waits for an
// answer, so that a late answer gets "expired" rather than silence.
const answerGrace = 30 * time.Second

// session is one authentication: one request from the module, one result.
type session struct {
	conn       *conn
	req        policy.Request
	log        *logger
	configPath string
	root       bool                                 // effective uid 0: the module runs in a root process
	lookup     func(string) (policy.Account, error) // policy.LookupAccount; tests fake NSS
	account    string                               // the name NSS resolved req.User to, once known
	// silent: the application passed PAM_SILENT, so the module shows no
	// info or error line; the prompts say what the user must know.
	silent  bool
	aborted bool // the module hung up while the user was asked: Ctrl-C
}

// who returns the key=value pairs that start every decision line: the name
// asked for and, when NSS resolved it to another spelling, the account's.
func (s *session) who(kv ...any) []any {
	w := []any{"user", s.req.User}
	if s.account != "" && s.account != s.req.User {
		w = append(w, "account", s.account)
	}
	return append(append(w, "rhost", s.req.Rhost, "service", s.req.Service), kv...)
}

// serve decides and, if needed, runs the challenge. It returns the PAM code.
func (s *session) serve() int {
	cfg, err := conf.Load(s.configPath)
	if err != nil {
		s.log.err("denied: configuration error", s.who("error", configProblems(err))...)
		s.tell(texts["en"].Internal)
		return pamSystemErr
	}
	msgs := textsFor(cfg.Code.Language)
	acct, err := s.lookup(s.req.User)
	if errors.Is(err, policy.ErrUnknownUser) {
		s.log.info("denied: user unknown", s.who()...)
		return pamUserUnknown
	}
	if err != nil {
		s.log.err("denied: user lookup failed", s.who("error", err)...)
		s.tell(msgs.Internal)
		return pamSystemErr
	}
	s.account = acct.Name
	if err := checkCaller(acct, s.root); err != nil {
		s.log.err("denied: "+err.Error(), s.who()...)
		return pamAuthErr
	}

	// A caller without root chose the rhost, so a claimed address in
	// trusted_networks exempts it. That is left as it is: such a caller can
	// only authenticate itself (checkCaller), and the PAM_IGNORE goes back to a
	// process it owns anyway (its screen locker, or its own run by hand), which
	// it could as well kill or trace. What it learns is whether an address is
	// trusted, which is not a secret worth a different policy for non-root
	// runs than pam-sms explain shows.
	// The number sources (numbers files, later the directory) are asked
	// only for a user who must enter a code: an exempt login never opens
	// them. One that cannot be used denies, as a broken config does.
	d, err := policy.DecideLookup(context.Background(), cfg, s.req, acct, numsource.Chain(cfg))
	if errors.Is(err, numsource.ErrDirectoryUnavailable) {
		// Like the gateway: a directory that does not answer follows
		// fail_mode. Any other directory error (bind refused, certificate
		// not verified) is a broken setup and denies below.
		if cfg.Policy.FailMode == conf.FailSafe {
			s.log.warn("directory unavailable; fail_mode is \"safe\": login passes without SMS", s.who("error", err)...)
			return pamIgnore
		}
		s.log.err("denied: directory unavailable", s.who("error", err)...)
		s.tell(msgs.DirectoryDown)
		return pamAuthinfoUnavail
	}
	if err != nil {
		s.log.err("denied: number source unusable", s.who("error", err)...)
		s.tell(msgs.Internal)
		return pamSystemErr
	}
	if d.Outcome == policy.Challenge && strings.HasPrefix(d.Source, numsource.CacheWhere) {
		s.log.warn(numsource.CacheWhere, s.who("number", d.Number, "source", d.Source)...)
	}
	switch d.Outcome {
	case policy.Exempt:
		s.log.info("exempt", s.who("reason", d.Reason)...)
		return pamIgnore
	case policy.IgnoreNoNumber:
		s.log.warn("not enforced", s.who("reason", d.Reason)...)
		return pamIgnore
	case policy.DenyNoNumber:
		s.log.warn("denied", s.who("reason", d.Reason)...)
		s.tell(msgs.NoNumber)
		return pamAuthErr
	}
	s.log.dbg("number found", s.who("number", d.Number, "source", d.Source)...)
	return s.challenge(cfg, d.Number, msgs)
}

// maxLoggedProblems bounds the configuration problems one log line names. A
// config can hold tens of thousands (every bad line of a 1 MiB file is one),
// which joined would make a syslog line of megabytes on every login; pam-sms
// check lists them all.
const maxLoggedProblems = 10

// configProblems renders a configuration error for the one log line that
// denies: its first maxLoggedProblems problems joined by "; ", then how many
// were left out. Only the problems shown are rendered.
func configProblems(err error) string {
	var shown []string
	total := 0
	if ce, ok := errors.AsType[*conf.Error](err); ok && len(ce.Problems) > 0 {
		total = len(ce.Problems)
		for _, p := range ce.Problems[:min(total, maxLoggedProblems)] {
			one := &conf.Error{Path: ce.Path, Problems: []conf.Problem{p}}
			shown = append(shown, one.Error())
		}
	} else {
		lines := strings.Split(err.Error(), "\n")
		total = len(lines)
		shown = lines[:min(total, maxLoggedProblems)]
	}
	s := strings.ReplaceAll(strings.Join(shown, "\n"), "\n", "; ")
	if more := total - len(shown); more > 0 {
		s += fmt.Sprintf("; ... and %d more (pam-sms check lists them all)", more)
	}
	return s
}

// checkCaller enforces the unix_chkpwd rule: without root, a caller may only
// authenticate itself, so the setgid helper cannot be used to text others.
func checkCaller(acct policy.Account, root bool) error {
	if root {
		return nil
	}
	if uid := strconv.Itoa(os.Getuid()); acct.UID != uid {
		return fmt.Errorf("caller uid %s may only authenticate itself", uid)
	}
	return nil
}

// limitHost is the per_host key. A caller without root chose the rhost it
// sent: keying its sends on that address would let a local user spend, or
// exhaust, the budget of a real client's host (and so lock that client out).
// Its sends count against its own user and number only.
func (s *session) limitHost() string {
	if !s.root {
		return ""
	}
	return s.req.Rhost
}

// tell shows an error line to the user; a failure here surfaces at the result.
// A silent caller is sent none: the module would drop it, and where a prompt
// follows, the prompt says it instead (see ask). What no prompt follows (the
// gateway is down, a limit is reached) such a user learns from the
// application's own failure message; the log line says why.
func (s *session) tell(text string) {
	if s.silent {
		return
	}
	_ = s.conn.error(text)
}

func (s *session) challenge(cfg *conf.Config, number smsclient.Number, msgs messages) int {
	chain, err := smsclient.NewChain(cfg.GatewayConfigs(), cfg.Gateway.FailoverOnRateLimit)
	if err != nil {
		s.log.err("denied: gateway configuration", s.who("error", err)...)
		s.tell(msgs.Internal)
		return pamSystemErr
	}
	store, err := limits.Open(cfg.Limits.StateDir)
	if err != nil {
		s.log.err("denied: limit state", s.who("error", err)...)
		s.tell(msgs.Internal)
		return pamSystemErr
	}
	defer store.Close()
	resends := cfg.Code.Resends
	for {
		code, sentAt, rc := s.sendCode(cfg, chain, store, number, msgs)
		if code == nil {
			return rc
		}
		rc, resend := s.ask(cfg, code, sentAt, number, msgs, resends > 0)
		clear(code)
		if !resend {
			return rc
		}
		resends--
		s.log.info("resend requested", s.who("number", number)...)
	}
}

// sendCode records the send against the limits, then sends a fresh code
// through the gateways in order (one send for the limits, whichever
// gateway delivers). It returns the code, or nil and the PAM code to return.
func (s *session) sendCode(cfg *conf.Config, chain *smsclient.Chain, store *limits.Store,
	number smsclient.Number, msgs messages) ([]byte, time.Time, int) {
	keys := limits.Keys{User: s.account, Number: number.Digits(), Host: s.limitHost()}
	if err := s.take(cfg, store, keys); err != nil {
		var exceeded *limits.ExceededError
		if errors.As(err, &exceeded) {
			s.record(cfg, usage.RefusedLimit, number, "", 0)
			s.log.warn("denied: limit reached", s.who("limit", exceeded.Limit, "number", number)...)
			s.tell(msgs.Limited)
			return nil, time.Time{}, pamAuthErr
		}
		s.log.err("denied: limit state", s.who("error", err)...)
		s.tell(msgs.Internal)
		return nil, time.Time{}, pamSystemErr
	}
	code := newCode(cfg.Code.Digits)
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	text := cfg.Code.Render(string(code), host, s.req.User)
	ctx, cancel := context.WithTimeout(context.Background(), chain.Timeout())
	defer cancel()
	start := time.Now()
	attempts := chain.Send(ctx, number, text)
	for _, a := range attempts[:len(attempts)-1] {
		s.record(cfg, usage.Failed, number, cfg.GatewayName(a.Gateway), a.Took)
		s.log.warn("gateway failed; trying the next", s.attemptKV(cfg, a, number)...)
	}
	last := attempts[len(attempts)-1]
	if last.Class == smsclient.Sent {
		s.record(cfg, usage.Sent, number, cfg.GatewayName(last.Gateway), last.Took)
		// One info line per SMS, so that log pipelines can count them;
		// without rhost, so that each login keeps one decision line.
		kv := []any{"user", s.req.User}
		if s.account != "" && s.account != s.req.User {
			kv = append(kv, "account", s.account)
		}
		s.log.info("sms sent", append(kv, "number", number, "gateway", cfg.GatewayName(last.Gateway),
			"gateway_index", last.Gateway, "message_id", last.MessageID, "status", last.Status,
			"ms", time.Since(start).Milliseconds())...)
		return code, start, 0
	}
	clear(code)
	s.record(cfg, usage.Failed, number, cfg.GatewayName(last.Gateway), last.Took)
	kv := s.attemptKV(cfg, last, number)
	if cfg.Policy.FailMode == conf.FailSafe {
		s.log.warn("gateway unusable; fail_mode is \"safe\": login passes without SMS", kv...)
		return nil, time.Time{}, pamIgnore
	}
	s.log.err("denied: gateway unusable", kv...)
	s.tell(msgs.gatewayText(last.Class))
	return nil, time.Time{}, pamAuthinfoUnavail
}

// attemptKV describes a failed attempt for its log line: the gateway by
// name and position (never its URL's path or query, which may hold a key),
// the class, the status, the reply's first line, the error, and why the send
// went on to the next gateway or stopped.
func (s *session) attemptKV(cfg *conf.Config, a smsclient.Attempt, number smsclient.Number) []any {
	kv := s.who("number", number, "gateway", cfg.GatewayName(a.Gateway), "gateway_index", a.Gateway,
		"class", a.Class, "status", a.Status, "reply", a.Body)
	if a.Err != nil {
		kv = append(kv, "error", a.Err)
	}
	if len(cfg.Gateway.Failover) > 0 {
		kv = append(kv, "reason", a.Reason)
	}
	return kv
}

// ask prompts until the right code, too many wrong answers, expiry, or an
// empty answer that asks for a resend (when canResend).
func (s *session) ask(cfg *conf.Config, code []byte, sentAt time.Time, number smsclient.Number,
	msgs messages, canResend bool) (rc int, resend bool) {
	expires := sentAt.Add(cfg.Code.Validity)
	prompt := msgs.Prompt
	if s.silent {
		prompt = fmt.Sprintf(msgs.SilentPrompt, number.Masked())
	} else if err := s.conn.info(fmt.Sprintf(msgs.CodeSent, number.Masked())); err != nil {
		s.log.info("denied: conversation ended", s.who("error", err)...)
		return pamAuthErr, false
	}
	for wrong := 0; wrong < cfg.Code.Attempts; {
		answer, err := s.conn.prompt(prompt, expires.Add(answerGrace))
		if errors.Is(err, io.EOF) {
			// The module hangs up when the conversation fails: the user
			// pressed Ctrl-C, or the application went away. Not an error.
			s.aborted = true
			s.log.info("denied: conversation aborted", s.who()...)
			return pamAuthErr, false
		}
		if err != nil {
			s.log.info("denied: conversation ended", s.who("error", err)...)
			return pamAuthErr, false
		}
		answer = strings.Join(strings.Fields(answer), "")
		if time.Now().After(expires) {
			s.log.info("denied: code expired", s.who()...)
			s.tell(msgs.Expired)
			return pamAuthErr, false
		}
		if answer == "" && canResend {
			return 0, true
		}
		if subtle.ConstantTimeCompare([]byte(answer), code) == 1 {
			s.log.info("success: code accepted", s.who("number", number)...)
			return pamSuccess, false
		}
		if wrong++; wrong < cfg.Code.Attempts {
			s.tell(msgs.Wrong)
			if s.silent {
				prompt = msgs.SilentWrong
			}
		}
	}
	s.log.warn("denied: too many wrong codes", s.who("attempts", cfg.Code.Attempts)...)
	s.tell(msgs.TooMany)
	return pamAuthErr, false
}

// newCode returns digits decimal digits from crypto/rand, uniformly.
func newCode(digits int) []byte {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		// crypto/rand does not fail on Linux ≥ 3.17; if it ever does, no
		// code is better than a guessable one.
		panic(fmt.Sprintf("helper: crypto/rand: %v", err))
	}
	return fmt.Appendf(nil, "%0*d", digits, n)
}
