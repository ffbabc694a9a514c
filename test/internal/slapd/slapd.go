// Package slapd runs a private OpenLDAP server (Debian's slapd) for tests.
//
// Start writes a throwaway slapd.conf (no cn=config, nothing under /etc/ldap),
// a test CA with a server certificate for 127.0.0.1, ::1 and localhost and a
// client certificate, loads the entries offline with slapadd and starts
// slapd in the foreground on two free loopback ports: one for ldap:// (with
// StartTLS) and one for ldaps://. slapd logs its BIND, SRCH and RESULT lines
// (-d 256) to a file the test can read: Searches counts searches and shows
// the filter the server received. t.Cleanup stops the server by its pid.
//
// The directory tree:
//
//	dc=pam-sms,dc=test              Base
//	  cn=reader                     BindDN / BindPassword: reads everything
//	  ou=people                     People: read only by the reader and the client certificate
//	  ou=public                     Public: readable anonymously
//
// Tests add entries with Options.LDIF (Person renders one).
package slapd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fixed names of the fixture's tree.
const (
	Base         = "dc=pam-sms,dc=test"
	People       = "ou=people," + Base
	Public       = "ou=public," + Base
	BindDN       = "cn=reader," + Base
	BindPassword = "reader-secret"
)

// StartTimeout bounds slapadd plus slapd's start until it accepts connections.
const StartTimeout = 15 * time.Second

// Options configures Start.
type Options struct {
	// LDIF holds more entries, appended after the fixture's own (Base,
	// cn=reader, ou=people, ou=public). Separate entries with a blank line.
	LDIF string
}

// Server is a running slapd.
type Server struct {
	LDAPURI  string // ldap://127.0.0.1:PORT/ (plain; StartTLS offered)
	LDAPSURI string // ldaps://127.0.0.1:PORT/
	CAFile   string // PEM of the CA that signed the server and client certificates
	// ClientCert and its files: a certificate for ClientCertSubject, signed by
	// the CA, for SASL EXTERNAL binds.
	ClientCert     tls.Certificate
	ClientCertFile string
	ClientKeyFile  string
	// PasswordFile holds BindPassword (mode 0600, no newline).
	PasswordFile string
	// Dir is the server's private directory (config, database, log).
	Dir string

	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when slapd has exited
	stopped sync.Once
}

