package smsclient

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		chars  int
		perSMS int
		gsm7   bool
	}{
		{"empty", "", 0, 160, true},
		{"default message", "Your login code for host1.example.com: 482913", 45, 160, true},
		{"German umlauts", "Ihr Anmeldecode für Größe Ähre Übel Öl ß: 123456", 48, 160, true},
		{"GSM-7 symbols", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæÉ¤¡§¿àñÑ", 35, 160, true},
		{"euro counts 2", "Code 1234 €", 12, 160, true},
		{"extension characters count 2", "^{}\\[~]|\f", 18, 160, true},
		{"newline", "Code:\n1234\r\n", 12, 160, true},
		{"160 characters", strings.Repeat("a", 160), 160, 160, true},
		{"161 characters", strings.Repeat("a", 161), 161, 160, true},
		{"emoji switches to UCS-2", "Code 1234 🔐", 12, 70, false},
		{"one non-GSM accent", "Código 1234 for hôst", 20, 70, false},
		{"backtick is not GSM-7", "`code` 1234", 11, 70, false},
		{"euro in UCS-2 counts 1", "€ 1234 ✓", 8, 70, false},
		{"ESC itself is not text", "a\x1bb", 3, 70, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chars, perSMS, gsm7 := Segments(tt.text)
			if chars != tt.chars || perSMS != tt.perSMS || gsm7 != tt.gsm7 {
				t.Errorf("Segments(%q) = %d, %d, %v, want %d, %d, %v", tt.text, chars, perSMS, gsm7, tt.chars, tt.perSMS, tt.gsm7)
			}
		})
	}
}

// TestGSM7Tables: the basic table has 128 positions, one of them the escape
// to the extension table; the extension table adds 10 characters.
func TestGSM7Tables(t *testing.T) {
	if n := utf8.RuneCountInString(gsm7Basic); n != 127 {
		t.Errorf("basic table has %d characters, want 127", n)
	}
	if n := utf8.RuneCountInString(gsm7Extension); n != 10 {
		t.Errorf("extension table has %d characters, want 10", n)
	}
	seen := map[rune]bool{}
	for _, r := range gsm7Basic + gsm7Extension {
		if seen[r] {
			t.Errorf("%q is in the tables twice", r)
		}
		seen[r] = true
	}
}
