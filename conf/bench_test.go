package conf

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseLarge is a config with 10,000 numbers and 1,000 networks,
// as issue 6 sizes it: every login parses it.
func BenchmarkParseLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[policy]\ntrusted_networks = [")
	for i := range 1000 {
		fmt.Fprintf(&sb, "\"10.%d.%d.0/24\",", i/256, i%256)
	}
	sb.WriteString("]\n[gateway]\nurl = \"https://gw.example/send\"\n[numbers]\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "user%05d = \"+49 170 %07d\"\n", i, i)
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("large.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}
