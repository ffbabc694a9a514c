package conf

import (
	"fmt"
	"strings"
	"testing"
)

// largeConfig has 10,000 numbers and 1,000 networks, as issue 6 sizes it.
func largeConfig() []byte {
	var sb strings.Builder
	sb.WriteString("[policy]\ntrusted_networks = [")
	for i := range 1000 {
		fmt.Fprintf(&sb, "\"10.%d.%d.0/24\",", i/256, i%256)
	}
	sb.WriteString("]\n[gateway]\nurl = \"https://gw.example/send\"\n[numbers]\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "user%05d = \"+49 170 %07d\"\n", i, i)
	}
	return []byte(sb.String())
}

// BenchmarkParseLarge is the large config: every login parses it.
func BenchmarkParseLarge(b *testing.B) {
	benchParse(b, largeConfig(), true)
}

// BenchmarkParseNormal is the shipped example config.
func BenchmarkParseNormal(b *testing.B) {
	benchParse(b, readShipped(b), true)
}

// BenchmarkParseDeep is 40 KB of nesting (issue 9): before the nesting
// pre-scan the decoder took 16 s (arrays of inline tables) to 98 s (one
// dotted key) on it; now Parse refuses it without decoding.
func BenchmarkParseDeep(b *testing.B) {
	const size = 40 << 10
	for _, bb := range []struct{ name, open, close string }{
		{"inline-tables", "{a = ", "}"},
		{"arrays-of-inline-tables", "[{a = ", "}]"},
		{"dotted-key", "a.", ""},
	} {
		n := size / len(bb.open+bb.close)
		data := []byte(base + "[numbers]\nx = " + strings.Repeat(bb.open, n) + "1" + strings.Repeat(bb.close, n) + "\n")
		if bb.close == "" {
			data = []byte(base + "[numbers]\n" + strings.Repeat(bb.open, n) + "a = 1\n")
		}
		b.Run(bb.name, func(b *testing.B) { benchParse(b, data, false) })
	}
}

func benchParse(b *testing.B, data []byte, valid bool) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.conf", data); (err == nil) != valid {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckNesting is the pre-scan alone: what it adds to a parse.
func BenchmarkCheckNesting(b *testing.B) {
	for _, bb := range []struct {
		name string
		data []byte
	}{{"normal", readShipped(b)}, {"large", largeConfig()}} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.data)))
			for b.Loop() {
				if err := CheckNesting("bench.conf", bb.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
