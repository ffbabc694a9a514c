package main

import "testing"

func TestCallerUID(t *testing.T) {
	tests := []struct {
		name      string
		uid, euid int
		want      string
	}{
		{"root process (sshd, login)", 0, 0, ""},
		{"setuid root program run by a user (su, sudo)", 1000, 0, "1000"},
		{"screen locker or a user by hand", 1000, 1000, "1000"},
		{"root with a dropped effective uid", 0, 1000, "0"},
	}
	for _, tt := range tests {
		if got := callerUID(tt.uid, tt.euid); got != tt.want {
			t.Errorf("%s: callerUID(%d, %d) = %q, want %q", tt.name, tt.uid, tt.euid, got, tt.want)
		}
	}
}

// The caller's uid ends every line, after whatever pairs the line has, even
// a malformed odd list.
func TestLoggerFormatCaller(t *testing.T) {
	tests := []struct {
		caller string
		kv     []any
		want   string
	}{
		{"", []any{"user", "alice"}, "denied user=alice"},
		{"1000", []any{"user", "alice"}, "denied user=alice caller_uid=1000"},
		{"1000", nil, "denied caller_uid=1000"},
		{"1000", []any{"user", "a b", "odd"}, `denied user="a b" caller_uid=1000`},
	}
	for _, tt := range tests {
		l := &logger{caller: tt.caller}
		if got := l.format("denied", tt.kv...); got != tt.want {
			t.Errorf("format with caller %q, %v = %q, want %q", tt.caller, tt.kv, got, tt.want)
		}
	}
}