// Installed reports whether slapd and slapadd are installed.
func Installed() bool {
	for _, p := range []string{slapdPath, slapaddPath} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

const (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
	schemaDir   = "/etc/ldap/schema"
	moduleDir   = "/usr/lib/ldap"
)

// Start starts a slapd with the fixture's tree plus opts.LDIF; t.Cleanup
// stops it. It skips the test when slapd is not installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if !Installed() {
		t.Skipf("slapd fixture: %s or %s missing; install Debian's slapd and ldap-utils (make deps)", slapdPath, slapaddPath)
	}
	s, err := Run(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("slapd fixture: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Run is Start without a test, for programs such as make bench: it sets the
// server up in dir (an empty directory the caller removes afterwards) and
// starts it. The caller must call Stop; slapd also dies with the thread that
// started it (Pdeathsig). It does not check Installed.
func Run(dir string, opts Options) (*Server, error) {
	s, err := setup(dir, opts)
	if err != nil {
		return nil, err
	}
	// A port picked free can be taken before slapd binds it; try again then.
	for attempt := 1; ; attempt++ {
		err = s.start()
		if err == nil || attempt == 3 || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func setup(dir string, opts Options) (*Server, error) {
	s := &Server{Dir: dir, logPath: filepath.Join(dir, "slapd.log")}
	ca, err := newCA()
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if s.CAFile, err = ca.writeCA(dir, "ca.pem"); err != nil {
		return nil, err
	}
	srvDER, srvKey, err := ca.issue(true)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	srvCert, srvKeyFile, err := writeLeaf(dir, "server", srvDER, srvKey)
	if err != nil {
		return nil, err
	}
	cliDER, cliKey, err := ca.issue(false)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	if s.ClientCertFile, s.ClientKeyFile, err = writeLeaf(dir, "client", cliDER, cliKey); err != nil {
		return nil, err
	}
	s.ClientCert = tlsCert(cliDER, cliKey)
	s.PasswordFile = filepath.Join(dir, "bind.pw")
	if err := os.WriteFile(s.PasswordFile, []byte(BindPassword), 0o600); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ad.schema"), []byte(adSchema), 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(confTemplate, schemaDir, moduleDir, dir, s.CAFile, srvCert, srvKeyFile)
	if err := os.WriteFile(s.confPath(), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	ldif := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(ldif, []byte(baseLDIF+"\n"+strings.TrimSpace(opts.LDIF)+"\n"), 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, slapaddPath, "-q", "-f", s.confPath(), "-l", ldif).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("slapadd: %v: %s", err, bytes.TrimSpace(out))
	}
	return s, nil
}

func (s *Server) confPath() string { return filepath.Join(s.Dir, "slapd.conf") }

var errAddrInUse = errors.New("address in use")

// start runs slapd on two fresh ports and waits until both accept.
func (s *Server) start() error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	ldapAddr := net.JoinHostPort("127.0.0.1", ports[0])
	ldapsAddr := net.JoinHostPort("127.0.0.1", ports[1])
	s.LDAPURI = "ldap://" + ldapAddr + "/"
	s.LDAPSURI = "ldaps://" + ldapsAddr + "/"
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // slapd holds its own descriptor
	cmd := exec.Command(slapdPath, "-f", s.confPath(), "-h", s.LDAPURI+" "+s.LDAPSURI, "-d", "256")
	cmd.Stdout = logf
	cmd.Stderr = logf
	// A test binary killed outright takes its slapd with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(StartTimeout)
	for _, addr := range []string{ldapAddr, ldapsAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				log := s.Log()
				if strings.Contains(log, "Address already in use") {
					return fmt.Errorf("slapd on %s %s: %w", ldapAddr, ldapsAddr, errAddrInUse)
				}
				return fmt.Errorf("slapd exited at start: %s", lastLines(log, 10))
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				s.Stop()
				return fmt.Errorf("slapd not accepting on %s after %v: %s", addr, StartTimeout, lastLines(s.Log(), 10))
			}
		}
	}
	return nil
}

// Stop stops slapd by its pid (SIGTERM, SIGKILL after 5 s) and waits for it.
// It is idempotent; t.Cleanup calls it too. After Stop nothing listens on the
// server's ports (the "directory down" case).
func (s *Server) Stop() {
	s.stopped.Do(func() {
		if s.cmd == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Log returns slapd's log so far (-d 256: connections, BIND, SRCH, RESULT).
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// Search is one search request as slapd logged it.
type Search struct {
	Conn   string // slapd's connection number, e.g. "1003"
	Base   string
	Scope  string // 0 base, 1 one, 2 sub
	Filter string // as slapd understood it, e.g. "(uid=a\5Cb)"
}

var srchLine = regexp.MustCompile(`conn=(\d+) op=\d+ SRCH base="([^"]*)" scope=(\d) deref=\d filter="(.*)"$`)

// Searches returns every search slapd logged so far, oldest first. slapd
// logs a search when it receives it, before it answers, so a search a client
// has its answer to is in the list.
func (s *Server) Searches() []Search {
	var out []Search
	sc := bufio.NewScanner(strings.NewReader(s.Log()))
	for sc.Scan() {
		if m := srchLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, Search{Conn: m[1], Base: m[2], Scope: m[3], Filter: m[4]})
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]string, error) {
	var ports []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		_, port, _ := net.SplitHostPort(l.Addr().String())
		ports = append(ports, port)
	}
	return ports, nil
}

// Person renders an inetOrgPerson entry uid=UID under People for
// Options.LDIF; attrs are LDIF lines such as "mobile: +49 170 5550001".
func Person(uid string, attrs ...string) string {
	return PersonIn(People, uid, attrs...)
}

// PersonIn is Person under another parent, e.g. Public.
func PersonIn(parent, uid string, attrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n", uid, parent, uid, uid, uid)
	for _, a := range attrs {
		b.WriteString(a + "\n")
	}
	return b.String() + "\n"
}

const baseLDIF = `dn: ` + Base + `
objectClass: dcObject
objectClass: organization
dc: pam-sms
o: pam_sms tests

dn: ` + BindDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: ` + BindPassword + `

dn: ` + People + `
objectClass: organizationalUnit
ou: people

dn: ` + Public + `
objectClass: organizationalUnit
ou: public
`

// confTemplate: schema dir, module dir, server dir, CA, server cert, server key.
const confTemplate = `include %[1]s/core.schema
include %[1]s/cosine.schema
include %[1]s/inetorgperson.schema
include %[3]s/ad.schema
modulepath %[2]s
moduleload back_mdb
pidfile %[3]s/slapd.pid
argsfile %[3]s/slapd.args
TLSCACertificateFile %[4]s
TLSCertificateFile %[5]s
TLSCertificateKeyFile %[6]s
TLSVerifyClient allow

database mdb
maxsize 16777216
suffix "` + Base + `"
directory %[3]s/db

access to attrs=userPassword
	by anonymous auth
	by * none
access to dn.subtree="` + Public + `"
	by * read
access to *
	by dn.exact="` + BindDN + `" read
	by dn.exact="` + ClientCertSubject + `" read
	by * none
`

// adSchema gives entries Active Directory's sAMAccountName and
// userPrincipalName (AD's OIDs, case-insensitive equality as in AD), used with
// objectClass extensibleObject. OpenLDAP's own msuser.schema defines them
// without an equality rule, so a filter on them would never match.
const adSchema = `attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
`

// ADUser renders an Active Directory style entry cn=CN under People for
// Options.LDIF, carrying sAMAccountName and userPrincipalName (and no uid);
// attrs are more LDIF lines such as "mobile: +49 170 5550001".
func ADUser(cn, samAccountName, userPrincipalName string, attrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: extensibleObject\ncn: %s\nsn: %s\n", cn, People, cn, cn)
	fmt.Fprintf(&b, "sAMAccountName: %s\nuserPrincipalName: %s\n", samAccountName, userPrincipalName)
	for _, a := range attrs {
		b.WriteString(a + "\n")
	}
	return b.String() + "\n"
}
