package packaging_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The SELinux policy module of the rpm (packaging/selinux, docs/selinux.md),
// tested as far as a Debian machine allows: compiled by the rule `make
// package` uses, loaded by the rpm's own %posttrans into the policy store of
// a Debian 12 root with selinux-policy-default (the reference policy), and
// the resulting binary policy searched with sesearch and seinfo. Nothing here
// runs under an enforcing kernel.

// selinuxHostTools are the host's packages: the policy development files
// and compilers for `make selinux-module`, setools for sesearch and seinfo,
// selinux-utils for matchpathcon, mmdebstrap for the root.
var selinuxHostTools = []string{"selinux-policy-dev", "checkpolicy", "semodule-utils", "policycoreutils", "setools", "selinux-utils", "mmdebstrap"}

// selinuxIncludes make the root: the reference policy with its store (and
// semodule), and its development files for the fallback of %posttrans that
// compiles the shipped sources.
var selinuxIncludes = []string{"selinux-policy-default", "selinux-policy-dev"}

// selinuxStore is the policy the root's semodule builds.
const selinuxStore = "/etc/selinux/default"

// The files the rpm installs for SELinux (packaging/nfpm.yaml).
const (
	rpmSELinuxPP  = "/usr/share/selinux/packages/pam_sms.pp"
	rpmSELinuxSrc = "/usr/share/pam-sms/selinux"
)

// selinuxSources are the module's sources, shipped in the rpm too.
var selinuxSources = []string{"pam_sms.te", "pam_sms.fc", "pam_sms.if"}

// fakeSELinuxEnabled is a selinuxenabled that says yes: the root runs on
// the host's kernel, which has no SELinux, and the scriptlets must take
// their SELinux branch.
const fakeSELinuxEnabled = "#!/bin/sh\nexit 0\n"

// TestSELinuxPolicy compiles the module, loads it through the rpm's
// %posttrans into a reference policy store, and checks the binary policy:
// every domain that runs PAM can start the helper and enters
// pam_sms_helper_t; that domain reads the configuration and secrets, writes
// the state and connects to the gateway, proxy and directory ports; user_t,
// staff_t, sshd_t and xdm_t read no secret and write no state. The file
// contexts label the paths the packages install. %postun removes the module;
// when the policy refuses the prebuilt module, %posttrans compiles the
// shipped sources, or warns and still succeeds.
func TestSELinuxPolicy(t *testing.T) {
	requireRoot(t)
	ensureDebs(t, selinuxHostTools...)
	root := repoRoot(t)
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }

	out := t.TempDir()
	run(t, root, "make", "-s", "--no-print-directory", "selinux-module", "PKG_OUT="+out)
	pp := mustRead(t, filepath.Join(out, "selinux", "pam_sms.pp"))
	t.Logf("make selinux-module: %s", since())

	c := newSELinuxRoot(t)
	t.Logf("root unpacked: %s", since())
	installSELinuxFiles(t, c, root, pp)

	// %posttrans as rpm runs it (the scriptlet file nfpm puts in the rpm),
	// without the development files: it loads the prebuilt module.
	c.hideDevel(t, true)
	if got := c.runScript(t, root, "packaging/selinux/posttrans.sh"); got != "" {
		t.Errorf("%%posttrans printed:\n%s", got)
	}
	if !c.moduleLoaded(t) {
		t.Fatalf("%%posttrans did not load pam_sms; semodule -i says:\n%s",
			c.outputOf("semodule", "-X", "200", "-i", rpmSELinuxPP))
	}
	t.Logf("%%posttrans loaded the module: %s", since())

	// The policy and file contexts as loaded, copied: the scriptlet tests
	// below rebuild them meanwhile.
	snap := t.TempDir()
	policy := filepath.Join(snap, "policy")
	fc := filepath.Join(snap, "file_contexts")
	copyFile(t, c.binaryPolicy(t), policy)
	copyFile(t, c.path(selinuxStore+"/contexts/files/file_contexts"), fc)

	t.Run("group", func(t *testing.T) {
		t.Run("policy", func(t *testing.T) {
			t.Parallel()
			p := loadPolicy(t, policy)
			t.Logf("policy read: %s", since())
			t.Run("pam-domains-start-helper", func(t *testing.T) { checkHelperTransitions(t, p) })
			t.Run("helper-access", func(t *testing.T) { checkHelperAccess(t, p) })
			t.Run("no-access", func(t *testing.T) { checkNoAccess(t, p) })
			t.Run("file-contexts", func(t *testing.T) { checkFileContexts(t, root, fc) })
		})
		t.Run("scriptlets", func(t *testing.T) {
			t.Parallel()
			checkSELinuxScriptletsInRoot(t, c, root)
			t.Logf("scriptlets: %s", since())
		})
	})
	t.Logf("total: %s", since())
}

