package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// textPattern matches the SMS text of every bench config and of the curl
// baseline: "BENCH {code} {user}".
var textPattern = regexp.MustCompile(`^BENCH ([0-9]{4,10}) ([a-z0-9]{1,32})$`)

// monoNow reads CLOCK_MONOTONIC, the clock pamclient stamps with, so that
// times taken in the two processes can be subtracted.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// Cannot fail on Linux with a valid clock id and pointer.
		panic(fmt.Sprintf("bench: clock_gettime: %v", err))
	}
	return ts.Nano()
}

// gateway is the fake SMS gateway: plain HTTP and HTTPS on 127.0.0.1. For each
// request it stamps the arrival, checks the fields against the expected
// numbers, and writes "CODE ARRIVAL_NS" to codeDir/USER before it answers, so
// the file is there when the prompt reaches pamclient.
type gateway struct {
	codeDir string
	id, pw  string
	numbers map[string]string // user -> "to" field as sent (00 format)

	httpURL, httpsURL string
	caFile            string

	servers []*http.Server

	mu       sync.Mutex
	total    int
	bad      int
	received map[string]int // user -> requests
}

func startGateway(dir string, id, pw string, numbers map[string]string) (*gateway, error) {
	g := &gateway{
		codeDir:  filepath.Join(dir, "codes"),
		id:       id,
		pw:       pw,
		numbers:  numbers,
		received: map[string]int{},
		caFile:   filepath.Join(dir, "gateway-ca.pem"),
	}
	if err := os.Mkdir(g.codeDir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: gateway: %w", err)
	}
	cert, err := selfSigned(g.caFile)
	if err != nil {
		return nil, err
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: gateway: %w", err)
	}
	secure, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		plain.Close()
		return nil, fmt.Errorf("bench: gateway: %w", err)
	}
	g.httpURL = "http://" + plain.Addr().String() + "/send"
	g.httpsURL = "https://" + secure.Addr().String() + "/send"
	tlsLn := tls.NewListener(secure, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	for _, ln := range []net.Listener{plain, tlsLn} {
		srv := &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 10 * time.Second}
		g.servers = append(g.servers, srv)
		go srv.Serve(ln)
	}
	return g, nil
}

func (g *gateway) close() {
	for _, s := range g.servers {
		s.Close()
	}
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	arrival := monoNow() // headers are in: the request has reached the gateway
	if err := r.ParseForm(); err != nil {
		g.reject(w, "unreadable form")
		return
	}
	m := textPattern.FindStringSubmatch(r.Form.Get("text"))
	if m == nil {
		g.reject(w, "text is not \"BENCH CODE USER\"")
		return
	}
	code, user := m[1], m[2]
	switch {
	case r.Form.Get("id") != g.id || r.Form.Get("pw") != g.pw:
		g.reject(w, "wrong id or pw")
		return
	case r.Form.Get("to") != g.numbers[user]:
		g.reject(w, "wrong number for "+user)
		return
	}
	if err := writeAtomic(filepath.Join(g.codeDir, user), fmt.Sprintf("%s %d\n", code, arrival)); err != nil {
		g.reject(w, err.Error())
		return
	}
	g.mu.Lock()
	g.total++
	g.received[user]++
	g.mu.Unlock()
	fmt.Fprintln(w, "100 OK")
}

func (g *gateway) reject(w http.ResponseWriter, why string) {
	g.mu.Lock()
	g.bad++
	g.mu.Unlock()
	fmt.Fprintln(os.Stderr, "bench: gateway rejected a request:", why)
	http.Error(w, "400 "+why, http.StatusBadRequest)
}

// counts returns the accepted and rejected requests so far.
func (g *gateway) counts() (total, bad int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total, g.bad
}

// receivedBy returns how many requests were accepted for user.
func (g *gateway) receivedBy(user string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.received[user]
}

func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("bench: gateway: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bench: gateway: %w", err)
	}
	return nil
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1 and writes it to
// caFile (0644, for ca_file and curl --cacert).
func selfSigned(caFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bench: gateway key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pam-sms bench gateway"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bench: gateway certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("bench: gateway: %w", err)
	}
	if err := os.Chmod(caFile, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("bench: gateway: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
