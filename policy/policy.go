// Package policy decides whether a login must pass the SMS step, from the
// configuration, the PAM items, the user's groups and, for a user who must,
// the number the sources hold (package numsource, asked only then). It sends
// nothing and keeps no state, so pam-sms explain can show exactly what the
// helper does.
package policy

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"slices"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/smsclient"
)

// Request holds the PAM items the module passes to the helper.
type Request struct {
	User    string
	Rhost   string // PAM_RHOST: an IP literal, a host name, or "" for local logins
	Service string
	Tty     string
}

// Account is what policy needs to know about a system user.
type Account struct {
	Name   string
	UID    string
	Groups []string // names of the primary and all supplementary groups
}

// ErrUnknownUser is returned by LookupAccount for a name the system does not know.
var ErrUnknownUser = errors.New("policy: user unknown to the system")

// Outcome is what the helper must do.
type Outcome int

const (
	// Exempt: not enforced for this login (PAM_IGNORE, no SMS).
	Exempt Outcome = iota
	// Challenge: send a code to Decision.Number and ask for it.
	Challenge
	// DenyNoNumber: enforced, no number, missing_number = "deny" (PAM_AUTH_ERR).
	DenyNoNumber
	// IgnoreNoNumber: enforced, no number, missing_number = "ignore" (PAM_IGNORE).
	IgnoreNoNumber
)

// String returns the outcome's name as it appears in logs and pam-sms explain.
func (o Outcome) String() string {
	switch o {
	case Exempt:
		return "exempt"
	case Challenge:
		return "challenge"
	case DenyNoNumber:
		return "deny-no-number"
	case IgnoreNoNumber:
		return "ignore-no-number"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Decision is the outcome and the reason for it, in words for the log.
type Decision struct {
	Outcome Outcome
	Reason  string
	Number  smsclient.Number // set when Outcome is Challenge
	// Source says where the number came from ("[numbers] in PATH", "PATH
	// line 12"), or where the invalid one was; "" when none was looked up
	// or none found.
	Source string
}

// Decide applies SPEC section 4 in a fixed order: the break-glass exemptions
// (exempt_users, exempt_groups), group membership, then the client network,
// then the number. The exemptions come first so that nothing else in the
// config (a missing number, a group change) can lock out the emergency
// account. The caller has resolved acct already, so an unknown user never
// reaches here; acct.Name is the name NSS returned, as limits are keyed.
//
// Decide is pure and looks only at [numbers] in cfg: it never opens a
// numbers file. The helper and pam-sms explain use DecideLookup, which asks
// every number source.
func Decide(cfg *conf.Config, req Request, acct Account) Decision {
	if d, exempt := Exemption(cfg, req, acct); exempt {
		return d
	}
	r, _ := numsource.Lookup(context.Background(), []numsource.Source{numsource.Config{Cfg: cfg}}, acct.Name)
	return ForNumber(cfg, r)
}

// Lookup finds the number of an enforced user in the number sources;
// numsource.Chain(cfg) is the one the helper uses.
type Lookup func(ctx context.Context, user string) (numsource.Result, error)

// DecideLookup is Decide with the number from lookup, which is called only
// when the user must enter a code: an exempt login never reads a numbers
// file. An error of lookup (a numbers file missing or unsafe) is returned
// as it is; the caller denies, as for a broken config.
func DecideLookup(ctx context.Context, cfg *conf.Config, req Request, acct Account, lookup Lookup) (Decision, error) {
	if d, exempt := Exemption(cfg, req, acct); exempt {
		return d, nil
	}
	r, err := lookup(ctx, acct.Name)
	if err != nil {
		return Decision{}, err
	}
	return ForNumber(cfg, r), nil
}

// Exemption returns the decision for a login that needs no code, and true;
// or false when the user must enter one, so that a number is needed.
func Exemption(cfg *conf.Config, req Request, acct Account) (Decision, bool) {
	p := cfg.Policy
	if slices.Contains(p.ExemptUsers, acct.Name) {
		return Decision{Outcome: Exempt, Reason: "user in exempt_users"}, true
	}
	for _, g := range p.ExemptGroups {
		if slices.Contains(acct.Groups, g) {
			return Decision{Outcome: Exempt, Reason: "member of exempt group " + g}, true
		}
	}
	if !p.AllUsers && !inAnyGroup(acct.Groups, p.Groups) {
		return Decision{Outcome: Exempt, Reason: "user is in none of the enforced groups"}, true
	}
	if req.Rhost == "" {
		if p.TrustLocal {
			return Decision{Outcome: Exempt, Reason: "local login and trust_local is set"}, true
		}
	} else if p.TrustedNetworks.Contains(req.Rhost) {
		return Decision{Outcome: Exempt, Reason: "client is in trusted_networks"}, true
	}
	return Decision{}, false
}

// ForNumber decides for an enforced user from what the number sources
// answered. A user without a valid number is denied or let through as
// missing_number says; when the sources held an invalid number, or numbers
// files were asked, the reason says so (never with the number).
func ForNumber(cfg *conf.Config, r numsource.Result) Decision {
	if r.OK() {
		return Decision{Outcome: Challenge, Reason: "second factor required", Number: r.Number, Source: r.Where}
	}
	why := ""
	if r.Found || len(r.Asked) > 1 {
		why = ": " + r.Why()
	}
	if cfg.Policy.MissingNumber == conf.MissingIgnore {
		return Decision{Outcome: IgnoreNoNumber, Reason: "no number configured and missing_number is \"ignore\"" + why, Source: r.Where}
	}
	return Decision{Outcome: DenyNoNumber, Reason: "no number configured for the user" + why, Source: r.Where}
}

func inAnyGroup(have, want []string) bool {
	for _, g := range want {
		if slices.Contains(have, g) {
			return true
		}
	}
	return false
}

// LookupAccount resolves name through NSS (the helper is built with cgo, so
// LDAP and SSSD users and groups count) and lists the names of the primary and
// supplementary groups.
func LookupAccount(name string) (Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return Account{}, ErrUnknownUser
		}
		return Account{}, fmt.Errorf("policy: looking up user: %w", err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return Account{}, fmt.Errorf("policy: listing groups of %s: %w", name, err)
	}
	acct := Account{Name: u.Username, UID: u.Uid}
	for _, gid := range gids {
		g, err := user.LookupGroupId(gid)
		if err != nil {
			// A gid without a name cannot match a configured group name.
			continue
		}
		acct.Groups = append(acct.Groups, g.Name)
	}
	return acct, nil
}