// checkSELinuxScriptletsInRoot: %postun 1 (an upgrade) keeps the module,
// %postun 0 removes it; %posttrans with the policy's development files
// compiles the shipped sources, even where the prebuilt module would not
// load (here: not a module at all, which is what a policy without one of its
// types amounts to); without either it warns and still exits 0.
func checkSELinuxScriptletsInRoot(t *testing.T, c *chroot, root string) {
	if got := c.runScript(t, root, "packaging/rpm/postun.sh", "1"); got != "" {
		t.Errorf("%%postun 1 printed:\n%s", got)
	}
	if !c.moduleLoaded(t) {
		t.Fatalf("%%postun 1 (an upgrade) removed the module")
	}
	if got := c.runScript(t, root, "packaging/rpm/postun.sh", "0"); got != "" {
		t.Errorf("%%postun 0 printed:\n%s", got)
	}
	if c.moduleLoaded(t) {
		t.Fatalf("pam_sms still loaded after %%postun 0")
	}

	c.write(t, rpmSELinuxPP, "not a policy module\n")
	c.hideDevel(t, false)
	if got := c.runScript(t, root, "packaging/selinux/posttrans.sh"); got != "" {
		t.Errorf("%%posttrans printed:\n%s", got)
	}
	if !c.moduleLoaded(t) {
		t.Fatalf("%%posttrans did not compile and load pam_sms from %s", rpmSELinuxSrc)
	}

	c.hideDevel(t, true)
	got := c.runScript(t, root, "packaging/selinux/posttrans.sh")
	if !strings.Contains(got, "pam_sms: the SELinux policy module did not load") {
		t.Errorf("%%posttrans without a loadable module printed %q, want a warning", got)
	}
}

// newSELinuxRoot unpacks the cached root with the reference policy; nothing
// is mounted in it.
func newSELinuxRoot(t *testing.T) *chroot {
	t.Helper()
	tarball := cachedRoot(t, "selinux", selinuxIncludes, "SELinux policy test")
	dir, err := os.MkdirTemp("/var/tmp", "pam-sms-selinux-")
	if err != nil {
		t.Fatal(err)
	}
	c := &chroot{dir: dir}
	t.Cleanup(func() { c.remove(t) })
	run(t, "", "tar", "--numeric-owner", "-xpf", tarball, "-C", dir)
	if !c.exists(selinuxStore) {
		t.Fatalf("root has no %s: selinux-policy-default did not install its policy", selinuxStore)
	}
	return c
}

