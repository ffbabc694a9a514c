#!/bin/sh
# Installs the Debian packages that building and testing need, when they are
# missing; arguments name more packages (make bench adds its own).
set -eu
need=""
# Build: gcc libpam0g-dev. Tests: openssh-server tmux pamtester util-linux (e2e);
# lintian rpm rpm2cpio cpio rpmlint python3-magic mmdebstrap (test/packaging).
for p in gcc libpam0g-dev openssh-server tmux pamtester util-linux \
	lintian rpm rpm2cpio cpio rpmlint python3-magic mmdebstrap "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$need (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need
