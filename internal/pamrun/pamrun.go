// Package pamrun runs one real libpam authentication (pam_start_confdir)
// for tests, records the conversation and bounds the whole call.
package pamrun

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
)

// Msg is one conversation message as the user saw it.
type Msg struct {
	Style pam.Style
	Text  string
}

// String renders a message as a terminal would show it, with the style.
func (m Msg) String() string {
	names := map[pam.Style]string{
		pam.PromptEchoOff: "prompt-off", pam.PromptEchoOn: "prompt-on",
		pam.ErrorMsg: "error", pam.TextInfo: "info",
	}
	return names[m.Style] + ": " + m.Text
}

// Answerer answers a prompt; n counts prompts from 1. Returning an error
// aborts the conversation, as a user pressing Ctrl-C would.
type Answerer func(n int, m Msg) (string, error)

// Tx describes one transaction.
type Tx struct {
	ConfDir string
	Service string
	User    string
	Rhost   string // PAM_RHOST; "" leaves it unset (console login)
	Answer  Answerer
	Limit   time.Duration // whole call; 0 means 60 s
	Flags   pam.Flags     // for pam_authenticate, e.g. pam.Silent as sudo passes
}

// Result is what the transaction returned and what the user saw.
type Result struct {
	Err  error // nil, or a pam.Error such as pam.ErrAuth
	Msgs []Msg
}

// Transcript joins the messages, one per line, for assertions and failure output.
func (r Result) Transcript() string {
	var b strings.Builder
	for _, m := range r.Msgs {
		fmt.Fprintln(&b, m)
	}
	return b.String()
}

// Run performs pam_authenticate and fails the test if it does not return
// within the limit: a hang is the failure these tests look for.
func Run(t testing.TB, tx Tx) Result {
	t.Helper()
	if !pam.CheckPamHasStartConfdir() {
		t.Fatal("libpam lacks pam_start_confdir (Linux-PAM >= 1.4 needed)")
	}
	limit := tx.Limit
	if limit == 0 {
		limit = 60 * time.Second
	}
	done := make(chan Result, 1)
	go func() { done <- run(tx) }()
	select {
	case r := <-done:
		return r
	case <-time.After(limit):
		t.Fatalf("HANG: pam_authenticate for %s did not return within %v", tx.User, limit)
		return Result{}
	}
}

func run(tx Tx) Result {
	// libpam and its modules keep per-thread state; stay on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var mu sync.Mutex
	var res Result
	prompts := 0
	conv := pam.ConversationFunc(func(s pam.Style, text string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		m := Msg{Style: s, Text: text}
		res.Msgs = append(res.Msgs, m)
		if s != pam.PromptEchoOff && s != pam.PromptEchoOn {
			return "", nil
		}
		prompts++
		if tx.Answer == nil {
			return "", fmt.Errorf("no answerer")
		}
		return tx.Answer(prompts, m)
	})
	h, err := pam.StartConfDir(tx.Service, tx.User, conv, tx.ConfDir)
	if err != nil {
		res.Err = fmt.Errorf("pam_start: %w", err)
		return res
	}
	defer h.End()
	if tx.Rhost != "" {
		if err := h.SetItem(pam.Rhost, tx.Rhost); err != nil {
			res.Err = fmt.Errorf("set rhost: %w", err)
			return res
		}
	}
	err = h.Authenticate(tx.Flags)
	mu.Lock()
	defer mu.Unlock()
	res.Err = err
	return res
}
