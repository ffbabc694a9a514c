package packaging_test

import "testing"

func TestMirrorFromSources(t *testing.T) {
	const uri = "http://mirror.test/debian"
	tests := []struct {
		name, data string
		deb822     bool
		want       string
	}{
		{"list", "deb " + uri + " bookworm main contrib\n", false, uri},
		{"list with options", "deb [arch=amd64 signed-by=/k.gpg] " + uri + " bookworm main\n", false, uri},
		{"list other suite first", "deb http://sec.test/ bookworm-security main\ndeb " + uri + " bookworm main\n", false, uri},
		{"list deb-src only", "deb-src " + uri + " bookworm main\n", false, ""},
		{"list commented", "# deb " + uri + " bookworm main\n", false, ""},
		{"list no main", "deb " + uri + " bookworm contrib\n", false, ""},
		{"deb822", "Types: deb\n# comment\nURIs: " + uri + "\nSuites: bookworm bookworm-updates\nComponents: main\n", true, uri},
		{"deb822 second stanza", "Types: deb\nURIs: http://sec.test/\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: " + uri + "\nSuites: bookworm\nComponents: main\n", true, uri},
		{"deb822 disabled", "Enabled: no\nTypes: deb\nURIs: " + uri + "\nSuites: bookworm\nComponents: main\n", true, ""},
		{"deb822 src", "Types: deb-src\nURIs: " + uri + "\nSuites: bookworm\nComponents: main\n", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.deb822 {
				got = mirrorFromDeb822(tt.data, "bookworm")
			} else {
				got = mirrorFromList(tt.data, "bookworm")
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
