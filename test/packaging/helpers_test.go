// Package packaging_test builds the .deb and .rpm with `make package-files`
// and checks their contents, lint results, reproducibility, and a real
// install, enable, login, remove and purge in a throwaway Debian 12 chroot.
package packaging_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cmdTimeout bounds every external command; the slowest (mmdebstrap, apt-get)
// take well under a minute on a normal machine.
const cmdTimeout = 10 * time.Minute

// repoRoot is the repository's top directory (this package is test/packaging).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("packaging: repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "packaging", "nfpm.yaml")); err != nil {
		t.Fatalf("packaging: %v", err)
	}
	return root
}

// output runs a command and returns its combined output and error.
func output(dir, name string, args ...string) (string, error) {
	return outputEnv(dir, nil, name, args...)
}

// outputEnv is output with extra environment variables.
func outputEnv(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return buf.String(), err
}

// run runs a command and fails the test when it fails.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	out, err := output(dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// requireRoot skips tests that install packages, mount /proc or chroot.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("packaging tests need root (dpkg, rpm, chroot, mount); run `make test` as root")
	}
}

// ensureDebs installs the Debian packages a test needs when they are
// missing, so that the test also runs on a fresh machine. apt's lock is
// waited for, since other test packages may install at the same time.
func ensureDebs(t *testing.T, pkgs ...string) {
	t.Helper()
	var missing []string
	for _, p := range pkgs {
		out, err := output("", "dpkg-query", "-W", "-f=${Status}", p)
		if err != nil || !strings.Contains(out, "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	install := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends"}, missing...)
	if _, err := outputEnv("", env, "apt-get", install...); err == nil {
		return
	}
	if out, err := outputEnv("", env, "apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	if out, err := outputEnv("", env, "apt-get", install...); err != nil {
		t.Fatalf("apt-get install %s: %v\n%s", strings.Join(missing, " "), err, out)
	}
}

// lintTags returns the lines of a lint report that carry one of the given
// severities, e.g. "E" and "W" for lintian ("E: pkg: tag ...") and rpmlint
// ("pkg.arch: E: tag ...").
func lintTags(report string, severities ...string) []string {
	var tags []string
	for _, line := range strings.Split(report, "\n") {
		for _, s := range severities {
			if strings.HasPrefix(line, s+": ") || strings.Contains(line, ": "+s+": ") {
				tags = append(tags, line)
				break
			}
		}
	}
	return tags
}
