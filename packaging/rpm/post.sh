#!/bin/sh
# %post of pam_sms ($1: 1 install, 2 upgrade). The PAM stacks are never
# edited here: the module needs the gateway configured first.
if [ "$1" -eq 1 ]; then
	echo "pam_sms: configure /etc/security/pam_sms.conf, check it with 'pam-sms check'," \
		"then enable it with 'pam-sms enable' (see pam-sms(8))."
fi
exit 0
