#!/bin/sh
# %pre of pam_sms ($1: 1 install, 2 upgrade): create the system group before
# rpm unpacks the files. With an unknown group rpm installs the helper
# root:root and drops its setgid bit.
#
# The line of /usr/lib/sysusers.d/pam-sms.conf (not unpacked yet) goes
# through systemd-sysusers where it exists, as %sysusers_create_package
# does; without it, or if it created nothing, groupadd.
if command -v systemd-sysusers >/dev/null 2>&1; then
	printf '%s\n' 'g pam-sms -' |
		systemd-sysusers --replace=/usr/lib/sysusers.d/pam-sms.conf - || :
fi
getent group pam-sms >/dev/null || groupadd --system pam-sms
exit 0