// installSELinuxFiles puts what the rpm ships for SELinux where it ships it,
// and the fake selinuxenabled into /tmp/fakebin.
func installSELinuxFiles(t *testing.T, c *chroot, root string, pp []byte) {
	t.Helper()
	for _, d := range []string{filepath.Dir(rpmSELinuxPP), rpmSELinuxSrc, "/tmp/fakebin"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(c.path(rpmSELinuxPP), pp, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range selinuxSources {
		c.write(t, rpmSELinuxSrc+"/"+f, string(mustRead(t, filepath.Join(root, "packaging", "selinux", f))))
	}
	if err := os.WriteFile(c.path("/tmp/fakebin/selinuxenabled"), []byte(fakeSELinuxEnabled), 0o755); err != nil {
		t.Fatal(err)
	}
}

// hideDevel renames the policy development Makefile away (hide) or back.
func (c *chroot) hideDevel(t *testing.T, hide bool) {
	t.Helper()
	devel := c.path("/usr/share/selinux/devel/Makefile")
	from, to := devel, devel+".off"
	if !hide {
		from, to = to, from
	}
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// runScript runs a scriptlet of the repository in the root, with rpm's PATH
// behind /tmp/fakebin, and returns its output. A scriptlet must never fail
// the transaction, so an exit status other than 0 fails the test.
func (c *chroot) runScript(t *testing.T, root, rel string, args ...string) string {
	t.Helper()
	c.write(t, "/tmp/scriptlet.sh", string(mustRead(t, filepath.Join(root, rel))))
	argv := append([]string{"env", "PATH=/tmp/fakebin:/sbin:/bin:/usr/sbin:/usr/bin", "sh", "/tmp/scriptlet.sh"}, args...)
	out, err := c.output(argv...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", rel, strings.Join(args, " "), err, out)
	}
	return out
}

// outputOf runs a command in the root and returns its output, for messages.
func (c *chroot) outputOf(args ...string) string {
	out, err := c.output(args...)
	if err != nil {
		out += err.Error()
	}
	return out
}

// moduleLoaded reports whether pam_sms is in the root's store at priority
// 200, where the scriptlets put it.
func (c *chroot) moduleLoaded(t *testing.T) bool {
	t.Helper()
	out := c.run(t, "semodule", "--list-modules=full")
	return regexp.MustCompile(`(?m)^200\s+pam_sms\s`).MatchString(out)
}

// binaryPolicy is the path of the kernel policy semodule built last.
func (c *chroot) binaryPolicy(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(c.path(selinuxStore + "/policy/policy.[0-9]*"))
	if len(m) != 1 {
		t.Fatalf("want one binary policy in %s/policy, found %v", selinuxStore, m)
	}
	return m[0]
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.WriteFile(dst, mustRead(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// avRule is one allow rule of the binary policy, as sesearch prints it:
// source and target are types or attributes.
type avRule struct {
	line                  string
	source, target, class string
	perms                 map[string]bool
	conditional           bool // [ boolean ]:True or :False
}

// policyDump is what the tests need of a binary policy, read with one run
// of each tool (loading the policy is what takes time): every allow rule,
// the type transitions into pam_sms_helper_t, the members of every
// attribute, the types of every role.
type policyDump struct {
	rules       map[string][]avRule        // by class
	transitions []string                   // sesearch -T lines
	attrs       map[string]map[string]bool // attribute -> types
	roles       map[string]map[string]bool // role -> types
	bools       map[string]bool            // boolean -> default
}

// loadPolicy runs sesearch and seinfo on the binary policy (in parallel).
func loadPolicy(t *testing.T, policy string) *policyDump {
	t.Helper()
	cmds := [][]string{
		{"sesearch", "--allow", policy},
		{"sesearch", "-T", "-t", "pam_sms_helper_exec_t", "-c", "process", policy},
		// The policy first: -a and -r take an optional name.
		{"seinfo", policy, "--flat", "-x", "-a"},
		{"seinfo", policy, "--flat", "-x", "-r"},
		{"seinfo", policy, "--flat", "-x", "-b"},
	}
	outs := make([]string, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = output("", cmd[0], cmd[1:]...)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmds[i], " "), err, outs[i])
		}
	}
	p := &policyDump{rules: map[string][]avRule{}, attrs: parseAttributes(outs[2]), roles: parseRoles(outs[3]), bools: parseBooleans(outs[4])}
	for _, line := range strings.Split(outs[0], "\n") {
		if r, ok := parseAllow(line); ok {
			p.rules[r.class] = append(p.rules[r.class], r)
		}
	}
	if len(p.rules) == 0 || len(p.attrs) == 0 || len(p.roles) == 0 {
		t.Fatalf("policy dump is empty: %d classes, %d attributes, %d roles", len(p.rules), len(p.attrs), len(p.roles))
	}
	p.transitions = strings.Split(strings.TrimSpace(outs[1]), "\n")
	return p
}

// allowRE matches "allow SOURCE TARGET:CLASS { PERMS };" or
// "allow SOURCE TARGET:CLASS PERM;", with an optional "[ COND ]:True".
var allowRE = regexp.MustCompile(`^allow (\S+) (\S+):(\S+) (?:\{ ([^}]*) \}|(\S+));( \[.*\]:(?:True|False))?$`)

func parseAllow(line string) (avRule, bool) {
	m := allowRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return avRule{}, false
	}
	perms := map[string]bool{}
	for _, p := range strings.Fields(m[4] + " " + m[5]) {
		perms[p] = true
	}
	return avRule{line: m[0], source: m[1], target: m[2], class: m[3], perms: perms, conditional: m[6] != ""}, true
}

// parseAttributes reads `seinfo --flat -x -a`: "attribute NAME;" followed
// by its types, one a line, indented.
func parseAttributes(out string) map[string]map[string]bool {
	attrs := map[string]map[string]bool{}
	var cur map[string]bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "attribute "); ok {
			cur = map[string]bool{}
			attrs[strings.TrimSuffix(name, ";")] = cur
			continue
		}
		if f := strings.TrimSpace(line); f != "" && cur != nil {
			cur[f] = true
		}
	}
	return attrs
}

