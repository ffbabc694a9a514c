package conf

import (
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/smsclient"
)

func TestNumberWarning(t *testing.T) {
	tests := []struct {
		number string
		want   string // "" = no warning
	}{
		{"+49 172 34567890", ""},
		{"+49 1512 3456789", ""},
		{"0041 79 1234567", ""},
		{"+44 7700 900123", ""},
		{"+1 202 555 0143", ""},   // NANP: mobiles cannot be told apart
		{"+420 601 123 456", ""},  // 3-digit code, no plan in the table
		{"+7 912 345 67 89", ""},  // 1-digit code
		{"+500 51234", ""},        // shortest numbers in use
		{"+882 16 1234 5678", ""}, // international networks reach phones
		{"+999 1234 5678", "country code +999 is not assigned (ITU-T E.164): no SMS can reach this number"},
		{"+280 123 45678", "country code +280 is not assigned"},
		{"+422 123 45678", "country code +422 is not assigned"},
		{"+800 1234 5678", "+800 is international freephone, not a mobile number"},
		{"+49 30 1234567", "+49 3... is not a mobile number in Germany (mobile numbers begin +49 15, 16 or 17)"},
		{"+49 89 12345678", "+49 8... is not a mobile number in Germany"},
		{"+44 20 7946 0018", "+44 2... is not a mobile number in the United Kingdom (mobile numbers begin +44 7)"},
		{"+33 1 23 45 67 89", "+33 1... is not a mobile number in France (mobile numbers begin +33 6 or 7)"},
		{"+43 1 5123456", "+43 1... is not a mobile number in Austria"},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			n, err := smsclient.ParseNumber(tt.number)
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			got := NumberWarning(n)
			if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Fatalf("NumberWarning = %q, want %q", got, tt.want)
			}
			// Never more than the country code and one digit of the number.
			if sub := n.Digits()[len(n.Digits())-6:]; strings.Contains(got, sub) {
				t.Errorf("warning %q repeats digits of the number", got)
			}
		})
	}
	if NumberWarning(smsclient.Number{}) != "" {
		t.Error("the zero Number has a warning")
	}
}

func TestAssignedCodesPrefixFree(t *testing.T) {
	for c := range assignedCodes {
		for n := 1; n < len(c); n++ {
			if assignedCodes[c[:n]] {
				t.Errorf("code %s has the assigned prefix %s: E.164 codes are prefix-free", c, c[:n])
			}
		}
	}
	for c := range notMobile {
		if !assignedCodes[c] {
			t.Errorf("notMobile code %s is not in assignedCodes", c)
		}
	}
	for c := range mobilePrefixes {
		if !assignedCodes[c] {
			t.Errorf("mobilePrefixes code %s is not in assignedCodes", c)
		}
	}
}
