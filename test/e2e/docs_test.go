package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// TestDocsQuoteShippedFiles keeps docs/sshd.md and the files the tests load
// from drifting apart: every PAM line quoted in a code block of the guide is a
// line of a docs/pam.d/ file, every sshd keyword line is a line of the shipped
// drop-in, and the guide quotes all of the drop-in. No root needed.
func TestDocsQuoteShippedFiles(t *testing.T) {
	root := testenv.RepoRoot(t)
	guide := readLines(t, filepath.Join(root, "docs", "sshd.md"))
	dropInLines := settingLines(readLines(t, filepath.Join(root, dropIn)))

	stacks, err := filepath.Glob(filepath.Join(root, "docs", "pam.d", "*"))
	if err != nil || len(stacks) == 0 {
		t.Fatalf("no files in docs/pam.d: %v", err)
	}
	var pamLines []string
	for _, f := range stacks {
		pamLines = append(pamLines, readLines(t, f)...)
	}

	quoted := map[string]bool{}
	inBlock := false
	for i, line := range guide {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock || strings.TrimSpace(line) == "" {
			continue
		}
		quoted[line] = true
		first := strings.Fields(line)[0]
		switch {
		case first == "auth" || first == "@include":
			if !contains(pamLines, line) {
				t.Errorf("docs/sshd.md:%d: %q is in no docs/pam.d file", i+1, line)
			}
		case isSSHDKeyword(first):
			if !contains(dropInLines, line) {
				t.Errorf("docs/sshd.md:%d: %q is not a line of %s", i+1, line, dropIn)
			}
		}
	}
	for _, line := range dropInLines {
		if !quoted[line] {
			t.Errorf("docs/sshd.md does not quote the drop-in line %q", line)
		}
	}
}

func isSSHDKeyword(w string) bool {
	switch w {
	case "UsePAM", "KbdInteractiveAuthentication", "PasswordAuthentication", "AuthenticationMethods",
		"PubkeyAuthentication", "ChallengeResponseAuthentication":
		return true
	}
	return false
}

// settingLines drops comments and blank lines.
func settingLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
			out = append(out, l)
		}
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func contains(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}
