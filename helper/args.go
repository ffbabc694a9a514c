package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pam-sms/pam_sms/conf"
)

// options are what the command line may set.
type options struct {
	configPath string
	debug      bool
}

// moduleArg is what pam_sms.so passes when its config= is the default.
const moduleArg = "--config=" + conf.DefaultPath

// maxLoggedArg bounds how much of a refused argument goes into the log line.
const maxLoggedArg = 200

// argError says which argument was refused and why, for the log.
type argError struct {
	arg    string
	reason string
}

func (e *argError) Error() string { return e.reason }

// parseArgs reads the command line. A caller without root (effective uid not
// 0) gets the default configuration and no debug logging, whatever it asks
// for, like unix_chkpwd: otherwise any root-owned file the group can read
// (another service's config=, a .dpkg-old copy) would become a way around the
// limits and fail_mode, and --debug a way to fill the log. Such a caller may
// pass nothing, or exactly what the module passes for the default path.
func parseArgs(args []string, root bool) (options, error) {
	if !root {
		return callerArgs(args)
	}
	fs := flag.NewFlagSet("pam-sms-helper", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	debug := fs.Bool("debug", false, "log each step (never codes or numbers)")
	if err := fs.Parse(args); err != nil {
		return options{}, fmt.Errorf("bad arguments: %w", err)
	}
	if fs.NArg() != 0 {
		return options{}, &argError{arg: fs.Arg(0), reason: "unexpected argument"}
	}
	return options{configPath: *configPath, debug: *debug}, nil
}

func callerArgs(args []string) (options, error) {
	for _, a := range args {
		if a != moduleArg {
			return options{}, &argError{arg: a, reason: callerRefusal(a)}
		}
	}
	if len(args) > 1 {
		return options{}, &argError{arg: args[1], reason: "only one argument is accepted from a caller without root"}
	}
	return options{configPath: conf.DefaultPath}, nil
}

// callerRefusal says why a caller without root may not pass arg.
func callerRefusal(arg string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	switch {
	case strings.HasPrefix(arg, "-") && name == "config":
		return "only root may choose the configuration file; a caller without root gets " + conf.DefaultPath
	case strings.HasPrefix(arg, "-") && name == "debug":
		return "only root may turn on debug logging"
	}
	return "unknown argument"
}

// loggedArg is the argument as the log shows it: bounded, since the caller
// chose its length.
func loggedArg(err error) (string, bool) {
	var ae *argError
	if !errors.As(err, &ae) {
		return "", false
	}
	if len(ae.arg) > maxLoggedArg {
		return ae.arg[:maxLoggedArg] + "...", true
	}
	return ae.arg, true
}
