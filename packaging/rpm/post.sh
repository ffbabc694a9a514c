#!/bin/sh
# %post of pam_sms ($1: 1 install, 2 upgrade). The PAM stacks are never
# edited here: the module needs the gateway configured first.

# /var/lib/pam-sms 2770 root:pam-sms (mode and owner restored if changed):
# from /usr/lib/tmpfiles.d/pam-sms.conf where systemd-tmpfiles exists, as
# %tmpfiles_create does; without it, with install -d.
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create pam-sms.conf >/dev/null 2>&1 || :
else
	install -d -m 2770 -o root -g pam-sms /var/lib/pam-sms || :
fi
if [ "$1" -eq 1 ]; then
	echo "pam_sms: configure /etc/security/pam_sms.conf, check it with 'pam-sms check'," \
		"then enable it with 'pam-sms enable' (see pam-sms(8))."
fi
# The daily "pam-sms prune" (see pam-sms(8)): enabled and started on install
# when systemd runs; without systemd nothing ("systemctl enable --now
# pam-sms-prune.timer" does it later).
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -eq 1 ]; then
		systemctl enable --now pam-sms-prune.timer >/dev/null 2>&1 || :
	fi
fi
exit 0
