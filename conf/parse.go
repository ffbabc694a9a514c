package conf

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/pam-sms/pam_sms/smsclient"
)

// maxQuoted bounds how much of a bad value a message repeats.
const maxQuoted = 40

// parser collects problems while it walks the decoded document. It never stops
// at the first problem: every key is checked so that Error lists them all.
type parser struct {
	md       toml.MetaData
	problems []Problem
	files    bool // Load: open password_file and ca_file
	lines    bool // find each key's line (only needed to report problems)
	// arrayLines holds the lines of the keys in [[gateway.failover]]
	// tables (see failoverLines), arrayCount how many tables it found.
	arrayLines map[string]int
	arrayCount int
}

// node is one key of the document with its raw value and line.
type node struct {
	path []string
	key  string // dotted display name, e.g. "gateway.fields.id"
	name string // last part of the key
	line int
	val  any // string, int64, float64, bool, time.Time, []any, map[string]any, []map[string]any
	prim toml.Primitive
}

// section is a table of the document; an absent table has no items, so every
// getter returns its default.
type section struct {
	node
	items map[string]node
}

// lineProbe is a destination the decoder cannot fill. toml.MetaData has no
// exported key positions, but its "unsupported type" error names the line of
// the key being decoded. (A toml.Unmarshaler that fails would give a
// ParseError with the position, but that path splits the whole input into
// lines for every key: quadratic in the size of a large [numbers] table.)
type lineProbe chan struct{}

// parse runs twice on a bad file: finding the line of every key costs more
// than the rest of the parse together (60 %), and only problems need lines, so
// a good file (every login) is parsed without them.
//
// Before the decoder, the size and the nesting are bounded: its cost grows
// with the square of the depth (see MaxNesting).
func parse(name string, data []byte, files bool) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &Error{Path: name, Problems: []Problem{{Msg: fmt.Sprintf("larger than %d bytes", maxConfigSize)}}}
	}
	if err := CheckNesting(name, data); err != nil {
		return nil, err
	}
	cfg, p := parseOnce(name, data, files, false)
	if len(p.problems) == 0 {
		return cfg, nil
	}
	_, p = parseOnce(name, data, files, true)
	sort.SliceStable(p.problems, func(i, j int) bool {
		return p.problems[i].Line < p.problems[j].Line
	})
	return nil, &Error{Path: name, Problems: p.problems}
}

func parseOnce(name string, data []byte, files, lines bool) (*Config, *parser) {
	p := &parser{files: files, lines: lines}
	root, ok := p.decode(data)
	if ok {
		cfg := p.config(root)
		cfg.Path = name
		if len(p.problems) == 0 && files {
			p.client(cfg)
		}
		return cfg, p
	}
	return nil, p
}

// client applies smsclient's own checks, so that a config Load accepts never
// fails when the helper builds the client at login: whatever smsclient
// refuses is a problem here too (pam-sms check shows it, not a denied login).
// The CA file itself was checked by the [gateway] section already.
func (p *parser) client(cfg *Config) {
	for i, g := range cfg.Gateways() {
		if err := smsclient.Check(g.Config); err != nil {
			p.problems = append(p.problems, Problem{Key: GatewayKey(i), Msg: redact(err.Error())})
		}
	}
}

// decode parses the TOML text into the root section.
func (p *parser) decode(data []byte) (section, bool) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.problems = append(p.problems, Problem{Line: errorLine(data, pe.Position), Msg: "syntax error: " + redact(pe.Message)})
		} else {
			p.problems = append(p.problems, Problem{Msg: "syntax error: " + redact(err.Error())})
		}
		return section{}, false
	}
	p.md = md
	if p.lines {
		p.arrayLines, p.arrayCount = failoverLines(data)
	}
	return section{items: p.nodes(nil, top)}, true
}

// errorLine is the line of a syntax error. The decoder counts an unexpected
// newline as the start of the next line; the line it ends is the one to fix.
func errorLine(data []byte, pos toml.Position) int {
	if pos.Start < 0 || pos.Start >= len(data) || data[pos.Start] != '\n' {
		return pos.Line
	}
	return bytes.Count(data[:pos.Start], []byte("\n")) + 1
}

