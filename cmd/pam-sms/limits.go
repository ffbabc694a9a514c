package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
	"github.com/pam-sms/pam_sms/smsclient"
)

var limitsCmd = &command{
	Name:       "limits",
	ShortUsage: "pam-sms limits show [USER] [--config PATH] [--json] | pam-sms limits reset USER [--rhost ADDR] [--config PATH]",
	ShortHelp:  "Show or clear the SMS rate limit counters",
	LongHelp: `"limits show" prints the sends counted in the current window of [limits]
(per user and per number) and today's total, against each limit, for USER
(whose number is found as at login: [numbers], the numbers files, then
[directory]) or for every user in [numbers] and the numbers files.

"limits reset" clears the counters of USER and of USER's number, so that a
user who hit a limit can log in again; --rhost also clears the counter of
that client address. Today's total is kept: those messages were sent.

USER is resolved as the helper does (through NSS, whose name keys the
counters); a name the system does not know and [numbers] does not hold is an
error, and nothing is cleared.

Exit status 0 when done, 1 when a shown user is at a limit or the user to
reset does not exist, 2 for wrong usage, 3 when the configuration or the
state directory is not usable.

Examples:
  pam-sms limits show
  pam-sms limits show alice --json
  pam-sms limits reset alice
  pam-sms limits reset alice --rhost 192.0.2.10`,
	Run: runLimits,
}

// limitsReport is the report of limits show.
type limitsReport struct {
	Window string       `json:"window"`
	Daily  counter      `json:"daily"`
	Users  []userCounts `json:"users"`
}

type counter struct {
	Count int `json:"count"`
	Limit int `json:"limit"` // 0: none
}

func (c counter) String() string {
	if c.Limit == 0 {
		return fmt.Sprintf("%d (no limit)", c.Count)
	}
	return fmt.Sprintf("%d/%d", c.Count, c.Limit)
}

func (c counter) reached() bool { return c.Limit > 0 && c.Count >= c.Limit }

type userCounts struct {
	User    string  `json:"user"`
	Number  string  `json:"number,omitempty"` // masked
	PerUser counter `json:"per_user"`
	// PerNumber is empty when the user has no number.
	PerNumber counter `json:"per_number"`
	Reached   bool    `json:"reached"`
}

func runLimits(_ context.Context, env *cliEnv, c *command, args []string) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "reset" && args[0] != "-h" && args[0] != "--help") {
		fmt.Fprintf(env.Stderr, "pam-sms limits: want \"show\" or \"reset\"\nusage: %s\n", c.ShortUsage)
		return errUsage
	}
	fs := newFlags(c, env)
	if args[0] == "-h" || args[0] == "--help" {
		return parseFlags(fs, args)
	}
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	var asJSON *bool
	var rhost *string
	if args[0] == "reset" {
		rhost = fs.String("rhost", "", "also clear the counter of this client address")
	} else {
		asJSON = fs.Bool("json", false, "print the counters as JSON")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if args[0] == "reset" {
		if err := wantArgs(env, c, pos, 1, 1, "USER"); err != nil {
			return err
		}
	} else if err := wantArgs(env, c, pos, 0, 1, ""); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	var account string
	if args[0] == "reset" {
		// Before the state directory: an unknown name is the first thing to say.
		if account, err = resetAccount(cfg, pos[0]); err != nil {
			return err
		}
	}
	store, err := limits.Open(cfg.Limits.StateDir)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	defer store.Close()
	if args[0] == "reset" {
		return limitsReset(env, cfg, store, account, *rhost)
	}
	return limitsShow(env, cfg, store, pos, *asJSON)
}

