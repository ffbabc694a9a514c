package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/smsclient"
)

var sendTestCmd = &command{
	Name:       "send-test",
	ShortUsage: "pam-sms send-test (USER|NUMBER) [--gateway N] [--config PATH] [--json]",
	ShortHelp:  "Send one real SMS through the configured gateway and show the exchange",
	LongHelp: `Sends one real, billed SMS through one gateway of the configuration, to the
number of USER (found as at login: [numbers], the numbers files, then
[directory]) or to NUMBER. An argument that begins with "+",
"00" or another digit is a number, in international format: +49 172
34567890, 0049 172 34567890 or 49 172 34567890 (a national 0172... is
refused). The text is the configured message with the code 0000... (it is no
login code). Prints the request as sent (method, URL and form fields) with
the password, and the values of fields in the URL's query or the form whose
names look like credentials (pass, secret, token, key, auth, sig), replaced
by ******** and the number masked, the HTTP status, the first line of the
gateway's reply (at most 200 bytes, the same values hidden) and its
classification (sent, rate-limited, failed, unreachable); when the gateway
answered but the message does not count as sent, "why:" names the status that
was not 2xx or the success pattern the reply did not match. Use it to match
[gateway.fields], success and rate_limited to the gateway contract. The send
does not count against the limits.

--gateway N picks the gateway: 0 (the default) is [gateway], 1 the first
[[gateway.failover]] table, 2 the second, and so on. Exactly that one is
asked, without failing over, so that each contract can be checked on its own.

Exit status 0 when the message counts as sent, 1 when not, 3 when the
configuration is not usable or the user has no number.

Examples:
  pam-sms send-test alice
  pam-sms send-test "+49 172 34567890" --json
  pam-sms send-test 4917234567890
  pam-sms send-test alice --gateway 1`,
	Run: runSendTest,
}

// sendReport is the report of send-test; the text view prints the same fields.
type sendReport struct {
	// Gateway is the gateway's name as log lines and pam-sms stats
	// give it, GatewayIndex its position (--gateway).
	Gateway      string `json:"gateway"`
	GatewayIndex int    `json:"gateway_index"`
	To           string `json:"to"` // masked
	Request      string `json:"request"`
	Status       int    `json:"status"`
	Reply        string `json:"reply"`
	Class        string `json:"class"`
	Error        string `json:"error,omitempty"`
	// Unmatched says why a reply did not count as sent: the success
	// pattern it did not match, or the HTTP status that was not 2xx.
	Unmatched string `json:"unmatched,omitempty"`
}