// parseRoles reads `seinfo --flat -x -r`: "role NAME types { T... };" or
// "role NAME types T;".
func parseRoles(out string) map[string]map[string]bool {
	roles := map[string]map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "role "), " types ")
		if !ok {
			continue
		}
		types := map[string]bool{}
		for _, f := range strings.Fields(strings.Trim(rest, "{};")) {
			types[strings.Trim(f, "{};")] = true
		}
		roles[name] = types
	}
	return roles
}

// parseBooleans reads `seinfo --flat -x -b`: "bool NAME true;".
func parseBooleans(out string) map[string]bool {
	bools := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";")); len(f) == 3 && f[0] == "bool" {
			bools[f[1]] = f[2] == "true"
		}
	}
	return bools
}

// has reports whether name is typ or an attribute that holds typ.
func (p *policyDump) has(name, typ string) bool {
	return name == typ || p.attrs[name][typ]
}

// allowedBy returns the rules that allow source perm on target:class
// (through attributes too); unconditional says whether one of them holds
// whatever the booleans are.
func (p *policyDump) allowedBy(source, target, class, perm string) (rules []string, unconditional bool) {
	for _, r := range p.rules[class] {
		tgt := r.target
		if tgt == "self" {
			tgt = r.source
		}
		if r.perms[perm] && p.has(r.source, source) && p.has(tgt, target) {
			rules = append(rules, r.line)
			unconditional = unconditional || !r.conditional
		}
	}
	return rules, unconditional
}

// allows reports whether source may perm target:class whatever the booleans.
func (p *policyDump) allows(source, target, class, perm string) bool {
	_, ok := p.allowedBy(source, target, class, perm)
	return ok
}

// transitionsTo reports whether a type_transition makes source enter domain
// when it executes pam_sms_helper_exec_t.
func (p *policyDump) transitionsTo(source, domain string) bool {
	for _, line := range p.transitions {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
		// type_transition SOURCE pam_sms_helper_exec_t:process DOMAIN
		if len(f) == 4 && f[0] == "type_transition" && p.has(f[1], source) && f[3] == domain {
			return true
		}
	}
	return false
}

// pamDomains are the reference policy's domains that run PAM and so
// pam_sms.so, with the role each runs in; su and sudo have one per role,
// screen lockers run in the role of the user.
var pamDomains = []struct{ domain, role string }{
	{"sshd_t", "system_r"},
	{"local_login_t", "system_r"},
	{"xdm_t", "system_r"},
	{"xdm_t", "xdm_r"},
	{"staff_su_t", "staff_r"},
	{"sysadm_su_t", "sysadm_r"},
	{"user_su_t", "user_r"},
	{"auditadm_su_t", "auditadm_r"},
	{"secadm_su_t", "secadm_r"},
	{"staff_sudo_t", "staff_r"},
	{"sysadm_sudo_t", "sysadm_r"},
	{"user_sudo_t", "user_r"},
	{"auditadm_sudo_t", "auditadm_r"},
	{"secadm_sudo_t", "secadm_r"},
	{"xscreensaver_t", "user_r"},
	{"vlock_t", "user_r"},
	{"user_t", "user_r"},
	{"staff_t", "staff_r"},
}

