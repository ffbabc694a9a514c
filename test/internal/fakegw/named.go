package fakegw

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartTLSNamed runs an HTTPS gateway on 127.0.0.1 whose certificate, from a
// fresh test CA, is valid for name only; g.URL is https://NAME:PORT/send and
// g.CAFile holds the CA. Only a resolver that maps name to 127.0.0.1 (a test
// proxy, see fakeproxy) reaches it.
func StartTLSNamed(t testing.TB, name string) *Gateway {
	t.Helper()
	g := newGateway()
	cert, caPEM := NamedCert(t, name)
	g.srv = httptest.NewUnstartedServer(g.handler())
	g.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	g.srv.StartTLS()
	_, port, _ := net.SplitHostPort(g.srv.Listener.Addr().String())
	g.URL = "https://" + net.JoinHostPort(name, port) + "/send"
	t.Cleanup(g.Close)
	g.CAFile = filepath.Join(t.TempDir(), "fakegw-named-ca.pem")
	if err := os.WriteFile(g.CAFile, caPEM, 0o644); err != nil {
		t.Fatalf("fakegw: write CA file: %v", err)
	}
	return g
}

// NamedHandler serves h over HTTPS on 127.0.0.1 with a certificate for name
// (see StartTLSNamed); it returns https://NAME:PORT and the CA file.
func NamedHandler(t testing.TB, name string, h http.Handler) (baseURL, caFile string) {
	t.Helper()
	cert, caPEM := NamedCert(t, name)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	caFile = filepath.Join(t.TempDir(), "fakegw-named-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatalf("fakegw: write CA file: %v", err)
	}
	return "https://" + net.JoinHostPort(name, port), caFile
}

// NamedCert makes a test CA and a server certificate for name signed by it;
// it returns the server's key pair and the CA certificate in PEM.
func NamedCert(t testing.TB, name string) (tls.Certificate, []byte) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fakegw test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}
