package smsclient

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in     string
		digits string
		masked string
	}{
		{"+49 172 34567890", "4917234567890", "+49 *** *****890"},
		{"0049 172 34567890", "4917234567890", "+49 *** *****890"},
		{"+4917234567890", "4917234567890", "+49 *** *****890"},
		{"004917234567890", "4917234567890", "+49 *** *****890"},
		{"+49 17234567890", "4917234567890", "+49 *** *****890"},
		{"+49172 34567890", "4917234567890", "+49 *** *****890"},
		{"+49 172 345 678 90", "4917234567890", "+49 *** *** **8 90"},
		{"+1 415 555 2671", "14155552671", "+1 *** *** *671"},
		{"+14155552671", "14155552671", "+1 *** ****671"},
		{"+7 912 345 67 89", "79123456789", "+7 *** *** *7 89"},
		{"+43 664 1234567", "436641234567", "+43 *** ****567"},
		{"+41 79 123 45 67", "41791234567", "+41 ** *** *5 67"},
		{"+420 601 123 456", "420601123456", "+420 *** *** 456"},
		{"+420601123456", "420601123456", "+420 *** ***456"},
		{"+352 621 123 456", "352621123456", "+352 *** *** 456"},
		{"+500 51234", "50051234", "+500 **2 34"}, // 8 digits: the minimum
		{"+290 51234", "29051234", "+290 **2 34"}, // Saint Helena
		{"+86 139 1234 5678", "8613912345678", "+86 *** **** *678"},
		{"+998 90 123 45 67", "998901234567", "+998 ** *** *5 67"},
		{"+123456789012345", "123456789012345", "+1 *** ********345"}, // 15 digits: the maximum
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := ParseNumber(tt.in)
			if err != nil {
				t.Fatalf("ParseNumber(%q): %v", tt.in, err)
			}
			if !n.IsValid() {
				t.Errorf("IsValid() = false")
			}
			if got := n.Digits(); got != tt.digits {
				t.Errorf("Digits() = %q, want %q", got, tt.digits)
			}
			if got := n.Masked(); got != tt.masked {
				t.Errorf("Masked() = %q, want %q", got, tt.masked)
			}
		})
	}
}

func TestParseNumberErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "smsclient: number is empty"},
		{"+", "smsclient: number has no digits after +"},
		{"00", "smsclient: number has no digits after 00"},
		{"0172 34567890", "smsclient: number must start with + or 00 and a country code; a national number (single leading 0) is not accepted"},
		{"49 172 34567890", "smsclient: number must start with + or 00 and a country code"},
		{" +49 172 34567890", "smsclient: number must start with + or 00 and a country code"},
		{"++49 172 34567890", "smsclient: number: bad character '+' at position 2; only digits and single spaces may follow + or 00"},
		{"+ 49 172 34567890", "smsclient: number: the country code must follow + directly, without a space"},
		{"00 49 172 34567890", "smsclient: number: the country code must follow 00 directly, without a space"},
		{"+049 172 34567890", "smsclient: number: country code must not start with 0"},
		{"000049 172 34567890", "smsclient: number: country code must not start with 0"},
		{"+49 172 34567890 ", "smsclient: number ends with a space"},
		{"+49  172 34567890", "smsclient: number has two spaces in a row at position 5"},
		{"+49-172-34567890", "smsclient: number: bad character '-' at position 4; only digits and single spaces may follow + or 00"},
		{"+49 (0) 172 34567890", "smsclient: number: bad character '(' at position 5; only digits and single spaces may follow + or 00"},
		{"+49/172/34567890", "smsclient: number: bad character '/' at position 4; only digits and single spaces may follow + or 00"},
		{"+49 172 3456789O", "smsclient: number: bad character 'O' at position 16; only digits and single spaces may follow + or 00"},
		{"+49\t172 34567890", "smsclient: number: bad character '\\t' at position 4; only digits and single spaces may follow + or 00"},
		{"+49\u00a0172 34567890", "smsclient: number: bad character '\\u00a0' at position 4; only digits and single spaces may follow + or 00"},
		{"+49 ١٧٢ 34567890", "smsclient: number: bad character '١' at position 5; only digits and single spaces may follow + or 00"},
		{"+49 172 34567890123", "smsclient: number has 16 digits; E.164 allows at most 15"},
		{"+4917 234", "smsclient: number has 7 digits; at least 8 expected (country code and subscriber number)"},
		{"+4 917234567890", "smsclient: number: country code +49 must not contain a space"},
		{"+42 0601123456", "smsclient: number: country code +420 must not contain a space"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := ParseNumber(tt.in)
			if err == nil {
				t.Fatalf("ParseNumber(%q) = %v, want error %q", tt.in, n, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseNumber(%q) error\n got %q\nwant %q", tt.in, err, tt.want)
			}
			if n.IsValid() {
				t.Errorf("IsValid() = true on error")
			}
		})
	}
}

