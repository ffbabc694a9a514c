#!/bin/sh
# The pam_exec baseline of `make bench`, part 2:
#   auth required pam_exec.so quiet expose_authtok /bin/sh sms-verify.sh ENVFILE
# With no PAM_AUTHTOK set yet, pam_exec prompts ("Password: ") and writes the
# answer to stdin; this compares it with the code sms-send.sh kept.
# (After pam_unix the password is already the authtok and pam_exec would not
# prompt: this baseline only works without a password module before it.)
set -u
. "$1"
f="$STATE/$PAM_USER"
[ -f "$f" ] || exit 1
want=$(cat "$f")
rm -f "$f"
got=$(tr -d '\000\n')
[ -n "$want" ] && [ "$got" = "$want" ]
