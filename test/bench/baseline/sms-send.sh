#!/bin/sh
# The pam_exec baseline of `make bench`, part 1: what an administrator might
# write by hand instead of pam_sms. pam_exec runs it as
#   auth required pam_exec.so quiet /bin/sh sms-send.sh ENVFILE
# It looks the user's number up in a table, makes a code, keeps it in a
# root-only file and posts the same request as pam_sms with curl.
# It has none of pam_sms's policy, limits, expiry or attempt counting, and
# the gateway password shows in the process list while curl runs.
set -eu
# ENVFILE sets URL, ID, PW, CURL_TLS (e.g. "--cacert FILE"), NUMBERS, STATE.
. "$1"
number=$(awk -v u="$PAM_USER" '$1 == u { print $2; exit }' "$NUMBERS")
[ -n "$number" ] || exit 1
n=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
code=$(printf '%06d' $((n % 1000000)))
umask 077
printf '%s\n' "$code" > "$STATE/$PAM_USER"
# shellcheck disable=SC2086 # CURL_TLS is a list of options
curl -sS --fail --max-time 10 --noproxy '*' $CURL_TLS \
	--data-urlencode "id=$ID" --data-urlencode "pw=$PW" \
	--data-urlencode "to=$number" --data-urlencode "text=BENCH $code $PAM_USER" \
	"$URL" | grep -Eq '^(OK|100)\b'
