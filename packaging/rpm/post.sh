#!/bin/sh
# %post of pam_sms ($1: 1 install, 2 upgrade). The PAM stacks are never
# edited here: the module needs the gateway configured first.
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
