#!/bin/sh
# %postun of pam_sms ($1: 0 final erase, 1 upgrade): the rate-limit state
# goes with the package. The group pam-sms is kept.
if [ "$1" -eq 0 ]; then
	rm -rf /var/lib/pam-sms
fi
exit 0
