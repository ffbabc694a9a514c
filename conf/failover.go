package conf

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/pam-sms/pam_sms/smsclient"
)

const (
	// MaxFailovers bounds [[gateway.failover]]: every gateway adds its
	// timeout to the longest a login can wait for its code.
	MaxFailovers = 4
	// MaxSendTime bounds the whole send, every gateway tried: the sum of
	// the timeouts of [gateway] and its failovers may not exceed it.
	MaxSendTime = time.Minute
)

// failoverKeys are the keys only [gateway] holds: a failover has no
// failovers of its own, and the opt-in is one for the whole chain.
func failoverKeys() []string {
	return []string{"failover", "failover_on_rate_limit"}
}

// gateway reads [gateway] and its [[gateway.failover]] tables.
func (p *parser) gateway(s section) Gateway {
	g := p.gatewayTable(s, "gateway")
	g.FailoverOnRateLimit = p.boolean(s, "failover_on_rate_limit", false)
	tables := p.elements(s, "failover")
	if len(tables) > MaxFailovers {
		p.addKey(s, "failover", "%d [[gateway.failover]] tables; at most %d are allowed", len(tables), MaxFailovers)
		tables = tables[:MaxFailovers]
	}
	total := g.Timeout
	for _, t := range tables {
		f := p.gatewayTable(t, "gateway.failover")
		total += f.Timeout
		if total > MaxSendTime && total-f.Timeout <= MaxSendTime {
			p.addKey(t, "timeout", "the timeouts of [gateway] and its failovers up to here add up to %s; "+
				"a whole send (every gateway tried) may take at most %s: lower the timeouts",
				fmtDuration(total), fmtDuration(MaxSendTime))
		}
		g.Failover = append(g.Failover, f)
	}
	return g
}

// Gateways returns [gateway] and its failovers in the order a send tries
// them: index 0 is [gateway], 1 the first [[gateway.failover]] table.
func (c *Config) Gateways() []Gateway {
	out := make([]Gateway, 0, 1+len(c.Gateway.Failover))
	first := c.Gateway
	first.Failover = nil
	return append(append(out, first), c.Gateway.Failover...)
}

// GatewayConfigs returns the client configs of Gateways, in order.
func (c *Config) GatewayConfigs() []smsclient.Config {
	gws := c.Gateways()
	out := make([]smsclient.Config, len(gws))
	for i, g := range gws {
		out[i] = g.Config
	}
	return out
}

// SendTimeout bounds a whole send: the timeouts of every gateway added up
// (at most MaxSendTime, which Parse enforces).
func (c *Config) SendTimeout() time.Duration {
	var total time.Duration
	for _, g := range c.Gateways() {
		total += g.Timeout
	}
	return min(total, MaxSendTime)
}

