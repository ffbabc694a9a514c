package conf

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxNesting bounds how deep a TOML file read by this package may nest. The
// deepest valid pam_sms config needs 3 ([gateway.fields] id = ..., or
// gateway.fields.id = ...). The decoder's cost grows with the square of the
// depth (40 KB of nested inline tables took 25 s, of dotted keys 98 s, and
// every login parses the config), so deeper files are refused before it runs.
const MaxNesting = 16

// CheckNesting returns an *Error naming the line where data first nests
// deeper than MaxNesting, or nil. It is a linear scan meant to run before a
// TOML decoder sees a file that users or tools may have written (the config,
// a numbers file); it does not check the syntax, which is the decoder's job.
//
// The depth of a value is its number of levels below the root, as the
// decoder builds them: one per part of a table header ("[gateway.fields]"
// is 2, "[[a.b]]" 3 for its element table), one per part of a dotted key,
// and one per array level; an inline table is the value of its key, so its
// own keys are one level below the key. Brackets and dots inside strings and
// comments do not count.
func CheckNesting(name string, data []byte) error {
	line := nestingLine(data, MaxNesting)
	if line == 0 {
		return nil
	}
	return &Error{Path: name, Problems: []Problem{{
		Line: line,
		Msg:  fmt.Sprintf("nesting deeper than %d (levels of tables, arrays and dotted keys)", MaxNesting),
	}}}
}

// nestingLine returns the 1-based line on which data first nests deeper than
// max, or 0 if it never does.
func nestingLine(data []byte, max int) int {
	s := depthScanner{data: data, line: 1, max: max, stack: []frame{{table: true}}}
	if s.scan() {
		return 0
	}
	return s.line
}

// scanMode is what the scanner expects next in a table.
type scanMode int

const (
	keyStart   scanMode = iota // a key, or at the top level a [header]
	inKey                      // inside a key, up to "="
	inValue                    // inside a key's value
	restOfLine                 // after a [header]: nothing more counts on this line
)

// frame is the top-level table (the current [header]'s), an inline table or
// an array.
type frame struct {
	table bool     // a table rather than an array
	depth int      // depth of the table or array itself
	mode  scanMode // tables only
	parts int      // tables only: parts of the key being read or last read
}

// depthScanner walks a TOML document once, byte by byte. Malformed input
// only has to end the scan; the decoder reports what is wrong with it.
type depthScanner struct {
	data  []byte
	i     int
	line  int
	max   int
	stack []frame // stack[0] is the top level, never popped
}

// scan reports whether the whole document stays within s.max; when it does
// not, s.line is the line where the bound was crossed.
func (s *depthScanner) scan() bool {
	for s.i < len(s.data) {
		switch c := s.data[s.i]; c {
		case '\n':
			s.line++
			s.i++
			if len(s.stack) == 1 {
				s.stack[0].mode = keyStart
			}
		case '#':
			s.skipComment()
		case ' ', '\t', '\r':
			s.i++
		default:
			if !s.token(c) {
				return false
			}
		}
	}
	return true
}

// token handles a byte outside comments and white space.
func (s *depthScanner) token(c byte) bool {
	f := &s.stack[len(s.stack)-1]
	top := len(s.stack) == 1
	if f.table && f.mode == keyStart {
		switch {
		case c == '[' && top:
			return s.tableHeader()
		case c == '}' && !top:
			s.i++
			s.stack = s.stack[:len(s.stack)-1] // "{}", or "{a = 1,}" which the decoder judges
			return true
		}
		f.mode, f.parts = inKey, 1
		if f.depth+1 > s.max {
			return false
		}
	}
	if c == '"' || c == '\'' {
		s.skipString(c) // a value, or a quoted key or part of one
		return true
	}
	s.i++
	switch {
	case !f.table:
		if !s.bracket(c, f.depth+1) {
			return false
		}
	case f.mode == inKey && c == '.':
		f.parts++
		if f.depth+f.parts > s.max {
			return false
		}
	case f.mode == inKey && c == '=':
		f.mode = inValue
	case f.mode == inValue:
		if c == ',' && !top {
			f.mode = keyStart // the next key of the inline table
		}
		if !s.bracket(c, f.depth+f.parts) {
			return false
		}
	}
	if f := &s.stack[len(s.stack)-1]; !f.table || f.mode != keyStart {
		s.skipPlain() // a key's start is seen at its first byte
	}
	return true
}

