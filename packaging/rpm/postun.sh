#!/bin/sh
# %postun of pam_sms ($1: 0 final erase, 1 upgrade): the rate-limit state
# goes with the package. The group pam-sms is kept.
if [ "$1" -eq 0 ]; then
	rm -rf /var/lib/pam-sms
fi
# The prune units changed or went.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
# The SELinux policy module goes with the package; nothing when SELinux is
# absent or disabled (packaging/selinux/posttrans.sh loaded it).
if [ "$1" -eq 0 ] && command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled &&
	command -v semodule >/dev/null 2>&1; then
	semodule -X 200 -r pam_sms >/dev/null 2>&1 || :
fi
exit 0
