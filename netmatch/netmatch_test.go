package netmatch_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/pam-sms/pam_sms/netmatch"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		wantErr string
	}{
		{"empty entry", []string{"10.0.0.0/8", ""},
			`netmatch: entry 1 "": empty entry`},
		{"leading space", []string{" 10.0.0.0/8"},
			`netmatch: entry 0 " 10.0.0.0/8": leading or trailing white space`},
		{"trailing newline", []string{"10.0.0.0/8\n"},
			`netmatch: entry 0 "10.0.0.0/8\n": leading or trailing white space`},
		{"host name", []string{"10.0.0.0/8", "2001:db8::/32", "intranet.example"},
			`netmatch: entry 2 "intranet.example": not an IP address or CIDR prefix (host names are not allowed)`},
		{"host name with prefix", []string{"intranet.example/24"},
			`netmatch: entry 0 "intranet.example/24": not an IP address or CIDR prefix (host names are not allowed)`},
		{"brackets", []string{"[2001:db8::1]"},
			`netmatch: entry 0 "[2001:db8::1]": not an IP address or CIDR prefix (host names are not allowed)`},
		{"ipv4 octal-looking octet", []string{"010.0.0.0/8"},
			`netmatch: entry 0 "010.0.0.0/8": not an IP address or CIDR prefix (host names are not allowed)`},
		{"zone on prefix", []string{"fe80::/10%eth0"},
			`netmatch: entry 0 "fe80::/10%eth0": zones (%) are not allowed`},
		{"zone on address", []string{"fe80::1%eth0"},
			`netmatch: entry 0 "fe80::1%eth0": zones (%) are not allowed`},
		{"ipv4 host bits", []string{"10.0.0.1/8"},
			`netmatch: entry 0 "10.0.0.1/8": host bits set; did you mean 10.0.0.0/8?`},
		{"ipv6 host bits", []string{"2001:db8::1/32"},
			`netmatch: entry 0 "2001:db8::1/32": host bits set; did you mean 2001:db8::/32?`},
		{"mapped host bits", []string{"::ffff:10.0.0.1/104"},
			`netmatch: entry 0 "::ffff:10.0.0.1/104": host bits set; did you mean ::ffff:10.0.0.0/104?`},
		{"mapped prefix shorter than 96", []string{"::ffff:10.0.0.0/8"},
			`netmatch: entry 0 "::ffff:10.0.0.0/8": host bits set; did you mean ::/8?`},
		{"ipv4 prefix too long", []string{"10.0.0.0/33"},
			`netmatch: entry 0 "10.0.0.0/33": bad prefix length "33": want 0 to 32`},
		{"ipv6 prefix too long", []string{"2001:db8::/129"},
			`netmatch: entry 0 "2001:db8::/129": bad prefix length "129": want 0 to 128`},
		{"empty prefix length", []string{"10.0.0.0/"},
			`netmatch: entry 0 "10.0.0.0/": bad prefix length "": want 0 to 32`},
		{"leading zero prefix length", []string{"10.0.0.0/08"},
			`netmatch: entry 0 "10.0.0.0/08": bad prefix length "08": want 0 to 32`},
		{"signed prefix length", []string{"10.0.0.0/+8"},
			`netmatch: entry 0 "10.0.0.0/+8": bad prefix length "+8": want 0 to 32`},
		{"two slashes", []string{"10.0.0.0/8/8"},
			`netmatch: entry 0 "10.0.0.0/8/8": bad prefix length "8/8": want 0 to 32`},
		{"inner space", []string{"10.0.0.0 /8"},
			`netmatch: entry 0 "10.0.0.0 /8": not an IP address or CIDR prefix (host names are not allowed)`},
		{"ipv4 with port", []string{"10.0.0.1:22"},
			`netmatch: entry 0 "10.0.0.1:22": not an IP address or CIDR prefix (host names are not allowed)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := netmatch.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v ranges, want error %q", tt.in, s.Len(), tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) error:\n got %s\nwant %s", tt.in, err, tt.wantErr)
			}
			var pe *netmatch.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Entry != tt.in[pe.Index] {
				t.Errorf("ParseError.Entry = %q, want entry %d %q", pe.Entry, pe.Index, tt.in[pe.Index])
			}
			if s.Contains("10.0.0.1") || s.Len() != 0 {
				t.Errorf("Parse returned a non-empty Set with its error")
			}
		})
	}
}

func TestParseHostNameWrapsNetipError(t *testing.T) {
	_, err := netmatch.Parse([]string{"010.0.0.0"})
	var pe *netmatch.ParseError
	if !errors.As(err, &pe) || pe.Err == nil || errors.Unwrap(err) != pe.Err {
		t.Fatalf("Parse error %v does not wrap the netip error", err)
	}
	if !strings.Contains(pe.Err.Error(), "leading zero") {
		t.Errorf("wrapped error %q does not explain the leading zero", pe.Err)
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		name  string
		cidrs []string
		yes   []string // rhosts that must match
		no    []string // rhosts that must not match
	}{
		{
			name:  "empty set",
			cidrs: nil,
			no:    []string{"10.0.0.1", "::1", "0.0.0.0", "::", ""},
		},
		{
			name:  "ipv4 /8",
			cidrs: []string{"10.0.0.0/8"},
			yes:   []string{"10.0.0.0", "10.1.2.3", "10.255.255.255", "::ffff:10.1.2.3", "::ffff:a01:203"},
			no: []string{"9.255.255.255", "11.0.0.0", "192.168.0.1", "::a01:203", "64:ff9b::10.1.2.3",
				"2001:db8::1", "10.1.2.3:22", "10.1.2.3 ", " 10.1.2.3", "10.1.2", "010.1.2.3", "10.1.2.3%eth0"},
		},
		{
			name:  "ipv4 /32 and bare address",
			cidrs: []string{"192.0.2.7/32", "198.51.100.9"},
			yes:   []string{"192.0.2.7", "198.51.100.9", "::ffff:198.51.100.9"},
			no:    []string{"192.0.2.6", "192.0.2.8", "198.51.100.8", "198.51.100.10"},
		},
		{
			name:  "ipv6 /32",
			cidrs: []string{"2001:db8::/32"},
			yes:   []string{"2001:db8::", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:DB8::A"},
			no:    []string{"2001:db9::", "2001:db7:ffff::1", "[2001:db8::1]", "[2001:db8::1]:22", "10.0.0.1", "::"},
		},
		{
			name:  "ipv6 /128 and bare address",
			cidrs: []string{"2001:db8::1/128", "2001:db8::5"},
			yes:   []string{"2001:db8::1", "2001:db8:0:0:0:0:0:5"},
			no:    []string{"2001:db8::", "2001:db8::2", "2001:db8::4", "2001:db8::6"},
		},
		{
			name:  "zones are stripped from rhost",
			cidrs: []string{"fe80::/10"},
			yes:   []string{"fe80::1%eth0", "fe80::1%1", "fe80::1", "febf::1%wlan0"},
			no:    []string{"fec0::1%eth0", "fe80::1%", "%eth0"},
		},
		{
			name:  "ipv4-mapped entries are unmapped",
			cidrs: []string{"::ffff:10.0.0.0/104", "::ffff:192.0.2.1"},
			yes:   []string{"10.1.2.3", "::ffff:10.1.2.3", "192.0.2.1", "::ffff:192.0.2.1"},
			no:    []string{"11.0.0.0", "192.0.2.2", "::a01:203"},
		},
		{
			name:  "ipv4 /0",
			cidrs: []string{"0.0.0.0/0"},
			yes:   []string{"0.0.0.0", "255.255.255.255", "127.0.0.1", "::ffff:1.2.3.4"},
			no:    []string{"::", "::1", "2001:db8::1", "localhost", ""},
		},
		{
			name:  "ipv6 /0 does not cover ipv4",
			cidrs: []string{"::/0"},
			yes:   []string{"::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			no:    []string{"10.0.0.1", "::ffff:10.0.0.1", "0.0.0.0"},
		},
		{
			name:  "host names never match",
			cidrs: []string{"0.0.0.0/0", "::/0"},
			yes:   []string{"1.2.3.4", "::1"},
			no:    []string{"", "localhost", "host.example.com", "10.0.0.1.example", "1.2.3.4.in-addr.arpa", "UNKNOWN", "::1]"},
		},
		{
			name:  "top of address space",
			cidrs: []string{"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
			yes:   []string{"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			no:    []string{"255.255.255.254", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "0.0.0.0", "::"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := netmatch.Parse(tt.cidrs)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.yes {
				if !s.Contains(h) {
					t.Errorf("Contains(%q) = false, want true", h)
				}
			}
			for _, h := range tt.no {
				if s.Contains(h) {
					t.Errorf("Contains(%q) = true, want false", h)
				}
			}
		})
	}
}

func TestZeroSet(t *testing.T) {
	var s netmatch.Set
	if s.Len() != 0 || s.Contains("10.0.0.1") || s.Contains("::1") {
		t.Errorf("zero Set is not empty")
	}
}

func TestLenMerges(t *testing.T) {
	tests := []struct {
		name  string
		cidrs []string
		want  int
	}{
		{"empty", nil, 0},
		{"one of each family", []string{"10.0.0.0/8", "2001:db8::/32"}, 2},
		{"duplicates", []string{"10.0.0.0/8", "10.0.0.0/8", "::ffff:10.0.0.0/104"}, 1},
		{"nested", []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3"}, 1},
		{"nested, wider last", []string{"10.1.2.3", "10.1.0.0/16", "10.0.0.0/8"}, 1},
		{"adjacent halves", []string{"10.0.0.0/9", "10.128.0.0/9"}, 1},
		{"adjacent hosts", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, 1},
		{"gap of one address", []string{"192.0.2.1", "192.0.2.3"}, 2},
		{"overlap across boundaries", []string{"10.0.0.0/16", "10.0.128.0/17", "10.1.0.0/16", "10.3.0.0/16"}, 2},
		{"ipv4 and mapped never merge with ipv6", []string{"0.0.0.0/0", "::/0"}, 2},
		{"ipv6 adjacent", []string{"2001:db8::/33", "2001:db8:8000::/33"}, 1},
		{"ipv6 across 64-bit halves", []string{"::ffff:ffff:ffff:ffff", "0:0:0:1::"}, 1},
		{"ipv6 top and bottom", []string{"::/1", "8000::/1"}, 1},
		{"everything after the top", []string{"ffff::/16", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := netmatch.Parse(tt.cidrs)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Len(); got != tt.want {
				t.Errorf("Parse(%q).Len() = %d, want %d", tt.cidrs, got, tt.want)
			}
		})
	}
}

// naive is the reference: a linear scan with netip.Prefix.Contains, applying the
// package's rules (unmap both sides, drop the rhost's zone).
type naive []netip.Prefix

func newNaive(t testing.TB, cidrs []string) naive {
	var n naive
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, err2 := netip.ParseAddr(c)
			if err2 != nil {
				t.Fatalf("reference cannot parse %q: %v", c, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		n = append(n, p)
	}
	return n
}

func (n naive) contains(rhost string) bool {
	a, err := netip.ParseAddr(rhost)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range n {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// randAddr returns a random address of the family, with mostly-zero or mostly-one
// runs now and then so that edges get hit.
func randAddr(r *rand.Rand, v4 bool) netip.Addr {
	var b [16]byte
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = 0
		case 1:
			b[i] = 0xff
		default:
			b[i] = byte(r.Uint32())
		}
	}
	if v4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

// randPrefixes returns n masked prefixes as config strings, sometimes bare
// addresses or IPv4-mapped forms.
func randPrefixes(r *rand.Rand, n int) []string {
	var out []string
	for range n {
		a := randAddr(r, r.IntN(2) == 0)
		bits := 16 + r.IntN(113)
		if a.Is4() {
			bits = 8 + r.IntN(25) // short prefixes would cover most probes
		}
		p := netip.PrefixFrom(a, bits).Masked()
		switch {
		case p.IsSingleIP() && r.IntN(2) == 0:
			out = append(out, p.Addr().String())
		case a.Is4() && r.IntN(4) == 0:
			m := netip.AddrFrom16(p.Addr().As16())
			out = append(out, netip.PrefixFrom(m, p.Bits()+96).String())
		default:
			out = append(out, p.String())
		}
	}
	return out
}

// probe returns an rhost near one of the prefixes (inside or just outside) or
// anywhere, in one of the textual forms sshd may use.
func probe(r *rand.Rand, n naive) string {
	var a netip.Addr
	if len(n) > 0 && r.IntN(4) != 0 {
		p := n[r.IntN(len(n))]
		b := p.Addr().AsSlice()
		// Flip a random bit, often one just above or below the prefix boundary.
		bit := p.Bits() - 1 + r.IntN(3)
		if r.IntN(2) == 0 {
			bit = r.IntN(len(b) * 8)
		}
		if bit >= 0 && bit < len(b)*8 {
			b[bit/8] ^= 0x80 >> (bit % 8)
		}
		a, _ = netip.AddrFromSlice(b)
	} else {
		a = randAddr(r, r.IntN(2) == 0)
	}
	switch {
	case a.Is4() && r.IntN(5) == 0:
		return netip.AddrFrom16(a.As16()).String()
	case a.Is6() && r.IntN(5) == 0:
		return a.WithZone("eth0").String()
	default:
		return a.String()
	}
}

func TestContainsMatchesLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		cidrs := randPrefixes(r, r.IntN(60))
		s, err := netmatch.Parse(cidrs)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ref := newNaive(t, cidrs)
		for range 500 {
			h := probe(r, ref)
			if got, want := s.Contains(h), ref.contains(h); got != want {
				t.Fatalf("round %d: Contains(%q) = %v, linear scan says %v; prefixes %q", round, h, got, want, cidrs)
			}
		}
	}
}

func FuzzContains(f *testing.F) {
	seeds := []struct{ a, b, rhost string }{
		{"10.0.0.0/8", "2001:db8::/32", "10.1.2.3"},
		{"10.0.0.0/8", "2001:db8::/32", "::ffff:10.1.2.3"},
		{"::ffff:10.0.0.0/104", "", "10.1.2.3"},
		{"fe80::/10", "", "fe80::1%eth0"},
		{"0.0.0.0/0", "::/0", "host.example"},
		{"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "255.255.255.255"},
		{"10.0.0.0/9", "10.128.0.0/9", "10.128.0.0"},
		{"10.0.0.1/8", "x", "[::1]"},
		{" 10.0.0.0/8", "10.0.0.0/08", ""},
	}
	for _, s := range seeds {
		f.Add(s.a, s.b, s.rhost)
	}
	f.Fuzz(func(t *testing.T, a, b, rhost string) {
		var cidrs []string
		for _, c := range []string{a, b} {
			if c != "" {
				cidrs = append(cidrs, c)
			}
		}
		s, err := netmatch.Parse(cidrs)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "netmatch: entry ") {
				t.Fatalf("error %q lacks the entry prefix", err)
			}
			return
		}
		ref := newNaive(t, cidrs)
		if got, want := s.Contains(rhost), ref.contains(rhost); got != want {
			t.Fatalf("Contains(%q) = %v, linear scan says %v; prefixes %q", rhost, got, want, cidrs)
		}
		// Every accepted entry contains its own first address.
		for _, p := range ref {
			if !s.Contains(p.Addr().String()) {
				t.Fatalf("Contains(%q) = false for its own prefix %s", p.Addr(), p)
			}
		}
	})
}

func BenchmarkContains(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	cidrs := randPrefixes(r, 1000)
	s, err := netmatch.Parse(cidrs)
	if err != nil {
		b.Fatal(err)
	}
	ref := newNaive(b, cidrs)
	probes := make([]string, 1024)
	for i := range probes {
		probes[i] = probe(r, ref)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Contains(probes[i%len(probes)])
	}
}

func ExampleSet_Contains() {
	s, err := netmatch.Parse([]string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		panic(err)
	}
	for _, rhost := range []string{"10.1.2.3", "::ffff:10.1.2.3", "2001:db8::7%eth0", "intranet.example", "192.0.2.1"} {
		fmt.Println(rhost, s.Contains(rhost))
	}
	// Output:
	// 10.1.2.3 true
	// ::ffff:10.1.2.3 true
	// 2001:db8::7%eth0 true
	// intranet.example false
	// 192.0.2.1 false
}
