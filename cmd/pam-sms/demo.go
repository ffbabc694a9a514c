package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/msteinert/pam/v2"
	"golang.org/x/term"
)

var demoCmd = &command{
	Name:       "demo",
	ShortUsage: "pam-sms demo [--module PATH] [--helper PATH] [--user NAME]",
	ShortHelp:  "Run one real PAM login with an SMS code against a local gateway simulator",
	LongHelp: `Starts a gateway simulator on 127.0.0.1 that prints every SMS it receives,
writes a private PAM service and configuration into a temporary directory,
and runs a real libpam authentication (pam_start_confdir) through pam_sms.so
and pam-sms-helper for USER (default: you). Type the code the simulator
printed. When standard input is not a terminal, the demo answers with the
code the simulator received. Nothing outside the temporary directory is
touched and no real SMS is sent. Needs root: pam_sms.so runs only a
root-owned helper, and the helper reads only a root-owned configuration.

Examples:
  sudo pam-sms demo
  make demo      # from a source tree: uses build/pam_sms.so and build/pam-sms-helper`,
	Run: runDemo,
}

const demoNumber = "+49 172 34567890"

func runDemo(_ context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	module := fs.String("module", "pam_sms.so", "the PAM module (bare name: libpam's module directory)")
	helper := fs.String("helper", "/usr/libexec/pam-sms/pam-sms-helper", "the helper the module runs")
	userName := fs.String("user", "", "user to authenticate (default: the invoking user)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 0, 0, ""); err != nil {
		return err
	}
	if err := needRoot("pam_sms.so only runs a root-owned helper and the helper only reads a root-owned configuration"); err != nil {
		return err
	}
	if *userName == "" {
		u, err := user.Current()
		if err != nil {
			return failf(exitProblem, "who am I: %v", err)
		}
		*userName = u.Username
	}

	// From a source tree the helper may sit below a directory the module
	// refuses (a clone in /home or /tmp): run a copy instead.
	helperPath, unstage, err := stageHelper(*helper)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	defer unstage()
	*helper = helperPath

	dir, err := os.MkdirTemp("", "pam-sms-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	sim, err := startSimulator(env.Stdout)
	if err != nil {
		return err
	}
	defer sim.close()

	confPath := filepath.Join(dir, "pam_sms.conf")
	if err := os.WriteFile(confPath, []byte(demoConfig(sim.url, *userName, filepath.Join(dir, "state"))), 0o640); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o770); err != nil {
		return err
	}
	pamDir := filepath.Join(dir, "pam.d")
	stack := fmt.Sprintf("auth required %s config=%s helper=%s\n", *module, confPath, *helper)
	if err := writeServiceDir(pamDir, "pam-sms-demo", stack); err != nil {
		return err
	}

	fmt.Fprintf(env.Stdout, "Gateway simulator on %s\nPAM service:  %sConfig:       %s\nLogging in %s (number %s)\n\n",
		sim.url, stack, confPath, *userName, demoNumber)
	err = demoLogin(env, pamDir, *userName, sim)
	if err != nil {
		fmt.Fprintf(env.Stdout, "\nPAM result: %v\n", err)
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	fmt.Fprintln(env.Stdout, "\nPAM result: success (the login would proceed)")
	return nil
}

func demoConfig(url, userName, stateDir string) string {
	return fmt.Sprintf(`[policy]
groups = ["*"]
trusted_networks = []
trust_local = false

[code]
message = "Your login code for {host}: {code}"

[gateway]
url = %q
id = "demo"
password = "demo-secret"
timeout = "5s"

[limits]
state_dir = %q

[numbers]
%q = %q
`, url, stateDir, userName, demoNumber)
}

func writeServiceDir(dir, service, stack string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	// A misspelt service must fail closed instead of falling back to "other".
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte("auth required pam_deny.so\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, service), []byte(stack), 0o644)
}

// demoLogin runs pam_authenticate on one OS thread, as libpam expects.
func demoLogin(env *cliEnv, pamDir, userName string, sim *simulator) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	conv := newTerminalConv(env)
	if f, ok := env.Stdin.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		conv = simulatorConv(env, sim)
	}
	tx, err := pam.StartConfDir("pam-sms-demo", userName, conv, pamDir)
	if err != nil {
		return fmt.Errorf("pam_start: %w", err)
	}
	defer tx.End()
	return tx.Authenticate(0)
}

// simulatorConv answers every prompt with the code the simulator received,
// so that the demo also runs where nobody can type (CI, a pipe).
func simulatorConv(env *cliEnv, sim *simulator) pam.ConversationFunc {
	return conversation(env, func(pam.Style) (string, error) {
		code, err := sim.lastCode(15 * time.Second)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(env.Stdout, "%s   (standard input is not a terminal: answered with the code the simulator received)\n", code)
		return code, nil
	})
}

// simulator is a stand-in SMS gateway on loopback that prints what it gets.
type simulator struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	code string
	got  chan struct{}
}

var codeInText = regexp.MustCompile(`([0-9]{4,10})\s*$`)

func startSimulator(out io.Writer) (*simulator, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &simulator{url: "http://" + ln.Addr().String() + "/send", got: make(chan struct{}, 16)}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		text := r.Form.Get("text")
		fmt.Fprintf(out, "[gateway simulator] %s %s: SMS to %s: %q\n", r.Method, r.URL.Path, r.Form.Get("to"), text)
		if m := codeInText.FindStringSubmatch(text); m != nil {
			s.mu.Lock()
			s.code = m[1]
			s.mu.Unlock()
			s.got <- struct{}{}
		}
		io.WriteString(w, "100 OK\n")
	})}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *simulator) lastCode(wait time.Duration) (string, error) {
	select {
	case <-s.got:
	case <-time.After(wait):
		return "", fmt.Errorf("the simulator received no SMS within %v", wait)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, nil
}

func (s *simulator) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}
