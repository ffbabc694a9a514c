package packaging_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// upgradeOld is the version the upgrade test starts from: a commit hash,
// which mk/package.mk turns into 0.0.0-0.g0000000, older for dpkg and rpm
// than any version of this tree (X.Y.Z-1, X.Y.Z-1.N.gHASH, 0.0.0-0.gHASH,
// 0.0.0-1). It ships a default configuration that differs from this tree's,
// so that dpkg and rpm see a conffile changed on both sides, the case where
// they would ask or keep a copy.
const upgradeOld = "0000000"

// upgradePackages returns the old version's packages (the release binaries
// packaged as upgradeOld, with a default pam_sms.conf of one more line) and
// this version's (`make package`), with this version's pam_sms.conf.
func upgradePackages(t *testing.T) (oldDeb, oldRPM, newDeb, newRPM, newConf string) {
	t.Helper()
	newDeb, newRPM = releasePackages(t)
	root := repoRoot(t)
	newConf = readRepoFile(t, "conf/pam_sms.conf")
	oldConf := filepath.Join(t.TempDir(), "pam_sms.conf")
	if err := os.WriteFile(oldConf, []byte(newConf+"\n# A default the next version drops.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run(t, root, "make", "-s", "--no-print-directory", "package-files", "PKG_IN="+releaseBinaries(t), "PKG_OUT="+out,
		"VERSION="+upgradeOld, "SOURCE_DATE_EPOCH="+readPkgInfo(t, root).Epoch, "PKG_CONF="+oldConf)
	oldDeb = filepath.Join(out, "libpam-sms_0.0.0-0.g"+upgradeOld+"_amd64.deb")
	oldRPM = filepath.Join(out, "pam_sms-0.0.0-0.g"+upgradeOld+".x86_64.rpm")
	for _, f := range []string{oldDeb, oldRPM} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("make package-files VERSION=%s: %v", upgradeOld, err)
		}
	}
	return oldDeb, oldRPM, newDeb, newRPM, newConf
}

// treeState is every entry below a directory: mode, owner and, for files,
// the SHA-256 of the content.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			desc += fmt.Sprintf(" %d bytes %s", len(data), hex.EncodeToString(sum[:8]))
		}
		rel, _ := filepath.Rel(dir, path)
		state[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return state
}

// adminState is what the upgrade must keep: the edited configuration (bytes,
// mode, owner) and the state directory after a login (rate-limit files and
// usage records).
type adminState struct {
	conf      string
	confModes string
	state     map[string]string
}

func readAdminState(t *testing.T, c *chroot) adminState {
	t.Helper()
	s := adminState{
		conf:      c.read(t, "/etc/security/pam_sms.conf"),
		confModes: strings.TrimSpace(c.run(t, "stat", "-c", "%a %U:%G", "/etc/security/pam_sms.conf")),
		state:     treeState(t, c.path("/var/lib/pam-sms")),
	}
	return s
}

// checkKept compares the admin's state before and after the upgrade.
func checkKept(t *testing.T, before, after adminState) {
	t.Helper()
	if after.conf != before.conf {
		t.Errorf("the upgrade changed the edited pam_sms.conf:\n%s", cmp.Diff(before.conf, after.conf))
	}
	if after.confModes != before.confModes {
		t.Errorf("pam_sms.conf is %s after the upgrade, was %s", after.confModes, before.confModes)
	}
	if diff := cmp.Diff(before.state, after.state); diff != "" {
		t.Errorf("/var/lib/pam-sms changed in the upgrade (-before +after):\n%s", diff)
	}
}

// loginState logs in once with the installed package (service names the
// pam.d file), so that the state directory holds what a login leaves, and
// checks that it holds files besides the directory itself.
func loginState(t *testing.T, c *chroot, gw *smsGateway, service string) adminState {
	t.Helper()
	loginWithCode(t, c, gw, service)
	s := readAdminState(t, c)
	if len(s.state) < 2 {
		t.Fatalf("/var/lib/pam-sms holds nothing after a login: %v", s.state)
	}
	t.Logf("state after the login: %v", s.state)
	return s
}

