package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
	"github.com/pam-sms/pam_sms/smsclient"
)

func parse(t *testing.T, extra string) *conf.Config {
	t.Helper()
	cfg, err := conf.Parse("test.conf", []byte(extra+`
[gateway]
url = "https://gateway.example/send"

[numbers]
alice = "+49 172 34567890"
bob = "+49 172 34567891"
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDecide(t *testing.T) {
	alice := policy.Account{Name: "alice", UID: "1000", Groups: []string{"alice", "staff"}}
	carol := policy.Account{Name: "carol", UID: "1002", Groups: []string{"carol", "staff"}}
	tests := []struct {
		name   string
		policy string
		acct   policy.Account
		rhost  string
		want   policy.Outcome
		reason string
	}{
		{"everyone, remote", `[policy]`, alice, "192.0.2.1", policy.Challenge, "second factor required"},
		{"everyone, local", `[policy]`, alice, "", policy.Challenge, "second factor required"},
		{"enforced group (supplementary)", "[policy]\ngroups = [\"staff\"]", alice, "192.0.2.1", policy.Challenge, "second factor required"},
		{"enforced group (primary)", "[policy]\ngroups = [\"alice\"]", alice, "192.0.2.1", policy.Challenge, "second factor required"},
		{"no enforced group", "[policy]\ngroups = [\"admins\", \"ops\"]", alice, "192.0.2.1", policy.Exempt, "user is in none of the enforced groups"},
		{"trusted IPv4", "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]", alice, "192.0.2.1", policy.Exempt, "client is in trusted_networks"},
		{"trusted IPv6", "[policy]\ntrusted_networks = [\"2001:db8::/32\"]", alice, "2001:db8::1", policy.Exempt, "client is in trusted_networks"},
		{"IPv4-mapped client", "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]", alice, "::ffff:192.0.2.1", policy.Exempt, "client is in trusted_networks"},
		{"untrusted client", "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]", alice, "198.51.100.1", policy.Challenge, "second factor required"},
		// sshd with UseDNS yes passes a host name: never trusted.
		{"host name", "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]", alice, "host.example", policy.Challenge, "second factor required"},
		{"trust_local, local", "[policy]\ntrust_local = true", alice, "", policy.Exempt, "local login and trust_local is set"},
		{"trust_local, remote", "[policy]\ntrust_local = true", alice, "192.0.2.1", policy.Challenge, "second factor required"},
		{"no number, deny", `[policy]`, carol, "192.0.2.1", policy.DenyNoNumber, "no number configured for the user"},
		{"no number, ignore", "[policy]\nmissing_number = \"ignore\"", carol, "192.0.2.1", policy.IgnoreNoNumber, `no number configured and missing_number is "ignore"`},
		// Exemptions come before the number: an exempt user needs none.
		{"no number but exempt", "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]", carol, "192.0.2.1", policy.Exempt, "client is in trusted_networks"},

		// Break-glass: exempt_users and exempt_groups come before everything
		// else, so no number, no group and no trusted network is needed.
		{"exempt user without a number", "[policy]\nexempt_users = [\"carol\"]", carol, "192.0.2.1", policy.Exempt, "user in exempt_users"},
		{"exempt user with a number", "[policy]\nexempt_users = [\"bob\", \"alice\"]", alice, "192.0.2.1", policy.Exempt, "user in exempt_users"},
		{"exempt user in an enforced group", "[policy]\ngroups = [\"staff\"]\nexempt_users = [\"carol\"]", carol, "", policy.Exempt, "user in exempt_users"},
		{"exempt user before trusted network", "[policy]\nexempt_users = [\"carol\"]\ntrusted_networks = [\"192.0.2.0/24\"]", carol, "192.0.2.1", policy.Exempt, "user in exempt_users"},
		{"exempt user before trust_local", "[policy]\nexempt_users = [\"carol\"]\ntrust_local = true", carol, "", policy.Exempt, "user in exempt_users"},
		{"exempt group (supplementary)", "[policy]\nexempt_groups = [\"wheel-emergency\", \"staff\"]", carol, "192.0.2.1", policy.Exempt, "member of exempt group staff"},
		{"exempt group (primary)", "[policy]\nexempt_groups = [\"carol\"]", carol, "192.0.2.1", policy.Exempt, "member of exempt group carol"},
		{"exempt group, enforced group too", "[policy]\ngroups = [\"staff\"]\nexempt_groups = [\"staff\"]", alice, "192.0.2.1", policy.Exempt, "member of exempt group staff"},
		{"exempt user wins over exempt group", "[policy]\nexempt_users = [\"carol\"]\nexempt_groups = [\"staff\"]", carol, "", policy.Exempt, "user in exempt_users"},
		// A name or group that only looks alike exempts nobody.
		{"other user exempt", "[policy]\nexempt_users = [\"carol\"]", alice, "192.0.2.1", policy.Challenge, "second factor required"},
		{"exempt user names are exact", "[policy]\nexempt_users = [\"Carol\", \"caro\"]", carol, "192.0.2.1", policy.DenyNoNumber, "no number configured for the user"},
		{"not in the exempt group", "[policy]\nexempt_groups = [\"wheel-emergency\"]", carol, "192.0.2.1", policy.DenyNoNumber, "no number configured for the user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policy.Decide(parse(t, tt.policy), policy.Request{User: tt.acct.Name, Rhost: tt.rhost}, tt.acct)
			if d.Outcome != tt.want || d.Reason != tt.reason {
				t.Fatalf("Decide = %v (%q), want %v (%q)", d.Outcome, d.Reason, tt.want, tt.reason)
			}
			if (d.Outcome == policy.Challenge) != d.Number.IsValid() {
				t.Fatalf("Decide = %v with number valid %t", d.Outcome, d.Number.IsValid())
			}
			if d.Outcome == policy.Challenge && d.Number.Masked() != "+49 *** *****890" {
				t.Fatalf("number %s, want alice's", d.Number.Masked())
			}
		})
	}
}

func TestLookupAccount(t *testing.T) {
	acct, err := policy.LookupAccount("root")
	if err != nil {
		t.Fatal(err)
	}
	if acct.UID != "0" || len(acct.Groups) == 0 || acct.Groups[0] != "root" {
		t.Fatalf("LookupAccount(root) = %+v", acct)
	}
	if _, err := policy.LookupAccount("no-such-user-pam-sms"); !errors.Is(err, policy.ErrUnknownUser) {
		t.Fatalf("LookupAccount(unknown) error = %v, want ErrUnknownUser", err)
	}
}

// TestDecideLookup: the sources are asked only for an enforced user (never on
// an exempt login, so a broken numbers file cannot lock out break-glass), once,
// under the NSS name; their answer becomes the decision, an invalid number is
// no number with the reason and where, and a source error is the caller's.
func TestDecideLookup(t *testing.T) {
	alice := policy.Account{Name: "alice", UID: "1000", Groups: []string{"alice", "staff"}}
	dave := policy.Account{Name: "dave", UID: "1003", Groups: []string{"dave"}}
	good, err := smsclient.ParseNumber("+49 170 1234567")
	if err != nil {
		t.Fatal(err)
	}
	fileHas := numsource.Result{Found: true, Source: "/etc/n", Asked: []string{"[numbers]", "/etc/n"},
		Entry: numsource.Entry{Number: good, Where: "/etc/n line 3"}}
	fileInvalid := numsource.Result{Found: true, Source: "/etc/n", Asked: []string{"[numbers]", "/etc/n"},
		Entry: numsource.Entry{Where: "/etc/n line 4", Problem: "number must start with + or 00 and a country code"}}
	nowhere := numsource.Result{Asked: []string{"[numbers]", "/etc/n", "/etc/m"}}
	broken := errors.New("numbers file /etc/n: file does not exist")
	tests := []struct {
		name    string
		policy  string
		acct    policy.Account
		rhost   string
		answer  numsource.Result
		err     error
		asked   bool
		want    policy.Outcome
		reason  string
		source  string
		wantErr bool
	}{
		{name: "exempt user, source not asked", policy: "[policy]\nexempt_users = [\"dave\"]", acct: dave,
			err: broken, want: policy.Exempt, reason: "user in exempt_users"},
		{name: "trusted network, source not asked", policy: "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]", acct: dave,
			rhost: "192.0.2.9", err: broken, want: policy.Exempt, reason: "client is in trusted_networks"},
		{name: "not enforced, source not asked", policy: "[policy]\ngroups = [\"admins\"]", acct: dave,
			err: broken, want: policy.Exempt, reason: "user is in none of the enforced groups"},
		{name: "number from a file", policy: "[policy]", acct: dave, answer: fileHas, asked: true,
			want: policy.Challenge, reason: "second factor required", source: "/etc/n line 3"},
		{name: "invalid number denies with the reason", policy: "[policy]", acct: dave, answer: fileInvalid, asked: true,
			want: policy.DenyNoNumber, source: "/etc/n line 4",
			reason: "no number configured for the user: invalid number in /etc/n line 4: number must start with + or 00 and a country code"},
		{name: "invalid number, ignore", policy: "[policy]\nmissing_number = \"ignore\"", acct: dave, answer: fileInvalid, asked: true,
			want: policy.IgnoreNoNumber, source: "/etc/n line 4",
			reason: `no number configured and missing_number is "ignore": invalid number in /etc/n line 4: number must start with + or 00 and a country code`},
		{name: "in no source", policy: "[policy]", acct: dave, answer: nowhere, asked: true,
			want: policy.DenyNoNumber, reason: "no number configured for the user: no number in [numbers], /etc/n or /etc/m"},
		{name: "source error", policy: "[policy]", acct: alice, err: broken, asked: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			lookup := func(_ context.Context, user string) (numsource.Result, error) {
				calls = append(calls, user)
				return tt.answer, tt.err
			}
			req := policy.Request{User: "Typed-" + tt.acct.Name, Rhost: tt.rhost}
			d, err := policy.DecideLookup(context.Background(), parse(t, tt.policy), req, tt.acct, lookup)
			if tt.asked != (len(calls) > 0) || len(calls) > 1 || len(calls) == 1 && calls[0] != tt.acct.Name {
				t.Fatalf("lookup calls = %q, want asked %v for %q", calls, tt.asked, tt.acct.Name)
			}
			if tt.wantErr {
				if !errors.Is(err, broken) {
					t.Fatalf("DecideLookup error = %v, want %v", err, broken)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecideLookup: %v", err)
			}
			if d.Outcome != tt.want || d.Reason != tt.reason || d.Source != tt.source {
				t.Fatalf("DecideLookup = %v (%q, source %q), want %v (%q, source %q)", d.Outcome, d.Reason, d.Source, tt.want, tt.reason, tt.source)
			}
			if d.Outcome == policy.Challenge && !d.Number.Equal(good) {
				t.Fatalf("number %s, want the file's", d.Number.Masked())
			}
		})
	}
}
