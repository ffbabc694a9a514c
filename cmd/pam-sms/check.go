package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/smsclient"
)

var checkCmd = &command{
	Name:       "check",
	ShortUsage: "pam-sms check [--config PATH] [--json]",
	ShortHelp:  "Validate the configuration and its file permissions",
	LongHelp: `Reads the configuration exactly as pam-sms-helper does at login and prints
every problem with its line and key: unknown keys, bad values, bad numbers or
sender IDs, and file owner or mode problems of the config, password_file and
ca_file. Warnings do not fail the check: an SMS text longer than one message,
fail_mode "safe", and a validity that outlasts the module's default deadline.
--json prints the same as one JSON document. Exit status 0 when the file is
usable, 1 when any problem was found.

Examples:
  pam-sms check
  pam-sms check --config /etc/security/pam_sms.conf.dpkg-dist
  pam-sms check --json`,
	Run: runCheck,
}

// checkReport is what check prints; --json encodes it.
type checkReport struct {
	Path            string   `json:"path"`
	OK              bool     `json:"ok"`
	Problems        []string `json:"problems"` // "LINE: KEY: MSG", or a file problem
	Warnings        []string `json:"warnings"`
	Numbers         int      `json:"numbers"`
	TrustedNetworks int      `json:"trusted_networks"`
}

func runCheck(_ context.Context, env *cliEnv, c *command, args []string) error {
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
	rep := checkReport{Path: *path, Problems: []string{}, Warnings: []string{}}
	cfg, err := conf.Load(*path)
	var ce *conf.Error
	switch {
	case errors.As(err, &ce):
		rep.Path = ce.Path
		for _, p := range ce.Problems {
			rep.Problems = append(rep.Problems, p.String())
		}
	case err != nil:
		rep.Problems = append(rep.Problems, err.Error())
	default:
		rep.OK, rep.Warnings = true, warnings(cfg)
		rep.Numbers, rep.TrustedNetworks = len(cfg.Numbers), cfg.Policy.TrustedNetworks.Len()
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printCheck(env, rep, ce != nil)
	}
	switch {
	case ce != nil:
		return failf(exitFailed, "%d problem(s) in %s", len(ce.Problems), ce.Path)
	case err != nil:
		return failf(exitFailed, "%s is not usable", *path)
	}
	return nil
}

func printCheck(env *cliEnv, rep checkReport, withLines bool) {
	for _, p := range rep.Problems {
		if withLines {
			fmt.Fprintf(env.Stdout, "%s:%s\n", rep.Path, p)
		} else {
			fmt.Fprintln(env.Stdout, p)
		}
	}
	if !rep.OK {
		return
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(env.Stdout, "%s: warning: %s\n", rep.Path, w)
	}
	fmt.Fprintf(env.Stdout, "%s: OK (%d numbers, %d trusted network ranges)\n", rep.Path, rep.Numbers, rep.TrustedNetworks)
}

// warnings lists what is legal but probably not meant.
func warnings(cfg *conf.Config) []string {
	var w []string
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
		w = append(w, fmt.Sprintf("code.message: rendered text has %d characters, over one SMS (%d %s characters)", chars, per, enc))
	}
	if cfg.Policy.FailMode == conf.FailSafe {
		w = append(w, `policy.fail_mode: "safe" lets logins pass without a code whenever the gateway is unusable`)
	}
	// pam_sms.so kills the helper at its deadline (timeout=, default 360 s),
	// so a code valid for longer can never be used after that.
	if need := cfg.Code.Validity + cfg.Gateway.Timeout; need > moduleDefaultTimeout {
		w = append(w, fmt.Sprintf("code.validity: %v plus gateway.timeout %v is longer than pam_sms.so's default "+
			"deadline (%v): add timeout=%d to the pam_sms.so line of each stack",
			cfg.Code.Validity, cfg.Gateway.Timeout, moduleDefaultTimeout, int((need+time.Minute)/time.Second)))
	}
	return w
}

// moduleDefaultTimeout is pam_sms.c's SMS_DEFAULT_TIMEOUT.
const moduleDefaultTimeout = 360 * time.Second
