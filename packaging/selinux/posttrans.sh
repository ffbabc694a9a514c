#!/bin/sh
# %posttrans of pam_sms: load the SELinux policy module and label what the
# package installed (docs/selinux.md). %posttrans, not %post: every file of
# the transaction is in place for restorecon, and an upgrade loads the new
# module. Nothing at all when SELinux is absent or disabled; never fails the
# transaction (a module that does not load leaves a warning).
command -v selinuxenabled >/dev/null 2>&1 || exit 0
selinuxenabled || exit 0
command -v semodule >/dev/null 2>&1 || exit 0

pp=/usr/share/selinux/packages/pam_sms.pp
src=/usr/share/pam-sms/selinux
devel=/usr/share/selinux/devel/Makefile

# With the policy development files (selinux-policy-devel) the shipped
# sources are compiled against this machine's own policy. Otherwise, or if
# that fails, the module in the package, compiled against the reference
# policy, which Fedora's and RHEL's policies refuse (they name some of the
# types it needs differently).
loaded=""
if [ -f "$devel" ] && command -v make >/dev/null 2>&1 && tmp=$(mktemp -d); then
	if cp "$src/pam_sms.te" "$src/pam_sms.fc" "$src/pam_sms.if" "$tmp/" &&
		(cd "$tmp" && make -s -f "$devel" pam_sms.pp) >/dev/null 2>&1 &&
		semodule -X 200 -i "$tmp/pam_sms.pp" >/dev/null 2>&1; then
		loaded=1
	fi
	rm -rf "$tmp"
fi
if [ -z "$loaded" ] && ! err=$(semodule -X 200 -i "$pp" 2>&1); then
	printf '%s\n' "pam_sms: the SELinux policy module did not load:" "$err" \
		"pam_sms: with SELinux enforcing, logins through pam_sms may be denied." \
		"pam_sms: install selinux-policy-devel and reinstall pam_sms, or in a copy" \
		"pam_sms: of $src run: make -f $devel pam_sms.pp && semodule -i pam_sms.pp" >&2
	exit 0
fi

# Label the installed paths (the state directory may predate the module).
restorecon -R /usr/libexec/pam-sms /var/lib/pam-sms >/dev/null 2>&1 || :
for f in /etc/security/pam_sms.*; do
	[ -e "$f" ] && restorecon "$f" >/dev/null 2>&1
done
exit 0
