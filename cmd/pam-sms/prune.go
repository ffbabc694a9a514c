package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/numsource"
	usagerec "github.com/pam-sms/pam_sms/usage"
)

var pruneCmd = &command{
	Name:       "prune",
	ShortUsage: "pam-sms prune [--config PATH] [--json]",
	ShortHelp:  "Remove state that no longer counts: old counters, usage records, cached numbers",
	LongHelp: `"prune" removes from state_dir what no longer counts against any limit:
the counters of users, numbers and client addresses whose window has
passed, the totals of other days, temporary files of logins that
died, the files of an older pam_sms, the usage records (pam-sms
stats) of days more than 400 days ago, and the numbers of the directory
cache seen longer ago than [directory] cache (all of them without it).
It prints how many files of each kind went, never which. The state
directory would otherwise grow with every user, number and client address
ever seen; the packages run this daily from pam-sms-prune.timer.

It never waits for a login: nothing in state_dir is locked. A corrupt
counter that still counts is kept and named on stderr.

Exit status 0 when done, 1 when a state file is corrupt or could not be
removed, 2 for wrong usage, 3 when the configuration or the state
directory is not usable or when not run as root.

Examples:
  pam-sms prune
  pam-sms prune --json`,
	Run: runPrune,
}

// pruneReport is the report of prune: files removed by kind.
type pruneReport struct {
	StateDir string `json:"state_dir"`
	Removed  int    `json:"removed"`
	User     int    `json:"user"`
	Number   int    `json:"number"`
	Host     int    `json:"host"`
	Day      int    `json:"day"`
	Temp     int    `json:"temp"`
	Legacy   int    `json:"legacy"`
	Usage    int    `json:"usage"` // usage record days past usagerec.Retention
	// DirCache counts directory cache numbers older than [directory] cache
	// (all of them when the cache is off).
	DirCache int `json:"directory_cache"`
}

func runPrune(_ context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 0, 0, ""); err != nil {
		return err
	}
	if err := needRoot("the state directory holds files of every user"); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	store, err := limits.Open(cfg.Limits.StateDir)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	defer store.Close()
	now := time.Now()
	p, pruneErr := store.Prune(now)
	u, usageErr := usagerec.Prune(cfg.Limits.StateDir, now)
	var maxAge time.Duration
	if cfg.Directory != nil {
		maxAge = cfg.Directory.Cache
	}
	dc, cacheErr := numsource.PruneCache(cfg.Limits.StateDir, maxAge, now)
	pruneErr = errors.Join(pruneErr, usageErr, cacheErr)
	rep := pruneReport{StateDir: cfg.Limits.StateDir, Removed: p.Removed() + u + dc, User: p.User, Number: p.Number,
		Host: p.Host, Day: p.Day, Temp: p.Temp, Legacy: p.Legacy, Usage: u, DirCache: dc}
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Stdout, "%s: removed %d files: %d user, %d number and %d client address counters, "+
			"%d day totals, %d temporary files, %d of an older version\n",
			rep.StateDir, rep.Removed, rep.User, rep.Number, rep.Host, rep.Day, rep.Temp, rep.Legacy)
		if rep.Usage > 0 {
			fmt.Fprintf(env.Stdout, "%s: removed %d days of usage records\n", rep.StateDir, rep.Usage)
		}
		if rep.DirCache > 0 {
			fmt.Fprintf(env.Stdout, "%s: removed %d numbers of the directory cache\n", rep.StateDir, rep.DirCache)
		}
	}
	if pruneErr != nil {
		return failf(exitFailed, "%v", pruneErr)
	}
	return nil
}