func checkHelperTransitions(t *testing.T, p *policyDump) {
	if !p.allows("pam_sms_helper_t", "pam_sms_helper_exec_t", "file", "entrypoint") {
		t.Errorf("pam_sms_helper_exec_t is no entry point of pam_sms_helper_t")
	}
	for _, d := range pamDomains {
		t.Run(d.domain+"/"+d.role, func(t *testing.T) {
			if !p.roles[d.role][d.domain] {
				t.Fatalf("the reference policy has no %s in role %s: update pamDomains", d.domain, d.role)
			}
			checks := []struct{ source, target, class, perm, what string }{
				{d.domain, "pam_sms_helper_exec_t", "file", "execute", "execute the helper"},
				{d.domain, "pam_sms_helper_t", "process", "transition", "enter pam_sms_helper_t"},
				// The helper talks to the module over the caller's
				// socketpair (fd 0 and 1).
				{"pam_sms_helper_t", d.domain, "fd", "use", "use the caller's descriptors"},
				{"pam_sms_helper_t", d.domain, "unix_stream_socket", "read", "read the caller's socket"},
				{"pam_sms_helper_t", d.domain, "unix_stream_socket", "write", "write the caller's socket"},
				{"pam_sms_helper_t", d.domain, "process", "sigchld", "signal its exit"},
				// The module kills a helper that outlives its deadline.
				{d.domain, "pam_sms_helper_t", "process", "sigkill", "kill the helper"},
			}
			for _, c := range checks {
				if !p.allows(c.source, c.target, c.class, c.perm) {
					t.Errorf("%s cannot %s (%s %s:%s %s)", c.source, c.what, c.source, c.target, c.class, c.perm)
				}
			}
			if !p.transitionsTo(d.domain, "pam_sms_helper_t") {
				t.Errorf("no type_transition %s pam_sms_helper_exec_t:process pam_sms_helper_t", d.domain)
			}
			if !p.roles[d.role]["pam_sms_helper_t"] {
				t.Errorf("role %s may not hold pam_sms_helper_t", d.role)
			}
		})
	}
}

// helperNeeds is what pam_sms_helper_t must be allowed, whatever the
// booleans: target, class, permissions.
var helperNeeds = []struct{ target, class, perms string }{
	{"pam_sms_conf_t", "file", "open,read,getattr"},
	{"pam_sms_var_lib_t", "dir", "search,add_name,remove_name,write"},
	{"pam_sms_var_lib_t", "file", "create,open,read,write,append,getattr,setattr,lock,link,rename,unlink"},
	{"http_port_t", "tcp_socket", "name_connect"},         // the gateway, https or http
	{"http_cache_port_t", "tcp_socket", "name_connect"},   // a proxy (3128, 8080)
	{"ldap_port_t", "tcp_socket", "name_connect"},         // the directory (389, 636)
	{"pam_sms_helper_t", "tcp_socket", "connect"},         // its own sockets
	{"cert_t", "file", "open,read"},                       // the system CA bundle
	{"devlog_t", "sock_file", "write"},                    // syslog
	{"etc_t", "file", "read"},                             // nsswitch.conf, passwd, group
	{"net_conf_t", "file", "read"},                        // resolv.conf, hosts
	{"pam_sms_helper_exec_t", "file", "execute_no_trans"}, // the restart with a clean environment
}

func checkHelperAccess(t *testing.T, p *policyDump) {
	for _, n := range helperNeeds {
		for _, perm := range strings.Split(n.perms, ",") {
			if !p.allows("pam_sms_helper_t", n.target, n.class, perm) {
				t.Errorf("pam_sms_helper_t may not %s %s:%s", perm, n.target, n.class)
			}
		}
	}
}