// quoted matches what a TOML syntax error quotes.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redact hides the input that a TOML syntax error quotes: the broken line may
// be the password (password = secret without quotes). The line number is left
// to find it.
func redact(msg string) string {
	return quoted.ReplaceAllString(msg, `"..."`)
}

// nodes turns decoded Primitives into nodes with their values and lines.
func (p *parser) nodes(parent []string, prims map[string]toml.Primitive) map[string]node {
	items := make(map[string]node, len(prims))
	for name, prim := range prims {
		path := append(slices.Clone(parent), name)
		n := node{path: path, key: keyString(path), name: name, prim: prim}
		// Decoding a Primitive into any only hands over the parsed value.
		_ = p.md.PrimitiveDecode(prim, &n.val)
		if p.lines {
			var probe lineProbe
			n.line = errLine(p.md.PrimitiveDecode(prim, &probe))
			if l, ok := p.arrayLines[n.key]; ok {
				n.line = l
			}
			if n.line == 0 {
				n.line = p.implicitLine(path, prim)
			}
		}
		items[name] = n
	}
	return items
}

// errLine reads the line from a decode error of the form
// "toml: line N (last key ...): ...", 0 if there is none.
func errLine(err error) int {
	if err == nil {
		return 0
	}
	rest, ok := strings.CutPrefix(err.Error(), "toml: line ")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, " ")
	line, err := strconv.Atoi(num)
	if err != nil || line < 0 {
		return 0
	}
	return line
}

// implicitLine finds a line for a table that only dotted keys define
// ("alice.mobile = ..."): the first line of its keys.
func (p *parser) implicitLine(path []string, prim toml.Primitive) int {
	var prims map[string]toml.Primitive
	if err := p.md.PrimitiveDecode(prim, &prims); err != nil {
		return 0
	}
	line := 0
	for _, c := range p.nodes(path, prims) {
		if c.line > 0 && (line == 0 || c.line < line) {
			line = c.line
		}
	}
	return line
}

// keyString writes a key path for messages; parts that are not bare TOML keys
// are quoted with control characters escaped, so a key cannot forge a log line,
// and long parts are cut (see quote), so a 1 MiB key is not repeated in a log.
//
// A part that is an element's position in an array of tables (indexPart) is
// written "[N]" after the array's key: "gateway.failover[1].url".
func keyString(path []string) string {
	var b strings.Builder
	for i, k := range path {
		if idx, ok := strings.CutPrefix(k, indexMark); ok {
			b.WriteString("[" + idx + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if !isBareKey(k) || len(k) > maxQuoted {
			k = quote(k)
		}
		b.WriteString(k)
	}
	return b.String()
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// sub returns the table name inside s; a value that is not a table is a problem.
func (p *parser) sub(s section, name string) section {
	path := append(slices.Clone(s.path), name)
	out := section{node: node{path: path, key: keyString(path), name: name, line: s.line}}
	n, ok := s.items[name]
	if !ok {
		return out
	}
	if _, isTable := n.val.(map[string]any); !isTable {
		p.add(n, "must be a table, not %s", typeName(n.val))
		return out
	}
	var prims map[string]toml.Primitive
	if err := p.md.PrimitiveDecode(n.prim, &prims); err != nil {
		p.add(n, "cannot decode table: %v", err)
		return out
	}
	out.node = n
	out.items = p.nodes(path, prims)
	return out
}

// sorted returns the items of s in document order, which only matters for
// the order of problems: without lines (a good file) they stay unsorted.
func (s section) sorted() []node {
	out := make([]node, 0, len(s.items))
	for _, n := range s.items {
		out = append(out, n)
	}
	if !slices.ContainsFunc(out, func(n node) bool { return n.line > 0 }) {
		return out
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].line != out[j].line {
			return out[i].line < out[j].line
		}
		return out[i].name < out[j].name
	})
	return out
}

// add records a problem at node n.
func (p *parser) add(n node, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: n.line, Key: n.key, Msg: fmt.Sprintf(format, args...)})
}

// addKey records a problem for key name of s, at the key's line when present,
// else at the section's line.
func (p *parser) addKey(s section, name, format string, args ...any) {
	n, ok := s.items[name]
	if !ok {
		path := append(slices.Clone(s.path), name)
		n = node{path: path, key: keyString(path), name: name, line: s.line}
	}
	p.add(n, format, args...)
}

