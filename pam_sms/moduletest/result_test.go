package moduletest_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/msteinert/pam/v2"
)

// A result has one spelling: canonical decimal, no sign, space or leading
// zero. Any other spelling is an unacceptable result (PAM_SYSTEM_ERR), so
// that no filter or log reader can see "result 00" pass for something else.
func TestResultSpelling(t *testing.T) {
	tests := []struct {
		value   string
		wantErr error // nil: success
	}{
		{"0", nil},
		{"7", pam.ErrAuth},
		{"10", pam.ErrUserUnknown},
		{"25", pam.ErrPermDenied}, // PAM_IGNORE as the stack's only module
		{"00", pam.ErrSystem},
		{"000", pam.ErrSystem},
		{"07", pam.ErrSystem},
		{"010", pam.ErrSystem},
		{"+0", pam.ErrSystem},
		{"-0", pam.ErrSystem},
		{" 0", pam.ErrSystem},
		{"0 ", pam.ErrSystem},
		{"0\t", pam.ErrSystem},
		{"0000", pam.ErrSystem},
		{"1e0", pam.ErrSystem},
		{"", pam.ErrSystem},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.value), func(t *testing.T) {
			f := newFixture(t, `sayexit:result `+tt.value+`\n`)
			res := f.run(t, "alice", "", answerWith("4242"))
			if !errors.Is(res.Err, tt.wantErr) && !(res.Err == nil && tt.wantErr == nil) {
				t.Fatalf("%q: pam_authenticate = %v, want %v", "result "+tt.value, res.Err, tt.wantErr)
			}
		})
	}
}
