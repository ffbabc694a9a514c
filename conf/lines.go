package conf

// KeyLines maps every key of a config file, tables included, to its 1-based
// line: "policy.groups", "numbers.alice", "limits". Keys are spelled as in
// Problem.Key. It is for checks made after Parse (pam-sms check), which need
// the line of a key that parsed fine; a file Parse refuses gives nil.
func KeyLines(data []byte) map[string]int {
	if len(data) > maxConfigSize || CheckNesting("", data) != nil {
		return nil
	}
	p := &parser{lines: true}
	root, ok := p.decode(data)
	if !ok {
		return nil
	}
	lines := map[string]int{}
	p.collectLines(root, lines)
	return lines
}

func (p *parser) collectLines(s section, lines map[string]int) {
	for name, n := range s.items {
		lines[n.key] = n.line
		if _, isTable := n.val.(map[string]any); isTable {
			p.collectLines(p.sub(s, name), lines)
		}
		if _, isArray := n.val.([]map[string]any); isArray {
			for _, e := range p.elements(s, name) {
				lines[e.key] = e.line
				p.collectLines(e, lines)
			}
		}
	}
}

// Key spells the key at path as Problem.Key and KeyLines do, e.g.
// Key("numbers", "bob smith") is `numbers."bob smith"`.
func Key(path ...string) string { return keyString(path) }
