// Package docs_test checks that the documents promise only what the tests do.
package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// SECURITY.md maps each attack to the test that proves its defence; a name
// there that no test defines would be a promise nobody checks.
func TestSecurityNamesRealTests(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	def := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "build") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`[^`]*?((?:Test|Fuzz)[A-Z][A-Za-z0-9_]*)`")
	n := 0
	for _, m := range named.FindAllStringSubmatch(string(doc), -1) {
		name := m[1]
		if name == "TestName" { // the page's own example of the notation
			continue
		}
		n++
		if !defined[name] {
			t.Errorf("SECURITY.md names %s, which no test defines", name)
		}
	}
	if n < 30 {
		t.Errorf("found only %d test names in SECURITY.md; the pattern no longer matches the page", n)
	}
}