// TestParseNumberErrorsHideNumber: errors reach logs and must not repeat the
// subscriber digits.
func TestParseNumberErrorsHideNumber(t *testing.T) {
	for _, in := range []string{
		"+49 172 34567890123", "0172 34567890", "+49 172 3456x890", "+49-172-34567890", "+49 172 34567890 ",
	} {
		_, err := ParseNumber(in)
		if err == nil {
			t.Fatalf("ParseNumber(%q) succeeded", in)
		}
		if strings.Contains(err.Error(), "172") || strings.Contains(err.Error(), "3456") {
			t.Errorf("ParseNumber(%q) error repeats the number: %q", in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	n, err := ParseNumber("+49 172 34567890")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		config string
		format NumberFormat
		want   string
	}{
		{"00", FormatDoubleZero, "004917234567890"},
		{"+", FormatPlus, "+4917234567890"},
		{"digits", FormatDigits, "4917234567890"},
	}
	for _, tt := range tests {
		f, err := ParseNumberFormat(tt.config)
		if err != nil {
			t.Fatalf("ParseNumberFormat(%q): %v", tt.config, err)
		}
		if f != tt.format {
			t.Errorf("ParseNumberFormat(%q) = %v, want %v", tt.config, f, tt.format)
		}
		if got := f.String(); got != tt.config {
			t.Errorf("%d.String() = %q, want %q", int(f), got, tt.config)
		}
		if got := n.Format(f); got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", f, got, tt.want)
		}
	}
	if got := (Number{}).Format(FormatPlus); got != "" {
		t.Errorf("zero Number Format = %q, want empty", got)
	}
	if got := n.Format(NumberFormat(9)); got != "+4917234567890" {
		t.Errorf("Format(unknown) = %q, want the + form", got)
	}
}

func TestParseNumberFormatErrors(t *testing.T) {
	for _, in := range []string{"", "0", "+00", "DIGITS", "e164"} {
		_, err := ParseNumberFormat(in)
		want := fmt.Sprintf("smsclient: number format %q is not one of \"00\", \"+\", \"digits\"", in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseNumberFormat(%q) error = %v, want %q", in, err, want)
		}
	}
}

func TestNumberEqual(t *testing.T) {
	a, _ := ParseNumber("+49 172 34567890")
	b, _ := ParseNumber("004917234567890")
	c, _ := ParseNumber("+49 172 34567891")
	if !a.Equal(b) {
		t.Errorf("%v and %v written differently are not Equal", a, b)
	}
	if a.Equal(c) {
		t.Errorf("different numbers are Equal")
	}
	if a.Equal(Number{}) {
		t.Errorf("a number is Equal to the zero Number")
	}
}

// TestNumberNeverPrintsDigits: every fmt verb goes through the masked form.
func TestNumberNeverPrintsDigits(t *testing.T) {
	n, err := ParseNumber("+49 172 34567890")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		got := fmt.Sprintf(verb, n)
		if strings.Contains(got, "4567") {
			t.Errorf("Sprintf(%q) = %q shows the number", verb, got)
		}
		got = fmt.Sprintf(verb, struct{ N Number }{n})
		if strings.Contains(got, "4567") {
			t.Errorf("Sprintf(%q) of a struct = %q shows the number", verb, got)
		}
	}
	if got := (Number{}).Masked(); got != "" {
		t.Errorf("zero Number Masked() = %q, want empty", got)
	}
}

func TestCountryCodeLen(t *testing.T) {
	oneOrTwo := map[string]int{"1": 1, "7": 1}
	for _, cc := range strings.Fields("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 " +
		"51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98") {
		oneOrTwo[cc] = 2
	}
	for first := '1'; first <= '9'; first++ {
		for second := '0'; second <= '9'; second++ {
			digits := string(first) + string(second) + "123456"
			want := 3
			if n, ok := oneOrTwo[string(first)]; ok {
				want = n
			} else if n, ok := oneOrTwo[digits[:2]]; ok {
				want = n
			}
			if got := countryCodeLen(digits); got != want {
				t.Errorf("countryCodeLen(%s...) = %d, want %d", digits[:2], got, want)
			}
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{
		"+49 172 34567890", "0049 172 34567890", "+4917234567890", "+1 415 555 2671", "+420 601 123 456",
		"+500 51234", "+123456789012345", "+49 172 34567890123", "0172 34567890", "+", "00", "",
		"+49  172", "+49 172 ", "+ 49", "+049", "+4 917234567890", "+49\u00a0172", "+49 ١٧٢ 34567890",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNumber(s)
		if err != nil {
			if n.IsValid() {
				t.Fatalf("invalid Number returned with error %v", err)
			}
			return
		}
		again, err := ParseNumber(n.Format(FormatPlus))
		if err != nil {
			t.Fatalf("ParseNumber(Format(FormatPlus)): %v", err)
		}
		if !again.Equal(n) {
			t.Fatalf("round trip changed the number")
		}
		if other, err := ParseNumber(n.Format(FormatDoubleZero)); err != nil || !other.Equal(n) {
			t.Fatalf("ParseNumber(Format(FormatDoubleZero)) = %v, %v", other, err)
		}
		// The masked form shows the country code and the last 3 digits, nothing else.
		masked := n.Masked()
		cc := countryCodeLen(n.Digits())
		wantDigits := n.Digits()[:cc] + n.Digits()[len(n.Digits())-3:]
		gotDigits := strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) {
				return r
			}
			return -1
		}, masked)
		if gotDigits != wantDigits {
			t.Fatalf("Masked() shows digits %q, want only %q", gotDigits, wantDigits)
		}
		if !strings.HasPrefix(masked, "+"+n.Digits()[:cc]+" ") {
			t.Fatalf("Masked() does not start with the country code")
		}
	})
}
