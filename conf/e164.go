package conf

import (
	"strings"

	"github.com/pam-sms/pam_sms/smsclient"
)

// assignedCodes are the country calling codes of ITU-T E.164 in service
// (ITU Operational Bulletin list, 2024), geographic and the global services
// that can reach a phone. Codes are prefix-free, so a number's code is the
// one of its first 1, 2 or 3 digits found here. Spare codes (e.g. 28x, 42x
// but 420/421/423, 999) are not listed: a number there reaches nobody.
var assignedCodes = func() map[string]bool {
	codes := strings.Fields(`
		1 7
		20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49
		51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86
		90 91 92 93 94 95 98
		211 212 213 216 218
		220 221 222 223 224 225 226 227 228 229
		230 231 232 233 234 235 236 237 238 239
		240 241 242 243 244 245 246 247 248 249
		250 251 252 253 254 255 256 257 258
		260 261 262 263 264 265 266 267 268 269
		290 291 297 298 299
		350 351 352 353 354 355 356 357 358 359
		370 371 372 373 374 375 376 377 378 379
		380 381 382 383 385 386 387 389
		420 421 423
		500 501 502 503 504 505 506 507 508 509
		590 591 592 593 594 595 596 597 598 599
		670 672 673 674 675 676 677 678 679
		680 681 682 683 685 686 687 688 689
		690 691 692
		800 808 850 852 853 855 856 870 880 881 882 883 886 888
		960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 979
		992 993 994 995 996 997 998`)
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}()

// notMobile are global service codes that never reach a mobile phone:
// international freephone, shared cost and premium rate.
var notMobile = map[string]string{
	"800": "international freephone",
	"808": "international shared cost",
	"979": "international premium rate",
	"888": "the UN OCHA disaster relief service",
}

// mobilePrefixes lists, for countries whose numbering plan tells mobile
// numbers by their first digits, those digits after the country code. Other
// countries (the NANP +1 among them) cannot be told and are not checked.
var mobilePrefixes = map[string]struct {
	country  string
	prefixes []string
}{
	"31":  {"the Netherlands", []string{"6"}},
	"32":  {"Belgium", []string{"4"}},
	"33":  {"France", []string{"6", "7"}},
	"34":  {"Spain", []string{"6", "7"}},
	"39":  {"Italy", []string{"3"}},
	"41":  {"Switzerland", []string{"7"}},
	"43":  {"Austria", []string{"6"}},
	"44":  {"the United Kingdom", []string{"7"}},
	"46":  {"Sweden", []string{"7"}},
	"47":  {"Norway", []string{"4", "9"}},
	"49":  {"Germany", []string{"15", "16", "17"}},
	"61":  {"Australia", []string{"4"}},
	"351": {"Portugal", []string{"9"}},
	"353": {"Ireland", []string{"8"}},
}

// countryCode returns the country calling code digits begins with, and
// whether it is assigned.
func countryCode(digits string) (string, bool) {
	for n := 1; n <= 3 && n <= len(digits); n++ {
		if assignedCodes[digits[:n]] {
			return digits[:n], true
		}
	}
	return digits[:min(3, len(digits))], false
}

// NumberWarning says why n, which parsed, is probably not a mobile number
// that can receive a code: an unassigned country code, a service code, or
// the prefix of a fixed line where the numbering plan tells them apart. It
// is "" when nothing can be told. The message names the country code and at
// most the first digits after it, never the number.
func NumberWarning(n smsclient.Number) string {
	digits := n.Digits()
	if digits == "" {
		return ""
	}
	cc, ok := countryCode(digits)
	if !ok {
		return "country code +" + cc + " is not assigned (ITU-T E.164): no SMS can reach this number"
	}
	if what, ok := notMobile[cc]; ok {
		return "+" + cc + " is " + what + ", not a mobile number"
	}
	plan, ok := mobilePrefixes[cc]
	if !ok {
		return ""
	}
	rest := digits[len(cc):]
	for _, p := range plan.prefixes {
		if strings.HasPrefix(rest, p) {
			return ""
		}
	}
	return "+" + cc + " " + rest[:1] + "... is not a mobile number in " + plan.country +
		" (mobile numbers begin +" + cc + " " + orList(plan.prefixes) + ")"
}
