// Command pam-sms-helper does the work of pam_sms.so: the module execs it for
// every authentication and relays the PAM conversation over a socketpair on
// fd 0 and 1 (protocol in docs/design.md).
//
// It is installed setgid pam-sms so that it can read the configuration and
// the gateway secret, and write the limit state, even when the caller is not
// root (a screen locker). Started with effective uid 0 it serves the user the
// module names; otherwise it serves only the user whose uid it runs as, like
// pam_unix's unix_chkpwd. It reads nothing from its environment.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/pam-sms/pam_sms/conf"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run returns the process exit status. The PAM result travels on the socket;
// the status only tells the module (and a person running this by hand) that
// something went wrong before a result could be sent.
func run(args []string) int {
	fs := flag.NewFlagSet("pam-sms-helper", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	debug := fs.Bool("debug", false, "log each step (never codes or numbers)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: pam-sms-helper [--config=PATH] [--debug]\n"+
			"pam-sms-helper is started by pam_sms.so; it is not meant to be run by hand.")
		return 2
	}
	log := newLogger(*debug)
	defer log.close()

	c, err := moduleSocket()
	if err != nil {
		log.err("refusing to run: standard input is not the module's socket", "error", err)
		fmt.Fprintln(os.Stderr, "pam-sms-helper is started by pam_sms.so; it is not meant to be run by hand.")
		return 2
	}
	defer c.Close()
	mc := newConn(c)
	req, err := mc.readRequest()
	if err != nil {
		log.err("denied: bad request from module", "error", err)
		return 3
	}
	s := &session{conn: mc, req: req, log: log, configPath: *configPath}
	if err := mc.result(s.serve()); err != nil {
		log.err("sending the result to the module failed", "user", req.User, "error", err)
		return 4
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
