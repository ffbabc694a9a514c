package numsource

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"strconv"
	"syscall"
	"unicode/utf8"

	"github.com/pam-sms/pam_sms/conf"
)

// MaxFileSize bounds a numbers file: about 250,000 users of 30-byte lines.
// The helper reads the whole file at an enforced login, so a bigger one is a
// mistake or an attack.
const MaxFileSize = 8 << 20

// File is a numbers file: owned by root, not writable by group or others,
// not readable by others (conf.CheckFile), one user per line:
//
//	# comment
//	alice = "+49 172 34567890"   # comment
//	"john.doe" = "+41 79 1234567"
//
// That is a TOML file whose only constructs are comments and single-line
// key = "string" pairs at the top level, so that every line means the same
// alone as in the file: a login finds its user by scanning for the name
// instead of decoding the file (a 10,000-line file costs a decoder tens of
// milliseconds, a scan a few microseconds), and the scan is exact.
type File struct{ Path string }

// Name implements Source.
func (f File) Name() string { return f.Path }

// Lookup implements Source: it reads the file (conf.ReadFile, the config's
// file rules) and takes the first line whose key is user. Only the lines
// before it are looked at, and only when they hold something a simple line
// cannot (a bracket, a brace, an apostrophe or three quotes, perhaps in a
// comment): then each must be a simple line, or the file is refused, since
// a [table] or a multi-line string could change what the user's line means.
//
// The file is mapped rather than read: copying 300 KB into a fresh buffer
// costs more than the rest of the decision. A file truncated while mapped
// faults on access; SetPanicOnFault turns that into a panic, recovered here
// as an error (the login is denied, as for any unreadable numbers file).
func (f File) Lookup(_ context.Context, user string) (Entry, bool, error) {
	data, unmap, err := mapFile(f.Path)
	if err != nil {
		return Entry{}, false, &FileError{Path: f.Path, Err: err}
	}
	defer unmap()
	return f.lookupMapped(data, user)
}

// lookupMapped is lookup on a mapping, with a fault an error. Every string
// lookup returns is a copy: nothing refers to the mapping after unmap.
func (f File) lookupMapped(data []byte, user string) (e Entry, ok bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			e, ok, err = Entry{}, false, &FileError{Path: f.Path, Err: fmt.Errorf("changed while read (%v)", r)}
		}
	}()
	return f.lookup(data, user)
}

