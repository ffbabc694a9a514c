// Command pam-sms-helper does the work of pam_sms.so: the module execs it for
// every authentication and relays the PAM conversation over a socketpair on
// fd 0 and 1 (protocol in docs/design.md).
//
// It is installed setgid pam-sms so that it can read the configuration and
// the gateway secret, and write the limit state, even when the caller is not
// root (a screen locker). Started with effective uid 0 it serves the user the
// module names; otherwise it serves only the user whose uid it runs as, like
// pam_unix's unix_chkpwd. It reads nothing from its environment: started with
// anything but the module's, it restarts itself with a clean one first.
package main

import (
	"fmt"
	"net"
	"os"

	"github.com/pam-sms/pam_sms/policy"
)

// Exit statuses; the module denies on any status without a result.
const (
	exitUsage    = 2 // arguments refused, or not started by the module
	exitRequest  = 3 // the module's request was malformed
	exitResult   = 4 // the result could not be sent
	exitUnsafe   = 5 // environment or resource limits unfit to run with
	usageMessage = "usage: pam-sms-helper [--config=PATH] [--debug] (both only as root)\n" +
		"pam-sms-helper is started by pam_sms.so; it is not meant to be run by hand."
)

func main() {
	// First, before any package reads the environment.
	if err := restartClean(os.Environ(), os.Args); err != nil {
		log := newLogger()
		log.err("refusing to run: the environment could not be cleared", "error", err)
		log.close()
		os.Exit(exitUnsafe)
	}
	var args []string
	if len(os.Args) > 1 {
		args = os.Args[1:]
	}
	os.Exit(run(args))
}

// run returns the process exit status. The PAM result travels on the socket;
// the status only tells the module (and a person running this by hand) that
// something went wrong before a result could be sent.
func run(args []string) int {
	log := newLogger()
	defer log.close()
	root := os.Geteuid() == 0
	opts, err := parseArgs(args, root)
	if err != nil {
		kv := []any{}
		if arg, ok := loggedArg(err); ok {
			kv = append(kv, "argument", arg)
		}
		log.err("refusing to run: "+err.Error(), kv...)
		fmt.Fprintln(os.Stderr, usageMessage)
		return exitUsage
	}
	log.debug = opts.debug
	if err := raiseLimits(); err != nil {
		log.err("refusing to run: resource limits too low", "error", err)
		return exitUnsafe
	}

	c, err := moduleSocket()
	if err != nil {
		log.err("refusing to run: standard input is not the module's socket", "error", err)
		fmt.Fprintln(os.Stderr, "pam-sms-helper is started by pam_sms.so; it is not meant to be run by hand.")
		return exitUsage
	}
	defer c.Close()
	mc := newConn(c)
	req, err := mc.readRequest()
	if err != nil {
		log.err("denied: bad request from module", "error", err)
		return exitRequest
	}
	s := &session{conn: mc, req: req.Request, silent: req.Silent, log: log, configPath: opts.configPath,
		root: root, lookup: policy.LookupAccount}
	if err := mc.result(s.serve()); err != nil {
		if s.aborted {
			// The application ended the conversation and may be gone
			// (sudo re-raises the user's Ctrl-C): an ordinary abort,
			// already logged as such.
			return 0
		}
		log.err("sending the result to the module failed", "user", req.User, "error", err)
		return exitResult
	}
	return 0
}

// moduleSocket turns fd 0 into a net.Conn, which gives read deadlines. It
// fails when fd 0 is not a socket, e.g. a terminal.
func moduleSocket() (net.Conn, error) {
	f := os.NewFile(0, "module socket")
	defer f.Close() // FileConn dups the descriptor
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("helper: fd 0: %w", err)
	}
	if _, ok := c.(*net.UnixConn); !ok {
		c.Close()
		return nil, fmt.Errorf("helper: fd 0 is not a unix socket")
	}
	return c, nil
}
