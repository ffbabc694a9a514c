#!/bin/sh
# Installs what building, the demo and the tests need on Debian, when it is
# missing; a no-op when everything is there.
#   sh test/deps.sh          everything (make deps, make test)
#   sh test/deps.sh --demo   only what make demo needs: build tools and Go
# Further arguments name more packages (make bench adds its own).
#
# Go: when no go that can build go.mod is found (mk/go.sh --which), this
# installs Debian's newest golang-1.N-go (N >= 21), adding the
# <codename>-backports suite from the machine's own Debian mirror when the
# release has none (Debian 12's golang is 1.19), and then lets that go fetch
# go.mod's toolchain through the Go module proxy.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gosh="$here/../mk/go.sh"

# Build (and demo): the C module and cgo.
demo_pkgs="gcc libpam0g-dev"
# Tests: openssh-server tmux pamtester util-linux sudo (e2e); lintian rpm rpm2cpio
# cpio rpmlint python3-magic mmdebstrap (test/packaging); slapd ldap-utils
# (test/internal/slapd runs private instances; see below for the system one);
# selinux-policy-dev checkpolicy semodule-utils (make package compiles the
# rpm's SELinux module), policycoreutils setools selinux-utils
# (test/packaging/selinux_test.go: semodule, sesearch, matchpathcon).
test_pkgs="openssh-server tmux pamtester util-linux sudo fail2ban \
	lintian rpm rpm2cpio cpio rpmlint python3-magic mmdebstrap \
	slapd ldap-utils \
	selinux-policy-dev checkpolicy semodule-utils policycoreutils setools selinux-utils"

set_name=test
if [ "${1:-}" = --demo ]; then
	set_name=demo
	shift
fi
pkgs=$demo_pkgs
[ "$set_name" = test ] && pkgs="$pkgs $test_pkgs"
pkgs="$pkgs $*"

# 0: the go found builds go.mod itself; 3: it fetches the toolchain (needs
# CA certificates for the proxy); 1: none, install Debian's golang.
go_state=0
sh "$gosh" --which >/dev/null 2>&1 || go_state=$?
[ "$go_state" = 0 ] || pkgs="$pkgs ca-certificates"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need=""
for p in $pkgs; do
	installed "$p" || need="$need $p"
done
[ -z "$need" ] && [ "$go_state" != 1 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	[ -n "$need" ] && echo "deps.sh: missing packages:$need" >&2
	[ "$go_state" = 1 ] && echo "deps.sh: no go >= 1.21 to build with" >&2
	echo "deps.sh: run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }

# newest_golang prints the newest golang-1.N-go apt can install, N >= 21.
newest_golang() {
	apt-cache pkgnames golang-1. | grep -E '^golang-1\.[0-9]+-go$' | sort -t. -k2,2n |
		while read -r p; do
			minor=${p#golang-1.}
			minor=${minor%-go}
			if [ "$minor" -ge 21 ] && apt-cache policy "$p" | grep -q 'Candidate: [0-9]'; then
				echo "$p"
			fi
		done | tail -n 1
}

# debian_source prints "OPTIONS URI" of the enabled apt source for suite $1
# with component main (OPTIONS: [signed-by=...] or empty), from one-line
# *.list and deb822 *.sources files.
debian_source() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed 's/#.*//' "$f" | awk -v s="$1" '
			$1 != "deb" { next }
			{ opts = ""; i = 2
			  if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ }
			                    opts = substr(opts " " $i, 2); i++ }
			  if ($(i+1) != s) next
			  for (j = i + 2; j <= NF; j++) if ($j == "main") { print opts " " $i; exit } }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$1" '
			function flush() {
				if (deb && suite && main && uri != "" && enabled) { print (key != "" ? "[signed-by=" key "]" : "") " " uri; found = 1 }
				deb = suite = main = 0; uri = key = ""; enabled = 1 }
			BEGIN { enabled = 1 }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); if (found) exit; next }
			{ k = tolower($1); sub(/:$/, "", k)
			  for (j = 2; j <= NF; j++) {
				if (k == "types" && $j == "deb") deb = 1
				if (k == "suites" && $j == s) suite = 1
				if (k == "components" && $j == "main") main = 1
				if (k == "uris" && uri == "") uri = $j
				if (k == "signed-by" && key == "") key = $j
				if (k == "enabled" && tolower($j) == "no") enabled = 0 } }
			END { if (!found) flush() }' "$f"
	done
}

# add_backports adds <codename>-backports from the mirror the machine already
# uses for <codename>, so that no mirror is named here.
add_backports() {
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || { echo "deps.sh: no VERSION_CODENAME in /etc/os-release" >&2; return 1; }
	if apt-cache policy | grep -q "n=$codename-backports,"; then
		return 0
	fi
	src=$(debian_source "$codename" | head -n 1)
	if [ -z "$src" ]; then
		echo "deps.sh: no apt source for $codename main; cannot add $codename-backports" >&2
		return 1
	fi
	list=/etc/apt/sources.list.d/$codename-backports.list
	echo "deps.sh: adding $codename-backports to $list for a Go >= 1.21"
	echo "deb $src $codename-backports main" | sed 's/^deb  */deb /' >"$list"
	apt_get update -qq
}

apt_get update -qq
if [ "$go_state" = 1 ]; then
	golang=$(newest_golang)
	if [ -z "$golang" ]; then
		add_backports
		golang=$(newest_golang)
	fi
	if [ -z "$golang" ]; then
		echo "deps.sh: apt offers no golang-1.N-go with N >= 21" >&2
		exit 1
	fi
	echo "deps.sh: installing $golang"
	need="$need $golang"
fi
# slapd: the tests start their own; the package must neither configure
# /etc/ldap (debconf no_configuration) nor start the system instance
# (policy-rc.d, a temporary one unless the machine has its own), and the
# system instance is left disabled.
case " $need " in
*" slapd "*)
	echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	;;
esac
# shellcheck disable=SC2086
apt_get install -y -qq --no-install-recommends $need
case " $need " in
*" slapd "*) update-rc.d slapd disable >/dev/null 2>&1 || true ;;
esac

# A go older than go.mod fetches go.mod's toolchain on first use; do it now,
# so that the download shows here and not in the middle of a build.
state=0
sh "$gosh" --which >/dev/null 2>&1 || state=$?
case $state in
0) ;;
3)
	echo "deps.sh: fetching the Go toolchain go.mod names through the Go module proxy"
	(cd "$here/.." && sh "$gosh" version)
	;;
*)
	echo "deps.sh: still no go that can build this module" >&2
	exit 1
	;;
esac
