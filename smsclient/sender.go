package smsclient

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sender ID limits (pitcom "origin", seed): alphanumeric 3-11 characters,
// numeric "00" and at most 15 digits.
const (
	minAlphaSender  = 3
	maxAlphaSender  = 11
	minNumericAfter = 2
	maxNumericAfter = 15
)

// ValidateSender checks a sender ID (pitcom "origin"): empty, 3-11 characters
// of a-zA-Z0-9.-_ beginning and ending with a letter, or 00 plus at most 15 digits.
// A value without letters that starts with a digit or "+" is judged by the
// numeric rule, anything else by the alphanumeric one, so that the error
// names the rule the administrator meant.
func ValidateSender(s string) error {
	switch {
	case s == "":
		return nil
	case looksNumeric(s):
		return validateNumericSender(s)
	}
	return validateAlphaSender(s)
}

func looksNumeric(s string) bool {
	if s[0] != '+' && !isDigit(rune(s[0])) {
		return false
	}
	return !strings.ContainsFunc(s, isLetter)
}

func validateNumericSender(s string) error {
	if s[0] == '+' {
		return errors.New("smsclient: numeric sender must start with 00, not +")
	}
	if !strings.HasPrefix(s, "00") {
		return errors.New("smsclient: numeric sender must start with 00 and a country code")
	}
	for i, r := range s {
		if !isDigit(r) {
			return fmt.Errorf("smsclient: numeric sender: bad character %q at position %d; only digits are allowed", r, utf8.RuneCountInString(s[:i])+1)
		}
	}
	digits := s[2:]
	switch {
	case len(digits) < minNumericAfter:
		return fmt.Errorf("smsclient: numeric sender has %d digits after 00; at least %d required", len(digits), minNumericAfter)
	case len(digits) > maxNumericAfter:
		return fmt.Errorf("smsclient: numeric sender has %d digits after 00; at most %d allowed", len(digits), maxNumericAfter)
	case digits[0] == '0':
		return errors.New("smsclient: numeric sender: country code after 00 must not start with 0")
	}
	return nil
}

func validateAlphaSender(s string) error {
	for i, r := range s {
		if !isLetter(r) && !isDigit(r) && r != '.' && r != '-' && r != '_' {
			return fmt.Errorf("smsclient: sender: bad character %q at position %d; only a-z A-Z 0-9 . - _ are allowed", r, utf8.RuneCountInString(s[:i])+1)
		}
	}
	// Only ASCII is left, so bytes are characters.
	switch {
	case len(s) < minAlphaSender:
		return fmt.Errorf("smsclient: sender is too short: %d characters, at least %d required", len(s), minAlphaSender)
	case len(s) > maxAlphaSender:
		return fmt.Errorf("smsclient: sender is too long: %d characters, at most %d allowed", len(s), maxAlphaSender)
	case !isLetter(rune(s[0])):
		return errors.New("smsclient: sender must begin with a letter")
	case !isLetter(rune(s[len(s)-1])):
		return errors.New("smsclient: sender must end with a letter")
	}
	return nil
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
