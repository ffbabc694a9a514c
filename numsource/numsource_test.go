package numsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/smsclient"
)

// writeFile writes a numbers file with the shipped rules (root, 0640): the
// tests run as root, so the file is owned by root.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return path
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("numbers files must be owned by root: run as root")
	}
}

func mustNumber(t testing.TB, s string) smsclient.Number {
	t.Helper()
	n, err := smsclient.ParseNumber(s)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return n
}

// TestLookupSources: the order of SPEC section 7 (config, then each file in
// order, the first that has the user wins), an invalid number is "no number"
// with the reason and stops the search, and a file that cannot be used stops
// it with an error that names the file.
func TestLookupSources(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	f1 := writeFile(t, dir, "one", "# first file\nbob = \"+49 170 1111111\"\ncarol = \"+49 170 2222222\"\n"+
		"dave = \"98765\"\nerin = +49 170 3333333\n")
	f2 := writeFile(t, dir, "two", "alice = \"+49 170 9999999\"\ncarol = \"+49 170 8888888\"\n"+
		"dave = \"+49 170 4444444\"\n\"frank.x\" = \"+41 79 5555555\"\n")
	unsafe := writeFile(t, dir, "unsafe", "gina = \"+49 170 6666666\"\n")
	if err := os.Chmod(unsafe, 0o666); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	cfg := &conf.Config{Path: "/etc/pam_sms.conf", Numbers: map[string]smsclient.Number{
		"alice": mustNumber(t, "+49 172 34567890"),
	}}
	cfg.Policy.NumbersFiles = []string{f1, f2}

	tests := []struct {
		name, user string
		files      []string // nil: f1, f2
		want       string   // masked number, or "" for none
		where      string
		why        string // Result.Why, or the error's text
		wantErr    bool
	}{
		{name: "config wins over the files", user: "alice", want: "+49 *** *****890", where: "[numbers] in /etc/pam_sms.conf"},
		{name: "first file", user: "bob", want: "+49 *** ****111", where: f1 + " line 2"},
		{name: "first file wins over the second", user: "carol", want: "+49 *** ****222", where: f1 + " line 3"},
		{name: "second file", user: "frank.x", want: "+41 ** ****555", where: f2 + " line 4"},
		{name: "invalid number is no number and stops the search", user: "dave", where: f1 + " line 4",
			why: "invalid number in " + f1 + " line 4: "},
		{name: "unquoted number is no number", user: "erin", where: f1 + " line 5",
			why: "invalid number in " + f1 + ` line 5: the number must be one "quoted" string`},
		{name: "nowhere", user: "zoe", why: "no number in [numbers], " + f1 + " or " + f2},
		{name: "missing file denies", user: "zoe", files: []string{f1, missing, f2}, wantErr: true,
			why: "numbers file " + missing + ": file does not exist"},
		{name: "unsafe file denies", user: "gina", files: []string{unsafe}, wantErr: true,
			why: "numbers file " + unsafe + " is mode 0666; it must not be writable by group, writable by others or readable by others (chmod 0640 " + unsafe + ")"},
		{name: "a file after the one that has the user is not opened", user: "bob", files: []string{f1, missing},
			want: "+49 *** ****111", where: f1 + " line 2"},
		{name: "config user never opens a file", user: "alice", files: []string{missing},
			want: "+49 *** *****890", where: "[numbers] in /etc/pam_sms.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *cfg
			if tt.files != nil {
				c.Policy.NumbersFiles = tt.files
			}
			r, err := Chain(&c)(context.Background(), tt.user)
			if tt.wantErr {
				var fe *FileError
				if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), tt.why) {
					t.Fatalf("Lookup error = %v, want a *FileError starting %q", err, tt.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if got := r.Number.Masked(); r.OK() != (tt.want != "") || tt.want != "" && got != tt.want {
				t.Errorf("number = %q (ok %v), want %q", got, r.OK(), tt.want)
			}
			if r.Where != tt.where {
				t.Errorf("Where = %q, want %q", r.Where, tt.where)
			}
			if !strings.HasPrefix(r.Why(), tt.why) || (tt.why == "") != (r.Why() == "") {
				t.Errorf("Why = %q, want it to start %q", r.Why(), tt.why)
			}
			// Without the file names, whose random parts may hold any digits.
			why := strings.NewReplacer(f1, "", f2, "").Replace(r.Why())
			if strings.Contains(why, "3333333") || strings.Contains(why, "98765") && tt.user == "dave" {
				t.Errorf("Why repeats the number: %q", r.Why())
			}
		})
	}
}