// forbidden is access the policy must not give, under any boolean but
// pam_sms_connect_any: whoever is not the helper (or an administrator)
// neither reads the secrets nor writes the state; the helper writes no
// configuration, reads no shadow file and reaches no other port. xdm_t is
// not here: the reference policy lets it read every file
// (files_unconfined_type), as it does unconfined_t and sysadm_t.
var forbidden = []struct{ source, target, class, perms string }{
	{"user_t", "pam_sms_var_lib_t", "file", "write,append,create,unlink,rename,setattr,link"},
	{"user_t", "pam_sms_var_lib_t", "dir", "write,add_name,remove_name"},
	{"user_t", "pam_sms_conf_t", "file", "read,write"},
	{"staff_t", "pam_sms_conf_t", "file", "read,write"},
	{"staff_t", "pam_sms_var_lib_t", "file", "write"},
	{"sshd_t", "pam_sms_conf_t", "file", "read"},
	{"sshd_t", "pam_sms_var_lib_t", "file", "write"},
	{"local_login_t", "pam_sms_conf_t", "file", "read"},
	{"staff_sudo_t", "pam_sms_conf_t", "file", "read"},
	{"pam_sms_helper_t", "pam_sms_conf_t", "file", "write,append,setattr,unlink"},
	{"pam_sms_helper_t", "pam_sms_helper_exec_t", "file", "write"},
	{"pam_sms_helper_t", "ssh_port_t", "tcp_socket", "name_connect"},
	{"pam_sms_helper_t", "smtp_port_t", "tcp_socket", "name_connect"},
	{"pam_sms_helper_t", "shadow_t", "file", "read"},
	{"pam_sms_helper_t", "user_home_t", "file", "read"},
}

func checkNoAccess(t *testing.T, p *policyDump) {
	// Any port, but only when the administrator turns the tunable on.
	const connectAny = "[ pam_sms_connect_any ]:True"
	if on, ok := p.bools["pam_sms_connect_any"]; !ok || on {
		t.Errorf("boolean pam_sms_connect_any: present %v, default %v; want present and false", ok, on)
	}
	if rules, _ := p.allowedBy("pam_sms_helper_t", "ssh_port_t", "tcp_socket", "name_connect"); len(rules) != 1 || !strings.HasSuffix(rules[0], connectAny) {
		t.Errorf("pam_sms_helper_t connects to ssh_port_t by %q, want one rule under %s", rules, connectAny)
	}
	for _, f := range forbidden {
		for _, perm := range strings.Split(f.perms, ",") {
			rules, _ := p.allowedBy(f.source, f.target, f.class, perm)
			rules = slices.DeleteFunc(rules, func(r string) bool { return strings.HasSuffix(r, connectAny) })
			if len(rules) > 0 {
				t.Errorf("%s may %s %s:%s, by:\n%s", f.source, perm, f.target, f.class, strings.Join(rules, "\n"))
			}
		}
	}
}

// installedPaths are paths the packages install, with their file type for
// matchpathcon and the type they must get. Each of "nfpm" must be a dst of
// packaging/nfpm.yaml, so that moving a file breaks this test.
var installedPaths = []struct {
	path, kind string
	nfpm       bool
	want       string
}{
	{"/usr/libexec/pam-sms/pam-sms-helper", "file", true, "pam_sms_helper_exec_t"},
	{"/usr/libexec/pam-sms", "dir", true, "bin_t"},
	{"/etc/security/pam_sms.conf", "file", true, "pam_sms_conf_t"},
	{"/var/lib/pam-sms", "dir", true, "pam_sms_var_lib_t"},
	{"/var/lib/pam-sms/user-alice.lock", "file", false, "pam_sms_var_lib_t"},
	{"/usr/sbin/pam-sms", "file", true, "bin_t"},
	{"/etc/security", "dir", false, "etc_t"},
	{"/etc/security/limits.conf", "file", false, "etc_t"},
}

