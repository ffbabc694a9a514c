package packaging_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// aptSources are where apt keeps its sources, in the order apt reads them.
var aptSources = []string{"/etc/apt/sources.list", "/etc/apt/sources.list.d"}

// debianMirror returns the URI that this machine's apt takes suite from
// (e.g. "bookworm"), so that the chroot is built from the same mirror the
// machine already uses instead of one written into the tests.
func debianMirror(suite string) (string, error) {
	var files []string
	for _, p := range aptSources {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		// apt reads only *.list and *.sources; anything else (*.disabled) is off.
		for _, pat := range []string{"*.list", "*.sources"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			files = append(files, m...)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		if strings.HasSuffix(f, ".sources") {
			uri = mirrorFromDeb822(string(data), suite)
		} else {
			uri = mirrorFromList(string(data), suite)
		}
		if uri != "" {
			return uri, nil
		}
	}
	return "", fmt.Errorf("no apt source for suite %q with component main in %s", suite, strings.Join(aptSources, ", "))
}

// mirrorFromList reads one-line-style sources ("deb [opts] URI SUITE COMPONENTS...").
func mirrorFromList(data, suite string) string {
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if len(f) > 0 && strings.HasPrefix(f[0], "[") {
			// Options run up to the word that ends with "]".
			i := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, "]") })
			if i < 0 {
				continue
			}
			f = f[i+1:]
		}
		if len(f) >= 3 && f[1] == suite && slices.Contains(f[2:], "main") {
			return f[0]
		}
	}
	return ""
}

// mirrorFromDeb822 reads deb822-style sources (stanzas of "Field: value").
func mirrorFromDeb822(data, suite string) string {
	for _, stanza := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n\n") {
		fields := map[string][]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(line, " ") {
				continue
			}
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.Fields(v)
		}
		if e := fields["enabled"]; len(e) > 0 && strings.EqualFold(e[0], "no") {
			continue
		}
		if !slices.Contains(fields["types"], "deb") || !slices.Contains(fields["suites"], suite) ||
			!slices.Contains(fields["components"], "main") || len(fields["uris"]) == 0 {
			continue
		}
		return fields["uris"][0]
	}
	return ""
}
