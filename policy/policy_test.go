package policy_test

import (
	"errors"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/policy"
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