// plain marks the bytes that mean nothing to the scanner once a key has
// started: most of a key or value, white space.
var plain = func() (t [256]bool) {
	for i := range t {
		t[i] = !strings.ContainsRune("\n#\"'[]{},.=", rune(i))
	}
	return t
}()

// skipPlain skips a run of plain bytes.
func (s *depthScanner) skipPlain() {
	i := s.i
	for i < len(s.data) && plain[s.data[i]] {
		i++
	}
	s.i = i
}

// bracket opens or closes an array or inline table on c; one opened here is
// at depth d. A stray closing bracket at the top level is left to the decoder.
func (s *depthScanner) bracket(c byte, d int) bool {
	switch c {
	case '[', '{':
		s.stack = append(s.stack, frame{table: c == '{', depth: d, mode: keyStart})
		return d <= s.max
	case ']', '}':
		if len(s.stack) > 1 {
			s.stack = s.stack[:len(s.stack)-1]
		}
	}
	return true
}

// tableHeader reads "[a.b]" or "[[a.b]]" at the start of a top-level line.
func (s *depthScanner) tableHeader() bool {
	s.i++
	extra := 0
	if s.i < len(s.data) && s.data[s.i] == '[' {
		extra = 1 // the element table of an array of tables
		s.i++
	}
	parts := 1
	for s.i < len(s.data) {
		switch c := s.data[s.i]; c {
		case '"', '\'':
			s.skipString(c)
			continue
		case '.':
			if parts++; parts+extra > s.max {
				return false
			}
		case ']', '\n', '#':
			s.stack[0].depth, s.stack[0].mode = parts+extra, restOfLine
			return parts+extra <= s.max
		}
		s.i++
	}
	return parts+extra <= s.max
}

// skipComment skips to the end of the line; a config is mostly comments.
func (s *depthScanner) skipComment() {
	if n := bytes.IndexByte(s.data[s.i:], '\n'); n >= 0 {
		s.i += n
	} else {
		s.i = len(s.data)
	}
}

// skipString skips a basic ("...", with backslash escapes) or literal
// ('...') string, single-line or multi-line (three quotes), counting lines.
// A single-line string ends at the end of the line even when unterminated.
func (s *depthScanner) skipString(q byte) {
	if s.i+2 < len(s.data) && s.data[s.i+1] == q && s.data[s.i+2] == q {
		s.skipMultiline(q)
		return
	}
	i := s.i + 1 // after the opening quote
	for i < len(s.data) {
		c := s.data[i]
		if c == q {
			i++
			break
		}
		if c == '\n' {
			break
		}
		if c == '\\' && q == '"' && i+1 < len(s.data) && s.data[i+1] != '\n' {
			i++
		}
		i++
	}
	s.i = i
}

// skipMultiline skips a multi-line string, basic or literal (three
// quotes). Up to two more quotes may follow the closing three: they belong
// to the content.
func (s *depthScanner) skipMultiline(q byte) {
	s.i += 3
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.line++
			s.i++
		case c == '\\' && q == '"':
			s.i++ // the escaped byte is skipped next, unless it is a newline to count
			if s.i < len(s.data) && s.data[s.i] != '\n' {
				s.i++
			}
		case c == q && s.i+2 < len(s.data) && s.data[s.i+1] == q && s.data[s.i+2] == q:
			s.i += 3
			for n := 0; n < 2 && s.i < len(s.data) && s.data[s.i] == q; n++ {
				s.i++
			}
			return
		default:
			s.i++
		}
	}
}
