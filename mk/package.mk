# Packages: `make package` builds the release binaries in a Debian 11 root
# (mk/release.sh: no glibc symbol newer than 2.31; needs root and mmdebstrap)
# into $(BUILD)/release/, and packages them, into $(BUILD)/,
#   libpam-sms_<version>-<release>_amd64.deb   (Debian/Ubuntu)
#   pam_sms-<version>-<release>.x86_64.rpm     (Fedora/RHEL/SUSE)
# with nfpm (pinned in tools/go.mod, run through `go tool`: nothing to install)
# from packaging/nfpm.yaml; <version>-<release> come from $(VERSION) (see
# PKG_VERSION), e.g. libpam-sms_1.2.0-1_amd64.deb and pam_sms-1.2.0-1.x86_64.rpm.
# Reproducible: SOURCE_DATE_EPOCH is the time of the last commit, so two
# builds of one commit are byte-identical.
#
# `make package-files` does the same from already built binaries, without
# rebuilding them; test/packaging uses it with PKG_IN, PKG_OUT and PKG_CONF.
# `make release-build` builds only the release binaries. `make build` (dev
# builds, tests) stays a build on the host.

NFPM     := $(GO) tool -modfile=$(CURDIR)/tools/go.mod nfpm
PKG_IN   ?= $(CURDIR)/$(BUILD)
PKG_OUT  ?= $(CURDIR)/$(BUILD)
PKG_CONF ?= conf/pam_sms.conf
PKG_MAN  := $(PKG_OUT)/man

# Without commits (a fresh `git init`) fall back to a fixed time, never "now".
PKG_EPOCH := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),1796040000)

# Version and release from $(VERSION) (git describe --tags --always; tags are
# vX.Y.Z). Both are valid for dpkg, rpm and the semver that nfpm's changelog
# renderer needs, and sort in commit order:
#   1.2.0               -> 1.2.0-1
#   1.2.0-3-gabc1234    -> 1.2.0-1.3.gabc1234   (3 commits after the tag)
#   abc1234 (no tag)    -> 0.0.0-0.gabc1234
#   (no commit)         -> 0.0.0-1
# Anything else leaves both empty and `make package` stops with a message.
PKG_VERSION := $(shell echo '$(VERSION)' | sed -nE \
	-e 's/^([0-9]+\.[0-9]+\.[0-9]+)(-[0-9]+-g[0-9a-f]+)?$$/\1/p;t' \
	-e 's/^[0-9a-f]*$$/0.0.0/p')
PKG_RELEASE := $(shell echo '$(VERSION)' | sed -nE \
	-e 's/^[0-9]+\.[0-9]+\.[0-9]+$$/1/p;t' \
	-e 's/^[0-9]+\.[0-9]+\.[0-9]+-([0-9]+)-g([0-9a-f]+)$$/1.\1.g\2/p;t' \
	-e 's/^$$/1/p;t' \
	-e 's/^([0-9a-f]+)$$/0.g\1/p')

PKG_DEB := $(PKG_OUT)/libpam-sms_$(PKG_VERSION)-$(PKG_RELEASE)_amd64.deb
PKG_RPM := $(PKG_OUT)/pam_sms-$(PKG_VERSION)-$(PKG_RELEASE).x86_64.rpm
PKG_MANPAGES := $(PKG_MAN)/pam_sms.8.gz $(PKG_MAN)/pam_sms.conf.5.gz $(PKG_MAN)/pam-sms.8.gz

PKG_ENV := PKG_VERSION='$(PKG_VERSION)' PKG_RELEASE='$(PKG_RELEASE)' PKG_ARCH=amd64 \
	DEB_MULTIARCH=x86_64-linux-gnu RPM_PAMDIR=/usr/lib64/security \
	PKG_IN='$(PKG_IN)' PKG_MAN='$(PKG_MAN)' PKG_CONF='$(PKG_CONF)' \
	SOURCE_DATE_EPOCH='$(PKG_EPOCH)'

# The changelog's top entry is the version being built: its semver becomes
# <version>-<release>, which lintian and rpmlint compare with the package's.
# nfpm does not expand variables in "changelog:", so the description is
# copied next to the generated changelog.
define pkg_nfpm
	@test -n '$(PKG_VERSION)' && test -n '$(PKG_RELEASE)' || \
		{ echo "package: VERSION '$(VERSION)' is not X.Y.Z, X.Y.Z-N-gHASH or a commit hash" >&2; exit 1; }
	rm -f '$(PKG_DEB)' '$(PKG_RPM)'
	sed -E '0,/^- semver: .*/s//- semver: $(PKG_VERSION)-$(PKG_RELEASE)/' packaging/changelog.yml > '$(PKG_OUT)/changelog.yml'
	sed -E 's|^changelog: .*|changelog: $(PKG_OUT)/changelog.yml|' packaging/nfpm.yaml > '$(PKG_OUT)/nfpm.yaml'
	env $(PKG_ENV) PKG_NAME=libpam-sms $(NFPM) package -f '$(PKG_OUT)/nfpm.yaml' -p deb -t '$(PKG_DEB)'
	env $(PKG_ENV) PKG_NAME=pam_sms $(NFPM) package -f '$(PKG_OUT)/nfpm.yaml' -p rpm -t '$(PKG_RPM)'
endef

.PHONY: package package-files release-build

RELEASE_BIN ?= $(CURDIR)/$(BUILD)/release

# A make of its own for package-files: PKG_ENV expands PKG_IN when read.
package: release-build
	$(MAKE) --no-print-directory package-files PKG_IN='$(RELEASE_BIN)'

release-build:
	sh mk/release.sh '$(RELEASE_BIN)'

package-files: $(PKG_CONF) $(PKG_MANPAGES)
	$(pkg_nfpm)

# gzip -n: no name and no timestamp in the header, for reproducible packages.
$(PKG_MAN)/%.gz: packaging/man/% FORCE
	@mkdir -p '$(@D)'
	gzip -9n < '$<' > '$@'

# What `make package` would build, for scripts and test/packaging.
.PHONY: package-info
package-info:
	@echo 'VERSION=$(VERSION)'
	@echo 'PKG_VERSION=$(PKG_VERSION)'
	@echo 'PKG_RELEASE=$(PKG_RELEASE)'
	@echo 'SOURCE_DATE_EPOCH=$(PKG_EPOCH)'
	@echo 'DEB=$(notdir $(PKG_DEB))'
	@echo 'RPM=$(notdir $(PKG_RPM))'
