package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/smsclient"
)

var sendTestCmd = &command{
	Name:       "send-test",
	ShortUsage: "pam-sms send-test (USER|NUMBER) [--config PATH] [--json]",
	ShortHelp:  "Send one real SMS through the configured gateway and show the exchange",
	LongHelp: `Sends one real, billed SMS through the gateway of the configuration, to the
number of USER in [numbers] or to NUMBER (international format: +49 172
34567890 or 0049...). The text is the configured message with the code
0000... (it is no login code). Prints the request as sent (method, URL and
form fields) with the password replaced by ******** and the number masked,
the HTTP status, the first line of the gateway's reply (at most 200 bytes)
and its classification (sent, rate-limited, failed, unreachable). Use it to
match [gateway.fields], success and rate_limited to the gateway contract.
The send does not count against the limits.

Exit status 0 when the message counts as sent, 1 when not, 3 when the
configuration is not usable or the user has no number.

Examples:
  pam-sms send-test alice
  pam-sms send-test "+49 172 34567890" --json`,
	Run: runSendTest,
}

// sendReport is the report of send-test; the text view prints the same fields.
type sendReport struct {
	To      string `json:"to"` // masked
	Request string `json:"request"`
	Status  int    `json:"status"`
	Reply   string `json:"reply"`
	Class   string `json:"class"`
	Error   string `json:"error,omitempty"`
}

func runSendTest(ctx context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the exchange as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 1, 1, "USER or NUMBER"); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	to, err := recipient(cfg, pos[0])
	if err != nil {
		return err
	}
	client, err := smsclient.New(cfg.Gateway.Config)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	userName := pos[0]
	if _, isUser := cfg.Numbers[userName]; !isUser {
		userName = "test"
	}
	text := cfg.Code.Render(strings.Repeat("0", cfg.Code.Digits), host, userName)
	rep := sendReport{To: to.Masked(), Request: maskNumber(client.DescribeRequest(to, text), to)}
	res := client.Send(ctx, to, text)
	rep.Status, rep.Reply, rep.Class = res.Status, res.Body, res.Class.String()
	if res.Err != nil {
		rep.Error = res.Err.Error()
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printSendReport(env, rep)
	}
	if res.Class != smsclient.Sent {
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}

// recipient is the number of a user in [numbers], or the argument itself
// when it is written as a number.
func recipient(cfg *conf.Config, arg string) (smsclient.Number, error) {
	if strings.HasPrefix(arg, "+") || strings.HasPrefix(arg, "00") {
		n, err := smsclient.ParseNumber(arg)
		if err != nil {
			return n, failf(exitProblem, "%v", err)
		}
		return n, nil
	}
	n, ok := cfg.Numbers[arg]
	if !ok || !n.IsValid() {
		return n, failf(exitProblem, "%s has no number in [numbers] of %s (write a number as +49... or 0049...)", arg, cfg.Path)
	}
	return n, nil
}

// maskNumber hides the digits of to in a described request, in the masked
// form smsclient uses for gateway echoes ("49********890"): the output
// may end up in a ticket.
func maskNumber(s string, to smsclient.Number) string {
	masked := strings.NewReplacer("+", "", " ", "").Replace(to.Masked())
	return strings.ReplaceAll(s, to.Digits(), masked)
}

func printSendReport(env *cliEnv, r sendReport) {
	w := env.Stdout
	fmt.Fprintf(w, "request to %s:\n", r.To)
	for line := range strings.Lines(r.Request) {
		fmt.Fprintf(w, "  %s", line)
	}
	fmt.Fprintln(w)
	if r.Status != 0 {
		fmt.Fprintf(w, "status:   %d\n", r.Status)
	} else {
		fmt.Fprintf(w, "status:   no answer\n")
	}
	fmt.Fprintf(w, "reply:    %q\n", r.Reply)
	fmt.Fprintf(w, "class:    %s\n", r.Class)
	if r.Error != "" {
		fmt.Fprintf(w, "error:    %s\n", r.Error)
	}
}
