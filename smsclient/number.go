package smsclient

import (
	"errors"
	"fmt"
	"strings"
)

// Digit limits of a parsed number, country code included. E.164 allows at
// most 15 digits. The lower bound rejects truncated entries; the shortest
// mobile numbers in use (Falkland Islands +500 5xxxx, Saint Helena +290 xxxxx)
// have 8 digits.
const (
	minDigits = 8
	maxDigits = 15
)

// visibleDigits is how many trailing subscriber digits Masked shows.
const visibleDigits = 3

// Number is a mobile number in E.164 form. The zero value is invalid.
// Numbers are compared with Equal: the grouping is presentation only.
type Number struct {
	digits string // country code and subscriber number, no prefix
	groups []int  // lengths of the subscriber digit groups the administrator wrote, for masking; nil = default grouping
}

// NumberFormat selects how a number is written into the gateway request.
type NumberFormat int

const (
	FormatDoubleZero NumberFormat = iota // 00491721234567
	FormatPlus                           // +491721234567
	FormatDigits                         // 491721234567
)

// ParseNumber accepts an international number as an administrator writes it:
// "+49 172 34567890", "0049 172 34567890", "+4917234567890".
//
// The rules are strict on purpose, so that a typo is reported rather than
// guessed at: the number starts with "+" or "00" directly followed by the
// country code (1-3 digits, not starting with 0); after that only ASCII
// digits and single spaces between digit groups are allowed (no "-", "/",
// "(0)" or leading/trailing spaces); it has 8 to 15 digits in all. A space
// inside the country code ("+4 9...") is rejected; the country code itself is
// taken from the ITU-T E.164 table, not from where the spaces are.
//
// Errors name the rule that failed and never repeat the number, since they
// end up in logs.
func ParseNumber(s string) (Number, error) {
	rest, err := stripPrefix(s)
	if err != nil {
		return Number{}, err
	}
	written, err := digitGroups(rest, len(s)-len(rest))
	if err != nil {
		return Number{}, err
	}
	digits := strings.Join(written, "")
	if len(digits) > maxDigits {
		return Number{}, fmt.Errorf("smsclient: number has %d digits; E.164 allows at most %d", len(digits), maxDigits)
	}
	if len(digits) < minDigits {
		return Number{}, fmt.Errorf("smsclient: number has %d digits; at least %d expected (country code and subscriber number)", len(digits), minDigits)
	}
	cc := countryCodeLen(digits)
	if len(written[0]) < cc {
		return Number{}, fmt.Errorf("smsclient: number: country code +%s must not contain a space", digits[:cc])
	}
	return Number{digits: digits, groups: subscriberGroups(written, cc)}, nil
}

// stripPrefix checks the "+" or "00" prefix and returns what follows it.
func stripPrefix(s string) (string, error) {
	var rest, prefix string
	switch {
	case s == "":
		return "", errors.New("smsclient: number is empty")
	case strings.HasPrefix(s, "+"):
		rest, prefix = s[1:], "+"
	case strings.HasPrefix(s, "00"):
		rest, prefix = s[2:], "00"
	case s[0] == '0':
		return "", errors.New("smsclient: number must start with + or 00 and a country code; a national number (single leading 0) is not accepted")
	default:
		return "", errors.New("smsclient: number must start with + or 00 and a country code")
	}
	switch {
	case rest == "":
		return "", fmt.Errorf("smsclient: number has no digits after %s", prefix)
	case rest[0] == ' ':
		return "", fmt.Errorf("smsclient: number: the country code must follow %s directly, without a space", prefix)
	case rest[0] == '0':
		return "", errors.New("smsclient: number: country code must not start with 0")
	}
	return rest, nil
}

// digitGroups splits rest at single spaces. offset is the byte offset of rest
// in the input, for error positions (counted in characters, from 1).
func digitGroups(rest string, offset int) ([]string, error) {
	groups := []string{}
	start := 0
	pos := offset // characters before rest; the prefix is ASCII
	for i, r := range rest {
		pos++
		switch {
		case r >= '0' && r <= '9':
			continue
		case r != ' ':
			return nil, fmt.Errorf("smsclient: number: bad character %q at position %d; only digits and single spaces may follow + or 00", r, pos)
		case i == len(rest)-1:
			return nil, errors.New("smsclient: number ends with a space")
		case i == start:
			return nil, fmt.Errorf("smsclient: number has two spaces in a row at position %d", pos)
		}
		groups = append(groups, rest[start:i])
		start = i + 1
	}
	return append(groups, rest[start:]), nil
}

