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
exit 0