// confFiles matches the files the shipped configuration names in
// /etc/security: password_file, proxy_password_file, header_files,
// numbers_files, the directory's bind password, client certificate and key.
var confFiles = regexp.MustCompile(`/etc/security/pam_sms\.[A-Za-z0-9._-]*[A-Za-z0-9]`)

func checkFileContexts(t *testing.T, root, fc string) {
	nfpm := string(mustRead(t, filepath.Join(root, "packaging", "nfpm.yaml")))
	conf := string(mustRead(t, filepath.Join(root, "conf", "pam_sms.conf")))
	paths := installedPaths
	named := map[string]bool{}
	for _, f := range confFiles.FindAllString(conf, -1) {
		if !named[f] {
			named[f] = true
			paths = append(paths, struct {
				path, kind string
				nfpm       bool
				want       string
			}{f, "file", false, "pam_sms_conf_t"})
		}
	}
	if len(named) < 5 {
		t.Errorf("conf/pam_sms.conf names only %v in /etc/security", named)
	}
	args := []string{"-f", fc}
	for _, p := range paths {
		if p.nfpm && !strings.Contains(nfpm, "dst: "+p.path+"\n") {
			t.Errorf("packaging/nfpm.yaml installs no %s: update this test and packaging/selinux/pam_sms.fc", p.path)
		}
		out := run(t, "", "matchpathcon", append(args, "-m", p.kind, p.path)...)
		// "PATH\tsystem_u:object_r:TYPE:s0"
		if !strings.Contains(out, ":object_r:"+p.want+":") {
			t.Errorf("%s (%s) is labeled %q, want type %s", p.path, p.kind, strings.TrimSpace(out), p.want)
		}
	}
	t.Logf("checked %d paths, %d of them named in conf/pam_sms.conf", len(paths), len(named))
}

// TestSELinuxSources: m4 ends a quoted block (an interface, an
// optional_policy) at an apostrophe, even in a comment, and silently drops
// or misplaces the rest. The first build of this module lost rules so.
func TestSELinuxSources(t *testing.T) {
	root := repoRoot(t)
	for _, f := range selinuxSources {
		for i, line := range strings.Split(string(mustRead(t, filepath.Join(root, "packaging", "selinux", f))), "\n") {
			_, comment, _ := strings.Cut(line, "#")
			if strings.ContainsAny(comment, "'`") {
				t.Errorf("packaging/selinux/%s:%d: quote character in a comment: %q", f, i+1, line)
			}
		}
	}
}

// TestSELinuxScriptletsWithoutSELinux runs the rpm's SELinux scriptlets
// where SELinux is absent (no selinuxenabled on PATH) or disabled
// (selinuxenabled exits 1), with a semodule and restorecon that record
// every call: each exits 0, prints nothing and calls neither. With
// SELinux enabled the same stubs see the calls, so the test can fail.
func TestSELinuxScriptletsWithoutSELinux(t *testing.T) {
	root := repoRoot(t)
	posttrans := string(mustRead(t, filepath.Join(root, "packaging", "selinux", "posttrans.sh")))
	postun := string(mustRead(t, filepath.Join(root, "packaging", "rpm", "postun.sh")))
	checkSELinuxScriptlets(t, posttrans, postun)
}

