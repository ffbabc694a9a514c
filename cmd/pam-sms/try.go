package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/msteinert/pam/v2"
	"golang.org/x/term"
)

var tryCmd = &command{
	Name:       "try",
	ShortUsage: "pam-sms try USER [--service NAME] [--rhost ADDR] [--pam-dir DIR]",
	ShortHelp:  "Run a real PAM authentication on a service and print the result",
	LongHelp: `Runs pam_authenticate for USER on a PAM service (default sshd), exactly as
that service would: the password, then the SMS code (a real, billed SMS that
counts against the limits). Prompts are answered on the terminal, without
echo for hidden prompts; when standard input is not a terminal, each prompt
takes the next line of it. --rhost sets PAM_RHOST (the client address);
without it the login counts as local. --pam-dir reads the service from DIR
instead of /etc/pam.d (pam_start_confdir), to test a stack before you
install it.

Run it from a second root session after every change of a stack, before
you log out.

Exit status 0 when the result is PAM_SUCCESS, 1 otherwise, 3 when PAM could
not start.

Examples:
  pam-sms try alice
  pam-sms try alice --service login
  pam-sms try alice --rhost 192.0.2.10 --pam-dir /root/pam.d.new`,
	Run: runTry,
}

func runTry(_ context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	service := fs.String("service", "sshd", "PAM service (file name in the PAM directory)")
	rhost := fs.String("rhost", "", "client address to set as PAM_RHOST; empty: a local login")
	pamDir := fs.String("pam-dir", "", "read the service from this directory (pam_start_confdir) instead of /etc/pam.d")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 1, 1, "USER"); err != nil {
		return err
	}
	if strings.ContainsRune(*service, '/') {
		fmt.Fprintf(env.Stderr, "pam-sms try: --service %q: a service is a file name, not a path (use --pam-dir)\n", *service)
		return errUsage
	}
	if *pamDir != "" && !pam.CheckPamHasStartConfdir() {
		return failf(exitProblem, "this libpam has no pam_start_confdir (needed for --pam-dir)")
	}
	fmt.Fprintf(env.Stdout, "PAM service %s, user %s", *service, pos[0])
	if *rhost != "" {
		fmt.Fprintf(env.Stdout, ", rhost %s", *rhost)
	}
	fmt.Fprintln(env.Stdout)
	err = tryLogin(env, *service, pos[0], *rhost, *pamDir)
	var pe pam.Error
	switch {
	case err == nil:
		fmt.Fprintln(env.Stdout, "PAM result: PAM_SUCCESS (the login would proceed)")
		return nil
	case errors.As(err, &pe):
		fmt.Fprintf(env.Stdout, "PAM result: %s (%v)\n", pamErrorName(pe), pe)
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return failf(exitProblem, "%v", err)
}

// tryLogin runs pam_authenticate on one OS thread, as libpam expects of a
// transaction.
func tryLogin(env *cliEnv, service, userName, rhost, pamDir string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	conv := newTerminalConv(env)
	var tx *pam.Transaction
	var err error
	if pamDir != "" {
		tx, err = pam.StartConfDir(service, userName, conv, pamDir)
	} else {
		tx, err = pam.Start(service, userName, conv)
	}
	if err != nil {
		return fmt.Errorf("pam_start: %w", err)
	}
	defer tx.End()
	if rhost != "" {
		if err := tx.SetItem(pam.Rhost, rhost); err != nil {
			return fmt.Errorf("setting PAM_RHOST: %w", err)
		}
	}
	return tx.Authenticate(0)
}

// conversation shows info and error messages on env.Stdout, prints each
// prompt and lets answer supply the reply.
func conversation(env *cliEnv, answer func(s pam.Style) (string, error)) pam.ConversationFunc {
	return func(s pam.Style, msg string) (string, error) {
		switch s {
		case pam.TextInfo:
			fmt.Fprintln(env.Stdout, msg)
			return "", nil
		case pam.ErrorMsg:
			fmt.Fprintln(env.Stdout, "error: "+msg)
			return "", nil
		case pam.PromptEchoOff, pam.PromptEchoOn:
		default:
			return "", fmt.Errorf("unsupported conversation style %d", s)
		}
		fmt.Fprint(env.Stdout, msg)
		return answer(s)
	}
}

// newTerminalConv answers prompts from the terminal (hidden prompts without
// echo), or line by line from a standard input that is not a terminal.
func newTerminalConv(env *cliEnv) pam.ConversationFunc {
	in := bufio.NewReader(env.Stdin)
	f, isFile := env.Stdin.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	return conversation(env, func(s pam.Style) (string, error) {
		if tty && s == pam.PromptEchoOff {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(env.Stdout)
			return string(b), err
		}
		line, err := in.ReadString('\n')
		if !tty {
			fmt.Fprintln(env.Stdout) // the answer itself is not shown
		}
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			return "", fmt.Errorf("reading the answer: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	})
}

// pamErrorName is the C name of a PAM result, as in syslog and pam(3).
func pamErrorName(e pam.Error) string {
	names := map[pam.Error]string{
		pam.ErrAuth:             "PAM_AUTH_ERR",
		pam.ErrAuthinfoUnavail:  "PAM_AUTHINFO_UNAVAIL",
		pam.ErrUserUnknown:      "PAM_USER_UNKNOWN",
		pam.ErrSystem:           "PAM_SYSTEM_ERR",
		pam.ErrPermDenied:       "PAM_PERM_DENIED",
		pam.ErrMaxtries:         "PAM_MAXTRIES",
		pam.ErrConv:             "PAM_CONV_ERR",
		pam.ErrIgnore:           "PAM_IGNORE",
		pam.ErrAbort:            "PAM_ABORT",
		pam.ErrCredInsufficient: "PAM_CRED_INSUFFICIENT",
		pam.ErrService:          "PAM_SERVICE_ERR",
		pam.ErrModuleUnknown:    "PAM_MODULE_UNKNOWN",
	}
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("PAM error %d", int(e))
}