// mapFile maps the file at path read-only after conf's checks (conf.OpenFile).
func mapFile(path string) ([]byte, func(), error) {
	fh, fi, err := conf.OpenFile(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	size := fi.Size()
	switch {
	case size > MaxFileSize:
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	case size == 0:
		return nil, func() {}, nil
	}
	data, err := syscall.Mmap(int(fh.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}

// lookup finds user in data, the content of the file.
func (f File) lookup(data []byte, user string) (Entry, bool, error) {
	if !conf.ValidName(user) {
		// No line can hold it: keys are valid user names, as in [numbers].
		return Entry{}, false, nil
	}
	start, end, ok := findKey(data, user)
	if !ok {
		if err := checkPrefix(data); err != nil {
			return Entry{}, false, &FileError{Path: f.Path, Err: err}
		}
		return Entry{}, false, nil
	}
	if err := checkPrefix(data[:start]); err != nil {
		return Entry{}, false, &FileError{Path: f.Path, Err: err}
	}
	lineNo := bytes.Count(data[:start], []byte("\n")) + 1
	e := Entry{Where: f.Path + " line " + strconv.Itoa(lineNo)}
	_, value, perr := parseLine(data[start:end])
	if perr != "" {
		e.Problem = perr
		return e, true, nil
	}
	e.Number, e.Problem = parseNumber(value)
	return e, true, nil
}

// findKey returns the bounds of the first line whose key is user, bare or
// quoted: the name at the start of the line (after blanks, or after a
// quote), followed by blanks and "=" (or by the closing quote).
func findKey(data []byte, user string) (start, end int, ok bool) {
	name := []byte(user)
	// A name with a dot is a dotted key when bare ("john.doe = ..." is doe
	// in table john), and one with a $ is no bare key at all: only their
	// quoted form names the user.
	bare := true
	for _, c := range name {
		bare = bare && isBare(c)
	}
	for from := 0; from < len(data); {
		i := bytes.Index(data[from:], name)
		if i < 0 {
			return 0, 0, false
		}
		i += from
		start = bytes.LastIndexByte(data[:i], '\n') + 1
		end = len(data)
		if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
			end = i + j
		}
		if keyAt(data[start:i], data[i+len(name):end], bare) {
			return start, end, true
		}
		from = end + 1
	}
	return 0, 0, false
}

// keyAt reports whether a name with before on its left and after on its
// right, on one line, is the line's key; bare: the name may stand unquoted.
func keyAt(before, after []byte, bare bool) bool {
	before = bytes.TrimLeft(before, " \t")
	switch {
	case len(before) == 0 && bare:
	case len(before) == 1 && before[0] == '"' && len(after) > 0 && after[0] == '"':
		after = after[1:]
	default:
		return false
	}
	after = bytes.TrimLeft(after, " \t")
	return len(after) > 0 && after[0] == '='
}

// checkPrefix makes sure the lines of prefix cannot change what a later line
// means. Simple lines cannot, and a quick search for the bytes only other
// constructs need ([ { ' and """) clears most files without reading lines;
// when one is there, every line is parsed.
func checkPrefix(prefix []byte) error {
	if bytes.IndexByte(prefix, '[') < 0 && bytes.IndexByte(prefix, '{') < 0 &&
		bytes.IndexByte(prefix, '\'') < 0 && !hasQuotePair(prefix) {
		return nil
	}
	for n, rest := 1, prefix; len(rest) > 0; n++ {
		line, tail, _ := bytes.Cut(rest, []byte("\n"))
		if _, _, msg := parseLine(line); msg != "" {
			return fmt.Errorf("line %d: %s (pam-sms check lists every problem)", n, msg)
		}
		rest = tail
	}
	return nil
}

// hasQuotePair reports whether b holds two quotes in a row, which every """
// does (and an empty string ""). bytes.Contains(b, `"""`) stops at every
// quote, two per line: 200 µs for 10,000 lines; 32 bytes at a time, eight
// per word, is several times faster.
func hasQuotePair(b []byte) bool {
	const (
		low7  = 0x7f7f7f7f7f7f7f7f
		quote = 0x2222222222222222
	)
	// flags has 0x80 in each byte of w that is a quote, exactly.
	flags := func(w uint64) uint64 {
		x := w ^ quote
		return ^((x&low7 + low7) | x | low7)
	}
	var carry uint64 // 0x80 when the last byte of the previous word was a quote
	i := 0
	// Four words per round: one branch per 32 bytes.
	for ; i+32 <= len(b); i += 32 {
		w := b[i : i+32 : i+32]
		m0 := flags(binary.LittleEndian.Uint64(w[0:8]))
		m1 := flags(binary.LittleEndian.Uint64(w[8:16]))
		m2 := flags(binary.LittleEndian.Uint64(w[16:24]))
		m3 := flags(binary.LittleEndian.Uint64(w[24:32]))
		pairs := m0&(m0>>8) | m1&(m1>>8) | m2&(m2>>8) | m3&(m3>>8) |
			carry&m0 | m0>>56&m1 | m1>>56&m2 | m2>>56&m3
		if pairs != 0 {
			return true
		}
		carry = m3 >> 56
	}
	for ; i+8 <= len(b); i += 8 {
		m := flags(binary.LittleEndian.Uint64(b[i:]))
		if m&(m>>8) != 0 || carry&m != 0 {
			return true
		}
		carry = m >> 56
	}
	prev := carry != 0
	for ; i < len(b); i++ {
		q := b[i] == '"'
		if prev && q {
			return true
		}
		prev = q
	}
	return false
}

// Message of a line that is not a simple line: what the file may hold.
const notSimple = `not a user = "number" line (a numbers file holds only those, comments and blank lines)`

// parseLine parses one line without its newline. It returns the key and the
// value of a user = "number" line, empty strings for a blank or comment
// line, or a message saying what is wrong (never quoting the value).
func parseLine(line []byte) (key, value, msg string) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if !utf8.Valid(line) {
		return "", "", "not valid UTF-8"
	}
	rest := bytes.TrimLeft(line, " \t")
	if len(rest) == 0 || rest[0] == '#' {
		return "", "", comment(rest)
	}
	switch {
	case rest[0] == '"':
		k, tail, ok := quoted(rest[1:])
		if !ok || k == "" {
			return "", "", notSimple + `: a quoted user name is "name" without \ or control characters`
		}
		key, rest = k, tail
	case isBare(rest[0]):
		n := 1
		for n < len(rest) && isBare(rest[n]) {
			n++
		}
		key, rest = string(rest[:n]), rest[n:]
	case rest[0] == '[':
		return "", "", notSimple + ": no [tables]"
	default:
		return "", "", notSimple
	}
	rest = bytes.TrimLeft(rest, " \t")
	switch {
	case len(rest) > 0 && rest[0] == '.':
		return "", "", notSimple + ": no dotted keys"
	case len(rest) == 0 || rest[0] != '=':
		return "", "", notSimple + `: "=" missing after the user name`
	}
	// From here on the line is the user's, with a bad value perhaps.
	rest = bytes.TrimLeft(rest[1:], " \t")
	if len(rest) == 0 || rest[0] != '"' || bytes.HasPrefix(rest, []byte(`"""`)) {
		return key, "", `the number must be one "quoted" string, e.g. "+49 172 34567890"`
	}
	v, tail, ok := quoted(rest[1:])
	if !ok {
		return key, "", `the number must be one "quoted" string without \ or control characters`
	}
	tail = bytes.TrimLeft(tail, " \t")
	if len(tail) > 0 && tail[0] != '#' {
		return key, "", "only a # comment may follow the number"
	}
	if m := comment(tail); m != "" {
		return key, "", m
	}
	return key, v, ""
}

// quoted reads a basic string without escapes up to its closing quote.
func quoted(b []byte) (s string, rest []byte, ok bool) {
	end := bytes.IndexByte(b, '"')
	if end < 0 {
		return "", nil, false
	}
	for _, c := range b[:end] {
		if c == '\\' || c < 0x20 && c != '\t' || c == 0x7f {
			return "", nil, false
		}
	}
	return string(b[:end]), b[end+1:], true
}

// comment checks a comment (or nothing): TOML forbids control characters
// other than tab in it.
func comment(b []byte) string {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return "control character in a comment"
		}
	}
	return ""
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
