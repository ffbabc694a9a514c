package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
)

var explainCmd = &command{
	Name:       "explain",
	ShortUsage: "pam-sms explain USER [--rhost ADDR] [--config PATH] [--json]",
	ShortHelp:  "Show the decision the helper would take for a login, sending nothing",
	LongHelp: `Takes the decision pam-sms-helper takes at login, with the same code
(policy.Decide), and says why: exempt (a break-glass account in exempt_users
or exempt_groups, not in the enforced groups, client in trusted_networks,
local login with trust_local), a code would be sent to the
masked number (and where the number comes from: [numbers] in the config,
a numbers file and its line, or [directory] with its server, entry and
attribute), or denied for lack of a number (and why: in no source, or an
invalid number at a file and line or in the directory). The directory is
searched as at a login (one search); when it cannot be reached, the outcome
is directory-unavailable and the result what fail_mode makes of it. --rhost sets the client
address (PAM_RHOST) to assume; without it the login is local (console, su).
It also tells whether a rate limit would refuse the send right now.
Nothing is sent and no counter changes.

Exit status 0 when a decision was made, 1 for a user unknown to the system,
3 when the configuration or a number source the user needs is not usable
(the directory unreachable included).

Examples:
  pam-sms explain alice
  pam-sms explain alice --rhost 192.0.2.10
  pam-sms explain alice --rhost 10.1.2.3 --json`,
	Run: runExplain,
}

// explanation is the report of explain; the text view prints the same fields.
type explanation struct {
	User      string   `json:"user"`
	Rhost     string   `json:"rhost"`
	Groups    []string `json:"groups"`
	Outcome   string   `json:"outcome"` // policy.Outcome, or "user-unknown"
	Reason    string   `json:"reason"`
	PAMResult string   `json:"pam_result"` // what the helper returns, before the code is asked
	Number    string   `json:"number,omitempty"`
	// Source is where the number was found ("[numbers] in PATH", "PATH line
	// N"), or where the invalid one is; the reason says why there is none.
	Source string `json:"number_source,omitempty"`
	Limit  string `json:"limit,omitempty"` // a limit that would refuse the send now
}

func runExplain(ctx context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	rhost := fs.String("rhost", "", "client address (PAM_RHOST) to assume; empty: a local login")
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 1, 1, "USER"); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	ex := explain(ctx, cfg, policy.Request{User: pos[0], Rhost: *rhost, Service: "pam-sms-explain"}, time.Now())
	if *asJSON {
		if err := writeJSON(env.Stdout, ex); err != nil {
			return err
		}
	} else {
		printExplanation(env, ex)
	}
	switch ex.Outcome {
	case "user-unknown":
		return &exitError{code: exitFailed, err: errors.New("")}
	case outcomeSourceError, outcomeDirectoryDown:
		return &exitError{code: exitProblem, err: errors.New("")}
	}
	return nil
}

// outcomeSourceError is the outcome when a number source the user needs
// cannot be used (a numbers file missing or unsafe): the helper denies.
const outcomeSourceError = "source-error"

// outcomeDirectoryDown is the outcome when the user's number would come from
// [directory] and no server answered: fail_mode applies.
const outcomeDirectoryDown = "directory-unavailable"

