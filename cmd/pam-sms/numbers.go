package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
)

var numbersCmd = &command{
	Name:       "numbers",
	ShortUsage: "pam-sms numbers [--missing] [--config PATH] [--json]",
	ShortHelp:  "List the enforced users, where each number comes from, and who has none",
	LongHelp: `Lists the users who can log in (getent passwd, without nologin/false
shells) and must enter a code, with the number each would get, masked, and
where it comes from: [numbers] in the config, or a numbers file and its
line, asked in that order as the helper does at login. A user without a
number is listed with the reason: in no source, or an invalid number at a
file and line. Exempt users (exempt_users, exempt_groups, not in groups)
are left out; trusted_networks and trust_local are not applied, since they
depend on where a login comes from.

--missing lists only the users without a number: the rollout list for
missing_number = "ignore", and those missing_number = "deny" locks out.
--json prints a JSON array of {user, number, source, reason}.

Exit status 0 when the list was made, 3 when the configuration, or a
numbers file an enforced user needs, is not usable.

Examples:
  pam-sms numbers
  pam-sms numbers --missing
  pam-sms numbers --json`,
	Run: runNumbers,
}

// numberRow is one enforced user of pam-sms numbers.
type numberRow struct {
	User   string `json:"user"`
	Number string `json:"number"` // masked; "" when none
	Source string `json:"source"` // where it, or the invalid one, is; "" when in no source
	Reason string `json:"reason"` // why there is none; "" with a number
}

func runNumbers(ctx context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	missing := fs.Bool("missing", false, "list only the users without a number")
	asJSON := fs.Bool("json", false, "print the list as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 0, 0, ""); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	names, err := env.host().Users(ctx)
	if err != nil {
		return failf(exitProblem, "cannot list users: %v", err)
	}
	rows, err := numberRows(ctx, cfg, names, *missing)
	if err != nil {
		return failf(exitProblem, "%v\n(pam-sms check --config %s lists every problem)", err, *configPath)
	}
	if *asJSON {
		return writeJSON(env.Stdout, rows)
	}
	printNumbers(env, rows, *missing)
	return nil
}

// numberRows decides for each name as the helper does for a login from
// outside trusted_networks (so only the exemptions, the groups and the
// number count) and lists the enforced ones; only those without a number
// when missingOnly.
func numberRows(ctx context.Context, cfg *conf.Config, names []string, missingOnly bool) ([]numberRow, error) {
	strict := *cfg
	strict.Policy.TrustLocal = false
	lookup := numsource.Chain(&strict)
	rows := []numberRow{}
	for _, name := range names {
		acct, err := policy.LookupAccount(name)
		if err != nil {
			continue // gone since the list was made
		}
		d, err := policy.DecideLookup(ctx, &strict, policy.Request{User: name}, acct, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		row := numberRow{User: name, Source: d.Source}
		switch d.Outcome {
		case policy.Exempt:
			continue
		case policy.Challenge:
			if missingOnly {
				continue
			}
			row.Number = d.Number.Masked()
		default:
			row.Reason = d.Reason
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func printNumbers(env *cliEnv, rows []numberRow, missingOnly bool) {
	tw := tabwriter.NewWriter(env.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tNUMBER\tSOURCE")
	without := 0
	for _, r := range rows {
		switch {
		case r.Number != "":
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.User, r.Number, r.Source)
		default:
			without++
			fmt.Fprintf(tw, "%s\t-\t%s\n", r.User, r.Reason)
		}
	}
	_ = tw.Flush()
	if missingOnly {
		fmt.Fprintf(env.Stdout, "%d enforced users without a number\n", without)
		return
	}
	fmt.Fprintf(env.Stdout, "%d enforced users, %d without a number\n", len(rows), without)
}
