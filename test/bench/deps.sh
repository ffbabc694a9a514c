#!/bin/sh
# Installs what `make bench` needs beyond `make deps`: curl (the pam_exec
# baseline) and libpam-modules (pam_permit, pam_exec; always there on Debian).
set -eu
need=""
for p in curl libpam-modules util-linux; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "bench/deps.sh: missing packages:$need (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need
