package smsclient

import (
	"strings"
	"unicode/utf16"
)

// Characters per single SMS (140 bytes): 7-bit GSM or 16-bit UCS-2.
const (
	perSMSGSM7 = 160
	perSMSUCS2 = 70
)

// The GSM 03.38 default alphabet (3GPP TS 23.038) without ESC, and its
// extension table, whose characters take an escape and so count 2.
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extension = "\f^{}\\[~]|€"
)

// Segments measures text against one SMS. When every character is in the
// GSM-7 alphabet, chars counts GSM-7 characters (extension characters such
// as € count 2) and perSMS is 160; otherwise the whole message goes as
// UCS-2, chars counts UTF-16 units (an emoji counts 2) and perSMS is 70.
// The text fits one SMS when chars <= perSMS.
func Segments(text string) (chars, perSMS int, gsm7 bool) {
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			chars++
		case strings.ContainsRune(gsm7Extension, r):
			chars += 2
		default:
			return len(utf16.Encode([]rune(text))), perSMSUCS2, false
		}
	}
	return chars, perSMSGSM7, true
}
