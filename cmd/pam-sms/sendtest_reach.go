package main

import (
	"bytes"
	"encoding/json"
	"strings"
)

// maskHeaderLines replaces the values of header lines ("Name: value", between
// the request line and the blank line) whose names look like credentials
// (Authorization, X-Api-Key, X-Auth-Token): smsclient already hides the
// values from header_files and the Basic credentials, but a token may also
// be written into [gateway.headers]. The hidden values are added to pairs.
func maskHeaderLines(lines []string, passwordField string, pairs *[]string) {
	for i := 1; i < len(lines) && lines[i] != ""; i++ {
		name, value, ok := strings.Cut(lines[i], ": ")
		if !ok || value == redactedValue || !isSecretField(name, passwordField) {
			continue
		}
		// "Bearer TOKEN", "Basic ...": keep the scheme, hide the rest.
		scheme, rest, hasScheme := strings.Cut(value, " ")
		if hasScheme && !strings.ContainsAny(scheme, "=:") {
			lines[i] = name + ": " + scheme + " " + redactedValue
			value = rest
		} else {
			lines[i] = name + ": " + redactedValue
		}
		if len(value) >= minSecretLen && value != redactedValue {
			*pairs = append(*pairs, value)
			*pairs = append(*pairs, redactedValue)
		}
	}
}

// maskJSONBody replaces the values of members whose names look like
// credentials in a JSON body (body = "json"), keeping the members' order;
// anything that is not one flat object of strings is left as it is.
func maskJSONBody(body, passwordField string, pairs *[]string) string {
	dec := json.NewDecoder(strings.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return body
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		nameTok, err := dec.Token()
		if err != nil {
			return body
		}
		valueTok, err := dec.Token()
		name, okName := nameTok.(string)
		value, okValue := valueTok.(string)
		if err != nil || !okName || !okValue {
			return body
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		if isSecretField(name, passwordField) && value != redactedValue {
			if len(value) >= minSecretLen {
				*pairs = append(*pairs, value, redactedValue)
			}
			value = redactedValue
		}
		b.WriteString(jsonText(name) + ":" + jsonText(value))
	}
	b.WriteByte('}')
	return b.String()
}

// jsonText encodes s as smsclient does: without HTML escaping.
func jsonText(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
