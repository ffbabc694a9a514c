package main

import (
	"os"
	"strings"
	"testing"
)

// limits reset for a name nobody has is an error that clears nothing; a
// former user still in [numbers] can be reset.
func TestLimitsResetUser(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name, user   string
		noStateDir   bool
		wantCode     int
		wantOut      string // stdout
		wantErr      string // in stderr
		rootReleased bool   // root's counters were cleared
	}{
		{name: "known user", user: "root", wantCode: exitOK,
			wantOut: "cleared the counters of user root, number +49 *** *****890\n", rootReleased: true},
		{name: "unknown user", user: "no-such-user-xyz", wantCode: exitFailed,
			wantErr: "no such user: no-such-user-xyz is unknown to the system and not in [numbers]"},
		{name: "unknown user, before the state directory", user: "no-such-user-xyz", noStateDir: true, wantCode: exitFailed,
			wantErr: "no such user: no-such-user-xyz"},
		{name: "former user in [numbers]", user: "gone-user-xyz", wantCode: exitOK,
			wantOut: "cleared the counters of user gone-user-xyz, number +49 *** *****891\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, state := writeConfig(t, configOpts{limitsSection: "per_user = 2\n",
				numbers: "root = \"+49 172 34567890\"\ngone-user-xyz = \"+49 172 34567891\"\n"})
			takeSend(t, state, 2)
			if tt.noStateDir {
				must(t, os.RemoveAll(state))
			}
			r := run(t, "limits", "reset", tt.user, "--config", path)
			if r.code != tt.wantCode || r.stdout != tt.wantOut || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if tt.noStateDir {
				return
			}
			show := run(t, "limits", "show", "root", "--config", path)
			if released := strings.Contains(show.stdout, "0/2"); released != tt.rootReleased {
				t.Errorf("root released %t, want %t:\n%s", released, tt.rootReleased, show.stdout)
			}
		})
	}
}