func explain(ctx context.Context, cfg *conf.Config, req policy.Request, now time.Time) explanation {
	ex := explanation{User: req.User, Rhost: req.Rhost, Groups: []string{}}
	acct, err := policy.LookupAccount(req.User)
	if err != nil {
		ex.Outcome, ex.PAMResult = "user-unknown", "PAM_USER_UNKNOWN"
		ex.Reason = err.Error()
		if errors.Is(err, policy.ErrUnknownUser) {
			ex.Reason = "user unknown to the system"
		} else {
			ex.PAMResult = "PAM_SYSTEM_ERR"
		}
		return ex
	}
	if acct.Groups != nil {
		ex.Groups = acct.Groups
	}
	// The helper's own lookup: the numbers files are read only when the
	// user must enter a code.
	d, err := policy.DecideLookup(ctx, cfg, req, acct, numsource.Chain(cfg))
	if errors.Is(err, numsource.ErrDirectoryUnavailable) {
		ex.Outcome, ex.PAMResult = outcomeDirectoryDown, "PAM_AUTHINFO_UNAVAIL (fail_mode \"secure\")"
		if cfg.Policy.FailMode == conf.FailSafe {
			ex.PAMResult = "PAM_IGNORE (fail_mode \"safe\")"
		}
		ex.Reason = "the number is in no source before [directory], which cannot be reached: " + err.Error()
		return ex
	}
	if err != nil {
		ex.Outcome, ex.PAMResult = outcomeSourceError, "PAM_SYSTEM_ERR"
		ex.Reason = "number source unusable: " + err.Error()
		return ex
	}
	ex.Outcome, ex.Reason, ex.Source = d.Outcome.String(), d.Reason, d.Source
	switch d.Outcome {
	case policy.Exempt, policy.IgnoreNoNumber:
		ex.PAMResult = "PAM_IGNORE"
	case policy.DenyNoNumber:
		ex.PAMResult = "PAM_AUTH_ERR"
	case policy.Challenge:
		ex.PAMResult = "PAM_SUCCESS with the right code"
		ex.Number = d.Number.Masked()
		ex.Limit = limitNow(cfg, limits.Keys{User: req.User, Number: d.Number.Digits(), Host: req.Rhost}, now)
	}
	return ex
}

// limitNow names a limit that would refuse a send now, or says why the
// state cannot be read (the helper then denies).
func limitNow(cfg *conf.Config, k limits.Keys, now time.Time) string {
	store, err := limits.Open(cfg.Limits.StateDir)
	if err != nil {
		return "cannot read the limit state, the helper would deny: " + err.Error()
	}
	defer store.Close()
	n, err := store.Count(cfg.Limits.Limits, k, now)
	if err != nil {
		return "cannot read the limit state, the helper would deny: " + err.Error()
	}
	l := cfg.Limits.Limits
	var hit []string
	for _, c := range []struct {
		name       string
		count, max int
	}{
		{limits.LimitPerUser, n.User, l.PerUser},
		{limits.LimitPerNumber, n.Number, l.PerNumber},
		{limits.LimitPerHost, n.Host, l.PerHost},
		{limits.LimitDaily, n.Daily, l.Daily},
	} {
		if c.max > 0 && c.count >= c.max {
			hit = append(hit, fmt.Sprintf("%s %d/%d", c.name, c.count, c.max))
		}
	}
	if len(hit) == 0 {
		return ""
	}
	return "reached now, the send would be refused: " + strings.Join(hit, ", ") + " (pam-sms limits reset " + k.User + ")"
}

func printExplanation(env *cliEnv, ex explanation) {
	w := env.Stdout
	rhost := ex.Rhost
	if rhost == "" {
		rhost = "(none: a local login)"
	}
	fmt.Fprintf(w, "user:     %s\n", ex.User)
	if ex.Outcome != "user-unknown" {
		fmt.Fprintf(w, "groups:   %s\n", strings.Join(ex.Groups, ", "))
	}
	fmt.Fprintf(w, "rhost:    %s\n", rhost)
	fmt.Fprintf(w, "decision: %s: %s\n", ex.Outcome, ex.Reason)
	fmt.Fprintf(w, "result:   %s\n", ex.PAMResult)
	if ex.Number != "" {
		fmt.Fprintf(w, "sms:      a code would be sent to %s (nothing was sent)\n", ex.Number)
	}
	if ex.Source != "" {
		fmt.Fprintf(w, "number:   from %s\n", ex.Source)
	}
	if ex.Limit != "" {
		fmt.Fprintf(w, "limit:    %s\n", ex.Limit)
	}
}
