package main

import (
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
)

func TestCheckWarnings(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  []string // prefixes, in order
	}{
		{"defaults", "", nil},
		{"fail_mode safe", "[policy]\nfail_mode = \"safe\"\n", []string{"policy.fail_mode:"}},
		{"validity past the module's deadline", "[code]\nvalidity = \"10m\"\n",
			[]string{"code.validity: 10m0s plus gateway.timeout 10s is longer than pam_sms.so's default deadline (6m0s): add timeout=670"}},
		{"message over one SMS", "[code]\nmessage = \"" + strings.Repeat("x", 160) + " {code}\"\n",
			[]string{"code.message: rendered text has 167 characters, over one SMS (160 GSM-7 characters)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := conf.Parse("t.conf", []byte(tt.extra+"[gateway]\nurl = \"https://gw.example/send\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := warnings(cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings = %q, want %d", got, len(tt.want))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("warning %q, want prefix %q", got[i], tt.want[i])
				}
			}
		})
	}
}
