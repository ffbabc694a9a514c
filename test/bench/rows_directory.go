package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/test/internal/slapd"
)

// dirKind is one way row 8 reaches the directory.
type dirKind struct {
	key, label string
	uri        func(*slapd.Server) string
	startTLS   bool
}

var dirKinds = []dirKind{
	{"ldap", "ldap:// (plain, loopback)", func(s *slapd.Server) string { return s.LDAPURI }, false},
	{"starttls", "ldap:// + StartTLS", func(s *slapd.Server) string { return s.LDAPURI }, true},
	{"ldaps", "ldaps://", func(s *slapd.Server) string { return s.LDAPSURI }, false},
}

// dirLogins and dirProbes are how many logins and fresh-process lookups row 8
// makes per directory variant, for the count of searches slapd must log.
func (b *bench) dirLogins() int { return b.rounds(dirRounds) }
func (b *bench) dirProbes() int { return b.rounds(30) }

// dirRounds is how many rounds of logins row 8 makes, one login per
// variant each, as in row 7.
const dirRounds = 100

// rowDirectory is row 8: the number from an LDAP directory (a private slapd
// on loopback, Debian's package, as in test/directory): full enforced logins
// with the number from [numbers] and from the directory over ldap://,
// ldap:// with StartTLS and ldaps://, and the lookup alone in a fresh
// process. slapd is stopped by its pid when the row ends.
func (b *bench) rowDirectory(ctx context.Context) error {
	if !slapd.Installed() {
		return errors.New("bench: row 8 needs Debian's slapd and slapadd (make deps installs them)")
	}
	dir := filepath.Join(b.work, "slapd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	srv, err := slapd.Run(dir, slapd.Options{LDIF: slapd.Person(userName(0), "mobile: "+userNumber(0))})
	if err != nil {
		return fmt.Errorf("bench: row 8: %w", err)
	}
	defer srv.Stop()
	vs, configs, err := b.directoryStacks(srv)
	if err != nil {
		return err
	}
	before := len(srv.Searches())
	if err := b.dirLogin(ctx, vs); err != nil {
		return err
	}
	if err := b.dirLookup(ctx, configs); err != nil {
		return err
	}
	// One search per login and probe that uses the directory, none for the
	// login whose number is in [numbers].
	want := len(dirKinds) * (b.dirLogins() + b.dirProbes())
	if got := len(srv.Searches()) - before; got != want {
		return fmt.Errorf("bench: row 8: slapd logged %d searches, want %d (one per directory login and probe)", got, want)
	}
	return nil
}

// directoryStacks writes a config and a service per dirKind, and one more
// with the same [directory] (ldaps) whose [numbers] has the bench user, so
// that the directory is never asked. All are the standard bench config over
// HTTP otherwise, without the other users' numbers. It returns the
// variants (the [numbers] one first) and the directory configs by kind.
func (b *bench) directoryStacks(srv *slapd.Server) ([]variant, map[string]string, error) {
	o := generous
	o.url = b.gw.httpURL
	section := func(k dirKind) string {
		return directorySection(k.uri(srv), k.startTLS, srv.PasswordFile, srv.CAFile)
	}
	type stack struct {
		svc, key, label, text string
	}
	stacks := []stack{{"sms-dir-numbers", "numbers", "number from [numbers] (directory not asked)",
		section(dirKinds[2]) + fmt.Sprintf("\n[numbers]\n%s = %q\n", userName(0), userNumber(0))}}
	for _, k := range dirKinds {
		stacks = append(stacks, stack{"sms-dir-" + k.key, k.key, "number from the directory, " + k.label, section(k)})
	}
	var vs []variant
	configs := map[string]string{}
	for _, s := range stacks {
		config, err := b.writeConfigFrom(s.svc, o, func(c string) string { return withoutNumbers(c, "", s.text) })
		if err != nil {
			return nil, nil, err
		}
		if err := writeService(b.confdir, s.svc, b.moduleLine(config)); err != nil {
			return nil, nil, err
		}
		vs = append(vs, variant{s.key, s.label, s.svc, rhostOutside})
		configs[s.key] = config
	}
	return vs, configs, nil
}

// directorySection is the [directory] of row 8's configs: the fixture's
// people, bound as its reader.
func directorySection(uri string, startTLS bool, passwordFile, caFile string) string {
	return fmt.Sprintf("\n[directory]\nuri = [%q]\nstarttls = %t\nbase = %q\nfilter = \"(uid={user})\"\n"+
		"attribute = \"mobile\"\nbind_dn = %q\nbind_password_file = %q\nca_file = %q\n"+
		"connect_timeout = \"2s\"\ntimeout = \"4s\"\n",
		uri, startTLS, slapd.People, slapd.BindDN, passwordFile, caFile)
}

// dirLogin is rows 8a-8d (full logins), 8e-8g (each minus 8a) and 8h-8k
// (CPU of the helper per login).
func (b *bench) dirLogin(ctx context.Context, vs []variant) error {
	before := b.gw.receivedBy(userName(0))
	runs, err := b.interleave(ctx, vs, b.rounds(dirRounds), 1, false)
	if err != nil {
		return err
	}
	logins := 0
	total := map[string]summary{}
	for i, v := range vs {
		txs := allTx(runs[v.label])
		for _, t := range txs {
			if t.recv == 0 || t.prompts == 0 {
				return fmt.Errorf("bench: row 8: %s: a login succeeded without SMS or prompt", v.label)
			}
		}
		logins += len(txs)
		total[v.key] = summarize(totals(txs))
		b.figs["dir.login."+v.key] = total[v.key].med
		b.add(msResult(fmt.Sprintf("8%c", 'a'+i), "full enforced login, "+v.label, total[v.key]))
	}
	if got := b.gw.receivedBy(userName(0)) - before; got != logins {
		return fmt.Errorf("bench: row 8: the gateway accepted %d SMS for %d logins", got, logins)
	}
	for i, v := range vs[1:] {
		d := total[v.key].med - total[vs[0].key].med
		b.figs["dir.extra."+v.key] = d
		b.add(result{row: fmt.Sprintf("8%c", 'e'+i), what: fmt.Sprintf("directory minus [numbers], %s (8%c - 8a)",
			dirKinds[i].label, 'b'+i), med: fmtMs(d)})
	}
	for i, v := range vs {
		var cpu []float64
		for _, r := range runs[v.label] {
			cpu = append(cpu, msOf(r.childCPU)/float64(len(r.txs)))
		}
		s := summarize(cpu)
		b.figs["dir.cpu."+v.key] = s.med
		b.add(msResult(fmt.Sprintf("8%c", 'h'+i), "CPU of the login's child processes: "+v.label, s))
	}
	return nil
}

// dirLookup is rows 8l-8n: the directory lookup alone (numsource.Lookup:
// [numbers], then [directory]: its files read, connect, TLS, bind, one
// search), each in a fresh process after conf.Load, as the helper does it.
func (b *bench) dirLookup(ctx context.Context, configs map[string]string) error {
	type probe struct {
		kind dirKind
		fn   func() (float64, error)
	}
	var probes []probe
	for _, k := range dirKinds {
		probes = append(probes, probe{k, b.lookupProbe(ctx, configs[k.key], userName(0), numsource.DirectoryName)})
	}
	got := map[string][]float64{}
	for r := range b.dirProbes() {
		for _, p := range rotate(probes, r) {
			v, err := p.fn()
			if err != nil {
				return err
			}
			got[p.kind.key] = append(got[p.kind.key], v)
		}
	}
	for i, p := range probes {
		s := summarize(got[p.kind.key])
		b.figs["dir.lookup."+p.kind.key] = s.med
		b.add(msResult(fmt.Sprintf("8%c", 'l'+i), "directory lookup in a fresh process, "+p.kind.label, s))
	}
	return nil
}

// findDirectory is the finding of row 8.
func (b *bench) findDirectory() string {
	f := b.figs
	if !b.has("dir.login.numbers", "dir.login.ldap", "dir.login.starttls", "dir.login.ldaps",
		"dir.lookup.ldap", "dir.lookup.starttls", "dir.lookup.ldaps", "dir.cpu.numbers", "dir.cpu.ldaps") {
		return ""
	}
	return fmt.Sprintf("Directory: with the number in a local slapd, a full enforced login takes %s over ldap://, "+
		"%s with StartTLS and %s over ldaps://, against %s with the number in [numbers] (8b-8d, 8a). The lookup "+
		"alone, in a fresh process as the helper makes it, takes %s, %s and %s (8l-8n): a new connection per "+
		"login (the helper is a new process each time), and with TLS a full handshake that verifies slapd's "+
		"certificate against ca_file, then the bind and one search. The CPU of the login's child processes is "+
		"%s with [numbers] and %s with ldaps (8h, 8k). Here slapd is on loopback; a directory across a network "+
		"adds its round trips to each login: the TCP connection, the bind and the search, plus the TLS "+
		"handshake (and for StartTLS its request).",
		fmtMs(f["dir.login.ldap"]), fmtMs(f["dir.login.starttls"]), fmtMs(f["dir.login.ldaps"]),
		fmtMs(f["dir.login.numbers"]), fmtMs(f["dir.lookup.ldap"]), fmtMs(f["dir.lookup.starttls"]),
		fmtMs(f["dir.lookup.ldaps"]), fmtMs(f["dir.cpu.numbers"]), fmtMs(f["dir.cpu.ldaps"]))
}

// directoryMethod describes row 8 in the method section.
const directoryMethod = "Row 8, the number from a directory (issue 10). A private slapd (Debian's package) started by\n" +
	"pambench as test/directory starts it (test/internal/slapd: a throwaway slapd.conf and mdb database\n" +
	"in the work directory, a fresh test CA, two free loopback ports, one for ldap:// with StartTLS and\n" +
	"one for ldaps://), holding the bench user with `mobile`; it is stopped by its pid when the row ends.\n" +
	"Four configs, the standard bench config over HTTP without the other users' numbers, each with a\n" +
	"`[directory]` (base ou=people, filter `(uid={user})`, bind_dn and bind_password_file, ca_file the\n" +
	"test CA): over ldap:// (allowed unencrypted only to loopback), ldap:// with `starttls = true`,\n" +
	"ldaps://, and the ldaps one with the user in `[numbers]`, so that the directory is not asked (8a,\n" +
	"the reference). 8a-8d: full logins from 198.51.100.7 (SMS received with the directory's number,\n" +
	"code answered), 100 rounds of one pamclient per config making one login, in rotating order; 8e-8g are\n" +
	"the differences of the medians, 8h-8k the CPU per login. 8l-8n: numsource.Lookup alone in a fresh\n" +
	"process after conf.Load (`pambench -probe-number CONFIG USER`: reads the password and CA files,\n" +
	"connects, TLS, binds, searches once), 30 rounds in rotating order. pambench checks that slapd logged\n" +
	"exactly one search per directory login and probe.\n\n"
