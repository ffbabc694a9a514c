#!/bin/sh
# Release build: the three binaries built inside a Debian 11 (bullseye) root,
# so that they need no glibc newer than bullseye's 2.31 and load on Debian
# 11, Ubuntu 20.04 and newer (README, "Supported distributions"). A build on
# the host would bind them to the host's glibc (Debian 12: GLIBC_2.34).
#
#   mk/release.sh OUTDIR   builds pam_sms.so, pam-sms-helper and pam-sms
#                          into OUTDIR with the Makefile's own `build` rules
#   mk/release.sh --root   prints the cached root tarball (building it when
#                          missing); test/packaging installs the packages
#                          into a copy of the same root
#
# Needs root (mount, chroot) and mmdebstrap. The root is a minbase bullseye
# with the C toolchain, libpam0g-dev, make and pamtester, made with
# mmdebstrap from this machine's own apt mirror and cached as a tarball in
# $PAM_SMS_ROOT_CACHE (default /var/cache/pam-sms-test, shared with
# test/packaging). Go is the host's toolchain (the one mk/go.sh picks),
# bind-mounted read-only with the host's module cache, and its build cache
# read-write (concurrent go commands share it safely); cgo stays on (os/user
# resolves sssd users and groups through NSS). GOTOOLCHAIN=local and
# GOPROXY=off: nothing is fetched in the root.
#
# All mounts are made in a private mount namespace (unshare -m): they vanish
# with the build on every exit path, even a kill, and the copy of the root is
# removed only from outside it, where nothing is mounted below it.
set -eu

suite=${PAM_SMS_RELEASE_SUITE:-bullseye}
cache=${PAM_SMS_ROOT_CACHE:-/var/cache/pam-sms-test}
includes=gcc,libc6-dev,libpam0g-dev,make,pamtester
top=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "mk/release.sh: $*" >&2
	exit 1
}

# site SUITE prints the mirror this machine's apt takes SUITE (main) from,
# as apt itself reads its sources (targets: "RELEASE COMPONENT SITE" lines).
site() {
	printf '%s\n' "$targets" | awk -v s="$1" '$1 == s && $2 == "main" { print $3; exit }'
}

# sources prints the two apt lines of the root: SUITE and SUITE-security,
# from the machine's mirrors for them, or else from the mirrors it takes its
# own release (and its security updates) from: one archive serves every
# suite. No mirror is written here.
sources() {
	targets=$(apt-get indextargets --format '$(RELEASE) $(COMPONENT) $(SITE)' 'Identifier: Packages' 2>/dev/null || :)
	own=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	main=$(site "$suite")
	[ -n "$main" ] || [ -z "$own" ] || main=$(site "$own")
	sec=$(site "$suite-security")
	[ -n "$sec" ] || [ -z "$own" ] || sec=$(site "$own-security")
	[ -n "$main" ] || die "no apt source with component main for $suite or this machine's release (run apt-get update?)"
	echo "deb $main $suite main"
	if [ -n "$sec" ]; then
		echo "deb $sec $suite-security main"
	fi
}

# root prints the cached tarball, building it on first use. The name holds a
# hash of what shapes the root, so another mirror or package list builds a
# new one; tmp+rename keeps concurrent runs from seeing half a file.
root() {
	[ "$(id -u)" -eq 0 ] || die "the release build needs root (mmdebstrap, mount, chroot)"
	command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (make deps installs it)"
	src=$(sources)
	key=$(printf '%s\n%s\n%s\n' "$suite" "$src" "$includes" | sha256sum | cut -c1-12)
	tar=$cache/$suite-release-$key.tar
	if [ ! -f "$tar" ]; then
		mkdir -p "$cache"
		tmp=$tar.$$.tmp
		trap 'rm -f "$tmp"' EXIT INT TERM HUP
		# One mirror line per argument.
		printf '%s\n' "$src" | {
			set --
			while IFS= read -r line; do set -- "$@" "$line"; done
			mmdebstrap --quiet --variant=minbase --format=tar --include="$includes" "$suite" "$tmp" "$@" >&2
		} || die "mmdebstrap $suite failed"
		mv -f "$tmp" "$tar"
		trap - EXIT INT TERM HUP
	fi
	echo "$tar"
}

if [ "${1:-}" = --root ]; then
	root
	exit 0
fi

# --inside runs in the private mount namespace: DIR is the unpacked root.
if [ "${1:-}" = --inside ]; then
	dir=$2 out=$3 goroot=$4 modcache=$5 gocache=$6
	mount --make-rprivate /
	mount -t proc proc "$dir/proc"
	for m in "$goroot:/usr/local/go:ro" "$modcache:/root/go/pkg/mod:ro" "$top:/src:ro" \
		"$out:/out:rw" "$gocache:/root/.cache/go-build:rw"; do
		host=${m%%:*} rest=${m#*:}
		in=${rest%:*} mode=${rest##*:}
		mkdir -p "$dir$in"
		mount --bind -o "$mode" "$host" "$dir$in"
	done
	exec chroot "$dir" env -i PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		GOTOOLCHAIN=local GOPROXY=off GOFLAGS='-mod=mod -buildvcs=false' \
		GOMODCACHE=/root/go/pkg/mod GOCACHE=/root/.cache/go-build \
		make --no-print-directory -C /src BUILD=/out GO=/usr/local/go/bin/go CC=gcc GO_CFLAGS_EXTRA=-D_GNU_SOURCE build
fi

[ $# -eq 1 ] || die "usage: mk/release.sh OUTDIR | --root"
mkdir -p "$1"
out=$(cd "$1" && pwd)
tar=$(root)
go=$("$top/mk/go.sh" --which) || [ $? -eq 3 ] || die "no usable go"
# The toolchain that builds go.mod (a fetched one when the host's is older).
goroot=$(cd "$top" && "$top/mk/go.sh" env GOROOT)
modcache=$(cd "$top" && "$top/mk/go.sh" env GOMODCACHE)
# Every module the binaries import, fetched on the host (the root has no network for Go).
(cd "$top" && "$top/mk/go.sh" mod download)
# The host's build cache: the packages without cgo compile as in `make
# build` and are reused; the cgo ones differ by compiler and flags.
gocache=$(cd "$top" && "$top/mk/go.sh" env GOCACHE)
mkdir -p "$gocache"

dir=$(mktemp -d /var/tmp/pam-sms-release-XXXXXX)
# Outside the namespace nothing is mounted below dir: removing it is safe.
trap 'rm -rf --one-file-system "$dir"' EXIT
trap 'exit 130' INT TERM HUP
tar --numeric-owner -xpf "$tar" -C "$dir"
echo "release build in $(basename "$tar") with $("$top/mk/go.sh" version | cut -d" " -f3) from $goroot" >&2
unshare --mount --propagation private sh "$0" --inside "$dir" "$out" "$goroot" "$modcache" "$gocache"
