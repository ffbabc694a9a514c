package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMaskSecretsHeadersJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
		hidden         []string
	}{
		{"inline token headers", "POST https://gw.example/send\nContent-Type: application/json\nAccept: text/plain\n" +
			"Authorization: Bearer b34rer-T0k\nX-Api-Key: k3y-1234\nX-Token-File: ********\n\n{\"to\":\"0049\"}",
			"POST https://gw.example/send\nContent-Type: application/json\nAccept: text/plain\n" +
				"Authorization: Bearer ********\nX-Api-Key: ********\nX-Token-File: ********\n\n{\"to\":\"0049\"}",
			[]string{"b34rer-T0k", "k3y-1234"}},
		{"JSON members by name, order kept", "POST https://gw.example/send\nContent-Type: application/json\n\n" +
			`{"api_key":"AK-998877","to":"+49","text":"a&key=b","pw":"********","n":"1"}`,
			"POST https://gw.example/send\nContent-Type: application/json\n\n" +
				`{"api_key":"********","to":"+49","text":"a&key=b","pw":"********","n":"1"}`,
			[]string{"AK-998877"}},
		{"GET with headers", "GET https://gw.example/s?to=1\nX-Auth-Token: t0k3n-55", "GET https://gw.example/s?to=1\nX-Auth-Token: ********",
			[]string{"t0k3n-55"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, r := maskSecrets(tt.in, "pw")
			if got != tt.want {
				t.Errorf("maskSecrets =\n%s\nwant\n%s", got, tt.want)
			}
			for _, h := range tt.hidden {
				if echo := r.Replace("reply " + h); strings.Contains(got, h) || strings.Contains(echo, h) {
					t.Errorf("%q survives: %q / %q", h, got, echo)
				}
			}
		})
	}
}

// send-test shows the configured headers with the values from header_files,
// inline token headers and the Basic credentials masked, and the JSON body
// with credential members masked; the gateway gets the real values.
func TestSendTestReachSecrets(t *testing.T) {
	requireRoot(t)
	const fileKey, inlineKey = "F1le-K3y-777", "Inl1ne-K3y-888"
	gw := startGateway(t, "ERROR echo "+fileKey+" "+inlineKey, false)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(fileKey+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	path, _ := writeConfig(t, configOpts{url: gw.url(), numbers: fmt.Sprintf(
		"root = %q\n[gateway.headers]\nX-Api-Key = %q\n[gateway.header_files]\nX-Secret = %q\n", testNumber, inlineKey, keyFile)})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "[gateway]\n", "[gateway]\nbody = \"json\"\n", 1))
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	r := run(t, "send-test", "--config", path, "root")
	gw.next(t)
	out := r.stdout + r.stderr
	for _, s := range []string{fileKey, inlineKey, testPassword} {
		if strings.Contains(out, s) {
			t.Errorf("output shows the secret %q:\n%s", s, out)
		}
	}
	for _, want := range []string{"Content-Type: application/json", "X-Api-Key: ********", "X-Secret: ********",
		`"pw":"********"`, `reply:    "ERROR echo ******** ********"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}