// TestFileLookupExact: the scan finds exactly the key a TOML decoder sees,
// never a name inside a comment, a value, a longer name or a dotted key, and
// refuses a file whose earlier lines could change what the user's line means.
func TestFileLookupExact(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name, content, user string
		want                string // masked; "" none; "error" a FileError
	}{
		{"bare", "alice = \"+49 172 34567890\"\n", "alice", "+49 *** *****890"},
		{"no spaces, CRLF, indented", "  alice=\"+49 172 34567890\"\r\n", "alice", "+49 *** *****890"},
		{"quoted key", "\"alice\" = \"+49 172 34567890\"\n", "alice", "+49 *** *****890"},
		{"trailing comment", "alice = \"+49 172 34567890\" # desk phone\n", "alice", "+49 *** *****890"},
		{"no final newline", "bob = \"+1\"\nalice = \"+49 172 34567890\"", "alice", "+49 *** *****890"},
		{"commented out", "# alice = \"+49 172 34567890\"\n", "alice", ""},
		{"longer name", "alice2 = \"+49 172 34567890\"\nmalice = \"+49 172 34567890\"\n", "alice", ""},
		{"name in a value", "bob = \"alice\"\n", "alice", ""},
		{"dotted key is not the user", "john.doe = \"+49 172 34567890\"\n", "john.doe", ""},
		{"quoted dotted name", "\"john.doe\" = \"+49 172 34567890\"\n", "john.doe", "+49 *** *****890"},
		{"quoted key with a space", "\"alice \" = \"+49 172 34567890\"\n", "alice", ""},
		{"bracket in an earlier comment is fine", "# see [ticket 1]\nalice = \"+49 172 34567890\"\n", "alice", "+49 *** *****890"},
		{"earlier table refused", "[other]\nalice = \"+49 172 34567890\"\n", "alice", "error"},
		{"earlier multi-line string refused", "bob = \"\"\"\nalice = \"+49 172 34567890\"\n\"\"\"\n", "alice", "error"},
		{"earlier multi-line literal refused", "bob = '''\nalice = \"+49 172 34567890\"\n'''\n", "alice", "error"},
		{"earlier multi-line array refused", "bob = [\nalice = \"+49 172 34567890\"\n]\n", "alice", "error"},
		{"later table does not matter", "alice = \"+49 172 34567890\"\n[other]\n", "alice", "+49 *** *****890"},
		{"absent user and a broken line", "bob = '+1'\n", "alice", "error"},
		{"user name no line can hold", "alice = \"+49 172 34567890\"\n", "al ice", ""},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "n"+string(rune('a'+i)), tt.content)
			e, ok, err := File{Path: path}.Lookup(context.Background(), tt.user)
			switch {
			case tt.want == "error":
				if err == nil {
					t.Fatalf("Lookup = %v, %v; want an error", e, ok)
				}
			case err != nil:
				t.Fatalf("Lookup: %v", err)
			case tt.want == "" && ok:
				t.Errorf("Lookup found %v at %s; want nothing", e.Number, e.Where)
			case tt.want != "" && (!ok || e.Number.Masked() != tt.want):
				t.Errorf("Lookup = %v (found %v, problem %q); want %s", e.Number, ok, e.Problem, tt.want)
			}
		})
	}
}

