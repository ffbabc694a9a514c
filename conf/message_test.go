package conf

import (
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/smsclient"
)

// The SMS text follows language when message is not set; a message the
// admin wrote wins in every language.
func TestDefaultMessageFollowsLanguage(t *testing.T) {
	const gw = "[gateway]\nurl = \"https://sms.test/send\"\n"
	tests := []struct {
		name, code, want string
	}{
		{"no language", "", "Your login code for {host}: {code}"},
		{"en", `language = "en"`, "Your login code for {host}: {code}"},
		{"de", `language = "de"`, "Ihr Anmeldecode für {host}: {code}"},
		{"de, explicit message", "language = \"de\"\nmessage = \"Code {code}\"", "Code {code}"},
		{"en, explicit German message", "language = \"en\"\nmessage = \"Ihr Code: {code}\"", "Ihr Code: {code}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("t", []byte(gw+"[code]\n"+tt.code+"\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cfg.Code.Message != tt.want {
				t.Errorf("message = %q, want %q", cfg.Code.Message, tt.want)
			}
		})
	}
}

// Every default text is a valid template and fits one GSM-7 SMS with a
// long host name, so that choosing a language never costs a second SMS.
func TestDefaultMessagesFitOneSMS(t *testing.T) {
	host := strings.Repeat("h", 100)
	for lang, msg := range defaultMessages {
		t.Run(lang, func(t *testing.T) {
			if got := DefaultMessageFor(lang); got != msg {
				t.Fatalf("DefaultMessageFor(%q) = %q, want %q", lang, got, msg)
			}
			text := Code{Message: msg}.Render("1234567890", host, "alice")
			chars, perSMS, gsm7 := smsclient.Segments(text)
			if !gsm7 || chars > perSMS {
				t.Errorf("%q: %d characters, %d per SMS, GSM-7 %v: want one GSM-7 SMS", text, chars, perSMS, gsm7)
			}
			cfg, err := Parse("t", []byte("[gateway]\nurl = \"https://sms.test/send\"\n[code]\nlanguage = \""+lang+"\"\nmessage = \""+msg+"\"\n"))
			if err != nil || cfg.Code.Message != msg {
				t.Errorf("the default %q as an explicit message: %v", msg, err)
			}
		})
	}
	if got := DefaultMessageFor("xx"); got != DefaultMessage {
		t.Errorf("DefaultMessageFor(unknown) = %q, want the English default", got)
	}
}
