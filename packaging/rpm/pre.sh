#!/bin/sh
# %pre of pam_sms ($1: 1 install, 2 upgrade): create the system group before
# rpm unpacks the files. With an unknown group rpm installs the helper
# root:root and drops its setgid bit.
getent group pam-sms >/dev/null || groupadd --system pam-sms
exit 0