// TestUpgradeKeepsConfigAndState installs an older version, configures it
// (the admin's pam_sms.conf), logs in (rate-limit state and usage records
// in /var/lib/pam-sms), upgrades to this tree's packages, whose shipped
// pam_sms.conf changed too, and checks that the edited file and every state file are
// kept byte for byte and that a login still works: for the .deb with dpkg
// -i --force-confold (dpkg's noninteractive "keep mine": the new default
// goes to pam_sms.conf.dpkg-dist) and for the .rpm with rpm -U (noreplace:
// pam_sms.conf.rpmnew), both in the Debian 11 root.
func TestUpgradeKeepsConfigAndState(t *testing.T) {
	oldDeb, oldRPM, newDeb, newRPM, newConf := upgradePackages(t)
	t.Run("deb", func(t *testing.T) {
		c := newChrootFrom(t, releaseRoot(t))
		for _, f := range []struct{ src, dst string }{{oldDeb, "/tmp/old.deb"}, {newDeb, "/tmp/new.deb"}} {
			if err := os.WriteFile(c.path(f.dst), mustRead(t, f.src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c.run(t, "dpkg", "-i", "/tmp/old.deb")
		gw := startGateway(t)
		writeLoginConfig(t, c, gw.url)
		c.write(t, "/etc/pam.d/smslogin", "auth required pam_sms.so\naccount required pam_permit.so\n")
		before := loginState(t, c, gw, "smslogin")

		out := c.run(t, "dpkg", "-i", "--force-confold", "/tmp/new.deb")
		t.Logf("dpkg -i --force-confold (upgrade):\n%s", out)
		want := strings.TrimSpace(run(t, "", "dpkg-deb", "-f", newDeb, "Version"))
		if got := c.run(t, "dpkg-query", "-W", "-f=${Version}", "libpam-sms"); got != want {
			t.Fatalf("installed version %q after the upgrade, want %s", got, want)
		}
		// What the admin reads in the upgrade's output.
		if !strings.Contains(out, "Using current old file as you requested") {
			t.Errorf("dpkg did not say it kept pam_sms.conf:\n%s", out)
		}
		checkKept(t, before, readAdminState(t, c))
		if got := c.read(t, "/etc/security/pam_sms.conf.dpkg-dist"); got != newConf {
			t.Errorf("pam_sms.conf.dpkg-dist is not the new default (%d bytes)", len(got))
		}
		loginWithCode(t, c, gw, "smslogin")
	})
	t.Run("rpm", func(t *testing.T) {
		ensureDebs(t, "rpm")
		c := newChrootFrom(t, releaseRoot(t))
		for _, f := range []struct{ src, dst string }{{oldRPM, "/tmp/old.rpm"}, {newRPM, "/tmp/new.rpm"}} {
			if err := os.WriteFile(c.path(f.dst), mustRead(t, f.src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rpmRoot := func(args ...string) string {
			// Debian's rpm warns that alien should be used; --force-debian says we know.
			return run(t, "", "rpm", append([]string{"--root", c.dir, "--force-debian"}, args...)...)
		}
		run(t, "", "rpm", "--root", c.dir, "--initdb")
		rpmRoot("-ivh", "--nodeps", c.path("/tmp/old.rpm"))
		gw := startGateway(t)
		writeLoginConfig(t, c, gw.url)
		// libpam finds the rpm's /usr/lib64/security only by full path on Debian.
		c.write(t, "/etc/pam.d/smsrpm", "auth required /usr/lib64/security/pam_sms.so\naccount required pam_permit.so\n")
		before := loginState(t, c, gw, "smsrpm")

		out := rpmRoot("-Uvh", "--nodeps", c.path("/tmp/new.rpm"))
		t.Logf("rpm -Uvh (upgrade):\n%s", out)
		want := run(t, "", "rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE}", newRPM)
		if got := rpmRoot("-q", "--qf", "%{VERSION}-%{RELEASE}", "pam_sms"); got != want {
			t.Fatalf("installed version %q after the upgrade, want %s", got, want)
		}
		if !strings.Contains(out, "pam_sms.conf created as /etc/security/pam_sms.conf.rpmnew") {
			t.Errorf("rpm did not say it kept pam_sms.conf:\n%s", out)
		}
		checkKept(t, before, readAdminState(t, c))
		if got := c.read(t, "/etc/security/pam_sms.conf.rpmnew"); got != newConf {
			t.Errorf("pam_sms.conf.rpmnew is not the new default (%d bytes)", len(got))
		}
		loginWithCode(t, c, gw, "smsrpm")
	})
}