// subscriberGroups returns the lengths of the subscriber digit groups as
// written, or nil when the subscriber part was written as one group.
func subscriberGroups(written []string, cc int) []int {
	var groups []int
	if n := len(written[0]) - cc; n > 0 {
		groups = append(groups, n)
	}
	for _, g := range written[1:] {
		groups = append(groups, len(g))
	}
	if len(groups) < 2 {
		return nil
	}
	return groups
}

// countryCodeLen returns the length of the country code digits begins with.
// E.164 country codes are prefix-free, so the leading digits decide; codes
// not in the table of 1- and 2-digit codes are 3 digits long (whether they
// are assigned is not checked).
func countryCodeLen(digits string) int {
	switch digits[0] {
	case '1', '7':
		return 1
	}
	if len(digits) < 2 {
		return 3
	}
	switch digits[:2] {
	case "20", "27",
		"30", "31", "32", "33", "34", "36", "39",
		"40", "41", "43", "44", "45", "46", "47", "48", "49",
		"51", "52", "53", "54", "55", "56", "57", "58",
		"60", "61", "62", "63", "64", "65", "66",
		"81", "82", "84", "86",
		"90", "91", "92", "93", "94", "95", "98":
		return 2
	}
	return 3
}

// ParseNumberFormat maps the config value "00", "+" or "digits".
func ParseNumberFormat(s string) (NumberFormat, error) {
	switch s {
	case "00":
		return FormatDoubleZero, nil
	case "+":
		return FormatPlus, nil
	case "digits":
		return FormatDigits, nil
	}
	return 0, fmt.Errorf("smsclient: number format %q is not one of \"00\", \"+\", \"digits\"", s)
}

// String returns the config spelling of f.
func (f NumberFormat) String() string {
	switch f {
	case FormatDoubleZero:
		return "00"
	case FormatPlus:
		return "+"
	case FormatDigits:
		return "digits"
	}
	return fmt.Sprintf("NumberFormat(%d)", int(f))
}

func (f NumberFormat) valid() bool {
	return f >= FormatDoubleZero && f <= FormatDigits
}

// IsValid reports whether n came from a successful ParseNumber.
func (n Number) IsValid() bool { return n.digits != "" }

// Digits returns the unmasked E.164 digits (country code and subscriber
// number, no prefix), e.g. as a key for the limits. Never log it.
func (n Number) Digits() string { return n.digits }

// Equal reports whether n and m are the same number, however they were written.
func (n Number) Equal(m Number) bool { return n.digits == m.digits }

// Format writes n for the gateway. An unknown format writes the "+" form.
func (n Number) Format(f NumberFormat) string {
	if !n.IsValid() {
		return ""
	}
	switch f {
	case FormatDoubleZero:
		return "00" + n.digits
	case FormatDigits:
		return n.digits
	}
	return "+" + n.digits
}

// Masked returns n for logs and user messages: "+49 *** *****890". It shows
// the country code and the last 3 digits; the subscriber part keeps the
// grouping the administrator wrote, or is grouped as 3 digits and the rest
// when it was written as one group. The zero Number gives "".
func (n Number) Masked() string {
	if !n.IsValid() {
		return ""
	}
	cc := countryCodeLen(n.digits)
	sub := n.digits[cc:]
	groups := n.groups
	if groups == nil {
		groups = []int{3, len(sub) - 3}
	}
	var b strings.Builder
	b.WriteString("+" + n.digits[:cc])
	i := 0
	for _, g := range groups {
		b.WriteByte(' ')
		for range g {
			if i < len(sub)-visibleDigits {
				b.WriteByte('*')
			} else {
				b.WriteByte(sub[i])
			}
			i++
		}
	}
	return b.String()
}

// maskedDigits is Masked without "+" and spaces, to overwrite the digits
// where a gateway echoes them.
func (n Number) maskedDigits() string {
	cc := countryCodeLen(n.digits)
	hidden := len(n.digits) - cc - visibleDigits
	return n.digits[:cc] + strings.Repeat("*", hidden) + n.digits[len(n.digits)-visibleDigits:]
}

// String returns the masked form so that a number never reaches a log by accident.
func (n Number) String() string { return n.Masked() }

// GoString keeps %#v masked too.
func (n Number) GoString() string { return "smsclient.Number(" + n.Masked() + ")" }
