package slapd

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
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ClientCertSubject is the subject DN of Server.ClientCert. slapd takes it as
// the identity of a SASL EXTERNAL bind, and the fixture's ACL lets it read.
const ClientCertSubject = "cn=pam-sms-client"

// ca is a throwaway certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newCA() (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "pam-sms test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &ca{cert: cert, key: key, der: der}, nil
}

// issue signs a leaf certificate: a server certificate for 127.0.0.1, ::1 and
// localhost when server is true, else a client certificate for ClientCertSubject.
func (c *ca) issue(server bool) (certDER []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.Subject = pkix.Name{CommonName: "localhost"}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.Subject = pkix.Name{CommonName: "pam-sms-client"}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	return certDER, key, err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// writeCA writes the CA certificate as PEM to dir/name and returns the path.
func (c *ca) writeCA(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	return path, writePEM(path, 0o644, "CERTIFICATE", c.der)
}

// writeLeaf writes a leaf certificate and its key as PEM files in dir.
func writeLeaf(dir, base string, der []byte, key *ecdsa.PrivateKey) (certFile, keyFile string, err error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile = filepath.Join(dir, base+".pem")
	keyFile = filepath.Join(dir, base+".key")
	if err := writePEM(certFile, 0o644, "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if err := writePEM(keyFile, 0o600, "PRIVATE KEY", keyDER); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func writePEM(path string, mode os.FileMode, typ string, der []byte) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("slapd fixture: %w", err)
	}
	return nil
}

// UntrustedCAFile writes the certificate of a fresh CA that signed nothing the
// fixture serves, for "wrong CA" tests, and returns its path.
func UntrustedCAFile(t testing.TB) string {
	t.Helper()
	other, err := newCA()
	if err != nil {
		t.Fatalf("slapd fixture: CA: %v", err)
	}
	path, err := other.writeCA(t.TempDir(), "untrusted-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsCert pairs a DER certificate and its key for crypto/tls.
func tlsCert(der []byte, key *ecdsa.PrivateKey) tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
