package smsclient

import (
	"regexp"
	"testing"
)

func TestValidateSender(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = valid
	}{
		{"", ""},
		{"pitcom", ""},
		{"Pit.com-X", ""},
		{"abc", ""},
		{"a_b", ""},
		{"Abcdefghijk", ""}, // 11 characters
		{"a1.-_9z", ""},
		{"00491721234567", ""},
		{"0049", ""},
		{"00123456789012345", ""}, // 15 digits after 00
		{"ab", "smsclient: sender is too short: 2 characters, at least 3 required"},
		{"a", "smsclient: sender is too short: 1 characters, at least 3 required"},
		{"Abcdefghijkl", "smsclient: sender is too long: 12 characters, at most 11 allowed"},
		{"1pitcom", "smsclient: sender must begin with a letter"},
		{"pitcom1", "smsclient: sender must end with a letter"},
		{".pitcom", "smsclient: sender must begin with a letter"},
		{"pitcom_", "smsclient: sender must end with a letter"},
		{"...", "smsclient: sender must begin with a letter"},
		{"pit com", "smsclient: sender: bad character ' ' at position 4; only a-z A-Z 0-9 . - _ are allowed"},
		{"pit@com", "smsclient: sender: bad character '@' at position 4; only a-z A-Z 0-9 . - _ are allowed"},
		{"Müller", "smsclient: sender: bad character 'ü' at position 2; only a-z A-Z 0-9 . - _ are allowed"},
		{"Σigma", "smsclient: sender: bad character 'Σ' at position 1; only a-z A-Z 0-9 . - _ are allowed"},
		{"pitcöm-Müller-Plauen", "smsclient: sender: bad character 'ö' at position 5; only a-z A-Z 0-9 . - _ are allowed"},
		{"+491721234567", "smsclient: numeric sender must start with 00, not +"},
		{"491721234567", "smsclient: numeric sender must start with 00 and a country code"},
		{"01721234567", "smsclient: numeric sender must start with 00 and a country code"},
		{"0049 172 1234567", "smsclient: numeric sender: bad character ' ' at position 5; only digits are allowed"},
		{"0049-1721234567", "smsclient: numeric sender: bad character '-' at position 5; only digits are allowed"},
		{"001234567890123456", "smsclient: numeric sender has 16 digits after 00; at most 15 allowed"},
		{"0012345678901234567890", "smsclient: numeric sender has 20 digits after 00; at most 15 allowed"},
		{"001", "smsclient: numeric sender has 1 digits after 00; at least 2 required"},
		{"00", "smsclient: numeric sender has 0 digits after 00; at least 2 required"},
		{"000491721234567", "smsclient: numeric sender: country code after 00 must not start with 0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateSender(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateSender(%q) = %q, want nil", tt.in, err)
			case tt.want != "" && err == nil:
				t.Errorf("ValidateSender(%q) = nil, want %q", tt.in, tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("ValidateSender(%q)\n got %q\nwant %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestValidateSenderMatchesPattern checks ValidateSender against the two
// patterns of notes/pitcom-gateway.md section 5 on every short string over a
// small alphabet that reaches each rule.
func TestValidateSenderMatchesPattern(t *testing.T) {
	senderPattern := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{1,9}[A-Za-z]$|^00[1-9][0-9]{1,14}$`)
	alpha := []byte("aZ01.+ ")
	var walk func(prefix []byte, depth int)
	walk = func(prefix []byte, depth int) {
		s := string(prefix)
		if s != "" {
			if got, want := ValidateSender(s) == nil, senderPattern.MatchString(s); got != want {
				t.Errorf("ValidateSender(%q) valid = %v, pattern says %v", s, got, want)
			}
		}
		if depth == 0 {
			return
		}
		for _, c := range alpha {
			walk(append(prefix, c), depth-1)
		}
	}
	walk(nil, 5)
	for _, s := range []string{"abcdefghijk", "abcdefghijkl", "00123456789012345", "001234567890123456"} {
		if got, want := ValidateSender(s) == nil, senderPattern.MatchString(s); got != want {
			t.Errorf("ValidateSender(%q) valid = %v, pattern says %v", s, got, want)
		}
	}
}
