// Package netmatch decides whether a PAM_RHOST value lies in a set of trusted networks.
//
// A Set is built once from the trusted_networks list of the config (SPEC section 3)
// and asked for every login. Prefixes are merged into sorted, non-overlapping address
// ranges per family, so Contains is a binary search whatever the size of the list.
//
// Matching rules, chosen so that a login is exempted only by an address the
// administrator listed:
//
//   - Only IP literals match. A host name (sshd with UseDNS yes puts the verified
//     name into PAM_RHOST), an empty string, a bracketed address ("[::1]") or any
//     other unparsable value never matches.
//   - IPv4-mapped IPv6 addresses are unmapped first, on both sides: the rhost
//     "::ffff:10.1.2.3" matches "10.0.0.0/8", and the config entry
//     "::ffff:10.0.0.0/104" is taken as "10.0.0.0/8". IPv6 prefixes never match IPv4
//     addresses otherwise: "::/0" does not cover 10.1.2.3.
//   - A zone on the rhost ("fe80::1%eth0") is dropped before matching: the zone
//     names the local interface the peer was reached on, not a different peer
//     address, and sshd includes it for link-local peers. Config entries must not
//     carry a zone, since a prefix with a zone would suggest interface-specific
//     matching that this package does not do.
package netmatch

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Set is a set of IPv4 and IPv6 prefixes. The zero value matches nothing.
// A Set is immutable and safe for concurrent use.
type Set struct {
	v4, v6 []span // sorted by lo, disjoint and non-adjacent
}

// ParseError reports a bad trusted_networks entry.
type ParseError struct {
	Index int    // position in the list given to Parse, from 0
	Entry string // the entry as given
	Msg   string // what is wrong with it
	Err   error  // underlying netip error, if any
}

// Error returns, e.g., `netmatch: entry 2 "10.0.0.1/8": host bits set; did you mean 10.0.0.0/8?`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("netmatch: entry %d %q: %s", e.Index, e.Entry, e.Msg)
}

// Unwrap returns the underlying netip error, if any.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses CIDR prefixes ("10.0.0.0/8", "2001:db8::/32"); a bare address is a
// single-host prefix (/32 or /128). Errors name the bad entry and its index; see
// ParseError. Entries are taken literally: surrounding spaces, zones, host names,
// brackets and prefixes with host bits set are errors. IPv4-mapped IPv6 entries are
// converted to IPv4 (see the package comment).
func Parse(cidrs []string) (Set, error) {
	var v4, v6 []span
	for i, s := range cidrs {
		p, err := parseEntry(s)
		if err != nil {
			err.Index, err.Entry = i, s
			return Set{}, err
		}
		if p.Addr().Is4() {
			v4 = append(v4, spanOf(p))
		} else {
			v6 = append(v6, spanOf(p))
		}
	}
	return Set{v4: merge(v4), v6: merge(v6)}, nil
}

// MustParse is like Parse but panics on error. It is meant for tests with
// hard-coded lists.
func MustParse(cidrs ...string) Set {
	s, err := Parse(cidrs)
	if err != nil {
		panic(err)
	}
	return s
}

// parseEntry parses one entry into a masked prefix with IPv4-mapped addresses
// unmapped. The returned error has Index and Entry unset.
func parseEntry(s string) (netip.Prefix, *ParseError) {
	switch {
	case s == "":
		return netip.Prefix{}, &ParseError{Msg: "empty entry"}
	case strings.TrimSpace(s) != s:
		return netip.Prefix{}, &ParseError{Msg: "leading or trailing white space"}
	case strings.Contains(s, "%"):
		return netip.Prefix{}, &ParseError{Msg: "zones (%) are not allowed"}
	}
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	addr, err := netip.ParseAddr(addrPart)
	if err != nil {
		return netip.Prefix{}, &ParseError{Msg: "not an IP address or CIDR prefix (host names are not allowed)", Err: err}
	}
	bits := addr.BitLen()
	if hasBits {
		if bits, err = parseBits(bitsPart, addr.BitLen()); err != nil {
			return netip.Prefix{}, &ParseError{Msg: err.Error()}
		}
	}
	p := netip.PrefixFrom(addr, bits)
	if m := p.Masked(); m != p {
		return netip.Prefix{}, &ParseError{Msg: fmt.Sprintf("host bits set; did you mean %s?", m)}
	}
	if addr.Is4In6() {
		// A masked prefix whose address is IPv4-mapped has at least 96 bits: the
		// 0xffff marker ends at bit 96, and shorter prefixes would mask it away.
		p = netip.PrefixFrom(addr.Unmap(), bits-96)
	}
	return p, nil
}

// parseBits parses a prefix length in strict decimal (no sign, no leading zero).
func parseBits(s string, maxBits int) (int, error) {
	bad := func() (int, error) {
		return 0, fmt.Errorf("bad prefix length %q: want 0 to %d", s, maxBits)
	}
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return bad()
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return bad()
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxBits {
		return bad()
	}
	return n, nil
}

// Contains reports whether rhost, an IP literal as sshd puts it into PAM_RHOST, lies
// in s. A host name, an empty string or anything else that is not an IP literal
// never matches. IPv4-mapped IPv6 addresses are unmapped and zones dropped first.
func (s Set) Contains(rhost string) bool {
	addr, err := netip.ParseAddr(rhost)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return find(s.v4, u128From(addr))
	}
	return find(s.v6, u128From(addr))
}

// Len returns the number of address ranges after merging: overlapping, nested and
// adjacent prefixes count once, so "10.0.0.0/9" and "10.128.0.0/9" give 1.
func (s Set) Len() int { return len(s.v4) + len(s.v6) }

// span is an inclusive address range. IPv4 addresses use the low 32 bits.
type span struct{ lo, hi u128 }

// u128 is an address as a 128-bit unsigned integer.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) or(b u128) u128 { return u128{a.hi | b.hi, a.lo | b.lo} }

func (a u128) addOne() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

// onesLow returns a value with the low n bits set, 0 <= n <= 128.
func onesLow(n int) u128 {
	switch {
	case n == 0:
		return u128{}
	case n < 64:
		return u128{0, 1<<n - 1}
	case n == 64:
		return u128{0, ^uint64(0)}
	case n < 128:
		return u128{1<<(n-64) - 1, ^uint64(0)}
	default:
		return u128{^uint64(0), ^uint64(0)}
	}
}

func u128From(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[i+8])
	}
	return u128{hi, lo}
}

// spanOf returns the range of a masked prefix.
func spanOf(p netip.Prefix) span {
	lo := u128From(p.Addr())
	return span{lo, lo.or(onesLow(p.Addr().BitLen() - p.Bits()))}
}

// merge sorts spans of one family and joins overlapping and adjacent ones.
func merge(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo.cmp(b.lo) })
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		// IPv4 lives in the low 32 bits, so only ffff:…:ffff can overflow addOne;
		// a span ending there swallows every later one.
		if last.hi == onesLow(128) || sp.lo.cmp(last.hi.addOne()) <= 0 {
			if sp.hi.cmp(last.hi) > 0 {
				last.hi = sp.hi
			}
			continue
		}
		out = append(out, sp)
	}
	return slices.Clip(out)
}

// find reports whether x lies in one of the sorted, disjoint spans.
func find(spans []span, x u128) bool {
	// i is the number of spans starting at or below x; only the last of them can hold x.
	i, _ := slices.BinarySearchFunc(spans, x, func(sp span, x u128) int {
		if sp.lo.cmp(x) <= 0 {
			return -1
		}
		return 1
	})
	return i > 0 && x.cmp(spans[i-1].hi) <= 0
}
