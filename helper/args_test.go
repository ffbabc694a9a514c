package main

import (
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
)

func TestParseArgs(t *testing.T) {
	def := options{configPath: conf.DefaultPath}
	long := "--config=/" + strings.Repeat("x", 300)
	tests := []struct {
		name    string
		args    []string
		root    bool
		want    options
		wantErr string // substring of the refusal
		wantArg string // the argument the log names
	}{
		// What the module passes, as root and not.
		{"root, module's default", []string{moduleArg}, true, def, "", ""},
		{"caller, module's default", []string{moduleArg}, false, def, "", ""},
		{"root, other config and debug", []string{"--config=/etc/other.conf", "--debug"}, true,
			options{configPath: "/etc/other.conf", debug: true}, "", ""},
		{"root, no arguments", nil, true, def, "", ""},
		{"caller, no arguments", nil, false, def, "", ""},
		{"root, unknown flag", []string{"--nope"}, true, options{}, "bad arguments", ""},
		{"root, stray argument", []string{moduleArg, "x"}, true, options{}, "unexpected argument", "x"},

		// A caller without root may not steer the helper.
		{"caller, other config", []string{"--config=/etc/other.conf"}, false, options{},
			"only root may choose the configuration file", "--config=/etc/other.conf"},
		{"caller, single dash config", []string{"-config=" + conf.DefaultPath}, false, options{},
			"only root may choose the configuration file", "-config=" + conf.DefaultPath},
		{"caller, config as two arguments", []string{"--config", conf.DefaultPath}, false, options{},
			"only root may choose the configuration file", "--config"},
		{"caller, debug", []string{moduleArg, "--debug"}, false, options{},
			"only root may turn on debug logging", "--debug"},
		{"caller, debug=true", []string{"-debug=true"}, false, options{},
			"only root may turn on debug logging", "-debug=true"},
		{"caller, unknown", []string{"--frobnicate"}, false, options{}, "unknown argument", "--frobnicate"},
		{"caller, positional", []string{"alice"}, false, options{}, "unknown argument", "alice"},
		// Failover adds no lever: the gateways are tried in the config's
		// order, and no argument picks one.
		{"caller, gateway", []string{"--gateway=1"}, false, options{}, "unknown argument", "--gateway=1"},
		{"root, gateway", []string{"--gateway=1"}, true, options{}, "bad arguments", ""},
		{"caller, default twice", []string{moduleArg, moduleArg}, false, options{},
			"only one argument", moduleArg},
		{"caller, trailing slash", []string{moduleArg + "/"}, false, options{},
			"only root may choose the configuration file", moduleArg + "/"},
		{"caller, long argument cut in the log", []string{long}, false, options{},
			"only root may choose", long[:maxLoggedArg] + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, tt.root)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("parseArgs(%q, root=%v) = %+v, %v; want %+v", tt.args, tt.root, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseArgs(%q, root=%v) = %+v, %v; want an error with %q", tt.args, tt.root, got, err, tt.wantErr)
			}
			if arg, ok := loggedArg(err); tt.wantArg != "" && (!ok || arg != tt.wantArg) {
				t.Errorf("logged argument %q, want %q", arg, tt.wantArg)
			}
		})
	}
}
