package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pam-sms/pam_sms/test/internal/fakegw"
)

// loginTimeout bounds one whole SSH login (dial, authentication, command).
const loginTimeout = 60 * time.Second

// account is a test user and the number the config stores for them.
type account struct {
	name, password string
	slot           int // distinct per user: selects the number
}

// number is the number as the admin writes it in [numbers].
func (a account) number() string { return fmt.Sprintf("+49 172 34567%03d", a.slot) }

// to is the number as the gateway receives it (number_format "00").
func (a account) to() string { return fmt.Sprintf("004917234567%03d", a.slot) }

// masked is what the user is told: "Code sent to " + masked.
func (a account) masked() string { return fmt.Sprintf("+49 *** *****%03d", a.slot) }

// reply is a scripted answer to one "SMS code:" prompt.
type reply struct {
	kind replyKind
	sms  int // 0-based index of the SMS (to this user, in this login) it refers to
}

type replyKind int

const (
	rightCode   replyKind = iota // the code of SMS #sms
	wrongCode                    // a code that differs from SMS #sms in every digit
	emptyAnswer                  // Enter alone: asks for a resend
	password                     // the password (what the "password" method sends)
)

// loginOpts select the client's authentication methods.
type loginOpts struct {
	signer        ssh.Signer // publickey first when set
	passwordFirst bool       // the "password" method before keyboard-interactive
}

// result is what one login produced.
type result struct {
	output  string   // command output; "" when the login failed
	err     error    // dial, authentication or session error
	hang    bool     // loginTimeout passed
	shown   []string // every text shown by keyboard-interactive: name, instruction, prompts
	prompts []string // the prompts alone
	elapsed time.Duration
}

func (r result) ok() bool { return r.err == nil && !r.hang }

// transcript joins shown for messages.
func (r result) transcript() string { return strings.Join(r.shown, " | ") }

// count returns how many shown texts contain s.
func (r result) count(s string) int {
	n := 0
	for _, x := range r.shown {
		n += strings.Count(x, s)
	}
	return n
}

func (r result) String() string {
	state := "ok"
	switch {
	case r.hang:
		state = "HANG"
	case r.err != nil:
		state = "refused: " + r.err.Error()
	}
	return fmt.Sprintf("%s; output %q; shown [%s]", state, r.output, r.transcript())
}

// user is the scripted person at the keyboard.
type user struct {
	acct    account
	gw      *fakegw.Gateway
	base    int // SMS to this number before the login
	script  []reply
	mu      sync.Mutex
	asked   int
	shown   []string
	prompts []string
}

func (u *user) respond(ctx context.Context) ssh.KeyboardInteractiveChallenge {
	return func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, s := range []string{name, instruction} {
			if s != "" {
				u.shown = append(u.shown, s)
			}
		}
		answers := make([]string, len(questions))
		for i, q := range questions {
			u.shown = append(u.shown, q)
			u.prompts = append(u.prompts, q)
			switch {
			case strings.Contains(q, "SMS code"):
				a, err := u.smsAnswer(ctx)
				if err != nil {
					return nil, err
				}
				answers[i] = a
			case strings.Contains(q, "assword"):
				answers[i] = u.acct.password
			default:
				return nil, fmt.Errorf("e2e: unexpected prompt %q", q)
			}
		}
		return answers, nil
	}
}

func (u *user) smsAnswer(ctx context.Context) (string, error) {
	if u.asked >= len(u.script) {
		return "", fmt.Errorf("e2e: SMS prompt #%d, script has %d answers", u.asked+1, len(u.script))
	}
	r := u.script[u.asked]
	u.asked++
	switch r.kind {
	case emptyAnswer:
		return "", nil
	case password:
		return u.acct.password, nil
	}
	m, err := u.gw.AwaitTo(ctx, u.acct.to(), u.base+r.sms)
	if err != nil {
		return "", err
	}
	code, ok := fakegw.ParseCode(m.Text)
	if !ok {
		return "", fmt.Errorf("e2e: no TESTCODE in SMS %q", m.Text)
	}
	if r.kind == wrongCode {
		return shiftDigits(code), nil
	}
	return code, nil
}

// shiftDigits returns a code that differs from code in every position.
func shiftDigits(code string) string {
	b := []byte(code)
	for i, c := range b {
		b[i] = '0' + (c-'0'+1)%10
	}
	return string(b)
}

// countTo returns how many SMS the gateway got for the number to.
func countTo(gw *fakegw.Gateway, to string) int {
	n := 0
	for _, m := range gw.Messages() {
		if m.To == to {
			n++
		}
	}
	return n
}

// login runs one SSH login of acct against s with the scripted SMS answers and
// returns what happened; it never blocks longer than loginTimeout.
func (s *sshd) login(gw *fakegw.Gateway, acct account, o loginOpts, script ...reply) result {
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	u := &user{acct: acct, gw: gw, script: script}
	if gw != nil {
		u.base = countTo(gw, acct.to())
	}
	var methods []ssh.AuthMethod
	if o.signer != nil {
		methods = append(methods, ssh.PublicKeys(o.signer))
	}
	if o.passwordFirst {
		methods = append(methods, ssh.Password(acct.password))
	}
	methods = append(methods, ssh.KeyboardInteractive(u.respond(ctx)))
	cfg := &ssh.ClientConfig{
		User:            acct.name,
		Auth:            methods,
		HostKeyCallback: ssh.FixedHostKey(s.hostKey),
		Timeout:         10 * time.Second,
	}

	start := time.Now()
	type outcome struct {
		out string
		err error
	}
	done := make(chan outcome, 1)
	conn, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		return result{err: err}
	}
	defer conn.Close()
	go func() {
		out, err := session(conn, s.addr, cfg)
		done <- outcome{out, err}
	}()
	var r result
	select {
	case o := <-done:
		r.output, r.err = o.out, o.err
	case <-ctx.Done():
		r.hang, r.err = true, errors.New("HANG: no result within "+loginTimeout.String())
		conn.Close()
		<-done
	}
	r.elapsed = time.Since(start)
	u.mu.Lock()
	r.shown, r.prompts = u.shown, u.prompts
	u.mu.Unlock()
	return r
}

func session(conn net.Conn, addr string, cfg *ssh.ClientConfig) (string, error) {
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		return "", err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("e2e: new session: %w", err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput("")
	return strings.TrimSpace(string(out)), err
}
