package main

import "github.com/pam-sms/pam_sms/smsclient"

// messages are the texts the user sees, per [code] language.
type messages struct {
	CodeSent string // %s = masked number
	Prompt   string
	Wrong    string
	// For an application that passed PAM_SILENT (sudo), which shows only
	// prompts: the prompt carries what CodeSent and Wrong would say.
	SilentPrompt string // %s = masked number; the first prompt for a code
	SilentWrong  string // the prompt after a wrong code
	TooMany      string
	Expired      string
	NoNumber     string
	Limited      string
	Unavailable  string // gateway unreachable (network, TLS, timeout)
	Refused      string // gateway answered with an error
	GatewayBusy  string // gateway's own spam filter or quota
	Internal     string

	DirectoryDown string // the directory holding the number did not answer
}

var texts = map[string]messages{
	"en": {
		CodeSent:     "Code sent to %s",
		Prompt:       "SMS code: ",
		Wrong:        "Wrong code, try again.",
		SilentPrompt: "SMS code (sent to %s): ",
		SilentWrong:  "Wrong code. SMS code: ",
		TooMany:      "Too many wrong codes.",
		Expired:      "The code has expired. Log in again to get a new one.",
		NoNumber:     "No mobile number is on file for you. Contact your administrator.",
		Limited:      "Too many codes were requested. Try again later.",
		Unavailable:  "The SMS code could not be sent. Try again later.",
		Refused:      "The SMS service did not accept the code. Try again later or contact your administrator.",
		GatewayBusy:  "The SMS service is not sending more codes right now. Try again later.",
		Internal:     "Login by SMS code is not available. Contact your administrator.",

		DirectoryDown: "The directory with your mobile number cannot be reached. Try again later.",
	},
	"de": {
		CodeSent:     "Code gesendet an %s",
		Prompt:       "SMS-Code: ",
		Wrong:        "Falscher Code, bitte erneut versuchen.",
		SilentPrompt: "SMS-Code (gesendet an %s): ",
		SilentWrong:  "Falscher Code. SMS-Code: ",
		TooMany:      "Zu viele falsche Codes.",
		Expired:      "Der Code ist abgelaufen. Bitte erneut anmelden, um einen neuen zu erhalten.",
		NoNumber:     "Für Sie ist keine Mobilfunknummer hinterlegt. Bitte wenden Sie sich an Ihren Administrator.",
		Limited:      "Zu viele Codes angefordert. Bitte später erneut versuchen.",
		Unavailable:  "Der SMS-Code konnte nicht gesendet werden. Bitte später erneut versuchen.",
		Refused:      "Der SMS-Dienst hat den Code nicht angenommen. Bitte später erneut versuchen oder an Ihren Administrator wenden.",
		GatewayBusy:  "Der SMS-Dienst versendet gerade keine weiteren Codes. Bitte später erneut versuchen.",
		Internal:     "Die Anmeldung per SMS-Code ist nicht verfügbar. Bitte wenden Sie sich an Ihren Administrator.",

		DirectoryDown: "Das Verzeichnis mit Ihrer Mobilfunknummer ist nicht erreichbar. Bitte später erneut versuchen.",
	},
}

// gatewayText is what the user is told when a send did not go out.
func (m messages) gatewayText(c smsclient.Class) string {
	switch c {
	case smsclient.RateLimited:
		return m.GatewayBusy
	case smsclient.Failed:
		return m.Refused
	}
	return m.Unavailable
}

func textsFor(language string) messages {
	if m, ok := texts[language]; ok {
		return m
	}
	return texts["en"]
}