// checkSELinuxScriptlets checks %posttrans and %postun (their text) with
// SELinux absent, disabled and enabled, against recording stubs.
func checkSELinuxScriptlets(t *testing.T, posttrans, postun string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		enabled   string // selinuxenabled's exit status; "" for none on PATH
		wantCalls bool
	}{
		{"absent", "", false},
		{"disabled", "1", false},
		{"enabled", "0", true},
	}
	scripts := []struct {
		name, text string
		args       []string
		want       string // a call the enabled case makes
	}{
		{"posttrans", posttrans, nil, "semodule -X 200 -i /usr/share/selinux/packages/pam_sms.pp"},
		{"postun erase", postun, []string{"0"}, "semodule -X 200 -r pam_sms"},
		{"postun upgrade", postun, []string{"1"}, ""},
	}
	for _, tt := range tests {
		for _, s := range scripts {
			t.Run(tt.name+"/"+s.name, func(t *testing.T) {
				dir := t.TempDir()
				bin := filepath.Join(dir, "bin")
				log := filepath.Join(dir, "calls")
				stub := "#!" + sh + "\necho \"${0##*/} $*\" >>" + log + "\n"
				for _, name := range []string{"semodule", "restorecon"} {
					writeExec(t, filepath.Join(bin, name), stub)
				}
				if tt.enabled != "" {
					writeExec(t, filepath.Join(bin, "selinuxenabled"), "#!"+sh+"\nexit "+tt.enabled+"\n")
				}
				script := filepath.Join(dir, "script.sh")
				if err := os.WriteFile(script, []byte(s.text), 0o644); err != nil {
					t.Fatal(err)
				}
				// The stubs, and the ordinary tools the scripts use, but no
				// selinuxenabled, semodule, restorecon or systemctl of the host.
				tools := filepath.Join(dir, "tools")
				for _, name := range []string{"rm", "cp", "mktemp", "cat"} {
					p, err := exec.LookPath(name)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(tools, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(p, filepath.Join(tools, name)); err != nil {
						t.Fatal(err)
					}
				}
				cmd := exec.Command(sh, append([]string{script}, s.args...)...)
				cmd.Env = []string{"PATH=" + bin + ":" + tools}
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("exit: %v\n%s", err, out)
				}
				calls, _ := os.ReadFile(log)
				if !tt.wantCalls || s.want == "" {
					if len(out) != 0 || len(calls) != 0 {
						t.Errorf("output %q, calls %q; want none", out, calls)
					}
					return
				}
				if !strings.Contains(string(calls), s.want+"\n") {
					t.Errorf("calls %q, want %q", calls, s.want)
				}
			})
		}
	}
}

// writeExec writes an executable file, creating its directory.
func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// checkRPMSELinux (a subtest of TestPackages): the rpm holds the compiled
// module and its sources, its %posttrans and %postun are the scriptlet
// files of the repository, and those, as the rpm holds them, do nothing
// without SELinux.
func checkRPMSELinux(t *testing.T, root, rpm string) {
	files := run(t, "", "rpm", "-qlp", rpm)
	for _, f := range append([]string{rpmSELinuxPP}, rpmSELinuxSrc+"/pam_sms.te", rpmSELinuxSrc+"/pam_sms.fc", rpmSELinuxSrc+"/pam_sms.if") {
		if !strings.Contains(files, f+"\n") {
			t.Errorf("rpm has no %s", f)
		}
	}
	// A policy module package starts with its magic number, 0xf97cff8f.
	// nfpm writes absolute names into the archive.
	pp := run(t, "", "sh", "-c", `rpm2cpio "$1" | cpio -i --quiet --to-stdout "$2"`, "sh", rpm, rpmSELinuxPP)
	if !strings.HasPrefix(pp, "\x8f\xff\x7c\xf9") {
		t.Errorf("%s in the rpm is no policy module package (%d bytes)", rpmSELinuxPP, len(pp))
	}
	scripts := map[string]string{"POSTTRANS": "packaging/selinux/posttrans.sh", "POSTUN": "packaging/rpm/postun.sh"}
	got := map[string]string{}
	for tag, file := range scripts {
		got[tag] = run(t, "", "rpm", "-qp", "--qf", "%{"+tag+"}", rpm)
		want := string(mustRead(t, filepath.Join(root, file)))
		if strings.TrimSpace(got[tag]) != strings.TrimSpace(want) {
			t.Errorf("%%%s of the rpm is not %s:\n%s", strings.ToLower(tag), file, got[tag])
		}
	}
	if prog := run(t, "", "rpm", "-qp", "--qf", "%{POSTTRANSPROG}", rpm); prog != "/bin/sh" {
		t.Errorf("%%posttrans runs with %q, want /bin/sh", prog)
	}
	checkSELinuxScriptlets(t, got["POSTTRANS"], got["POSTUN"])
}