func limitsShow(env *cliEnv, cfg *conf.Config, store *limits.Store, pos []string, asJSON bool) error {
	users := pos
	var listed map[string]smsclient.Number
	if len(users) == 0 {
		// Every user of [numbers] and the numbers files, from one read
		// of each file (not one scan per user).
		listed = listedNumbers(cfg)
		for u := range listed {
			users = append(users, u)
		}
		slices.Sort(users)
	}
	lookup := numsource.Chain(cfg)
	l := cfg.Limits.Limits
	now := time.Now()
	rep := limitsReport{Window: l.Window.String(), Users: []userCounts{}}
	total, err := store.Count(l, limits.Keys{}, now)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	rep.Daily = counter{total.Daily, l.Daily}
	reached := rep.Daily.reached()
	for _, u := range users {
		n, ok := listed[u]
		if !ok {
			n = sourceNumber(env, lookup, u)
		}
		counts, err := store.Count(l, limits.Keys{User: u, Number: n.Digits()}, now)
		if err != nil {
			return failf(exitProblem, "%v", err)
		}
		uc := userCounts{User: u, Number: n.Masked(), PerUser: counter{counts.User, l.PerUser}}
		if n.IsValid() {
			uc.PerNumber = counter{counts.Number, l.PerNumber}
		}
		uc.Reached = uc.PerUser.reached() || uc.PerNumber.reached() || rep.Daily.reached()
		reached = reached || uc.Reached
		rep.Users = append(rep.Users, uc)
	}
	if asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printLimits(env, rep)
	}
	if reached {
		return failf(exitFailed, "a limit is reached (pam-sms limits reset USER)")
	}
	return nil
}

func printLimits(env *cliEnv, rep limitsReport) {
	w := env.Stdout
	fmt.Fprintf(w, "window %s; today (UTC): %s\n", rep.Window, rep.Daily)
	if len(rep.Users) == 0 {
		fmt.Fprintln(w, "no users in [numbers] or the numbers files")
		return
	}
	fmt.Fprintf(w, "%-20s %-20s %-14s %-14s\n", "USER", "NUMBER", "PER_USER", "PER_NUMBER")
	for _, u := range rep.Users {
		number, perNumber := u.Number, u.PerNumber.String()
		if number == "" {
			number, perNumber = "(none)", "-"
		}
		mark := ""
		if u.Reached {
			mark = "  limit reached"
		}
		fmt.Fprintf(w, "%-20s %-20s %-14s %-14s%s\n", u.User, number, u.PerUser, perNumber, mark)
	}
}

// resetAccount resolves the user to reset as the helper does (policy.
// LookupAccount), since the helper keys the counters by the account name NSS
// returns. A name NSS does not know is an error unless [numbers] has it (an
// account removed since): "cleared" for a typo would hide that the user who
// called is still locked.
func resetAccount(cfg *conf.Config, name string) (string, error) {
	acct, err := policy.LookupAccount(name)
	switch {
	case err == nil:
		return acct.Name, nil
	case errors.Is(err, policy.ErrUnknownUser):
		if r, err := numsource.Chain(cfg)(context.Background(), name); err == nil && r.Found {
			return name, nil
		}
		return "", failf(exitFailed, "no such user: %s is unknown to the system and not in [numbers] of %s; nothing was cleared", name, cfg.Path)
	}
	return "", failf(exitProblem, "%v", err)
}

// listedNumbers are the users of [numbers] and of the numbers files with
// the number a login would use (the first source wins; an invalid number is
// none): those known without a directory search.
func listedNumbers(cfg *conf.Config) map[string]smsclient.Number {
	out := map[string]smsclient.Number{}
	for u, n := range cfg.Numbers {
		out[u] = n
	}
	for _, path := range cfg.Policy.NumbersFiles {
		l, err := numsource.List(path)
		if err != nil {
			continue
		}
		for _, e := range l.Entries {
			if _, ok := out[e.User]; !ok {
				out[e.User] = e.Number
			}
		}
	}
	return out
}

// sourceNumber is user's number from the number sources, as the helper finds
// it; a source that cannot be used is named on stderr and the number left
// out (the user's own counter still counts).
func sourceNumber(env *cliEnv, lookup func(context.Context, string) (numsource.Result, error), user string) smsclient.Number {
	r, err := lookup(context.Background(), user)
	if err != nil {
		fmt.Fprintf(env.Stderr, "pam-sms: %s: number unknown: %v\n", user, err)
		return smsclient.Number{}
	}
	if !r.OK() {
		return smsclient.Number{}
	}
	return r.Number
}

func limitsReset(env *cliEnv, cfg *conf.Config, store *limits.Store, user, rhost string) error {
	n := sourceNumber(env, numsource.Chain(cfg), user)
	k := limits.Keys{User: user, Number: n.Digits(), Host: rhost}
	if err := store.Reset(k); err != nil {
		return failf(exitProblem, "%v", err)
	}
	what := "user " + user
	if n.IsValid() {
		what += ", number " + n.Masked()
	}
	if rhost != "" {
		what += ", client " + rhost
	}
	fmt.Fprintf(env.Stdout, "cleared the counters of %s\n", what)
	return nil
}
