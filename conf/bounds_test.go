package conf

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// Nested values of a given depth, as CheckNesting counts it (see its doc).
func deepArray(d int) string { return "x = " + strings.Repeat("[", d) + strings.Repeat("]", d) }
func deepTable(d int) string {
	return "x = " + strings.Repeat("{a = ", d-1) + "1" + strings.Repeat("}", d-1)
}
func deepKey(d int) string      { return "a" + strings.Repeat(".a", d-1) + " = 1" }
func deepHeader(d int) string   { return "[a" + strings.Repeat(".a", d-1) + "]" }
func deepTables(d int) string   { return "[[a" + strings.Repeat(".a", d-2) + "]]" }
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// TestCheckNesting: what counts towards the depth and what does not, the
// bound itself, and the line reported.
func TestCheckNesting(t *testing.T) {
	const max = MaxNesting
	tests := []struct {
		name string
		in   string
		line int // 0: accepted
	}{
		{"empty", "", 0},
		{"full config", fullConfig, 0},
		// Each kind of nesting, at the bound and one over.
		{"arrays at the bound", deepArray(max), 0},
		{"arrays over", deepArray(max + 1), 1},
		{"inline tables at the bound", deepTable(max), 0},
		{"inline tables over", deepTable(max + 1), 1},
		{"empty inline tables over", "x = " + strings.Repeat("{a = ", max) + strings.Repeat("}", max), 1},
		{"dotted key at the bound", deepKey(max), 0},
		{"dotted key over", deepKey(max + 1), 1},
		{"spaced dotted key over", "a" + strings.Repeat(" . a", max) + " = 1", 1},
		{"header at the bound", deepHeader(max), 0},
		{"header over", deepHeader(max + 1), 1},
		{"key below a header at the bound", lines(deepHeader(max), "k = 1"), 2},
		{"array of tables at the bound", deepTables(max), 0},
		{"array of tables over", deepTables(max + 1), 1},
		{"arrays of tables mixed", "a = [{b = [{c = " + strings.Repeat("[", max-4) + strings.Repeat("]", max-4) + "}]}]", 0},
		{"arrays of tables mixed over", "a = [{b = [{c = " + strings.Repeat("[", max-3) + strings.Repeat("]", max-3) + "}]}]", 1},
		{"header, dotted key and inline table add up", lines("[a.b]", "c.d = {e = "+strings.Repeat("[", max-4)+strings.Repeat("]", max-4)+"}"), 0},
		{"header, dotted key and inline table add up over", lines("[a.b]", "c.d = {e = "+strings.Repeat("[", max-3)+strings.Repeat("]", max-3)+"}"), 2},
		{"inline dotted keys add up over", "x = {a" + strings.Repeat(".a", max-1) + " = 1}", 1},
		{"second key of an inline table", "x = {a = 1, b" + strings.Repeat(".b", max-1) + " = 1}", 1},
		{"a table header resets the depth", lines(deepHeader(max), "[b]", "c = 1"), 0},
		{"siblings do not add up", strings.Repeat("x = [[[[[[[[]]]]]]]]\n", 100), 0},
		{"quoted key", `"x" = ` + strings.Repeat("[", max+1), 1},
		{"literal quoted key in an inline table", `x = {'a' = ` + strings.Repeat("[", max), 1},
		// The line is the one where the bound is crossed.
		{"bound crossed in a multi-line array", lines("x = [", strings.Repeat("[\n", max)+"1", strings.Repeat("]", max+1)), max + 1},
		{"bound crossed after a config", base + "[numbers]\n" + deepArray(max+1), 4},
		// Brackets, dots and comment signs inside strings do not count.
		{"basic string", `x = "` + strings.Repeat("[{.", 40) + `"`, 0},
		{"basic string with escaped quotes", `x = "\"` + strings.Repeat("[", 40) + `\""`, 0},
		{"escaped backslash ends a basic string", `x = ["\\", ` + strings.Repeat("[", max) + "]", 1},
		{"literal string", `x = '` + strings.Repeat("[{", 40) + `'`, 0},
		{"backslash does not escape in a literal string", `x = ['\', ` + strings.Repeat("[", max) + "]", 1},
		{"multi-line basic string", lines(`x = """`, strings.Repeat("[", 40), `\"""`, strings.Repeat("{", 40), `"""`), 0},
		{"multi-line basic string with a line-ending backslash", lines(`x = """\`, strings.Repeat("[", 40), `"""`), 0},
		{"multi-line literal string", lines(`x = '''`, strings.Repeat("[", 40), `'''`), 0},
		{"backslash does not escape in a multi-line literal", lines(`x = ['''\''', ` + strings.Repeat("[", max) + "]"), 1},
		{"quotes after the closing three belong to the string", `x = ["""a"""", ` + strings.Repeat("[", max) + "]", 1},
		{"literal quotes after the closing three", `x = ['''a'''', ` + strings.Repeat("[", max) + "]", 1},
		{"an unterminated string ends with its line", lines(`x = "[`, deepArray(max+1)), 2},
		{"an unterminated literal ends with its line", lines(`x = '[`, deepArray(max+1)), 2},
		{"multi-line strings count their lines", lines(`x = """`, "", `"""`, `y = '''`, `'''`, deepArray(max+1)), 6},
		{"brackets in a quoted key", `"` + strings.Repeat("[", 40) + `" = 1`, 0},
		{"dots in quoted keys", `"` + strings.Repeat("a.", 40) + `".'` + strings.Repeat(".", 40) + `' = 1`, 0},
		{"dots in a quoted header part", `["` + strings.Repeat("a.", 40) + `"]`, 0},
		{"hash in a string starts no comment", `x = ["#", ` + strings.Repeat("[", max) + "]", 1},
		{"comment line", "# " + strings.Repeat("[{a.", 40), 0},
		{"comment after a value", "x = 1 # " + strings.Repeat("[{", 40), 0},
		{"comment inside an array", lines("x = [ # "+strings.Repeat("[", 40), "1 ]"), 0},
		{"comment after a header", "[a] # " + strings.Repeat("[a.", 40), 0},
		{"quote in a comment opens no string", lines("# '''", deepArray(max+1), "# '''"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNesting("n.conf", []byte(tt.in))
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("CheckNesting = %v, want nil", err)
				}
				return
			}
			want := fmt.Sprintf("n.conf:%d: nesting deeper than %d ", tt.line, max)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("CheckNesting = %v, want %q...", err, want)
			}
		})
	}
}

// TestCheckNestingMatchesDecoder: on valid TOML, CheckNesting refuses
// exactly what the decoder would build deeper than the bound (tried with
// small bounds, so that every kind of nesting crosses one).
func TestCheckNestingMatchesDecoder(t *testing.T) {
	docs := []string{
		fullConfig,
		deepArray(5), deepTable(5), deepKey(5), deepHeader(5), deepTables(5),
		lines("[a.b]", "c.d = {e = [[1]], f = {g.h = []}}"),
		lines("[[a]]", "b = 1", "[[a]]", "c.d = [{e = 1}]"),
		lines("x = [", "  [1, [2]], # [[[", `  "[[", '{{', """[""", '''{'''`, "]"),
		`"a.b" = {'c.d' = ["""x""""", {e = 1}]}`,
	}
	for _, doc := range docs {
		var v map[string]any
		if _, err := toml.Decode(doc, &v); err != nil {
			t.Fatalf("test document does not decode: %v\n%s", err, doc)
		}
		depth := treeDepth(v, 0)
		for max := 1; max <= depth+1; max++ {
			if got := nestingLine([]byte(doc), max) == 0; got != (depth <= max) {
				t.Errorf("bound %d, decoded depth %d: accepted = %v\n%s", max, depth, got, doc)
			}
		}
	}
}

// treeDepth is the depth of a decoded value as CheckNesting counts it: a
// key's value is one level below its table, an array's containers one level
// below the array; scalars inside an array add nothing.
func treeDepth(v any, d int) int {
	deepest := d
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			deepest = max(deepest, treeDepth(c, d+1))
		}
	case []map[string]any:
		for _, c := range v {
			deepest = max(deepest, treeDepth(c, d+1))
		}
	case []any:
		for _, c := range v {
			switch c.(type) {
			case map[string]any, []map[string]any, []any:
				deepest = max(deepest, treeDepth(c, d+1))
			}
		}
	}
	return deepest
}

// TestParseRefusesDeepNestingFast: 40 KB of nesting took the decoder 16 s
// (arrays of inline tables) to 98 s (a dotted key) before the pre-scan. Now
// Parse refuses it with the line, before the decoder runs.
func TestParseRefusesDeepNestingFast(t *testing.T) {
	const size = 40 << 10
	tests := []struct {
		name        string
		open, close string
		line        string // the nesting's first line
	}{
		{"inline tables", "x = {a = ", "}", ""},
		{"arrays", "x = [", "]", ""},
		{"arrays of inline tables", "x = [{a = ", "}]", ""},
		{"multi-line arrays", "[\n", "]", "x = "},
		{"dotted key", "a.", "", ""},
		{"table header", "", "", "[" + strings.Repeat("a.", size/2) + "a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := base + "[numbers]\n" + tt.line
			if tt.open != "" {
				n := size / len(tt.open+tt.close)
				head += strings.Repeat(tt.open, n) + "1" + strings.Repeat(tt.close, n)
			}
			data := []byte(head + "\n")
			start := time.Now()
			_, err := Parse("deep.conf", data)
			elapsed := time.Since(start)
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) != 1 || !strings.HasPrefix(e.Problems[0].Msg, "nesting deeper than") {
				t.Fatalf("Parse = %v, want one nesting problem", err)
			}
			// The bound is crossed on line 4, or when each bracket has a
			// line of its own, on the line of the one at depth 17 ([numbers]
			// is 1, x 2, the first bracket on line 4 at depth 2).
			want := 4
			if tt.name == "multi-line arrays" {
				want += MaxNesting - 1
			}
			if e.Problems[0].Line != want {
				t.Errorf("line %d, want %d", e.Problems[0].Line, want)
			}
			if elapsed > 2*time.Second {
				t.Errorf("Parse of %d bytes took %v", len(data), elapsed)
			}
		})
	}
}

// TestParseAtTheBound: a document nested exactly MaxNesting deep reaches the
// decoder and the checks (here: an unknown section), one level more does not.
func TestParseAtTheBound(t *testing.T) {
	tests := []struct {
		depth int
		want  string
	}{
		{MaxNesting, "deep.conf:1: x: unknown section"},
		{MaxNesting + 1, fmt.Sprintf("deep.conf:1: nesting deeper than %d ", MaxNesting)},
	}
	for _, tt := range tests {
		_, err := Parse("deep.conf", []byte(deepTable(tt.depth)+"\n"+base))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("depth %d: Parse = %v, want %q...", tt.depth, err, tt.want)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte(base + "# " + strings.Repeat("x", maxConfigSize) + "\n")
	_, err := Parse("big.conf", data)
	if want := fmt.Sprintf("big.conf: larger than %d bytes", maxConfigSize); err == nil || err.Error() != want {
		t.Fatalf("Parse = %v, want %q", err, want)
	}
}

// TestParseLongKey: a key is cut in messages, so that a 1 MiB key line
// does not become a 1 MiB log line at every login.
func TestParseLongKey(t *testing.T) {
	long := strings.Repeat("a", 1<<18)
	_, err := Parse("long.conf", []byte(base+"[numbers]\n"+long+" = \"x\"\n"+long+"b.c = 1\n"))
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) < 2 {
		t.Fatalf("Parse = %.200v, want a problem for each key", err)
	}
	if len(err.Error()) > 500 {
		t.Fatalf("error of %d bytes: %.200s...", len(err.Error()), err)
	}
	want := `numbers."` + long[:maxQuoted] + `..."`
	for _, p := range e.Problems {
		if !strings.HasPrefix(p.Key, want) {
			t.Errorf("key %q, want %q...", p.Key, want)
		}
	}
}