// GatewayName names gateway i of Gateways in log lines and usage records:
// the host (and port) of its URL, which is what an administrator recognises,
// followed by "#i" when an earlier gateway has the same host. It never holds
// a secret: a URL with user:password@ is refused by Parse.
func (c *Config) GatewayName(i int) string {
	gws := c.Gateways()
	if i < 0 || i >= len(gws) {
		return ""
	}
	host := urlHost(gws[i].URL)
	for _, g := range gws[:i] {
		if urlHost(g.URL) == host {
			return host + "#" + strconv.Itoa(i)
		}
	}
	return host
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// GatewayKey is the key of gateway i of Gateways as problems spell it:
// "gateway", "gateway.failover[1]", ...
func GatewayKey(i int) string {
	if i == 0 {
		return "gateway"
	}
	return keyString([]string{"gateway", "failover", indexPart(i)})
}

// indexMark starts a path part that is an element's position in an array
// of tables; keyString writes it as "[N]" after the array's key.
const indexMark = "\x00"

func indexPart(i int) string { return indexMark + strconv.Itoa(i) }

// elements returns the tables of the array of tables name in s, each as a
// section keyed "NAME[N]" (N from 1, as pam-sms send-test --gateway counts
// failovers). Another type of value is a problem.
func (p *parser) elements(s section, name string) []section {
	n, ok := s.items[name]
	if !ok {
		return nil
	}
	if !isTableArray(n.val) {
		p.add(n, "must be tables written [[%s]], not %s", n.key, typeName(n.val))
		return nil
	}
	var prims []toml.Primitive
	if err := p.md.PrimitiveDecode(n.prim, &prims); err != nil {
		p.add(n, "cannot decode the tables: %v", err)
		return nil
	}
	if p.arrayCount != len(prims) {
		// The lines found by scanning the text do not fit (a header
		// inside a multi-line string): the decoder's lines are used.
		p.arrayLines = nil
	}
	out := make([]section, 0, len(prims))
	for i, prim := range prims {
		path := append(slices.Clone(s.path), name, indexPart(i+1))
		sec := section{node: node{path: path, key: keyString(path), name: name, line: n.line, prim: prim}}
		if l, ok := p.arrayLines[sec.key]; ok {
			sec.line = l
		}
		var items map[string]toml.Primitive
		if err := p.md.PrimitiveDecode(prim, &items); err != nil {
			p.add(sec.node, "cannot decode table: %v", err)
		}
		sec.items = p.nodes(path, items)
		out = append(out, sec)
	}
	return out
}

// isTableArray reports whether v is an array of tables: [[name]] headers,
// or an array of inline tables.
func isTableArray(v any) bool {
	switch a := v.(type) {
	case []map[string]any:
		return true
	case []any:
		for _, e := range a {
			if _, ok := e.(map[string]any); !ok {
				return false
			}
		}
		return true
	}
	return false
}

var (
	failoverHeader = regexp.MustCompile(`^[ \t]*\[\[[ \t]*gateway[ \t]*\.[ \t]*failover[ \t]*\]\][ \t]*(#.*)?$`)
	failoverSub    = regexp.MustCompile(`^[ \t]*\[[ \t]*gateway[ \t]*\.[ \t]*failover[ \t]*\.([^\[\]]*)\][ \t]*(#.*)?$`)
	tableHeader    = regexp.MustCompile(`^[ \t]*\[`)
)

// failoverLines finds the lines of the keys of each [[gateway.failover]]
// table. The decoder keeps one position per dotted key, so for "url" in two
// failover tables it names the last one's line for both; here each table's
// text is decoded on its own, as [e], and its lines shifted back. It returns
// the lines by key ("gateway.failover[2].url") and how many tables it found.
func failoverLines(data []byte) (map[string]int, int) {
	lines := strings.Split(string(data), "\n")
	out := map[string]int{}
	count := 0
	for start := 0; start < len(lines); start++ {
		if !failoverHeader.MatchString(lines[start]) {
			continue
		}
		count++
		if count == 1 {
			out["gateway.failover"] = start + 1
		}
		snippet := []string{"[e]"}
		end := start + 1
		for ; end < len(lines); end++ {
			if m := failoverSub.FindStringSubmatch(lines[end]); m != nil {
				snippet = append(snippet, "[e."+m[1]+"]")
				continue
			}
			if tableHeader.MatchString(lines[end]) {
				break // the next [[gateway.failover]], or another table
			}
			snippet = append(snippet, lines[end])
		}
		path := []string{"gateway", "failover", indexPart(count)}
		out[keyString(path)] = start + 1
		var top map[string]toml.Primitive
		if md, err := toml.Decode(strings.Join(snippet, "\n"), &top); err == nil {
			var e map[string]toml.Primitive
			if md.PrimitiveDecode(top["e"], &e) == nil {
				probeLines(md, path, e, start, out)
			}
		}
		start = end - 1
	}
	return out, count
}

// probeLines records the line of every key in prims (and its tables),
// shifted by offset lines.
func probeLines(md toml.MetaData, path []string, prims map[string]toml.Primitive, offset int, out map[string]int) {
	for name, prim := range prims {
		p := append(slices.Clone(path), name)
		var probe lineProbe
		if l := errLine(md.PrimitiveDecode(prim, &probe)); l > 0 {
			out[keyString(p)] = l + offset
		}
		var sub map[string]toml.Primitive
		if md.PrimitiveDecode(prim, &sub) == nil {
			probeLines(md, p, sub, offset, out)
		}
	}
}