func runSendTest(ctx context.Context, env *cliEnv, c *command, args []string) error {
	fs := newFlags(c, env)
	configPath := fs.String("config", conf.DefaultPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the exchange as JSON")
	index := fs.Int("gateway", 0, "the gateway to send through: 0 = [gateway], 1.. = [[gateway.failover]] in order")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(env, c, pos, 1, 1, "USER or NUMBER"); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	gws := cfg.Gateways()
	if *index < 0 || *index >= len(gws) {
		return failf(exitProblem, "--gateway %d: %s has %s", *index, cfg.Path, gatewayRange(len(gws)))
	}
	gw := gws[*index]
	to, err := recipient(cfg, pos[0])
	if err != nil {
		return err
	}
	client, err := smsclient.New(gw.Config)
	if err != nil {
		return failf(exitProblem, "%v", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	userName := pos[0]
	if numberArg(userName) {
		userName = "test"
	}
	text := cfg.Code.Render(strings.Repeat("0", cfg.Code.Digits), host, userName)
	desc, secrets := maskSecrets(client.DescribeRequest(to, text), gw.Fields.Password)
	rep := sendReport{Gateway: cfg.GatewayName(*index), GatewayIndex: *index, To: to.Masked(), Request: maskNumber(desc, to)}
	res := client.Send(ctx, to, text)
	rep.Status, rep.Reply, rep.Class = res.Status, secrets.Replace(res.Body), res.Class.String()
	if res.Err != nil {
		rep.Error = secrets.Replace(res.Err.Error())
	}
	rep.Unmatched = unmatched(gw, conf.GatewayKey(*index), res)
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printSendReport(env, rep)
	}
	if res.Class != smsclient.Sent {
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}

// gatewayRange says which --gateway values a config with n gateways takes.
func gatewayRange(n int) string {
	if n == 1 {
		return "only [gateway] (--gateway 0): no [[gateway.failover]] table"
	}
	return fmt.Sprintf("gateways 0 to %d ([gateway] and %d [[gateway.failover]] tables)", n-1, n-1)
}

// numberArg reports whether arg is written as a number rather than a user
// name: it begins with "+" or a digit.
func numberArg(arg string) bool {
	return arg != "" && (arg[0] == '+' || arg[0] >= '0' && arg[0] <= '9')
}

// recipient is the number of a user in the number sources, as the helper
// finds it ([numbers], the numbers files, [directory]), or the argument
// itself when it is written as a number: it begins with "+", "00" or another
// digit (the country code, as in "49 172 34567890"). A national number
// ("0172...") is refused rather than guessed at. Errors never repeat the
// number.
func recipient(cfg *conf.Config, arg string) (smsclient.Number, error) {
	switch {
	case strings.HasPrefix(arg, "+") || strings.HasPrefix(arg, "00"):
	case strings.HasPrefix(arg, "0"):
		return smsclient.Number{}, failf(exitProblem, "the number is in national format: write it with the country code, "+
			"as +49 172 34567890 or 0049 172 34567890")
	case arg != "" && arg[0] >= '1' && arg[0] <= '9':
		arg = "+" + arg
	default:
		r, err := numsource.Chain(cfg)(context.Background(), arg)
		if err != nil {
			return smsclient.Number{}, failf(exitProblem, "%s: %v", arg, err)
		}
		if !r.OK() {
			return smsclient.Number{}, failf(exitProblem, "%s has %s (config %s; write a number as +49... or 0049...)", arg, r.Why(), cfg.Path)
		}
		return r.Number, nil
	}
	n, err := smsclient.ParseNumber(arg)
	if err != nil {
		return n, failf(exitProblem, "%v", err)
	}
	return n, nil
}

// unmatched explains a reply that did not count as sent although the
// gateway answered: the status that was not 2xx, or the success pattern
// the body did not match (Classify checks both).
func unmatched(gw conf.Gateway, key string, res smsclient.Result) string {
	switch {
	case res.Class == smsclient.Sent || res.Status == 0:
		return ""
	case res.Status < 200 || res.Status > 299:
		return fmt.Sprintf("HTTP status %d is not 2xx", res.Status)
	case res.Class == smsclient.RateLimited:
		return ""
	case gw.Success != nil:
		return fmt.Sprintf("the reply does not match %s.success %s", key, gw.Success)
	}
	return ""
}

// secretWords mark a form or query field whose value is a credential.
var secretWords = []string{"pass", "secret", "token", "key", "auth", "sig", "credential"}

// isSecretField reports whether a field name looks like it carries a
// credential, or is the configured password field.
func isSecretField(name, passwordField string) bool {
	l := strings.ToLower(name)
	if name == passwordField || l == "pw" || l == "pwd" {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// maskSecrets replaces the values of credential fields in the URL's query
// and in a form body of a described request by ********, as smsclient does
// for the password: an API key in the URL (?key=...&token=...) must not end
// up in a ticket either. It returns a replacer that hides the same values
// wherever else they appear (an echoing reply).
func maskSecrets(desc, passwordField string) (string, *strings.Replacer) {
	var pairs []string
	maskQuery := func(q string) string {
		parts := strings.Split(q, "&")
		for i, part := range parts {
			rawName, rawValue, ok := strings.Cut(part, "=")
			name, err := url.QueryUnescape(rawName)
			if !ok || err != nil || rawValue == "" || rawValue == redactedValue || !isSecretField(name, passwordField) {
				continue
			}
			parts[i] = rawName + "=" + redactedValue
			// Elsewhere only values long enough not to garble a reply
			// ("key=1" is no secret worth hiding every "1" for).
			for _, v := range []string{rawValue, unescaped(rawValue)} {
				if len(v) >= minSecretLen {
					pairs = append(pairs, v, redactedValue)
				}
			}
		}
		return strings.Join(parts, "&")
	}
	lines := strings.Split(desc, "\n")
	// "METHOD URL" first; the URL's query comes after the first "?" (a
	// fragment is never sent).
	if before, query, ok := strings.Cut(lines[0], "?"); ok {
		query, frag, hasFrag := strings.Cut(query, "#")
		lines[0] = before + "?" + maskQuery(query)
		if hasFrag {
			lines[0] += "#" + frag
		}
	}
	// Header lines follow the request line. A POST's form or JSON body is
	// the last line, after the blank one.
	maskHeaderLines(lines, passwordField, &pairs)
	if n := len(lines); n >= 3 && lines[n-2] == "" {
		if strings.HasPrefix(lines[n-1], "{") {
			lines[n-1] = maskJSONBody(lines[n-1], passwordField, &pairs)
		} else {
			lines[n-1] = maskQuery(lines[n-1])
		}
	}
	// Longer values first, so that a secret containing another is hidden whole.
	sortByLength(pairs)
	return strings.Join(lines, "\n"), strings.NewReplacer(pairs...)
}

// minSecretLen is the shortest value maskSecrets hides outside its field.
const minSecretLen = 4

func unescaped(v string) string {
	if u, err := url.QueryUnescape(v); err == nil {
		return u
	}
	return v
}

// redactedValue is what smsclient shows for the password.
const redactedValue = "********"

// sortByLength orders old/new pairs by decreasing length of old.
func sortByLength(pairs []string) {
	type pair struct{ old, new string }
	ps := make([]pair, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, pair{pairs[i], pairs[i+1]})
	}
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].old) > len(ps[j].old) })
	for i, p := range ps {
		pairs[2*i], pairs[2*i+1] = p.old, p.new
	}
}

// maskNumber hides the digits of to in a described request, in the masked
// form smsclient uses for gateway echoes ("49********890"): the output
// may end up in a ticket.
func maskNumber(s string, to smsclient.Number) string {
	masked := strings.NewReplacer("+", "", " ", "").Replace(to.Masked())
	return strings.ReplaceAll(s, to.Digits(), masked)
}

func printSendReport(env *cliEnv, r sendReport) {
	w := env.Stdout
	fmt.Fprintf(w, "gateway:  %d (%s)\n", r.GatewayIndex, r.Gateway)
	fmt.Fprintf(w, "request to %s:\n", r.To)
	for line := range strings.Lines(r.Request) {
		fmt.Fprintf(w, "  %s", line)
	}
	fmt.Fprintln(w)
	if r.Status != 0 {
		fmt.Fprintf(w, "status:   %d\n", r.Status)
	} else {
		fmt.Fprintf(w, "status:   no answer\n")
	}
	fmt.Fprintf(w, "reply:    %q\n", r.Reply)
	fmt.Fprintf(w, "class:    %s\n", r.Class)
	if r.Unmatched != "" {
		fmt.Fprintf(w, "why:      %s\n", r.Unmatched)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "error:    %s\n", r.Error)
	}
}