// TestList: every problem of a file with its line and key, the entries in
// file order, and a simple file that is also valid TOML.
func TestList(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "numbers", strings.Join([]string{
		"# fleet numbers",
		`alice = "+49 172 34567890"`,
		`bob = "12345"`,
		`carol = +49 170 1`,
		`[admins]`,
		`alice = "+49 170 7777777"`,
		`"bad name" = "+49 170 7777777"`,
		`dave.x = "+49 170 7777777"`,
		`erin = """+49"""`,
		`"frank" = "+41 79 1234567" # ok`,
		"",
	}, "\n"))
	l, err := List(path)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var users []string
	for _, e := range l.Entries {
		users = append(users, e.User)
	}
	if got, want := strings.Join(users, ","), "alice,bob,carol,erin,frank"; got != want {
		t.Errorf("entries = %s, want %s", got, want)
	}
	wantErr := strings.Join([]string{
		path + `:3: bob: number must start with + or 00 and a country code`,
		path + `:4: carol: the number must be one "quoted" string, e.g. "+49 172 34567890"`,
		path + `:5: not a user = "number" line (a numbers file holds only those, comments and blank lines): no [tables]`,
		path + `:6: alice: listed again (first at line 2, which is used)`,
		path + `:7: "bad name": not a valid user name`,
		path + `:8: not a user = "number" line (a numbers file holds only those, comments and blank lines): no dotted keys`,
		path + `:9: erin: the number must be one "quoted" string, e.g. "+49 172 34567890"`,
	}, "\n")
	if got := l.Err(); got == nil || got.Error() != wantErr {
		t.Errorf("problems:\n%v\nwant:\n%s", got, wantErr)
	}
	if strings.Contains(l.Err().Error(), "12345") {
		t.Error("a problem repeats the number")
	}

	good := writeFile(t, dir, "good", "alice = \"+49 172 34567890\"\n\n  # x [y] 'z' \"\"\"\n\"b.c\" = \"+1 202 5550123\"\n")
	if l, err := List(good); err != nil || l.Err() != nil || len(l.Entries) != 2 {
		t.Errorf("List(good) = %+v, %v; want 2 entries and no problem", l, err)
	}
	if _, err := List(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(missing) = %v, want ErrNotExist", err)
	}
}

// TestFileTooLarge: the size bound holds at login and in check.
func TestFileTooLarge(t *testing.T) {
	requireRoot(t)
	path := writeFile(t, t.TempDir(), "big", strings.Repeat("# padding padding padding\n", MaxFileSize/26+1))
	if _, _, err := (File{Path: path}).Lookup(context.Background(), "alice"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Lookup = %v, want larger than", err)
	}
	if _, err := List(path); err == nil {
		t.Error("List accepted a file over MaxFileSize")
	}
}

// TestHasQuotePair: the word-at-a-time search agrees with the plain one at
// every length and position, word boundaries included.
func TestHasQuotePair(t *testing.T) {
	naive := func(b []byte) bool { return strings.Contains(string(b), `""`) }
	for n := range 70 {
		for i := range n {
			for j := range n {
				b := []byte(strings.Repeat("a", n))
				b[i], b[j] = '"', '"'
				if got, want := hasQuotePair(b), naive(b); got != want {
					t.Fatalf("hasQuotePair(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	for _, s := range []string{`x = "+1" "a" "b" "c"`, "\"\xa2\"\"\x22", "\x00\"\x22\x00"} {
		if got, want := hasQuotePair([]byte(s)), naive([]byte(s)); got != want {
			t.Errorf("hasQuotePair(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestFileChangedWhileMapped: a numbers file cut short while a login has
// it mapped is an error, not a crash of the helper.
func TestFileChangedWhileMapped(t *testing.T) {
	requireRoot(t)
	path := writeFile(t, t.TempDir(), "n", strings.Repeat("# padding\n", 3000)+"alice = \"+49 172 34567890\"\n")
	data, unmap, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err = File{Path: path}.lookupMapped(data, "alice")
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "changed while read") {
		t.Fatalf("lookup in a truncated mapping = %v, want a FileError", err)
	}
}
