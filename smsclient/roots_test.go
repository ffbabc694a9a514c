package smsclient

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The helper is setgid and its caller sets the environment: SSL_CERT_FILE and
// SSL_CERT_DIR naming the caller's own CA must not make the client trust a
// gateway that CA signed (it would get the gateway id and password).
func TestSendIgnoresCertEnvironment(t *testing.T) {
	g := newGateway(t, true, answer(200, "OK"))
	ca := writeCAFile(t, g.srv.Certificate())
	t.Setenv("SSL_CERT_FILE", ca)
	t.Setenv("SSL_CERT_DIR", filepath.Dir(ca))

	res := mustNew(t, testConfig(g.srv.URL)).Send(context.Background(), testNumber(t), testText)
	var unknown x509.UnknownAuthorityError
	if res.Class != Unreachable || !errors.As(res.Err, &unknown) {
		t.Fatalf("Send = %+v, want Unreachable with x509.UnknownAuthorityError", res)
	}
	if n := len(g.requests()); n != 0 {
		t.Fatalf("gateway got %d requests over a certificate only the environment vouches for", n)
	}

	// Control: the same CA as ca_file is trusted, so the refusal above was
	// the environment being ignored, not a broken gateway.
	cfg := testConfig(g.srv.URL)
	cfg.CAFile = ca
	if res := mustNew(t, cfg).Send(context.Background(), testNumber(t), testText); res.Class != Sent {
		t.Fatalf("Send with ca_file = %+v, want Sent", res)
	}
}

func TestLoadBundle(t *testing.T) {
	g := newGateway(t, true, answer(200, "OK"))
	dir := t.TempDir()
	ca := writeCAFile(t, g.srv.Certificate())
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	pool, err := loadBundle([]string{missing, empty, ca})
	if err != nil {
		t.Fatalf("loadBundle: %v", err)
	}
	if _, err := g.srv.Certificate().Verify(x509.VerifyOptions{Roots: pool, DNSName: "example.com"}); err != nil {
		t.Errorf("the bundle after a missing and an empty one was not used: %v", err)
	}

	_, err = loadBundle([]string{missing, empty})
	if err == nil || !strings.Contains(err.Error(), "no system CA bundle") || !strings.Contains(err.Error(), "set ca_file") {
		t.Errorf("loadBundle without a bundle: %v, want the no-bundle error", err)
	}
}

// The system bundle is the distribution's, read from a fixed path: on this
// machine (Debian) it must exist, or every gateway without ca_file fails.
func TestSystemRootsFound(t *testing.T) {
	if _, err := os.Stat(systemBundles[0]); err != nil {
		t.Skipf("no Debian CA bundle here: %v", err)
	}
	if _, err := systemRoots(); err != nil {
		t.Fatal(err)
	}
}
