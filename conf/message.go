package conf

// defaultMessages is the SMS text per [code] language when message is not
// set. Each stays within one GSM-7 SMS for any host name up to 100 bytes:
// "ü" is in the GSM-7 basic set, so the German text costs no more than the
// English one.
var defaultMessages = map[string]string{
	"en": DefaultMessage,
	"de": "Ihr Anmeldecode für {host}: {code}",
}

// DefaultMessageFor returns the SMS text used when message is not set: the
// text in language, or the English one for a language without its own.
func DefaultMessageFor(language string) string {
	if m, ok := defaultMessages[language]; ok {
		return m
	}
	return DefaultMessage
}