// unknown reports every key of s not in known.
func (p *parser) unknown(s section, known []string, hint func(string) string) {
	for _, n := range s.sorted() {
		if slices.Contains(known, n.name) {
			continue
		}
		msg := "unknown key"
		if h := hint(n.name); h != "" {
			msg += " (" + h + ")"
		}
		p.add(n, "%s", msg)
	}
}

// typeName names the TOML type of a raw value for messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case time.Time:
		return "a date or time"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// quote repeats a user-supplied value safely: escaped and bounded.
func quote(s string) string {
	if r := []rune(s); len(r) > maxQuoted {
		s = string(r[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// str returns the string at name, or def when absent or of the wrong type.
func (p *parser) str(s section, name, def string) (string, bool) {
	n, ok := s.items[name]
	if !ok {
		return def, true
	}
	v, ok := n.val.(string)
	if !ok {
		p.add(n, "must be a string, not %s", typeName(n.val))
		return def, false
	}
	return v, true
}

// boolean returns the bool at name, or def.
func (p *parser) boolean(s section, name string, def bool) bool {
	n, ok := s.items[name]
	if !ok {
		return def
	}
	v, ok := n.val.(bool)
	if !ok {
		p.add(n, "must be true or false, not %s", typeName(n.val))
		return def
	}
	return v
}

// integer returns the integer at name within [lo, hi] (hi < 0: no upper
// bound), or def.
func (p *parser) integer(s section, name string, def, lo, hi int64) int {
	n, ok := s.items[name]
	if !ok {
		return int(def)
	}
	v, ok := n.val.(int64)
	switch {
	case !ok:
		p.add(n, "must be an integer, not %s", typeName(n.val))
		return int(def)
	case hi < 0 && v < lo:
		p.add(n, "must be %d or more, not %d", lo, v)
		return int(def)
	case hi >= 0 && (v < lo || v > hi):
		p.add(n, "must be between %d and %d, not %d", lo, hi, v)
		return int(def)
	}
	return int(v)
}

// duration returns the Go duration string at name within [lo, hi], or def.
func (p *parser) duration(s section, name string, def, lo, hi time.Duration) time.Duration {
	n, ok := s.items[name]
	if !ok {
		return def
	}
	str, ok := n.val.(string)
	if !ok {
		p.add(n, "must be a duration string such as %q, not %s", fmtDuration(def), typeName(n.val))
		return def
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		p.add(n, "invalid duration %s (use a number and a unit, e.g. %q)", quote(str), fmtDuration(def))
		return def
	}
	if d < lo || d > hi {
		p.add(n, "must be between %s and %s, not %s", fmtDuration(lo), fmtDuration(hi), quote(str))
		return def
	}
	return d
}

// fmtDuration writes round durations the way an administrator would ("5m").
func fmtDuration(d time.Duration) string {
	switch {
	case d != 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d != 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	default:
		return d.String()
	}
}

// enum returns the string at name if it is one of allowed, or def.
func (p *parser) enum(s section, name, def string, allowed ...string) string {
	v, ok := p.str(s, name, def)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		quoted := make([]string, len(allowed))
		for i, a := range allowed {
			quoted[i] = strconv.Quote(a)
		}
		p.addKey(s, name, "must be %s, not %s", orList(quoted), quote(v))
		return def
	}
	return v
}

// strings returns the array of strings at name, or def.
func (p *parser) strings(s section, name string, def []string) ([]string, bool) {
	n, ok := s.items[name]
	if !ok {
		return def, true
	}
	arr, ok := n.val.([]any)
	if !ok {
		p.add(n, "must be an array of strings, not %s", typeName(n.val))
		return def, false
	}
	out := make([]string, 0, len(arr))
	good := true
	for i, e := range arr {
		str, ok := e.(string)
		if !ok {
			p.add(n, "element %d must be a string, not %s", i+1, typeName(e))
			good = false
			continue
		}
		out = append(out, str)
	}
	return out, good
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// suggest returns the candidate closest to name when it is a likely typo.
func suggest(name string, candidates []string) string {
	best, bestDist := "", len(name)+1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), c)
		if d < bestDist && d <= len(c)/4 {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 64
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
