# The rpm's SELinux policy module (packaging/selinux, docs/selinux.md):
# `make package` compiles pam_sms.pp into $(PKG_OUT)/selinux/ with the
# reference policy's development Makefile (Debian: selinux-policy-dev, which
# `make deps` installs; Fedora/RHEL: selinux-policy-devel). Without it the
# build stops: an rpm without its module would install, and then fail on an
# enforcing host. nfpm finds the module through PKG_SELINUX (exported).
#
# The module is compiled here, not only in %posttrans: a RHEL host rarely
# has the policy development files. Where it has them, %posttrans compiles
# the shipped sources against its own policy instead (docs/selinux.md).

SELINUX_DEVEL ?= /usr/share/selinux/devel/Makefile
SELINUX_SRC   := packaging/selinux/pam_sms.te packaging/selinux/pam_sms.fc packaging/selinux/pam_sms.if
PKG_SELINUX   := $(PKG_OUT)/selinux
export PKG_SELINUX

.PHONY: selinux-module
selinux-module: $(PKG_SELINUX)/pam_sms.pp

package package-files: $(PKG_SELINUX)/pam_sms.pp

# A directory of its own: the policy Makefile builds every *.te it finds and
# leaves tmp/ behind. MAKEFLAGS is emptied so that variables given to this
# make (VERSION, PKG_OUT, ...) do not reach the policy Makefile. Its output
# shows only when it fails: pam_sms.te passes systemd_tmpfilesd_managed the
# class that Fedora's policy requires and the reference policy warns about.
$(PKG_SELINUX)/pam_sms.pp: $(SELINUX_SRC)
	@test -f '$(SELINUX_DEVEL)' || { echo "package: $(SELINUX_DEVEL) is missing: the rpm's SELinux module (packaging/selinux) is compiled with the reference policy's development files; install selinux-policy-dev (make deps)" >&2; exit 1; }
	rm -rf '$(@D)'
	mkdir -p '$(@D)'
	cp $(SELINUX_SRC) '$(@D)/'
	@cd '$(@D)' && out=$$(MAKEFLAGS= $(MAKE) -f '$(SELINUX_DEVEL)' pam_sms.pp 2>&1) || \
		{ printf '%s\n' "$$out" >&2; echo "package: compiling the SELinux module failed" >&2; exit 1; }
	rm -rf '$(@D)/tmp'
