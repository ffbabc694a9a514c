package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/smsclient"
)

var checkCmd = &command{
	Name:       "check",
	ShortUsage: "pam-sms check [--config PATH] [--json]",
	ShortHelp:  "Validate the configuration and check it against this machine",
	LongHelp: `Reads the configuration exactly as pam-sms-helper does at login and prints
every problem with its file, line and key: unknown keys, bad values, every bad
trusted_networks entry, bad numbers or sender IDs, and file owner or mode
problems of the config, password_file and ca_file. Each numbers file of
numbers_files is checked the same way: owner, mode and size, and every
line (not a user = "number" line, a bad user name, an invalid number, a
user listed twice), each problem with the file, line and key. Then it checks what would
make a login fail although the file is valid: the gateway URL still the
shipped placeholder (gateway.example), a state_dir that is missing, not
owned by root or writable by others, and groups that do not exist (a
problem when none of groups, or none of exempt_groups, exists).

Warnings do not fail the check: a group that does not exist among others
that do, a [numbers] or exempt_users entry for a user the system does not
know, an unassigned country code or a number that is not a mobile number
where the numbering plan tells, the state_dir group or mode, an SMS text
longer than one message, fail_mode "safe", a validity that outlasts the
module's default deadline, and, under missing_number = "deny", the users
who can log in and have no number (always said with groups = ["*"]).

--json prints the same as one JSON document; each finding is an object
{file, line, key, message, severity} with severity "problem" or "warning".
Exit status 0 when the file is usable, 1 when any problem was found.

Examples:
  pam-sms check
  pam-sms check --config /etc/security/pam_sms.conf.dpkg-dist
  pam-sms check --json`,
	Run: runCheck,
}

// checkReport is what check prints; --json encodes it.
type checkReport struct {
	Path            string    `json:"path"`
	OK              bool      `json:"ok"`
	Problems        []problem `json:"problems"` // problems and warnings, in file order
	Numbers         int       `json:"numbers"`
	FileNumbers     int       `json:"file_numbers"` // valid numbers in the numbers files
	TrustedNetworks int       `json:"trusted_networks"`
	// LockedOut names the users who can log in and would be denied for
	// lack of a number (missing_number = "deny").
	LockedOut []string `json:"locked_out"`
}

func runCheck(ctx context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	path := fs.String("config", conf.DefaultPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 0, 0, ""); err != nil {
		return err
	}
	res := checkConfig(ctx, env.host(), *path)
	rep := checkReport{Path: res.Path, OK: !res.failed(), Problems: res.Problems, LockedOut: res.Locked, FileNumbers: res.FileNumbers}
	if rep.Problems == nil {
		rep.Problems = []problem{}
	}
	if rep.LockedOut == nil {
		rep.LockedOut = []string{}
	}
	if res.Config != nil {
		rep.Numbers, rep.TrustedNetworks = len(res.Config.Numbers), res.Config.Policy.TrustedNetworks.Len()
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printCheck(env, rep)
	}
	if !rep.OK {
		n := 0
		for _, p := range rep.Problems {
			if p.Severity == sevProblem {
				n++
			}
		}
		return failf(exitFailed, "%d problem(s) in %s", n, rep.Path)
	}
	return nil
}

func printCheck(env *cliEnv, rep checkReport) {
	for _, p := range rep.Problems {
		fmt.Fprintln(env.Stdout, p)
	}
	if rep.OK {
		files := ""
		if rep.FileNumbers > 0 {
			files = fmt.Sprintf(", %d in numbers files", rep.FileNumbers)
		}
		fmt.Fprintf(env.Stdout, "%s: OK (%d numbers%s, %d trusted network ranges)\n", rep.Path, rep.Numbers, files, rep.TrustedNetworks)
	}
}

// warnings lists what is legal but probably not meant, as findings without
// a file and line (checkConfig places them).
func warnings(cfg *conf.Config) []problem {
	var w []problem
	add := func(key, format string, args ...any) {
		w = append(w, problem{Key: key, Message: fmt.Sprintf(format, args...), Severity: sevWarning})
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	// The longest code and a long user name, to see the worst case.
	sample := cfg.Code.Render(fmt.Sprintf("%0*d", cfg.Code.Digits, 0), host, "a-32-character-long-user-name-xx")
	if chars, per, gsm := smsclient.Segments(sample); chars > per {
		enc := "UCS-2"
		if gsm {
			enc = "GSM-7"
		}
		add("code.message", "rendered text has %d characters, over one SMS (%d %s characters)", chars, per, enc)
	}
	if cfg.Policy.FailMode == conf.FailSafe {
		add("policy.fail_mode", `"safe" lets logins pass without a code whenever the gateway is unusable`)
	}
	// pam_sms.so kills the helper at its deadline (timeout=, default 360 s),
	// so a code valid for longer can never be used after that.
	what := "gateway.timeout"
	if len(cfg.Gateway.Failover) > 0 {
		what = "the gateways' timeouts"
	}
	if need := cfg.Code.Validity + cfg.SendTimeout(); need > moduleDefaultTimeout {
		add("code.validity", "%v plus %s %v is longer than pam_sms.so's default "+
			"deadline (%v): add timeout=%d to the pam_sms.so line of each stack",
			cfg.Code.Validity, what, cfg.SendTimeout(), moduleDefaultTimeout, int((need+time.Minute)/time.Second))
	}
	if cfg.Gateway.FailoverOnRateLimit && len(cfg.Gateway.Failover) == 0 {
		add("gateway.failover_on_rate_limit", "is set but there is no [[gateway.failover]] table to fail over to")
	}
	return w
}

// moduleDefaultTimeout is pam_sms.c's SMS_DEFAULT_TIMEOUT.
const moduleDefaultTimeout = 360 * time.Second
