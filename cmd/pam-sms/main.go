// Command pam-sms is the administrator's tool for pam_sms: it checks the
// configuration, explains decisions, sends a test SMS, runs real PAM
// transactions and shows the limit state. It is an ordinary root tool; the
// setgid work at login time is done by pam-sms-helper.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes, documented in pam-sms(8).
const (
	exitOK      = 0
	exitFailed  = 1 // the check found problems, the test failed, ...
	exitUsage   = 2
	exitProblem = 3 // could not run at all (config unreadable, not root, ...)
)

// command is one subcommand. Run gets the arguments after the subcommand name.
type command struct {
	Name       string
	ShortUsage string
	ShortHelp  string
	LongHelp   string // ends with an Examples: section
	Run        func(ctx context.Context, env *cliEnv, c *command, args []string) error
}

// cliEnv carries the streams, so that tests can run commands in-process.
type cliEnv struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Host is what the commands run on and inspect; nil means this machine
	// (see realHost). Tests set it to stay off the host's sshd and pam-auth-update.
	Host *host
}

// exitError carries an exit code through the error path.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func failf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// errUsage marks a usage error already explained to the user.
var errUsage = errors.New("usage")

func commands() []*command {
	return []*command{checkCmd, explainCmd, numbersCmd, sendTestCmd, tryCmd, enableCmd, disableCmd, doctorCmd, limitsCmd, pruneCmd, statsCmd, demoCmd}
}

func main() {
	env := &cliEnv{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(runCLI(context.Background(), env, os.Args[1:]))
}

func runCLI(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.Name != args[0] {
			continue
		}
		err := c.Run(ctx, env, c, args[1:])
		var ee *exitError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			return exitUsage
		case errors.As(err, &ee):
			if ee.err.Error() != "" {
				fmt.Fprintf(env.Stderr, "pam-sms %s: %v\n", c.Name, ee.err)
			}
			return ee.code
		default:
			fmt.Fprintf(env.Stderr, "pam-sms %s: %v\n", c.Name, err)
			return exitFailed
		}
	}
	fmt.Fprintf(env.Stderr, "pam-sms: unknown command %q\n", args[0])
	usage(env.Stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pam-sms <command> [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.ShortHelp)
	}
	fmt.Fprintln(w, "\nRun 'pam-sms <command> --help' for details. See pam-sms(8).")
}

// newFlags returns a flag set whose usage prints the command's help.
func newFlags(c *command, env *cliEnv) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: %s\n\n%s\n", c.ShortUsage, strings.TrimSpace(c.LongHelp))
		if hasFlags(fs) {
			fmt.Fprintln(env.Stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args; a bad flag is a usage error (the flag package has
// printed why), --help is not an error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
